"""The Dagster `workflow` job end to end on a copy of the bundled example: the staging tree it
leaves, a second run, the search job, zero valid assets, move mode, and `dagster job execute`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from hidebound_dagster.location import load_location
from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS
from hidebound_dagster_tests.projects import (
    VALID_ASSETS,
    defs_for,
    files_of,
    job_execute,
    make_project,
    step_failures,
    valid_example_files,
)


def metadata_without_chunk_names(staging: Path) -> dict[str, bytes]:
    """The metadata tree with each chunk keyed by its kind (its name carries the time)."""
    tree = {}
    for path, data in files_of(staging / "metadata").items():
        kind, _, _ = path.partition("/")
        tree[kind if kind.endswith("-chunk") else path] = data
    return tree


def search_config(query: str, group_by: str = "asset") -> dict:
    return {"ops": {"search_results": {"config": {"query": query, "group_by": group_by}}}}


@pytest.fixture(scope="module")
def definitions(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The code location of a copy of the example, so nothing here ever touches examples/."""
    project = make_project(tmp_path_factory.mktemp("workflow") / "project")
    return {"defs": defs_for(project), "project": project}


@pytest.fixture(scope="module")
def example(definitions: dict) -> Iterator[dict]:
    """The workflow job run twice on the example copy, in one test instance."""
    defs, project = definitions["defs"], definitions["project"]
    with dg.instance_for_test() as instance:
        job = defs.resolve_job_def("workflow")
        first = job.execute_in_process(instance=instance, raise_on_error=False)
        first_tree = files_of(project["staging"])
        first_metadata = metadata_without_chunk_names(project["staging"])
        second = job.execute_in_process(instance=instance, raise_on_error=False)
        yield {
            **definitions,
            "instance": instance,
            "first": first,
            "second": second,
            "first_tree": first_tree,
            "first_metadata": first_metadata,
        }


# the workflow job ---------------------------------------------------------------------------


def test_workflow_job_runs_the_configured_steps(example: dict) -> None:
    assert example["first"].success, step_failures(example["first"])
    executed = {
        event.step_key
        for event in example["first"].all_events
        if event.event_type_value == "STEP_SUCCESS"
    }
    assert {
        "staging_cleared",
        "file_table",
        "asset_table",
        "validated_assets",
        "staged_content",
        "metadata",
    } <= executed


def test_workflow_stages_the_valid_example_assets(example: dict) -> None:
    staging = example["project"]["staging"]
    expected = valid_example_files()
    assert len(expected) == 28
    assert files_of(staging / "content") == expected


def test_workflow_writes_metadata_for_every_staged_file_and_asset(example: dict) -> None:
    staging = example["project"]["staging"]
    metadata = staging / "metadata"
    files = [json.loads(p.read_text()) for p in (metadata / "file").glob("*.json")]
    assets = [json.loads(p.read_text()) for p in (metadata / "asset").glob("*.json")]
    assert len(files) == 28 and len(assets) == 10
    assert sorted(a["asset_path_relative"] for a in assets) == sorted(VALID_ASSETS)
    for record in files:
        assert Path(record["filepath"]) == staging / "content" / record["filepath_relative"]
    for asset in assets:
        assert all(Path(p).is_file() for p in asset["filepaths"])
    (file_chunk,) = (metadata / "file-chunk").iterdir()
    (asset_chunk,) = (metadata / "asset-chunk").iterdir()
    assert len(json.loads(file_chunk.read_text())) == 28
    assert len(json.loads(asset_chunk.read_text())) == 10


def test_workflow_in_copy_mode_leaves_ingress_untouched(example: dict) -> None:
    assert files_of(example["project"]["ingress"]) == files_of(EXAMPLE_INGRESS)


