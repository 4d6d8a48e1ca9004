"""The operations the kill-point tests interrupt, run in forked children of one server process, so
each run starts in milliseconds instead of paying the imports again.

    python -m hidebound_dagster_tests.reliability.kill_worker --serve

reads commands from stdin, one per line:

    prepare INGRESS STAGING   update INGRESS now and keep what create and metadata need
    run KILL OP ARGS...       fork a child that runs OP (below) and ends
    quit

and answers `ready`, `prepared <files>`, `child <pid>`, the child's own lines and
`exit <pid> <returncode>` (negative: killed by that signal) when the child has ended.

OP is one of
    create INGRESS STAGING          stage_content, write_mode copy, of the prepared files
    metadata INGRESS STAGING        write_batches + write_manifest of the prepared files
    pipeline INGRESS STAGING MODE   update -> create -> metadata, afresh (the Dagster assets'
                                    steps without Dagster; chunk names from data_time)
    delete INGRESS STAGING MODE     core.staging.delete, with move_worker.EXPORTER configured
    export STAGING TARGET           DiskExporter(TARGET).export(STAGING)
    mark STAGING                    record that move_worker.EXPORTER exported STAGING

KILL is `-` (run to the end), `count` (run to the end, counting the file system calls the
operation makes) or a number n: the child SIGKILLs itself just before its n-th file system call,
so a kill point can be placed exactly, even inside a window of one rename. A child prints
`start <t>` before the operation, `progress <message>` at each tenth of the way (create and
export), and `done <t> <calls> <marks>` after it (t = time.monotonic(), comparable across
processes; marks: `name:n` of each rename or replace, when there are at most MAX_MARKS), or
`error <type>: <message>`.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd

from hidebound_dagster.core import progress
from hidebound_dagster.core.identity import sha256_file
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import write_manifest
from hidebound_dagster.core.metadata import (
    asset_records,
    data_time,
    file_records,
    file_table_for_metadata,
    write_batches,
)
from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.staging import delete, stage_content, stageable
from hidebound_dagster.exporters.disk import DiskExporter
from hidebound_dagster_tests.core.move_worker import EXPORTER, SPECS, mark_exported, update

#: The calls that touch the file system: a kill point sits just before one of them.
SYSTEM_CALLS = frozenset(
    {
        io.open,
        os.open,
        os.mkdir,
        os.rmdir,
        os.unlink,
        os.remove,
        os.rename,
        os.replace,
        os.utime,
        os.chmod,
        os.fsync,
        os.link,
        os.symlink,
        os.truncate,
        os.ftruncate,
    }
)
MARKED = frozenset({os.rename, os.replace})
MAX_MARKS = 10
PROGRESS = re.compile(r": \d+% \(")


def say(line: str) -> None:
    """One line to stdout in a single write, so a process killed mid-line cannot leave half of
    it for the next writer to the same pipe."""
    os.write(sys.stdout.fileno(), (line + "\n").encode())


@dataclass
class Prepared:
    """What update found in one ingress, and the metadata create would write for it."""

    staged: pd.DataFrame  # the files to stage, with their sha256 (copy mode keeps the bytes)
    files: list[dict[str, Any]]
    assets: list[dict[str, Any]]


def prepare(ingress: Path, staging: Path, specs: dict[str, type[Specification]]) -> Prepared:
    files, skipped = stageable(update(ingress, specs)["valid"])
    assert skipped.empty, skipped
    staged = files.assign(sha256=[sha256_file(path) for path in files["filepath"]])
    records = file_records(file_table_for_metadata(staged, specs, staging))
    return Prepared(staged, records, asset_records(records))


def describe(staging: Path, staged: pd.DataFrame, specs: dict[str, type[Specification]]) -> None:
    """The metadata step exactly as the `metadata` asset runs it."""
    files = file_records(file_table_for_metadata(staged, specs, staging))
    write_batches(staging, [(files, asset_records(files))], data_time(staged))
    write_manifest(Staging(staging), staged)


def pipeline(
    ingress: Path, staging: Path, mode: str, specs: dict[str, type[Specification]]
) -> None:
    """update -> create -> metadata, as the `staged_content` and `metadata` assets chain them."""
    files, _ = stageable(update(ingress, specs)["valid"])
    digests = stage_content(files, ingress, staging, mode, exporters=(EXPORTER,))
    staged = files[digests.notna()].assign(sha256=digests.dropna()).reset_index(drop=True)
    describe(staging, staged, specs)


class ProgressLines(logging.Handler):
    """The exporter's log as child lines: its tenths as `progress`, the rest as `log`."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().replace("\n", " ")
        say(f"progress {message}" if PROGRESS.search(message) else f"log {message}")


