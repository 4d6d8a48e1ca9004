"""Benchmark of the fixed start cost of the command line, against a bare `import dagster`.

    .venv/bin/python benchmarks/bench_fixed_cost.py [--repeats 5]

Every row is a fresh process started with subprocess.run and timed by time.perf_counter around
it (wall time, interpreter start and exit included). Each command runs once untimed as a
warm-up, then `--repeats` times; the repeats go round-robin over the commands, so a burst of
other work on the machine falls on all of them alike. The report gives the median and the
least time of each, and the median as a ratio of the floor's median:

* floor:       `.venv/bin/python -c "import dagster"`, what any Dagster process pays;
* definitions: `python -c "import hidebound_dagster.definitions"` with the 1-file config, the
  import of the code location (for information, no target);
* config:      `hidebound-dagster config` from the repository root, which validates the
  bundled example `hidebound.yaml`;
* search:      `hidebound-dagster search "SELECT asset_path FROM data LIMIT 1"` over the tables
  the workflow wrote in a temporary DAGSTER_HOME;
* workflow:    `dagster job execute -m hidebound_dagster.definitions -j workflow` over an
  ingress of one 8x8 RGB PNG (`Img001` in specs/files.py), with a disk exporter;
* no-op steps: `dagster job execute -f noop_steps.py -j workflow`, a chain of as many no-op
  assets as the workflow job has steps, on the same instance: what Dagster alone costs for a
  run of that many steps (for information, no target).

The temporary DAGSTER_HOME gets the repository's dagster.yaml (as with the README's
`DAGSTER_HOME=$PWD`), and the workflow runs once untimed before any timing: that creates the
SQLite instance and the tables `search` reads. Every timed command must exit 0.

Targets: config <= 2x the floor and < 2 s; search < 2 s; workflow <= 3x the floor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from hidebound_dagster_tests.images import write_png

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
PYTHON = BIN / "python"
ASSET_DIR = Path("cat001") / "img001"
PNG_NAME = "p-cat001_s-img001_d-one_v001.png"
ASSET_PATH = f"{ASSET_DIR}/{PNG_NAME}"
SEARCH_QUERY = "SELECT asset_path FROM data LIMIT 1"
TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Command:
    """One timed command and the targets it must meet (None: no target)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    expect: str = ""  # text its stdout must contain
    max_ratio: float | None = None  # x the floor's median
    max_seconds: float | None = None  # absolute, on the median

    def target(self) -> str:
        parts = []
        if self.max_ratio is not None:
            parts.append(f"<= {self.max_ratio:g}x floor")
        if self.max_seconds is not None:
            parts.append(f"< {self.max_seconds:g} s")
        return ", ".join(parts) or "-"

    def met(self, median: float, floor: float) -> bool | None:
        if self.max_ratio is None and self.max_seconds is None:
            return None
        ok = self.max_ratio is None or median <= self.max_ratio * floor
        return ok and (self.max_seconds is None or median < self.max_seconds)


# --- set-up ---------------------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """This process's environment without anything that configures hidebound or names an
    instance, so every command sees only what the benchmark sets."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HIDEBOUND_") and key != "DAGSTER_HOME"
    }


def write_config(workdir: Path) -> Path:
    """A copy of the bundled hidebound.yaml over a 1-file ingress in `workdir`."""
    config = yaml.safe_load((REPO / "hidebound.yaml").read_text())
    config["ingress_directory"] = str(workdir / "ingress")
    config["staging_directory"] = str(workdir / "hidebound")
    config["specification_files"] = [str(REPO / "specs")]
    [disk] = [e for e in config["exporters"] if e["name"] == "disk"]
    disk["target_directory"] = str(workdir / "exported")
    write_png(workdir / "ingress" / ASSET_DIR / PNG_NAME, "RGB", (8, 8))
    path = workdir / "hidebound.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


NOOP_STEPS = """import dagster as dg

def step(index: int) -> dg.AssetsDefinition:
    @dg.asset(name=f"step_{{index}}", deps=[f"step_{{index - 1}}"] if index else [])
    def noop() -> None:
        return None

    return noop

defs = dg.Definitions(
    assets=[step(index) for index in range({count})],
    jobs=[dg.define_asset_job("workflow")],
    executor=dg.in_process_executor,
)
"""


def write_noop_steps(workdir: Path, config: Path) -> tuple[Path, int]:
    """A code location whose one job chains as many no-op assets as the config's workflow job
    has steps (assets and checks), and that count."""
    from hidebound_dagster.definitions import build_defs
    from hidebound_dagster.location import load_location

    workflow = build_defs(load_location(config)).resolve_job_def("workflow")
    count = len(workflow.graph.node_dict)
    path = workdir / "noop_steps.py"
    path.write_text(NOOP_STEPS.format(count=count))
    return path, count


