"""Benchmark of one ingress-sensor tick over an UNCHANGED tree, against a plain-Python floor.

    .venv/bin/python benchmarks/bench_sensor.py [--files 100000] [--dirs N] [--workdir DIR]
        [--ingress DIR] [--repeats 3] [--profile]

Generates N empty files in a few hundred directories (cached under benchmarks/.work/, which is
git-ignored), or ticks over an existing tree (--ingress: bench_update's 1M tree, say), runs one
tick to get a cursor, then measures with the page cache warm:

* floor: os.walk + os.stat of every file, sequential: what any "has anything changed?" check
  must do without an event source; timed in turn with the tick, round by round;
* tick:  the ingress sensor evaluated as the daemon evaluates it (build_sensor_context with the
  hidebound resource and the previous tick's cursor, then evaluate_tick), which must answer
  "unchanged";
* a breakdown of the tick by phase (config validation, the scan's batched listing, select,
  the per-entry hashes of the digest), and with --profile (or when the tick misses its
  target) the top functions of a cProfile of one tick.

Target (issue 11): tick <= 1.5x the floor measured in the same run, at 1,000,000 files.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORKDIR = REPO / "benchmarks" / ".work"
TARGET_RATIO = 1.5
TARGET_FILES = 100_000
FILES_PER_DIR = 250


# --- ingress generation ---------------------------------------------------------------------


def generate(ingress: Path, total: int, dirs: int) -> None:
    """`total` empty files spread evenly over `dirs` directories (built aside, then renamed)."""
    partial = ingress.with_name(ingress.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    per_dir, rest = divmod(total, dirs)
    index = 0
    for number in range(dirs):
        project = f"proj{number // 50 + 1:03d}"
        name = f"p-{project}_s-raw001_d-desc{number:05d}_v001"
        target = partial / project / "raw001" / name
        target.mkdir(parents=True)
        prefix = str(target) + "/"
        for frame in range(1, per_dir + (number < rest) + 1):
            os.close(os.open(f"{prefix}{name}_f{frame:04d}.png", flags, 0o644))
            index += 1
    assert index == total
    partial.rename(ingress)


def ensure_ingress(workdir: Path, total: int, dirs: int) -> tuple[Path, str]:
    """The cached tree of `total` empty files in `dirs` directories, and how it was obtained."""
    ingress = workdir / f"sensor-{total}-{dirs}" / "ingress"
    if ingress.is_dir():
        return ingress, "cached"
    ingress.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    generate(ingress, total, dirs)
    return ingress, f"generated in {time.perf_counter() - start:.1f} s"


def write_config(workdir: Path, ingress: Path) -> Path:
    """A config for `ingress`, written in the work directory (never inside the tree's parent,
    which may be another benchmark's)."""
    import yaml

    staging = workdir / "sensor-staging"
    staging.mkdir(parents=True, exist_ok=True)
    config = staging / "hidebound.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "ingress_directory": str(ingress),
                "staging_directory": str(staging / "hidebound"),
                "specification_files": [str(REPO / "specs")],
                "settle_seconds": 0,
            }
        )
    )
    return config


# --- measurements ---------------------------------------------------------------------------


def floor(ingress: Path) -> int:
    """The least a change check can do: walk and stat every file."""
    count = 0
    for directory, _, names in os.walk(ingress):
        for name in names:
            os.stat(os.path.join(directory, name))  # noqa: PTH116, PTH118 (the plain floor)
            count += 1
    return count


def interleaved(funcs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[float, Any]]:
    """The best wall time of each function over `repeats` rounds, each round calling every
    function once in turn (so a change of load hits all alike), after one untimed warm-up
    round; and each function's last result."""
    results = {name: func() for name, func in funcs.items()}
    best = dict.fromkeys(funcs, float("inf"))
    for _ in range(repeats):
        for name, func in funcs.items():
            start = time.perf_counter()
            results[name] = func()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: (best[name], results[name]) for name in funcs}


class Sensor:
    """The ingress sensor of the code location, ticked the way the daemon ticks it."""

    def __init__(self, config: Path) -> None:
        import dagster as dg

        from hidebound_dagster.asset_keys import Keys
        from hidebound_dagster.location import load_location
        from hidebound_dagster.resources import HideboundResource
        from hidebound_dagster.sensors import ingress_sensor_for

        self.dg = dg
        self.sensor = ingress_sensor_for("workflow", Keys([]))
        # the code location loads its config once; ticks reuse it
        self.resource = HideboundResource(location=load_location(config))
        self.instance = dg.DagsterInstance.ephemeral()

    def tick(self, cursor: str | None) -> Any:
        # The hidebound resource logs the effective config to stderr on every tick (as it does
        # in the daemon); it is written to a buffer here to keep the report readable.
        with (
            redirect_stderr(io.StringIO()),
            self.dg.build_sensor_context(
                cursor=cursor, resources={"hidebound": self.resource}, instance=self.instance
            ) as context,
        ):
            return self.sensor.evaluate_tick(context)