def test_second_workflow_run_gives_an_identical_staging_tree(example: dict) -> None:
    assert example["second"].success, step_failures(example["second"])
    staging = example["project"]["staging"]
    assert files_of(staging / "content") == {
        k.removeprefix("content/"): v
        for k, v in example["first_tree"].items()
        if k.startswith("content/")
    }
    assert metadata_without_chunk_names(staging) == example["first_metadata"]
    # .verified.parquet: what the integrity check proved, once the staged files are older
    # than its racy window (seconds, so present or not by the machine's speed)
    assert sorted(p.name for p in staging.iterdir() if p.name != ".verified.parquet") == [
        ".lease",
        ".manifest.json",
        "content",
        "metadata",
    ]


# search -------------------------------------------------------------------------------------


def test_search_job_returns_the_matching_assets(example: dict) -> None:
    result = (
        example["defs"]
        .resolve_job_def("search")
        .execute_in_process(
            instance=example["instance"],
            run_config=search_config("SELECT asset_path FROM data WHERE asset_valid ORDER BY 1"),
        )
    )
    assert result.success
    assert list(result.output_for_node("search_results")["asset_path"]) == sorted(VALID_ASSETS)


def test_search_job_by_file(example: dict) -> None:
    result = (
        example["defs"]
        .resolve_job_def("search")
        .execute_in_process(
            instance=example["instance"],
            run_config=search_config(
                "SELECT filename, coordinate_x, coordinate_y FROM data "
                "WHERE asset_valid AND specification = 'tex001' ORDER BY filepath_relative",
                "file",
            ),
        )
    )
    rows = result.output_for_node("search_results")
    assert len(rows) == 8
    assert (
        list(zip(rows["coordinate_x"], rows["coordinate_y"], strict=True))
        == [(0, 0), (0, 1), (1, 0), (1, 1)] * 2
    )


def test_search_results_by_materialize_with_explicit_resources(example: dict) -> None:
    from hidebound_dagster.asset_keys import Keys
    from hidebound_dagster.assets.search import search_assets
    from hidebound_dagster.assets.update import update_assets
    from hidebound_dagster.io_manager import ParquetIOManager
    from hidebound_dagster.resources import DaskResource, HideboundResource

    instance = example["instance"]
    tables = Path(instance.storage_directory()) / "tables"
    result = dg.materialize(
        [*update_assets(Keys([])), *search_assets(Keys([]))],
        selection=["search_results"],
        instance=instance,
        resources={
            "hidebound": HideboundResource(location=load_location(example["project"]["config"])),
            "dask": DaskResource(),
            "io_manager": ParquetIOManager(base_dir=str(tables)),
        },
        run_config=search_config(
            "SELECT asset_path, file_count FROM data WHERE NOT asset_valid ORDER BY 1"
        ),
    )
    rows = result.output_for_node("search_results")
    assert isinstance(rows, pd.DataFrame)
    assert dict(zip(rows["asset_path"], rows["file_count"], strict=True)) == {
        "cat001/img001/p-cat001_s-img001_d-corrupt_v001.png": 1,
        "cat001/plt001/p-cat001_s-plt001_d-float_v001": 2,
        "cat001/plt001/p-cat001_s-plt001_d-truncated_v001": 2,
        "cat001/raw001/p-cat001_s-raw001_d-gap_v001": 3,
        "cat001/raw001/p-cat001_s-raw001_d-rgba-frames_v001": 2,
        "cat001/raw001/p-cat001_s-raw001_d-running-cat_v001": 3,
        "cat001/rev001/p-cat001_s-rev001_d-odd-rate_v001.mov": 1,
        "cat001/rnd001/p-cat001_s-rnd001_d-no-specular_v001": 1,
        "cat001/tex001/p-cat001_s-tex001_d-scales_v001": 3,
    }


def test_a_bad_search_query_fails_the_run_with_the_database_message(example: dict) -> None:
    result = (
        example["defs"]
        .resolve_job_def("search")
        .execute_in_process(
            instance=example["instance"],
            raise_on_error=False,
            run_config=search_config("SELECT foo FROM data"),
        )
    )
    assert not result.success
    (failure,) = step_failures(result)
    assert failure.startswith("search failed: ")
    assert 'Referenced column "foo" not found' in failure
    assert "Traceback" not in failure