def fresh_dagster_home(workdir: Path) -> Path:
    """An empty instance directory with the repository's dagster.yaml."""
    home = workdir / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    return home


def commands(config: Path, home: Path, noop: Path, steps: int) -> list[Command]:
    """The floor first, then the rows of the report; the workflow last."""
    env = clean_env()
    location = {**env, "HIDEBOUND_CONFIG_FILEPATH": str(config), "DAGSTER_HOME": str(home)}
    return [
        Command("floor: python -c 'import dagster'", [str(PYTHON), "-c", "import dagster"], env),
        Command(
            "import hidebound_dagster.definitions",
            [str(PYTHON), "-c", "import hidebound_dagster.definitions"],
            location,
        ),
        Command(
            "hidebound-dagster config",
            [str(BIN / "hidebound-dagster"), "config"],
            env,
            expect="ingress_directory",
            max_ratio=2,
            max_seconds=2,
        ),
        Command(
            "hidebound-dagster search",
            [str(BIN / "hidebound-dagster"), "search", SEARCH_QUERY],
            location,
            expect=ASSET_PATH,
            max_seconds=2,
        ),
        Command(
            f"dagster job execute, {steps} no-op steps",
            [str(BIN / "dagster"), *("job", "execute", "-f", str(noop), "-j", "workflow")],
            {**env, "DAGSTER_HOME": str(home)},
        ),
        Command(
            "dagster job execute -j workflow (1 file)",
            [
                str(BIN / "dagster"),
                *("job", "execute", "-m", "hidebound_dagster.definitions", "-j", "workflow"),
            ],
            location,
            max_ratio=3,
        ),
    ]


# --- measurements ---------------------------------------------------------------------------


def run_checked(command: Command) -> float:
    """The wall time of one run of `command`; exits loudly if it fails or prints the wrong
    thing."""
    start = time.perf_counter()
    done = subprocess.run(
        command.argv,
        cwd=REPO,
        env=command.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or command.expect not in done.stdout:
        problem = (
            f"exit status {done.returncode}"
            if done.returncode
            else f"stdout lacks {command.expect!r}"
        )
        raise SystemExit(
            f"FAILED ({problem}): {' '.join(command.argv)}\n"
            f"--- stdout (tail) ---\n{done.stdout[-3000:]}\n"
            f"--- stderr (tail) ---\n{done.stderr[-3000:]}"
        )
    return elapsed


def check_staged(workdir: Path) -> None:
    """The untimed first workflow must have staged and exported the one file."""
    for root in ("hidebound", "exported"):
        if not any((workdir / root).rglob(PNG_NAME)):
            raise SystemExit(f"FAILED: the workflow did not put {PNG_NAME} under {root}/")


def time_round_robin(rows: list[Command], repeats: int) -> dict[str, list[float]]:
    """One untimed warm-up of each command, then `repeats` timed rounds over all of them."""
    for command in rows:
        run_checked(command)
    times: dict[str, list[float]] = {command.name: [] for command in rows}
    for _ in range(repeats):
        for command in rows:
            times[command.name].append(run_checked(command))
    return times


def load_average() -> str:
    try:
        return " ".join(f"{load:.2f}" for load in os.getloadavg())
    except OSError:
        return "n/a"


def report(rows: list[Command], times: dict[str, list[float]]) -> bool:
    """Print the table; True when every target was met."""
    floor = statistics.median(times[rows[0].name])
    header = f"{'command':<42} {'median s':>8} {'min s':>7} {'ratio':>6}  {'target':<22} result"
    print(header)
    print("-" * len(header))
    all_met = True
    for command in rows:
        median = statistics.median(times[command.name])
        met = command.met(median, floor)
        all_met = all_met and met is not False
        result = {None: "", True: "met", False: "NOT MET"}[met]
        print(
            f"{command.name:<42} {median:8.3f} {min(times[command.name]):7.3f} "
            f"{median / floor:6.2f}  {command.target():<22} {result}"
        )
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each command")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    workdir = Path(tempfile.mkdtemp(prefix="bench-fixed-cost-"))
    try:
        config = write_config(workdir)
        home = fresh_dagster_home(workdir)
        rows = commands(config, home, *write_noop_steps(workdir, config))
        print(
            f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
            f"load average before {load_average()}"
        )
        # initialise the SQLite instance and write the tables `search` reads
        start = time.perf_counter()
        run_checked(rows[-1])
        print(
            f"first workflow (untimed, initialises DAGSTER_HOME): "
            f"{time.perf_counter() - start:.2f} s"
        )
        check_staged(workdir)
        times = time_round_robin(rows, args.repeats)
        print(
            f"timing: one warm-up, then {args.repeats} round-robin runs of each; "
            f"ratio = median / floor median\n"
        )
        all_met = report(rows, times)
        print(f"\nload average after {load_average()}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all_met else 2


if __name__ == "__main__":
    sys.exit(main())
