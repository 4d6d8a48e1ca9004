"""The incremental create (stage_incremental, then describe_incremental, as the `staged_content`
and `metadata` assets chain them), run in forked children of one server process that a test
kills at chosen file system calls.

    python -m hidebound_dagster_tests.reliability.incremental_worker --serve

reads commands from stdin, one per line:

    prepare INGRESS STAGING         update INGRESS now and keep its valid files
    run KILL create INGRESS STAGING MODE     the create of the prepared files (MODE: copy|move)
    run KILL pipeline INGRESS STAGING MODE   update afresh, then the create
    quit

and answers like kill_worker.py (`ready`, `prepared <files>`, `child <pid>`, the child's
`start`/`done`/`error` lines, `exit <pid> <code>`); KILL is `-`, `count` or a call number, as
there.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import pandas as pd

from hidebound_dagster.core.incremental import stage_incremental
from hidebound_dagster.core.incremental_metadata import describe_incremental
from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster_tests.core.move_worker import EXPORTER, SPECS, update
from hidebound_dagster_tests.reliability.kill_worker import run_child, say


def create(
    valid: pd.DataFrame | None,
    ingress: Path,
    staging: Path,
    mode: str,
    specs: dict[str, type[Specification]],
) -> None:
    """The create of these valid files; of a fresh update of ingress when there are none."""
    if valid is None:
        valid = update(ingress, specs)["valid"]
    staged = stage_incremental(valid, ingress, staging, mode, exporters=(EXPORTER,))
    describe_incremental(staging, staged.files, specs)


def serve() -> None:
    specs = load_specifications([SPECS])
    prepared: dict[str, pd.DataFrame] = {}
    say("ready")
    for line in sys.stdin:
        command, *args = line.split()
        try:
            if command == "prepare":
                ingress, _ = args  # and the staging, as kill_worker takes it
                prepared[ingress] = update(Path(ingress), specs)["valid"]
                say(f"prepared {len(prepared[ingress])}")
            elif command == "run":
                kill, op, ingress, staging, mode = args
                valid = prepared.get(ingress) if op == "create" else None
                run_child(kill, partial(create, valid, Path(ingress), Path(staging), mode, specs))
            elif command == "quit":
                break
            else:
                raise ValueError(f"unknown command {command}")
        except Exception as error:
            say(f"failed {type(error).__name__}: {error}".replace("\n", " "))


if __name__ == "__main__":
    if sys.argv[1:] != ["--serve"]:
        sys.exit(__doc__)
    serve()
