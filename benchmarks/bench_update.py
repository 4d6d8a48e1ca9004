"""Benchmark of the update stage (file table + asset table) against a plain-Python floor.

    .venv/bin/python benchmarks/bench_update.py --files 10000 [--workdir DIR] [--keep]
        [--partitions 16 [1 ...]]

Generates an ingress of N tiny PNG files laid out as Raw001 image sequences (about 5% of them
badly named), then measures with the OS page cache warm:

* floor: os.walk + os.stat of every file + a Pillow header read and full decode of every
  file, sequential (the shipped Raw001 spec requires the `decodes` trait); the header-only
  floor is measured too, so the cost of decoding shows;
* core:  build_file_table + build_asset_table with the default Dask mapper, the traits header
  cache cleared before every timed run;
* peak RSS of a separate subprocess that runs the core update once;
* a breakdown of the core time by phase, from the individual functions of file_table.py and
  asset_table.py called in the same order as build_file_table / build_asset_table.

See benchmarks/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORKDIR = REPO / "benchmarks" / ".work"
SPECS_DIR = REPO / "specs"
EXCLUDE = r"\.DS_Store"

FRAMES = 20  # files per asset
ASSETS_PER_PROJECT = 500  # assets under one <project>/raw001 directory
BAD_EVERY = 4  # one asset in BAD_EVERY holds one bad file of each kind (4 of 20 files): 5%
RATIO_TARGET = 3.0
FIRST_RUN_TARGET = 2.0  # issue 11: update steps inside Dagster within 2x their floor
RSS_TARGET_MIB = 1024
RSS_TARGET_FILES = 100_000
SINGLE_RUN_FROM = 100_000  # from this N on, take 1 timed run instead of the best of 3


# --- ingress generation ---------------------------------------------------------------------


def png_bytes() -> bytes:
    """One real 8x8 RGB PNG, encoded once and copied into every frame."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def asset_files(index: int, count: int) -> tuple[str, list[str]]:
    """Relative directory and file names of asset `index` with `count` files.

    Every BAD_EVERY-th asset swaps frames 3, 7, 11 and 15 for the four bad names: uppercase
    descriptor, missing frame padding, wrong (unknown) spec token, a stray notes.txt.
    """
    project = f"proj{index // ASSETS_PER_PROJECT + 1:03d}"
    name = f"p-{project}_s-raw001_d-desc{index:06d}_v001"
    files = [f"{name}_f{frame:04d}.png" for frame in range(1, count + 1)]
    if index % BAD_EVERY == 0:
        bad = {
            3: f"p-{project}_s-raw001_d-DESC{index:06d}_v001_f0003.png",
            7: f"{name}_f7.png",
            11: f"p-{project}_s-raw002_d-desc{index:06d}_v001_f0011.png",
            15: "notes.txt",
        }
        for frame, bad_name in bad.items():
            if frame <= count:
                files[frame - 1] = bad_name
    return f"{project}/raw001/{name}", files


