"""The code location loads, and the update stage runs in process over a copy of the bundled
example: tables, metadata and the specification check."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import pytest

from hidebound_dagster.core.asset_table import build_asset_table
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.layout import tables_directory
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.tables import read_table
from hidebound_dagster.definitions import build_defs, defs
from hidebound_dagster.location import load_location
from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS, EXAMPLE_SPECS, REPO
from hidebound_dagster_tests.test_schedules import fresh_json

FILE_TABLE = dg.AssetKey("file_table")
ASSET_TABLE = dg.AssetKey("asset_table")
VALIDATED = dg.AssetKey("validated_assets")
OVERALL_CHECK = dg.AssetCheckKey(ASSET_TABLE, "assets_pass_specification")


# --- the code location ---------------------------------------------------------------------


def test_definitions_load() -> None:
    loaded = defs()
    assert loaded.resolve_job_def("update").name == "update"
    assert loaded.resolve_job_def("workflow").name == "workflow"
    graph = loaded.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {FILE_TABLE, ASSET_TABLE, VALIDATED} <= keys
    assert FILE_TABLE in graph.get(ASSET_TABLE).parent_keys
    assert ASSET_TABLE in graph.get(VALIDATED).parent_keys
    assert ASSET_TABLE not in graph.get(FILE_TABLE).parent_keys
    assert VALIDATED not in graph.get(ASSET_TABLE).parent_keys
    assert OVERALL_CHECK in graph.asset_check_keys


def test_update_job_holds_the_update_assets() -> None:
    nodes = set(defs().resolve_job_def("update").graph.node_dict)
    assert {"file_table", "asset_table", "validated_assets"} <= nodes


#: Loads the bundled location (a disk exporter only) in a fresh interpreter: which optional
#: libraries the workflow job needs, then the Dask executor's config, read only afterwards.
LAZY_IMPORTS = textwrap.dedent("""
    import json, sys
    from hidebound_dagster.definitions import defs
    loaded = defs()
    loaded.resolve_job_def("workflow")
    optional = ("dagster_dask", "dask.dataframe", "distributed", "dagster_aws", "girder_client")
    before = [m for m in optional if m in sys.modules]
    executor = loaded.resolve_job_def("workflow_on_dask").executor_def
    fields = sorted(executor.config_schema.config_type.fields)
    print(json.dumps({"before": before, "after": "dagster_dask" in sys.modules, "fields": fields}))
""")


def test_optional_libraries_are_imported_only_when_a_job_or_exporter_needs_them() -> None:
    shown = fresh_json(LAZY_IMPORTS, {}, REPO)
    assert shown == {"before": [], "after": True, "fields": ["cluster"]}


def test_a_location_is_built_again_only_when_its_config_specs_or_secrets_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(EXAMPLE_SPECS, tmp_path / "specs", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "ingress").mkdir()
    config_file = write_config(tmp_path, "ingress")
    monkeypatch.setenv("HIDEBOUND_CONFIG_FILEPATH", str(config_file))
    monkeypatch.delenv("HIDEBOUND_S3_SECRET_KEY", raising=False)
    first = defs()
    assert defs() is first
    config_file.write_text(config_file.read_text() + "settle_seconds: 3\n")
    changed = defs()
    assert changed is not first
    assert changed.resources["hidebound"].location.config.settle_seconds == 3
    spec_file = tmp_path / "specs" / "files.py"
    spec_file.write_text(spec_file.read_text().replace("Img001", "Img002"))
    os.utime(spec_file, ns=(0, spec_file.stat().st_mtime_ns + 1))
    respecified = defs()
    assert respecified is not changed
    assert "asset_table:img002_assets_pass" in check_names(respecified)
    assert "asset_table:img001_assets_pass" not in check_names(respecified)
    monkeypatch.setenv("HIDEBOUND_S3_SECRET_KEY", "defs-cache-secret-0004")
    assert defs() is not respecified


def check_names(loaded: dg.Definitions) -> set[str]:
    return {key.to_user_string() for key in loaded.resolve_asset_graph().asset_check_keys}


# --- a run over the bundled example --------------------------------------------------------


class Run(NamedTuple):
    result: dg.ExecuteInProcessResult
    instance: dg.DagsterInstance
    tables: Path
    ingress: Path
    specs: Path


def run_update(config_file: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """The update job of the config's code location."""
    job = build_defs(load_location(config_file)).resolve_job_def("update")
    return job.execute_in_process(instance=instance, raise_on_error=False)


