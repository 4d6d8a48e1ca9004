"""One run at a time on a staging directory: the run that holds `<staging>/.lease` is the only
one whose steps may write staging and the tables between them. Other runs wait for it to end,
then take the lease over; they give up, saying which run holds it, after a time limit.

A lease is never released: it is over when its run has finished (the Dagster instance says so)
or, for a run whose steps all run in one process, when that process is gone (it was killed).
A run of another instance on this host is waited for while its process lives."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from hidebound_dagster.core.layout import Staging

POLL_SECONDS = 1.0


class StagingBusyError(RuntimeError):
    """Another run held the staging directory for the whole wait."""


@dataclass(frozen=True)
class Lease:
    """Who holds a staging directory."""

    run_id: str
    job: str
    host: str
    pid: int
    one_process: bool  # every step of the run runs in process `pid`
    since: float

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"run {self.run_id} ({self.job}, since {started}, pid {self.pid} on {self.host})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_over(lease: Lease, run_finished: Callable[[str], bool | None]) -> bool:
    """Whether the lease's run is over. `run_finished` answers from the Dagster instance: True,
    False (still going) or None (a run this instance does not know). A run whose steps all ran
    in one process on this host is also over when that process is gone (it was killed), and,
    when the instance does not know the run, when that process is this one (it ran the run
    before, on another instance). An unknown run whose steps ran elsewhere is taken as over:
    nothing here can tell."""
    finished = run_finished(lease.run_id)
    if finished:
        return True
    if lease.one_process and lease.host == socket.gethostname():
        return not _alive(lease.pid) or (finished is None and lease.pid == os.getpid())
    return finished is None


def _read(handle) -> Lease | None:
    handle.seek(0)
    try:
        return Lease(**json.loads(handle.read() or "null"))
    except (TypeError, ValueError):
        return None  # empty or damaged: nobody holds it


def _take(handle, lease: Lease) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(asdict(lease)))
    handle.flush()
    os.fsync(handle.fileno())


def hold(
    staging: Staging,
    run_id: str,
    job: str,
    one_process: bool,
    run_finished: Callable[[str], bool | None],
    timeout: float,
    on_wait: Callable[[str], None] = lambda message: None,
) -> None:
    """Hold the staging directory for run `run_id`, waiting up to `timeout` seconds for the run
    holding it to end; StagingBusyError naming that run if it does not."""
    staging.root.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    waited = False
    with open(staging.lease, "a+") as handle:  # noqa: PTH123
        while True:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                holder = _read(handle)
                if holder is None or holder.run_id == run_id or is_over(holder, run_finished):
                    mine = Lease(
                        run_id, job, socket.gethostname(), os.getpid(), one_process, time.time()
                    )
                    _take(handle, mine)
                    return
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
            if time.monotonic() >= deadline:
                raise StagingBusyError(
                    f"{staging.root} is in use by {holder.describe()}; waited {timeout:g} s "
                    "(staging_lock_timeout). If that run is dead, mark it failed in the Dagster "
                    "UI (Terminate) and launch this run again."
                )
            if not waited:
                on_wait(f"waiting for {holder.describe()} to finish with {staging.root}")
                waited = True
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