def export(staging: str, target: str) -> None:
    logger = logging.getLogger("hidebound_dagster.exporters.base")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(ProgressLines())
    DiskExporter(target).export(staging)


class Counter:
    """Counts the file system calls of this process (every thread) and, when asked, SIGKILLs
    it just before the n-th."""

    def __init__(self, kill_at: int | None) -> None:
        self.kill_at = kill_at
        self.numbers = itertools.count(1)
        self.calls = 0
        self.marks: list[str] = []

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "c_call" or arg not in SYSTEM_CALLS:
            return
        self.calls = next(self.numbers)
        if self.calls == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if arg in MARKED and len(self.marks) <= MAX_MARKS:
            self.marks.append(f"{arg.__name__}:{self.calls}")

    def start(self) -> None:
        threading.setprofile(self)
        sys.setprofile(self)

    def stop(self) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def operation(
    op: str, args: list[str], prepared: dict[tuple[str, str], Prepared], specs: dict
) -> Callable[[], None]:
    """The operation a child runs, with everything it needs bound (and looked up) beforehand."""
    if op == "create":
        ingress, staging = args
        files = prepared[(ingress, staging)].staged
        return lambda: stage_content(
            files, Path(ingress), Path(staging), "copy", log=lambda m: say(f"progress {m}")
        )
    if op == "metadata":
        ingress, staging = args
        ready = prepared[(ingress, staging)]

        def metadata() -> None:
            write_batches(Path(staging), [(ready.files, ready.assets)], data_time(ready.staged))
            write_manifest(Staging(Path(staging)), ready.staged)

        return metadata
    if op == "pipeline":
        ingress, staging, mode = args
        return lambda: pipeline(Path(ingress), Path(staging), mode, specs)
    if op == "delete":
        ingress, staging, mode = args
        return lambda: delete(Path(ingress), Path(staging), mode, (EXPORTER,))
    if op == "export":
        staging, target = args
        return lambda: export(staging, target)
    if op == "mark":
        (staging,) = args
        return lambda: mark_exported(Path(staging))
    raise ValueError(f"unknown operation {op}")


def child(kill: str, work: Callable[[], None]) -> None:
    """The body of a forked run; never returns. It runs niced, so that on a busy machine the
    process deciding when to kill it is not outpaced by it."""
    code = 0
    try:
        os.nice(10)
        counter = None if kill == "-" else Counter(None if kill == "count" else int(kill))
        say(f"start {time.monotonic()}")
        if counter:
            counter.start()
        work()
        if counter:
            counter.stop()
        calls = counter.calls if counter else 0
        marks = ",".join(counter.marks) if counter and len(counter.marks) <= MAX_MARKS else "-"
        say(f"done {time.monotonic()} {calls} {marks or '-'}")
    except BaseException as error:  # report, then leave without running the parent's code
        say(f"error {type(error).__name__}: {error}".replace("\n", " "))
        code = 1
    finally:
        os._exit(code)


def run_child(kill: str, work: Callable[[], None]) -> None:
    """Fork, run `work` in the child (see child), and report the child's pid and exit code."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        child(kill, work)
    say(f"child {pid}")
    _, status = os.waitpid(pid, 0)
    say(f"exit {pid} {os.waitstatus_to_exitcode(status)}")


def serve() -> None:
    specs = load_specifications([SPECS])
    prepared: dict[tuple[str, str], Prepared] = {}
    say("ready")
    for line in sys.stdin:
        command, *args = line.split()
        try:
            if command == "prepare":
                ingress, staging = args
                prepared[(ingress, staging)] = prepare(Path(ingress), Path(staging), specs)
                say(f"prepared {len(prepared[(ingress, staging)].staged)}")
            elif command == "run":
                kill, op, *rest = args
                run_child(kill, operation(op, rest, prepared, specs))
            elif command == "quit":
                break
            else:
                raise ValueError(f"unknown command {command}")
        except Exception as error:
            say(f"failed {type(error).__name__}: {error}".replace("\n", " "))


if __name__ == "__main__":
    if sys.argv[1:] != ["--serve"]:
        sys.exit(__doc__)
    progress.QUIET_SECONDS = 0  # every tenth is a kill point, however quick the stage
    serve()