SECRETS = ("AKIA-DEFS-TEST-0001", "defs-secret-key-0002", "defs-webhook-token-0003")


def write_config(directory: Path, ingress: str, extra: str = "") -> Path:
    path = directory / "hidebound.yaml"
    path.write_text(
        f"ingress_directory: {ingress}\n"
        "staging_directory: hidebound\n"
        "specification_files: [specs]\n" + extra
    )
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("deployment")
    shutil.copytree(EXAMPLE_INGRESS, root / "ingress")
    shutil.copytree(EXAMPLE_SPECS, root / "specs", ignore=shutil.ignore_patterns("__pycache__"))
    config_file = write_config(
        root,
        "ingress",
        extra=(
            "exporters:\n"
            f"  - {{name: s3, bucket: my-bucket, access_key: {SECRETS[0]}, "
            f"secret_key: {SECRETS[1]}}}\n"
            f"webhooks:\n  - {{url: 'https://hooks.example.com/{SECRETS[2]}', method: post}}\n"
        ),
    )
    instance = dg.DagsterInstance.ephemeral()
    result = run_update(config_file, instance)
    tables = tables_directory(instance.storage_directory())
    return Run(result, instance, tables, root / "ingress", root / "specs")


def metadata(run: Run, key: dg.AssetKey) -> dict[str, object]:
    events = run.result.asset_materializations_for_node(key.path[-1])
    assert len(events) == 1
    return {name: value.value for name, value in events[0].metadata.items()}


def test_run_succeeds(run: Run) -> None:
    assert run.result.success
    materialized = {event.asset_key for event in run.result.get_asset_materialization_events()}
    assert materialized == {FILE_TABLE, ASSET_TABLE, VALIDATED}


def test_tables_are_parquet_and_read_back(run: Run) -> None:
    files = read_table(run.tables / "file_table.parquet")
    assets = read_table(run.tables / "asset_table.parquet")
    valid = read_table(run.tables / "validated_assets.parquet")
    assert len(files) == 48
    assert len(assets) == 19
    assert int(assets["asset_valid"].sum()) == 10
    assert valid["asset_path"].nunique() == 10
    assert len(valid) == 3 + 3 + 1 + 8 + 3 + 2 + 2 + 4 + 1 + 1
    assert valid["asset_valid"].all()
    assert set(valid["asset_path"]) == set(assets.loc[assets["asset_valid"], "asset_path"])
    in_memory = run.result.output_for_node("asset_table")
    assert in_memory["asset_path"].tolist() == assets["asset_path"].tolist()
    assert in_memory["asset_valid"].tolist() == assets["asset_valid"].tolist()
    assert not list(run.tables.glob("**/.*.tmp"))  # written atomically, nothing left over
    assert set(files["filepath"].str.slice(0, len(str(run.ingress)))) == {str(run.ingress)}


def test_tables_match_the_core_library(run: Run) -> None:
    specs = load_specifications([run.specs])
    files = build_file_table(run.ingress, specs)
    assets = build_asset_table(files, specs)
    stored = read_table(run.tables / "asset_table.parquet")
    columns = ["asset_path", "asset_valid", "asset_error", "file_count", "asset_id"]
    assert stored[columns].fillna("").astype(str).to_dict("records") == (
        assets[columns].fillna("").astype(str).to_dict("records")
    )
    stored_files = read_table(run.tables / "file_table.parquet")
    assert stored_files["file_id"].tolist() == files["file_id"].tolist()
    assert stored_files["file_error"].fillna("").tolist() == files["file_error"].fillna("").tolist()


def test_materialization_metadata(run: Run) -> None:
    files = metadata(run, FILE_TABLE)
    assert files["files"] == 48
    assert files["files_with_errors"] == 5
    assert files["files_without_asset"] == 2
    assert "Running-Cat" in files["problem_files"]
    assert files["path"] == str(run.tables / "file_table.parquet")
    assets = metadata(run, ASSET_TABLE)
    assert (assets["assets"], assets["valid"], assets["invalid"]) == (19, 10, 9)
    assert "running-cat" in assets["invalid_assets"]
    assert "p-cat001_s-raw001_d-Running-Cat_v001_f0002.png" in assets["invalid_assets"]
    assert "calico-jumping" not in assets["invalid_assets"]
    valid = metadata(run, VALIDATED)
    assert (valid["assets"], valid["files"]) == (10, 28)


