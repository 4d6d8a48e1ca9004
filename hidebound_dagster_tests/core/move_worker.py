"""The pure create pipeline (update, then create), as a function for tests and as a process that
a crash test can kill.

    python move_worker.py INGRESS STAGING [copy|move]
        One run of the whole pipeline; prints `staging <t>`, `staged <t>` and `done <t>` lines
        (t = time.monotonic(), comparable across processes) around the move and the metadata,
        and a `progress ...` line after each tenth of the files (stage_content's progress log).

    python move_worker.py --serve
        Imports everything once, then reads commands from stdin, one per line:
          prepare INGRESS STAGING   build the tables of INGRESS now (kept for `run ... prepared`)
          run INGRESS STAGING MODE  fork a child that runs the pipeline with write_mode=move;
                                    MODE `prepared` reuses the prepared tables (the child starts
                                    at stageable + stage_content), `full` builds them afresh.
        and answers `ready`, `prepared <files>`, `child <pid>`, the child's own lines, and
        `exit <pid> <returncode>` (negative: killed by that signal) when the child ends.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from hidebound_dagster.core import progress
from hidebound_dagster.core.asset_table import build_asset_table, valid_files
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import read_manifest, record_export, write_manifest
from hidebound_dagster.core.metadata import (
    asset_records,
    file_records,
    file_table_for_metadata,
    write_batches,
)
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.staging import stage_content, stageable

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
EXPORTER = "disk:/test/exported"  # the one exporter the pipeline's staging is exported by


def mark_exported(staging: Path) -> None:
    """What a successful export by EXPORTER records, so move mode may replace or delete."""
    manifest = read_manifest(Staging(staging))
    assert manifest is not None
    record_export(Staging(staging), EXPORTER, manifest)


def update(ingress: Path, specs: dict) -> dict[str, pd.DataFrame]:
    """The file table, the asset table and the files of valid assets."""
    files = build_file_table(ingress, specs)
    assets = build_asset_table(files, specs)
    return {"files": files, "assets": assets, "valid": valid_files(files, assets)}


def create(
    valid: pd.DataFrame,
    ingress: Path,
    staging: Path,
    write_mode: str,
    specs: dict,
    now: datetime | None = None,
    say: Callable[[str], None] | None = None,
    exporters: Sequence[str] = (EXPORTER,),
) -> dict[str, Any]:
    """Stage the files of valid assets and write their metadata and manifest; returns what was
    staged."""
    staged, skipped = stageable(valid)
    if say:
        say(f"staging {time.monotonic()}")
    progress = (lambda message: say(f"progress {message}")) if say else None
    digests = stage_content(staged, ingress, staging, write_mode, log=progress, exporters=exporters)
    if say:
        say(f"staged {time.monotonic()}")
    table = file_table_for_metadata(staged.assign(sha256=digests), specs, staging)
    files = file_records(table)
    assets = asset_records(files)
    write_batches(staging, [(files, assets)], now)
    write_manifest(Staging(staging), staged.assign(sha256=digests))
    if say:
        say(f"done {time.monotonic()}")
    return {
        "staged": staged,
        "skipped": skipped,
        "files": files,
        "assets": assets,
        "digests": digests,
    }


def pipeline(
    ingress: Path,
    staging: Path,
    write_mode: str = "copy",
    specs_dir: Path = SPECS,
    now: datetime | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """update then create, exactly as the brief of the stages chains them."""
    specs = load_specifications([specs_dir])
    tables = update(ingress, specs)
    return {**tables, **create(tables["valid"], ingress, staging, write_mode, specs, now, say)}


def say(line: str) -> None:
    """One line to stdout in a single write, so a process killed mid-line cannot leave half of
    it for the next writer to the same pipe."""
    os.write(sys.stdout.fileno(), (line + "\n").encode())


def child(ingress: Path, staging: Path, valid: pd.DataFrame | None, specs: dict) -> None:
    """The body of a forked run; never returns. It runs niced, so that on a busy machine the
    process deciding when to kill it is not outpaced by it."""
    code = 0
    try:
        os.nice(10)
        if valid is None:
            valid = update(ingress, specs)["valid"]
        create(valid, ingress, staging, "move", specs, say=say)
    except BaseException as error:  # report, then leave without running the parent's code
        say(f"error {type(error).__name__}: {error}".replace("\n", " "))
        code = 1
    finally:
        sys.stdout.flush()
        os._exit(code)


def with_current_inodes(valid: pd.DataFrame) -> pd.DataFrame:
    """The prepared tables with each file's device and inode read again: the tests re-create
    the ingress (same bytes, sizes and times) between runs, which gives the files new inodes."""
    status = [os.lstat(path) for path in valid["filepath"]]
    return valid.assign(
        device=pd.array([s.st_dev for s in status], dtype="Int64"),
        inode=pd.array([s.st_ino for s in status], dtype="Int64"),
    )


def serve() -> None:
    specs = load_specifications([SPECS])
    prepared: dict[tuple[str, str], pd.DataFrame] = {}
    say("ready")
    for line in sys.stdin:
        command, *args = line.split()
        if command == "prepare":
            ingress, staging = args
            valid = update(Path(ingress), specs)["valid"]
            prepared[(ingress, staging)] = valid
            say(f"prepared {len(valid)}")
        elif command == "run":
            ingress, staging, mode = args
            valid = (
                with_current_inodes(prepared[(ingress, staging)]) if mode == "prepared" else None
            )
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                child(Path(ingress), Path(staging), valid, specs)
            say(f"child {pid}")
            _, status = os.waitpid(pid, 0)
            say(f"exit {pid} {os.waitstatus_to_exitcode(status)}")
        elif command == "quit":
            break


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        serve()
        return 0
    ingress, staging, *mode = argv
    pipeline(Path(ingress), Path(staging), mode[0] if mode else "move", say=say)
    return 0


if __name__ == "__main__":
    progress.QUIET_SECONDS = 0  # every tenth is a kill point, however quick the stage
    sys.exit(main(sys.argv[1:]))
