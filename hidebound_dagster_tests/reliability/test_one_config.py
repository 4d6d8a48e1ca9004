"""One config in charge: a code location runs only the config it loaded. Run config that asks
for another config, a run launched by a process holding another config, and a config Dagster
would refuse all fail the run before any file is touched; move mode deletes staging only when
every configured exporter took exactly that staging; a damaged staging is never exported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from hidebound_dagster.core.layout import Staging
from hidebound_dagster.definitions import build_defs
from hidebound_dagster.location import CONFIG_TAG, load_location
from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS, REPO
from hidebound_dagster_tests.projects import (
    DAGSTER,
    defs_for,
    files_of,
    job_execute,
    make_project,
    step_failures,
    valid_example_files,
)

DG = Path(sys.executable).with_name("dg")
SNAPSHOT = Path(__file__).parents[1] / "snapshots" / "bundled_definitions.json"


def hidebound_run_config(**keys: object) -> dict:
    return {"resources": {"hidebound": {"config": keys}}}


def failed_before_touching(result: dg.ExecuteInProcessResult) -> str:
    """The run failed on its first step, nothing materialized; returns the failure message."""
    assert not result.success
    assert not result.get_asset_materialization_events()
    failures = step_failures(result)
    assert len(failures) == 1, failures
    return failures[0]


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- run config never switches the config -------------------------------------------------


def test_run_config_naming_another_config_moves_nothing_over_two_runs(tmp_path: Path) -> None:
    """The reproduced loss: loaded without exporters, run config naming a move-mode config with
    a disk exporter, workflow run twice. Both runs now fail first; ingress keeps all 48 files."""
    project = make_project(tmp_path / "project", write_mode="move")
    loaded = write_yaml(
        tmp_path / "project" / "loaded.yaml",
        {
            "ingress_directory": "ingress",
            "staging_directory": "hidebound",
            "specification_files": ["specs"],
            "write_mode": "move",
            "workflow": ["update", "create"],
        },
    )
    job = build_defs(load_location(loaded)).resolve_job_def("workflow")
    before = files_of(project["ingress"])
    assert len(before) == 48
    with dg.instance_for_test() as instance:
        for _ in range(2):
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=hidebound_run_config(config_file=str(project["config"])),
            )
            message = failed_before_touching(result)
            assert "differs from the one this code location loaded" in message
            assert "in: workflow, exporters." in message
            assert "HIDEBOUND_CONFIG_FILEPATH=" in message  # how to run the other config
    assert files_of(project["ingress"]) == before
    assert not project["staging"].exists()
    assert not project["exported"].exists()


def test_an_exporter_added_by_run_config_is_refused_not_skipped(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "project", extra=("exporters: [{name: disk, target_directory: exported}]\n")
    )
    more = yaml.safe_load(project["config"].read_text())
    more["exporters"].append({"name": "s3", "bucket": "my-bucket", "region": "us-west-2"})
    other = write_yaml(tmp_path / "project" / "more.yaml", more)
    with dg.instance_for_test() as instance:
        result = (
            defs_for(project)
            .resolve_job_def("workflow")
            .execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=hidebound_run_config(config_file=str(other)),
            )
        )
    assert "in: exporters." in failed_before_touching(result)
    assert not project["staging"].exists()


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        ({"workflow": ["update"]}, "workflow"),
        ({"write_mode": "move"}, "write_mode"),
        ({"include_regex": "png$"}, "include_regex"),
    ],
)
def test_run_config_keys_that_change_the_config_fail_the_run(
    tmp_path: Path, keys: dict, named: str
) -> None:
    project = make_project(
        tmp_path / "project", extra=("exporters: [{name: disk, target_directory: exported}]\n")
    )
    with dg.instance_for_test() as instance:
        result = (
            defs_for(project)
            .resolve_job_def("workflow")
            .execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=hidebound_run_config(**keys),
            )
        )
    message = failed_before_touching(result)
    assert f"in: {named}." in message
    assert not project["staging"].exists()


def test_run_config_that_repeats_the_loaded_config_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    run_config = hidebound_run_config(
        config_file=str(project["config"]),
        ingress_directory=str(project["ingress"]),
        workflow=["delete", "update", "create", "export"],
    )
    with dg.instance_for_test() as instance:
        result = (
            defs_for(project)
            .resolve_job_def("workflow")
            .execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=run_config,
            )
        )
    assert result.success, step_failures(result)
    assert files_of(project["staging"] / "content") == valid_example_files()


def test_a_run_launched_with_another_config_fails_before_any_file_is_touched(
    tmp_path: Path,
) -> None:
    """The webserver launched the run with the config it loaded; the process that executes it
    loaded another (the file changed, or a worker has another environment)."""
    project = make_project(tmp_path / "project")
    job = defs_for(project).resolve_job_def("workflow")
    assert job.tags[CONFIG_TAG] == load_location(project["config"]).digest
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={CONFIG_TAG: "0123456789abcdef"},
        )
    message = failed_before_touching(result)
    assert "changed since the code location loaded" in message
    assert "Reload the code location" in message
    assert not project["staging"].exists()


def test_the_config_digest_ignores_secrets_and_follows_everything_else(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    data = yaml.safe_load(project["config"].read_text())
    base = load_location(project["config"]).digest
    with_secret = write_yaml(
        tmp_path / "project" / "a.yaml",
        {
            **data,
            "exporters": [
                {"name": "s3", "bucket": "bkt", "secret_key": "Digest-Secret-1", "access_key": "k"}
            ],
        },
    )
    other_secret = write_yaml(
        tmp_path / "project" / "b.yaml",
        {
            **data,
            "exporters": [
                {"name": "s3", "bucket": "bkt", "secret_key": "Digest-Secret-2", "access_key": "k"}
            ],
        },
    )
    assert load_location(with_secret).digest == load_location(other_secret).digest != base
    other_mode = write_yaml(tmp_path / "project" / "c.yaml", {**data, "include_regex": "x"})
    assert load_location(other_mode).digest != base


# --- a config Dagster would refuse --------------------------------------------------------


@pytest.mark.parametrize("cron", ["99 * * * *", "a b c d e", "0 0 30 2 *"])
def test_a_cron_string_dagster_refuses_is_a_config_error_not_a_broken_location(
    tmp_path: Path, cron: str
) -> None:
    project = make_project(tmp_path / "project", extra=f"schedule_cron: '{cron}'\n")
    location = load_location(project["config"])
    assert location.config is None and location.error is not None
    assert location.error.problems == [
        f"schedule_cron: '{cron}' is not a cron string Dagster accepts "
        "(minute hour day month weekday)"
    ]
    defs = build_defs(location)  # the location loads
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("workflow").execute_in_process(
            instance=instance, raise_on_error=False
        )
    message = failed_before_touching(result)
    assert message.startswith("Invalid hidebound config (1 problem):")
    assert "schedule_cron" in message
    assert not project["staging"].exists()


def test_a_bad_config_through_dagster_job_execute_lists_its_problems_once(
    tmp_path: Path,
) -> None:
    """The list, once, without a stack trace, the run failure repeating it or a line per
    skipped step."""
    project = make_project(
        tmp_path / "project", extra="schedule_cron: '99 * * * *'\nsettle_secs: 3\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    done = job_execute("workflow", home, project["config"], cwd=tmp_path)
    assert done.returncode != 0
    listing = (
        "Invalid hidebound config (2 problems):\n"
        "- schedule_cron: '99 * * * *' is not a cron string Dagster accepts (minute hour day "
        "month weekday)\n"
        "- settle_secs: unknown key (did you mean 'settle_seconds'?)\n"
    )
    assert done.stderr.count(listing) == 1, done.stderr
    assert done.stderr.count("settle_secs") == 1
    for noise in ("Stack Trace", "Traceback", 'File "', "Not executing", "DEBUG"):
        assert noise not in done.stderr, noise
    assert "RUN_FAILURE" in done.stderr  # the run's outcome is still said
    assert not project["staging"].exists()


# --- exported means exported ----------------------------------------------------------------


def test_move_mode_deletes_only_what_every_current_exporter_exported(tmp_path: Path) -> None:
    """Run 1 moves and exports to one target. The config then gains a second exporter: the next
    delete refuses (the new target never got this staging) until that exporter has run."""
    project = make_project(tmp_path / "project", write_mode="move")
    with dg.instance_for_test() as instance:
        first = (
            defs_for(project)
            .resolve_job_def("workflow")
            .execute_in_process(instance=instance, raise_on_error=False)
        )
        assert first.success, step_failures(first)
        staged = files_of(project["staging"] / "content")
        assert staged == valid_example_files()

        data = yaml.safe_load(project["config"].read_text())
        data["exporters"].append({"name": "disk", "target_directory": "second"})
        write_yaml(project["config"], data)
        defs = defs_for(project)  # the location reloaded with the new config
        refused = defs.resolve_job_def("delete").execute_in_process(
            instance=instance, raise_on_error=False
        )
        (message,) = step_failures(refused)
        assert f"disk:{project['root'] / 'second'} has not exported it" in message
        assert files_of(project["staging"] / "content") == staged

        exported = defs.resolve_job_def("export").execute_in_process(
            instance=instance, raise_on_error=False
        )
        assert exported.success, step_failures(exported)
        assert files_of(project["root"] / "second" / "content") == staged
        deleted = defs.resolve_job_def("delete").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert deleted.success, step_failures(deleted)
    assert files_of(project["staging"] / "content") == {}
    assert files_of(project["exported"] / "content") == staged


def test_move_mode_refuses_to_delete_content_changed_after_export(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", write_mode="move")
    defs = defs_for(project)
    with dg.instance_for_test() as instance:
        first = defs.resolve_job_def("workflow").execute_in_process(
            instance=instance, raise_on_error=False
        )
        assert first.success, step_failures(first)
        late = project["staging"] / "content" / "cat001" / "late-arrival.png"
        late.write_bytes(b"only copy")
        refused = defs.resolve_job_def("delete").execute_in_process(
            instance=instance, raise_on_error=False
        )
    (message,) = step_failures(refused)
    assert "its files changed since create" in message
    assert late.read_bytes() == b"only copy"


# --- the staging check gates every export ---------------------------------------------------


VICTIM = "cat001/img001/p-cat001_s-img001_d-calico-portrait_v001.png"


def damage(staging: Path, how: str) -> str:
    """Damage a finished staging one way; returns the problem the check must name."""
    content = staging / "content"
    if how == "bytes":  # same size, other bytes
        victim = content / VICTIM
        victim.write_bytes(bytes(255 - b for b in victim.read_bytes()))
        return f"content/{VICTIM}: sha256 differs from its metadata"
    if how == "stray":
        (content / "stray.txt").write_text("x")
        return "content/stray.txt: no file metadata describes it"
    if how == "missing":
        (content / VICTIM).unlink()
        return f"content/{VICTIM}: described by file metadata but missing"
    Staging(staging).manifest.unlink()
    return ".manifest.json: missing; run create again"


@pytest.mark.parametrize("how", ["bytes", "stray", "missing", "manifest"])
def test_a_damaged_staging_is_never_exported(tmp_path: Path, how: str) -> None:
    project = make_project(
        tmp_path / "project", extra=("exporters: [{name: disk, target_directory: exported}]\n")
    )
    defs = defs_for(project)
    with dg.instance_for_test() as instance:
        for stage in ("update", "create"):
            assert defs.resolve_job_def(stage).execute_in_process(instance=instance).success
        expected = damage(project["staging"], how)
        result = defs.resolve_job_def("export").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.asset_check_key.name == "staging_is_intact"
    assert evaluation.passed is False
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert expected in evaluation.metadata["details"].value
    assert not project["exported"].exists()
    assert not result.get_asset_materialization_events()


# --- every entry point loads the same definitions -------------------------------------------


def snapshot_of(defs: dg.Definitions) -> dict:
    """What a person sees in the UI: asset keys, checks, jobs and their steps, sensors, schedules
    (the config digest, which holds absolute paths, left out)."""
    graph = defs.resolve_asset_graph()
    return {
        "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
        "checks": sorted(
            f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys
        ),
        "jobs": {
            job.name: sorted(defs.resolve_job_def(job.name).graph.node_dict) for job in defs.jobs
        },
        "sensors": [sensor.name for sensor in defs.sensors],
        "schedules": [[s.name, s.cron_schedule, s.execution_timezone] for s in defs.schedules],
    }


def bundled_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HIDEBOUND_")}


def test_python_import_gives_the_snapshot_of_the_bundled_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [k for k in os.environ if k.startswith("HIDEBOUND_")]:
        monkeypatch.delenv(name)
    from hidebound_dagster.definitions import defs

    assert snapshot_of(defs()) == json.loads(SNAPSHOT.read_text())


def test_dg_lists_the_same_definitions() -> None:
    done = subprocess.run(
        [str(DG), "list", "defs", "--json"],
        cwd=REPO,
        env=bundled_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    listed = json.loads(done.stdout)
    snapshot = json.loads(SNAPSHOT.read_text())
    assert sorted(asset["asset_key"] for asset in listed["assets"]) == snapshot["assets"]
    assert sorted(job["name"] for job in listed["jobs"]) == sorted(snapshot["jobs"])
    assert [s["name"] for s in listed["sensors"]] == snapshot["sensors"]
    assert [s["name"] for s in listed["schedules"]] == [s[0] for s in snapshot["schedules"]]


def test_dg_launch_runs_the_config_the_environment_names(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [str(DG), "launch", "--job", "update"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **bundled_env(),
            "DAGSTER_HOME": str(home),
            "HIDEBOUND_CONFIG_FILEPATH": str(project["config"]),
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (home / "storage" / "tables" / "asset_table.parquet").is_file()
    assert files_of(project["ingress"]) == files_of(EXAMPLE_INGRESS)


def test_dagster_definitions_validate_loads_the_location() -> None:
    done = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-m", "hidebound_dagster.definitions"],
        cwd=REPO,
        env=bundled_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_configs_are_two_code_locations_that_never_share_assets_or_tables(
    tmp_path: Path,
) -> None:
    """The documented way to run another config: a location per config, the second with a
    key_prefix, both in one workspace and one instance."""
    first = make_project(tmp_path / "first")
    studio = make_project(tmp_path / "studio", extra="key_prefix: studio\n")
    module = tmp_path / "studio_location.py"
    module.write_text(
        "from hidebound_dagster.definitions import definitions_for\n\n"
        f"defs = definitions_for({str(studio['config'])!r})\n"
    )
    workspace = write_yaml(
        tmp_path / "workspace.yaml",
        {
            "load_from": [
                {
                    "python_module": {
                        "module_name": "hidebound_dagster.definitions",
                        "location_name": "first",
                    }
                },
                {"python_file": {"relative_path": str(module), "location_name": "studio"}},
            ]
        },
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **bundled_env(),
        "DAGSTER_HOME": str(home),
        "HIDEBOUND_CONFIG_FILEPATH": str(first["config"]),
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    validated = run(str(DAGSTER), "definitions", "validate", "-w", str(workspace))
    assert validated.returncode == 0, validated.stderr[-3000:]
    executed = run(str(DAGSTER), "job", "execute", "-f", str(module), "-j", "workflow")
    assert executed.returncode == 0, executed.stderr[-3000:]
    assert files_of(studio["staging"] / "content") == valid_example_files()
    assert not first["staging"].exists()  # the other location's config was never used
    tables = home / "storage" / "tables"
    assert (tables / "studio" / "asset_table.parquet").is_file()
    assert not (tables / "asset_table.parquet").exists()
    cli = Path(sys.executable).with_name("hidebound-dagster")
    found = run(
        str(cli),
        "search",
        "SELECT count(*) AS n FROM data WHERE asset_valid",
        "--group-by",
        "asset",
        "--format",
        "json",
        "--config-file",
        str(studio["config"]),
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == [{"n": 10}]