def test_a_search_run_cannot_show_the_contents_of_a_file(example: dict, tmp_path: Path) -> None:
    """The query comes from run config (the launchpad) and the result is shown as asset
    metadata in the UI: it must not be able to read files such as a config holding secrets."""
    secret = tmp_path / "exporters.yaml"
    secret.write_text("secret_key: SuperSecret123\n")
    result = (
        example["defs"]
        .resolve_job_def("search")
        .execute_in_process(
            instance=example["instance"],
            raise_on_error=False,
            run_config=search_config(f"SELECT content FROM read_text('{secret}')", "file"),
        )
    )
    shown = [
        str(event.event_specific_data.materialization.metadata)
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
    ]
    assert not any("SuperSecret123" in text for text in shown)
    assert not result.success


# other projects -----------------------------------------------------------------------------


def test_workflow_with_zero_valid_assets_succeeds_with_an_empty_staging_tree(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "project")
    for asset in VALID_ASSETS:
        path = project["ingress"] / asset
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    with dg.instance_for_test() as instance:
        result = (
            defs_for(project)
            .resolve_job_def("workflow")
            .execute_in_process(instance=instance, raise_on_error=False)
        )
    assert result.success, step_failures(result)
    staging = project["staging"]
    assert (staging / "content").is_dir() and files_of(staging / "content") == {}
    for kind in ("asset-chunk", "file-chunk"):
        (chunk,) = (staging / "metadata" / kind).iterdir()
        assert json.loads(chunk.read_text()) == []


def test_workflow_in_move_mode_moves_exports_and_only_then_lets_delete_clear_staging(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "project", write_mode="move")
    job = defs_for(project).resolve_job_def("workflow")
    with dg.instance_for_test() as instance:
        first = job.execute_in_process(instance=instance, raise_on_error=False)
        assert first.success, step_failures(first)
        staged = files_of(project["staging"] / "content")
        assert staged == valid_example_files()
        assert files_of(project["exported"] / "content") == staged
        left = files_of(project["ingress"])
        assert not set(left) & set(staged)
        assert set(left) | set(staged) == set(files_of(EXAMPLE_INGRESS))
        second = job.execute_in_process(instance=instance, raise_on_error=False)
    assert second.success, step_failures(second)  # delete: every exporter took this staging
    assert files_of(project["staging"] / "content") == {}  # nothing valid is left in ingress
    assert files_of(project["exported"] / "content") == staged  # the one copy, kept
    assert files_of(project["ingress"]) == left


def test_dagster_job_execute_runs_the_workflow(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    home = tmp_path / "dagster_home"
    home.mkdir()
    completed = job_execute("workflow", home, project["config"], cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stderr.count("hidebound config (redacted)") == 1  # logged once per run
    assert files_of(project["staging"] / "content") == valid_example_files()
    assert len(list((project["staging"] / "metadata" / "file").iterdir())) == 28
    assert len(list((project["staging"] / "metadata" / "asset").iterdir())) == 10
    assert (home / "storage" / "tables" / "file_table.parquet").is_file()


def test_workflow_on_the_dask_executor_runs_each_step_on_a_dask_cluster(tmp_path: Path) -> None:
    """The optional dagster-dask executor: every step a task on a local cluster of worker
    processes (needs a persistent instance, so DAGSTER_HOME is set)."""
    project = make_project(tmp_path / "project")
    home = tmp_path / "dagster_home"
    home.mkdir()
    run_config = tmp_path / "run_config.yaml"
    run_config.write_text(
        "execution:\n  config:\n    cluster:\n      local:\n        n_workers: 1\n"
        "        threads_per_worker: 1\n        dashboard_address: null\n"
    )
    completed = job_execute(
        "workflow_on_dask", home, project["config"], "-c", str(run_config), cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "RUN_SUCCESS" in completed.stderr
    assert files_of(project["staging"] / "content") == valid_example_files()
    assert len(list((project["staging"] / "metadata" / "asset").iterdir())) == 10
