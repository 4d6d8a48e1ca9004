"""One run at a time on a staging directory: two workflow runs started at once take turns (the
second waits for the first to end), a run that waits too long fails naming the run in its way,
and the lease of a killed run is taken over at once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.staging_lease import Lease, StagingBusyError, hold
from hidebound_dagster_tests.projects import (
    files_of,
    job_env,
    job_execute_command,
    make_project,
    valid_example_files,
)


def launch(project: dict[str, Path], home: Path) -> subprocess.Popen[str]:
    """A workflow started, not waited for (two run at once)."""
    return subprocess.Popen(
        job_execute_command("workflow"),
        cwd=project["root"],
        env=job_env(home, project["config"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out + err


def step_spans(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    """When the run's first step started and its last step ended."""
    times = [
        entry.timestamp
        for entry in instance.all_logs(run_id)
        if entry.dagster_event is not None
        and entry.dagster_event.event_type_value in {"STEP_START", "STEP_SUCCESS", "STEP_FAILURE"}
    ]
    return min(times), max(times)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:  # SQLite schema made once:
        instance.get_runs()  # two processes making it at the same instant race in alembic
    return home


def test_two_workflow_runs_started_at_once_take_turns(tmp_path: Path, home: Path) -> None:
    project = make_project(tmp_path / "project")
    first, second = launch(project, home), launch(project, home)
    results = [finish(first), finish(second)]
    assert [code for code, _ in results] == [0, 0], [text[-3000:] for _, text in results]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and all(run.is_success for run in runs)
        spans = sorted(step_spans(instance, run.run_id) for run in runs)
    assert spans[0][1] <= spans[1][0], spans  # no step of one ran while the other's did
    waited = [text for _, text in results if "waiting for run " in text]
    assert len(waited) == 1, "exactly one run waited for the other"
    assert files_of(project["staging"] / "content") == valid_example_files()


def started_run(instance: dg.DagsterInstance) -> str:
    """A run the instance believes is still going."""
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name="workflow", run_id=run_id, status=dg.DagsterRunStatus.STARTED)
    )
    return run_id


def lease_for(project: dict[str, Path], run_id: str, pid: int, one_process: bool) -> None:
    hold(Staging(project["staging"]), run_id, "workflow", one_process, lambda _: False, 0)
    lease = Staging(project["staging"]).lease
    text = lease.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {pid}')
    lease.write_text(text)


def test_a_run_that_waits_too_long_fails_naming_the_holder(tmp_path: Path, home: Path) -> None:
    project = make_project(tmp_path / "project", extra="staging_lock_timeout: 1\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        holder = started_run(instance)
    lease_for(project, holder, os.getpid(), one_process=True)  # alive: this test process
    code, text = finish(launch(project, home))
    assert code != 0
    message = f"is in use by run {holder} (workflow"
    assert message in text and "waited 1 s (staging_lock_timeout)" in text
    assert not (project["staging"] / "content").exists()  # nothing staged, nothing cleared
    assert len(files_of(project["ingress"])) == 48


def test_the_lease_of_a_killed_run_is_taken_over_at_once(tmp_path: Path, home: Path) -> None:
    project = make_project(tmp_path / "project", extra="staging_lock_timeout: 600\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        holder = started_run(instance)  # a killed `dagster job execute` stays STARTED
    gone = subprocess.Popen(["true"])
    gone.wait()
    lease_for(project, holder, gone.pid, one_process=True)
    started = time.monotonic()
    code, text = finish(launch(project, home))
    assert code == 0, text[-3000:]
    assert time.monotonic() - started < 120
    assert "waiting for run" not in text
    assert files_of(project["staging"] / "content") == valid_example_files()


# --- the lease itself ----------------------------------------------------------------------


def test_a_busy_lease_raises_after_the_timeout_and_says_so_once(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "hidebound")
    hold(staging, "run-a", "workflow", False, lambda _: False, 0)
    waits: list[str] = []
    started = time.monotonic()
    with pytest.raises(StagingBusyError, match="in use by run run-a") as raised:
        hold(staging, "run-b", "update", False, lambda _: False, 1.5, waits.append)
    assert 1.5 <= time.monotonic() - started < 5
    assert len(waits) == 1 and "waiting for run run-a" in waits[0]
    assert "waited 1.5 s" in str(raised.value)


@pytest.mark.parametrize(
    ("lease_text", "over"),
    [
        ("", False),  # nobody holds it
        ("{not json", False),  # damaged: nobody holds it
        ("run-a", True),  # its run has finished
    ],
)
def test_a_lease_nobody_holds_is_taken(tmp_path: Path, lease_text: str, over: bool) -> None:
    staging = Staging(tmp_path / "hidebound")
    if lease_text == "run-a":
        hold(staging, "run-a", "workflow", False, lambda _: False, 0)
    else:
        staging.root.mkdir()
        staging.lease.write_text(lease_text)
    hold(staging, "run-b", "workflow", False, lambda run_id: over, 0)
    taken = Lease(**json.loads(staging.lease.read_text()))
    assert (taken.run_id, taken.host, taken.pid) == ("run-b", socket.gethostname(), os.getpid())


def test_the_same_run_holds_again_and_a_spread_run_is_not_judged_by_its_pid(
    tmp_path: Path,
) -> None:
    staging = Staging(tmp_path / "hidebound")
    gone = subprocess.Popen(["true"])
    gone.wait()
    hold(staging, "run-a", "workflow_on_dask", False, lambda _: False, 0)
    hold(staging, "run-a", "workflow_on_dask", False, lambda _: False, 0)  # its next step
    staging.lease.write_text(
        staging.lease.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {gone.pid}')
    )
    with pytest.raises(StagingBusyError):  # its steps run elsewhere: a dead pid proves nothing
        hold(staging, "run-b", "workflow", False, lambda _: False, 0)


def test_a_live_run_of_another_instance_is_waited_for(tmp_path: Path) -> None:
    """A holder this instance does not know (another DAGSTER_HOME) whose one process is alive
    on this host keeps the lease; once that process is this one, or gone, it is over."""
    staging = Staging(tmp_path / "hidebound")
    alive = subprocess.Popen(["sleep", "30"])
    try:
        hold(staging, "run-a", "workflow", True, lambda _: None, 0)
        lease = staging.lease.read_text()
        staging.lease.write_text(lease.replace(f'"pid": {os.getpid()}', f'"pid": {alive.pid}'))
        with pytest.raises(StagingBusyError, match="in use by run run-a"):
            hold(staging, "run-b", "workflow", True, lambda _: None, 0)
        staging.lease.write_text(lease)  # held by this very process: a run it ran before
        hold(staging, "run-b", "workflow", True, lambda _: None, 0)
    finally:
        alive.kill()
        alive.wait()
    with pytest.raises(StagingBusyError):  # the instance says run-b still goes: it does
        hold(staging, "run-c", "workflow", True, lambda _: False, 0)
