"""Benchmark the create stage (copy mode) against the machine's own floor, measured in the same
run: copying the same bytes with shutil.copyfile plus writing one small JSON per file.

    .venv/bin/python benchmarks/bench_create.py --files 10000

Target: create / floor <= 1.5 at 10,000 and 100,000 files. The ingress is the one
bench_update.py generates (cached under benchmarks/.work/).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_update import DEFAULT_WORKDIR, core, ensure_ingress, load_specs, timed

RATIO_TARGET = 1.5


def floor(files: list[tuple[str, str]], target: Path) -> None:
    """The least a create can do: copy every file and write one small JSON beside it."""
    for source, relative in files:
        destination = target / "content" / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        note = target / "metadata" / (relative.replace("/", "_") + ".json")
        note.parent.mkdir(parents=True, exist_ok=True)
        size = Path(source).stat().st_size
        note.write_text(json.dumps({"filepath": relative, "size": size}))


def create(valid: pd.DataFrame, specs: dict, ingress: Path, staging: Path) -> None:
    """The staged_content and metadata assets' work, in copy mode."""
    from hidebound_dagster.core.metadata import (
        asset_records,
        data_time,
        file_records,
        file_table_for_metadata,
        write_batches,
    )
    from hidebound_dagster.core.staging import stage_content, stageable

    files, _ = stageable(valid)
    files["sha256"] = stage_content(files, ingress, staging, "copy")
    records = file_records(file_table_for_metadata(files, specs, staging))
    write_batches(staging, [(records, asset_records(records))], data_time(files))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)

    from hidebound_dagster.core.asset_table import valid_files

    ingress, _, _ = ensure_ingress(args.workdir, args.files)
    specs = load_specs()
    files, assets = core(ingress, specs, 16)
    valid = valid_files(files, assets)
    jobs = list(zip(valid["filepath"], valid["filepath_relative"], strict=True))
    runs = 1 if args.files >= 100_000 else 3
    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        root = Path(scratch)

        def fresh(name: str) -> Path:
            shutil.rmtree(root / name, ignore_errors=True)
            (root / name).mkdir()
            return root / name

        floor_s, floor_cpu = timed(
            lambda: floor(jobs, root / "floor"), runs, lambda: fresh("floor")
        )
        staging = root / "stage" / "hidebound"
        create_s, create_cpu = timed(
            lambda: create(valid, specs, ingress, staging), runs, lambda: fresh("stage") and None
        )
    ratio = create_s / floor_s
    print(
        f"create (copy mode) of {len(valid)} files of {valid['asset_path'].nunique()} valid "
        f"assets; best of {runs} after a warm-up"
    )
    print(f"{'files':>8} {'floor s':>8} {'create s':>9} {'ratio':>6} {'CPU ratio':>10}")
    print(
        f"{len(valid):>8} {floor_s:>8.3f} {create_s:>9.3f} {ratio:>6.2f} "
        f"{create_cpu / floor_cpu:>10.2f}"
    )
    verdict = "ok" if ratio <= RATIO_TARGET else "MISSED"
    print(f"target: ratio <= {RATIO_TARGET}: {verdict}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