def generate(ingress: Path, total: int) -> None:
    """Write `total` files into a fresh `ingress` (built aside, renamed when complete)."""
    partial = ingress.with_name(ingress.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    data = png_bytes()
    note = b"stray notes\n"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    written = 0
    index = 0
    while written < total:
        count = min(FRAMES, total - written)
        directory, names = asset_files(index, count)
        target = partial / directory
        target.mkdir(parents=True)
        prefix = str(target) + "/"
        for name in names:
            handle = os.open(prefix + name, flags, 0o644)
            try:
                os.write(handle, note if name.endswith(".txt") else data)
            finally:
                os.close(handle)
        written += count
        index += 1
    partial.rename(ingress)


def cached_ingress(
    ingress: Path, make: Callable[[Path, int], None], count: int
) -> tuple[Path, bool, float]:
    """`ingress`, made by `make(ingress, count)` unless it is there: (path, generated now?,
    generation seconds)."""
    if ingress.is_dir():
        return ingress, False, 0.0
    ingress.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    make(ingress, count)
    return ingress, True, time.perf_counter() - start


def ensure_ingress(workdir: Path, total: int) -> tuple[Path, bool, float]:
    """The cached ingress for `total` files: (path, generated now?, generation seconds)."""
    return cached_ingress(workdir / f"files-{total}" / "ingress", generate, total)


# --- measurements ---------------------------------------------------------------------------


def floor(ingress: Path, decode: bool = True) -> int:
    """The least any update can do: walk, stat and read the image header of every file, and
    decode it (the shipped Raw001 specification requires `decodes`)."""
    from PIL import Image

    count = 0
    for directory, _, names in os.walk(ingress):
        for name in names:
            path = os.path.join(directory, name)  # noqa: PTH118 (the plain-Python floor)
            os.stat(path)  # noqa: PTH116
            try:
                with Image.open(path) as image:
                    image.size, image.mode  # noqa: B018 (the header)
                    if decode:
                        image.load()
            except OSError:
                pass  # notes.txt: the attempt is the cost
            count += 1
    return count


def load_specs() -> dict[str, Any]:
    from hidebound_dagster.core.specification_files import load_specifications

    return load_specifications([SPECS_DIR])


def core(ingress: Path, specs: dict[str, Any], partitions: int) -> tuple[Any, Any]:
    """The update as the file_table and asset_table assets run it (default Dask mapper)."""
    from hidebound_dagster.core.asset_table import build_asset_table
    from hidebound_dagster.core.cluster import dask_mapper
    from hidebound_dagster.core.config import DaskConfig
    from hidebound_dagster.core.file_table import build_file_table

    config = DaskConfig(num_partitions=partitions)
    with dask_mapper(config) as mapper:
        files = build_file_table(
            ingress,
            specs,
            include_regex="",
            exclude_regex=EXCLUDE,
            mapper=mapper,
            chunks=config.num_partitions,
        )
    return files, build_asset_table(files, specs)


def timed(
    func: Callable[[], Any], runs: int, before: Callable[[], None] | None = None
) -> tuple[float, float]:
    """Least wall and least CPU seconds over `runs` calls after one untimed warm-up call; CPU is
    this process's user+system time over all its threads."""
    wall = cpu = float("inf")
    for attempt in range(runs + 1):
        if before:
            before()
        gc.collect()
        start, cpu_start = time.perf_counter(), time.process_time()
        func()
        if attempt:
            wall = min(wall, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - cpu_start)
    return wall, cpu


class Phases:
    """Wall time per named phase, accumulated."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._start
        self._start = now


PHASES = [
    ("scan", "scan_directory + select"),
    ("spec", "spec search + name parse"),
    ("traits", "traits (image headers)"),
    ("assemble", "file table assembly"),
    ("group", "asset grouping"),
    ("validate", "pandera validation"),
    ("verdict", "asset problems + verdict"),
]


def phased_core(ingress: Path, specs: dict[str, Any], partitions: int) -> tuple[Any, Any, dict]:
    """build_file_table + build_asset_table through their own steps, timed one by one."""
    from hidebound_dagster.core.asset_table import group_assets, specification_failures, verdict
    from hidebound_dagster.core.cluster import dask_mapper
    from hidebound_dagster.core.config import DaskConfig
    from hidebound_dagster.core.file_table import (
        assemble,
        by_specification,
        identify,
        parse_spec_rows,
        readable,
        trait_table,
    )
    from hidebound_dagster.core.scan import scan_directory, select

    config = DaskConfig(num_partitions=partitions)
    clock = Phases()
    with dask_mapper(config) as mapper:
        files = select(scan_directory(ingress), "", EXCLUDE)
        clock.lap("scan")
        files = identify(files, ingress, specs)
        clock.lap("spec")
        parts = []
        for spec, rows in by_specification(files, specs):
            parsed = parse_spec_rows(spec, rows)
            clock.lap("spec")
            traits = trait_table(spec, readable(rows), mapper, config.num_partitions)
            clock.lap("traits")
            parts.append(parsed.join(traits))
    files = assemble(files, parts, sorted({t for spec in specs.values() for t in spec.file_traits}))
    clock.lap("assemble")
    assets = group_assets(files)
    clock.lap("group")
    failures = specification_failures(files, specs)
    clock.lap("validate")
    assets = verdict(assets, files, failures)
    clock.lap("verdict")
    return files, assets, clock.seconds


def same_tables(left: tuple[Any, Any], right: tuple[Any, Any]) -> bool:
    """Whether the phased replica still computes what the real functions compute."""
    import pandas as pd

    try:
        for a, b in zip(left, right, strict=True):
            pd.testing.assert_frame_equal(a, b)
    except AssertionError:
        return False
    return True


def max_rss_mib() -> float:
    """Peak resident set of this process (ru_maxrss is KiB on Linux, bytes on macOS).

    Linux carries the parent's peak over into a child's ru_maxrss (fork and exec keep it), so
    the parent starts the measuring subprocess while it is still small.
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def high_water_mib() -> float | None:
    """VmHWM of this process's own address space (Linux only): a cross-check of ru_maxrss
    that nothing inherited can inflate."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def core_only(ingress: Path, partitions: int) -> None:
    """Subprocess entry: run the core update once and print timing and memory as JSON."""
    import pandas  # noqa: F401  (count the import cost in the baseline, not the update)

    specs = load_specs()
    baseline = max_rss_mib()
    start = time.perf_counter()
    files, assets = core(ingress, specs, partitions)
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "baseline_mib": baseline,
                "peak_mib": max_rss_mib(),
                "hwm_mib": high_water_mib(),
                "files": len(files),
                "assets": len(assets),
            }
        )
    )


def measure_rss(ingress: Path, partitions: int | None) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--core-only", str(ingress)]
    if partitions is not None:
        command += ["--partitions", str(partitions)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report ---------------------------------------------------------------------------------


def load_average() -> str:
    """The 1-minute load average: other work on the machine inflates every time."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "n/a"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def run(total: int, workdir: Path, keep: bool, partitions: list[int] | None) -> None:
    ingress, generated, gen_seconds = ensure_ingress(workdir, total)
    how = f"generated in {gen_seconds:.1f} s" if generated else "cached"
    print(f"ingress: {ingress} ({total} files, {how})", flush=True)
    try:
        # First, while this process is small: a child inherits the parent's ru_maxrss.
        memory = measure_rss(ingress, partitions[0] if partitions else None)
        measure(ingress, total, partitions or [default_partitions()], memory)
    finally:
        if generated and not keep:
            shutil.rmtree(ingress.parent, ignore_errors=True)


def default_partitions() -> int:
    from hidebound_dagster.core.config import DaskConfig

    return DaskConfig().num_partitions


def measure(ingress: Path, total: int, partitions: list[int], memory: dict[str, Any]) -> None:
    from hidebound_dagster.core.traits import clear_header_cache

    runs = 1 if total >= SINGLE_RUN_FROM else 3
    runs_text = "1 run" if runs == 1 else f"best of {runs}"
    print(
        f"timing: page cache warm (one untimed warm-up each), {runs_text}; "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load average {load_average()}"
    )
    specs = load_specs()
    floor_s, floor_cpu = timed(lambda: floor(ingress), runs)
    header_floor_s, _ = timed(lambda: floor(ingress, decode=False), runs)
    cores = {
        p: timed(lambda p=p: core(ingress, specs, p), runs, clear_header_cache) for p in partitions
    }
    clear_header_cache()
    real = core(ingress, specs, partitions[0])
    phases: dict[str, float] = {}
    for attempt in range(runs + 1):  # warm-up, then the best time of each phase
        clear_header_cache()
        gc.collect()
        *replica, seconds = phased_core(ingress, specs, partitions[0])
        for key, value in seconds.items():
            if attempt:
                phases[key] = min(phases.get(key, value), value)
    files, assets = real

    print()
    header = (
        f"{'N':>8} {'partitions':>10} {'floor s':>8} {'core s':>8} {'ratio':>6} "
        f"{'floor CPU s':>11} {'core CPU s':>10} {'CPU ratio':>9} {'peak RSS MiB':>12}"
    )
    print(header)
    print("-" * len(header))
    for p, (core_s, cpu_s) in cores.items():
        rss = f"{memory['peak_mib']:12.0f}" if p == partitions[0] else f"{'-':>12}"
        print(
            f"{total:>8} {p:>10} {floor_s:8.3f} {core_s:8.3f} {core_s / floor_s:6.1f} "
            f"{floor_cpu:11.3f} {cpu_s:10.3f} {cpu_s / floor_cpu:9.1f} {rss}"
        )
    core_s = cores[partitions[0]][0]
    ratio = core_s / floor_s
    first = memory["seconds"] / floor_s
    print(
        f"headline: the first core run in a fresh process (what every Dagster step pays) took "
        f"{memory['seconds']:.3f} s, {first:.1f}x the floor: "
        f"{verdict(first <= FIRST_RUN_TARGET)} (target <= {FIRST_RUN_TARGET:g}x)"
    )
    rss_ok = memory["peak_mib"] < RSS_TARGET_MIB
    rss_note = "" if total >= RSS_TARGET_FILES else f" (the target is set for N={RSS_TARGET_FILES})"
    print(
        f"target: ratio <= {RATIO_TARGET:g}: {verdict(ratio <= RATIO_TARGET)} ({ratio:.1f}); "
        f"RSS < {RSS_TARGET_MIB} MiB at {RSS_TARGET_FILES}: "
        f"{verdict(rss_ok)} ({memory['peak_mib']:.0f} MiB{rss_note})"
    )
    print(
        f"decodes trait: the floor with a full decode of every frame takes {floor_s:.3f} s, "
        f"{floor_s / header_floor_s:.1f}x the header-only floor ({header_floor_s:.3f} s)"
    )
    hwm = f"{memory['hwm_mib']:.0f}" if memory["hwm_mib"] is not None else "n/a"
    print(
        f"RSS subprocess: {memory['baseline_mib']:.0f} MiB after imports and spec loading, "
        f"{memory['peak_mib']:.0f} MiB peak (VmHWM {hwm} MiB); its single "
        f"first-in-process core run took {memory['seconds']:.3f} s"
    )
    valid = int(assets["asset_valid"].sum())
    bad_files = int(files["file_error"].notna().sum())
    print(f"load average after timing: {load_average()}")
    print(
        f"tables: {len(files)} files ({bad_files} with a file error), "
        f"{len(assets)} assets ({valid} valid)"
    )

    print()
    total_phases = sum(phases.values())
    print(
        f"core breakdown (partitions={partitions[0]}, header cache cleared, best of "
        f"{runs} per phase):"
    )
    for key, label in PHASES:
        seconds = phases.get(key, 0.0)
        print(f"  {label:<28} {seconds:8.3f} s {100 * seconds / total_phases:5.1f} %")
    print(
        f"  {'sum of phases':<28} {total_phases:8.3f} s (core measured as a whole: {core_s:.3f} s)"
    )
    if not same_tables(tuple(replica), real):
        print(
            "  WARNING: the phased replica no longer matches build_file_table/"
            "build_asset_table; update phased_core"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, help="number of ingress files (N)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"where generated ingresses are cached (default {DEFAULT_WORKDIR})",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep an ingress generated by this run for later runs"
    )
    parser.add_argument(
        "--partitions",
        type=int,
        nargs="+",
        default=None,
        help="DaskConfig.num_partitions values to time (default: the "
        "DaskConfig default); the first is used for RSS and phases",
    )
    parser.add_argument("--core-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.core_only:
        core_only(args.core_only, (args.partitions or [default_partitions()])[0])
        return
    if not args.files or args.files < 1:
        parser.error("--files N (N >= 1) is required")
    run(args.files, args.workdir.resolve(), args.keep, args.partitions)


if __name__ == "__main__":
    main()