def phases(config: Path, repeats: int) -> dict[str, float]:
    """Best time of each step of an unchanged tick, called the way the sensor calls them."""
    from hidebound_dagster.core.config import load_config
    from hidebound_dagster.core.ingress_state import entry_hashes
    from hidebound_dagster.core.scan import listing, select

    steps: dict[str, float] = {}
    for _ in range(repeats + 1):
        laps: dict[str, float] = {}
        start = time.perf_counter()
        settings = load_config(config_file=config)
        laps["config: load_config (validate, specs)"] = time.perf_counter() - start
        start = time.perf_counter()
        batches = list(listing(settings.ingress_directory))
        laps["scan: listing (scandir, lstat, batches of columns)"] = time.perf_counter() - start
        start = time.perf_counter()
        selected = [select(b, settings.include_regex, settings.exclude_regex) for b in batches]
        laps["select: include/exclude regex"] = time.perf_counter() - start
        start = time.perf_counter()
        for files in selected:
            entry_hashes(files)
        laps["digest: entry hashes (SipHash of path, size, mtime)"] = time.perf_counter() - start
        for key, value in laps.items():
            steps[key] = min(steps.get(key, value), value)
    return steps


def profile(sensor: Sensor, cursor: str, top: int = 25) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    sensor.tick(cursor)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=TARGET_FILES)
    parser.add_argument(
        "--dirs",
        type=int,
        default=None,
        help=f"directories (default: one per {FILES_PER_DIR} files)",
    )
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument(
        "--ingress",
        type=Path,
        default=None,
        help="tick over this existing tree instead of a generated one (never modified)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="always print a cProfile")
    args = parser.parse_args(argv)
    dirs = args.dirs or max(1, args.files // FILES_PER_DIR)

    if args.ingress:
        ingress = args.ingress.resolve()
        args.files = floor(ingress)
        dirs = sum(1 for _ in os.walk(ingress)) - 1
        print(f"ingress: {ingress} ({args.files} files in {dirs} directories, existing tree)")
    else:
        ingress, how = ensure_ingress(args.workdir, args.files, dirs)
        print(f"ingress: {ingress} ({args.files} empty files in {dirs} directories, {how})")
    config = write_config(args.workdir, ingress)
    sensor = Sensor(config)
    first = sensor.tick(None)
    if not first.run_requests:
        print(f"first tick did not request a run: {first.skip_message}", file=sys.stderr)
        return 1
    cursor = first.cursor
    print(
        f"timing: page cache warm, one warm-up round then best of {args.repeats} rounds, "
        "floor and tick interleaved; "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load average {load_average()}"
    )

    timed = interleaved(
        {"floor": lambda: floor(ingress), "tick": lambda: sensor.tick(cursor)}, args.repeats
    )
    (floor_s, count), (tick_s, data) = timed["floor"], timed["tick"]
    assert count == args.files, f"floor saw {count} files"
    if data.skip_message != "unchanged" or data.run_requests:
        print(f"tick over the unchanged tree did not skip: {data.skip_message}", file=sys.stderr)
        return 1
    files = data.asset_events[0].metadata["files"].value

    print()
    header = f"{'N':>8} {'dirs':>6} {'floor s':>8} {'tick s':>8} {'ratio':>6}  result"
    print(header)
    print("-" * len(header))
    ratio = tick_s / floor_s
    print(
        f"{files:>8} {dirs:>6} {floor_s:8.3f} {tick_s:8.3f} {ratio:6.2f}  "
        f"skip '{data.skip_message}' (load average {load_average()})"
    )
    ok = ratio <= TARGET_RATIO
    print(f"target: tick <= {TARGET_RATIO}x the floor: {'ok' if ok else 'MISSED'} ({ratio:.2f}x)")

    print("\nphases of an unchanged tick (best of each):")
    steps = phases(config, args.repeats)
    for name, seconds in steps.items():
        print(f"  {name:<55} {seconds:7.3f} s")
    print(
        f"  {'sum of phases':<55} {sum(steps.values()):7.3f} s "
        f"(the rest of the tick: resource set-up, context, observation event)"
    )
    if args.profile or not ok:
        print("\ncProfile of one unchanged tick:")
        print(profile(sensor, cursor))
    return 0


if __name__ == "__main__":
    sys.exit(main())