def test_specification_check_warns(run: Run) -> None:
    evaluations = run.result.get_asset_check_evaluations()
    assert {e.asset_check_key.name for e in evaluations} == {
        "assets_pass_specification",
        "img001_assets_pass",
        "plt001_assets_pass",
        "raw001_assets_pass",
        "rev001_assets_pass",
        "rnd001_assets_pass",
        "scn001_assets_pass",
        "tex001_assets_pass",
        "txr001_assets_pass",
    }
    (evaluation,) = [e for e in evaluations if e.asset_check_key == OVERALL_CHECK]
    assert evaluation.passed is False
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.description == "9 of 19 assets failed their specification"
    values = {name: value.value for name, value in evaluation.metadata.items()}
    assert values["invalid"] == 9
    assert values["assets"] == 19
    assert values["invalid_raw001"] == 3
    assert values["invalid_img001"] == 1
    assert values["invalid_tex001"] == 1
    assert values["invalid_plt001"] == 2
    assert values["invalid_rnd001"] == 1
    assert values["invalid_rev001"] == 1
    assert "running-cat" in values["examples"]
    assert run.result.success  # a warning does not fail the run


def test_no_secret_in_logs_metadata_or_run_config(run: Run) -> None:
    logs = [entry.user_message for entry in run.instance.all_logs(run.result.run_id)]
    assert any("hidebound config (redacted)" in message for message in logs)
    texts = [
        *logs,
        repr(run.result.dagster_run.run_config),
        *(
            repr(event.materialization.metadata)
            for event in run.result.get_asset_materialization_events()
        ),
        *(repr(evaluation.metadata) for evaluation in run.result.get_asset_check_evaluations()),
    ]
    for secret in SECRETS:
        assert not [text for text in texts if secret in text], secret


# --- a bad config --------------------------------------------------------------------------


def error_messages(error: object) -> list[str]:
    """The messages (not the stacks) of an error and its causes."""
    messages = []
    while error is not None:
        messages.append(error.message)  # type: ignore[attr-defined]
        error = error.cause  # type: ignore[attr-defined]
    return messages


def test_config_error_fails_the_run_before_any_file_is_touched(tmp_path: Path) -> None:
    """The first step fails with the list of problems as its own message (the first thing a
    user reads in the UI); nothing is scanned, written or materialized."""
    shutil.copytree(EXAMPLE_SPECS, tmp_path / "specs", ignore=shutil.ignore_patterns("__pycache__"))
    config_file = write_config(tmp_path, "no-such-ingress")
    instance = dg.DagsterInstance.ephemeral()
    result = run_update(config_file, instance)
    assert not result.success
    assert not result.get_asset_materialization_events()
    step_failures = [
        e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE
    ]
    assert len(step_failures) == 1
    assert "no-such-ingress is not a directory" in step_failures[0].step_failure_data.error.message
    assert not tables_directory(instance.storage_directory()).exists()
    failures = [
        event
        for event in result.all_events
        if event.is_failure or event.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE
    ]
    assert failures
    texts = []
    for event in failures:
        texts.append(event.message or "")
        error = getattr(event.event_specific_data, "error", None)
        texts += error_messages(error)
    listing = [text for text in texts if "no-such-ingress is not a directory" in text]
    assert listing, texts
    for text in listing:
        assert "Invalid hidebound config (1 problem)" in text
        assert "ingress_directory:" in text
        assert "Traceback" not in text
        assert 'File "' not in text


def test_one_specification_check_runs_alone_from_the_shared_step(run: Run) -> None:
    """The checks on asset_table share one step; asked for one (as the UI does), the step
    evaluates that one only, from the stored table."""
    defs = build_defs(load_location(run.ingress.parent / "hidebound.yaml"))
    key = dg.AssetCheckKey(ASSET_TABLE, "raw001_assets_pass")
    job = dg.define_asset_job("one_check", selection=dg.AssetSelection.checks(key))
    result = (
        dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
        .resolve_job_def("one_check")
        .execute_in_process(instance=run.instance, raise_on_error=False)
    )
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.asset_check_key == key
    assert evaluation.passed is False
    assert evaluation.description == "3 of 5 raw001 assets failed their specification"
