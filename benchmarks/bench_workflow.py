"""Benchmark of the workflow as users run it: `dagster job execute -j workflow` in a fresh
process, against the machine's floor for the same work plus the command's fixed cost, both
measured in the same run.

    .venv/bin/python benchmarks/bench_workflow.py [--files 10000,100000,1000000]
        [--modes full,incremental] [--workdir DIR] [--keep]

The ingress is bench_update.py's (Raw001 PNG sequences of 20 frames, one asset in four with
four bad files), cached under the workdir. Every job is `dagster job execute -m
hidebound_dagster.definitions -j workflow` with DAGSTER_HOME a directory holding the
repository's dagster.yaml and HIDEBOUND_CONFIG_FILEPATH a config written here (copy mode, the
repository's specs/, default Dask settings):

* full: workflow [delete, update, create], default staging (rebuild), a fresh DAGSTER_HOME and
  an empty staging directory for every run;
* incremental: `staging: incremental`, workflow [update, create]; one untimed run primes the
  instance and the staging, then every timed run follows a change of 100 files (80 frames
  rewritten with other pixels, 5 frames appended, a new 5-frame asset, 10 last frames
  removed), made and undone in turn, so the cached ingress ends as it began. Skipped, with the
  reason, while the product's config refuses the `staging` key.

Floors, plain sequential Python in this process with the page cache warm: os.walk + os.stat of
every file; a Pillow decode (header included) of the files the run must read; shutil.copyfile
of the files it must stage plus one small JSON each (bench_create.floor). Full mode reads every
file and stages the valid ones; incremental reads and stages the 90 changed files that exist
after the change. The fixed cost is the same command, with the same mode's config and
preparation, over a 1-file ingress (bench_fixed_cost's PNG).

Every job runs in a helper process that only launches it, times it and reads the peak RSS of
its process tree (RUSAGE_CHILDREN); every job must exit 0 and leave as many files in
`content/` as the generator's rules make valid, or the script prints WRONG and exits 1. It
exits 2 when a target set for a measured N is missed. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from bench_update import (
    BAD_EVERY,
    DEFAULT_WORKDIR,
    EXCLUDE,
    FRAMES,
    REPO,
    SINGLE_RUN_FROM,
    asset_files,
    ensure_ingress,
    load_average,
    png_bytes,
)

FILE_COUNTS = (10_000, 100_000, 1_000_000)
MODES = ("full", "incremental")
WORKFLOWS = {"full": ["delete", "update", "create"], "incremental": ["update", "create"]}
REPEATS = 3  # timed runs below SINGLE_RUN_FROM files, and of the 1-file fixed cost always
REWRITTEN, APPENDED, NEW_FRAMES, REMOVED = 80, 5, 5, 10  # the 100 files an incremental run sees
COUNT_KEYS = {
    "file_table": ("files_read", "files_reused"),
    "staged_content": ("files_copied", "assets_unchanged"),
}
BLOCK = 4096  # every generated file, staged copy and JSON is smaller than one block
SPARE_BYTES = 2 << 30  # Dagster's tables, logs and chunk files


class WrongResultError(Exception):
    """A job failed or staged the wrong number of files: the figures mean nothing."""


@dataclass(frozen=True)
class Target:
    """A target of issue 11 for one mode at one N."""

    mode: str
    files: int
    max_ratio: float | None = None
    max_rss_mib: float | None = None
    no_reread: bool = False

    def describe(self) -> str:
        parts = [f"ratio <= {self.max_ratio:g}"] if self.max_ratio else []
        parts += [f"peak RSS <= {self.max_rss_mib / 1024:g} GiB"] if self.max_rss_mib else []
        parts += ["0 unchanged files re-read"] if self.no_reread else []
        return ", ".join(parts)


TARGETS = (
    Target("incremental", 1_000_000, max_ratio=1.5, no_reread=True),
    Target("full", 1_000_000, max_rss_mib=2.5 * 1024),
    Target("full", 100_000, max_ratio=1.3, max_rss_mib=0.6 * 1024),
)


# --- the generated ingress, by the generator's own rules -------------------------------------


def generated_assets(total: int) -> Iterator[tuple[str, list[str]]]:
    """(directory, file names) of every asset bench_update.generate writes for `total` files."""
    written = index = 0
    while written < total:
        count = min(FRAMES, total - written)
        yield asset_files(index, count)
        written += count
        index += 1


def frame_names(directory: str, frames: Iterable[int]) -> list[str]:
    """The well-formed names of these frames of the asset in `directory`."""
    stem = directory.rsplit("/", 1)[-1]
    return [f"{stem}_f{frame:04d}.png" for frame in frames]


def untouched(directory: str, names: list[str]) -> bool:
    """Whether the generator left every name of the asset well formed: such an asset is valid
    (frames 1..n, one size), any swapped-in bad name makes it invalid."""
    return names == frame_names(directory, range(1, len(names) + 1))


def relative_files(total: int, valid_only: bool) -> Iterator[str]:
    """The relative paths of the ingress's files (only those of valid assets if asked)."""
    for directory, names in generated_assets(total):
        if not valid_only or untouched(directory, names):
            yield from (f"{directory}/{name}" for name in names)


def valid_file_count(total: int) -> int:
    return sum(len(names) for d, names in generated_assets(total) if untouched(d, names))


def ingress_for(workdir: Path, total: int) -> tuple[Path, bool, float]:
    """bench_update's cached ingress, regenerated if an interrupted run left it changed."""
    marker = changed_marker(workdir / f"files-{total}" / "ingress")
    if marker.exists():
        print(f"{marker} says an interrupted run changed the ingress: generating it again")
        shutil.rmtree(marker.parent / "ingress", ignore_errors=True)
        marker.unlink()
    return ensure_ingress(workdir, total)


def changed_marker(ingress: Path) -> Path:
    return ingress.with_name("ingress.changed-by-bench-workflow")


# --- the 100 changed files of an incremental run ---------------------------------------------


def spread(items: list[str], count: int) -> list[str]:
    """`count` items evenly spaced over `items`."""
    return [items[i * len(items) // count] for i in range(count)]


@dataclass(frozen=True)
class Changes:
    """100 files of valid assets spread over the ingress: frames rewritten with other pixels,
    frames appended, a new asset, last frames removed. `apply(True)` makes the change and
    `apply(False)` undoes it; either way 100 files change and the valid files stay as many."""

    ingress: Path
    rewritten: list[str]
    appended: list[str]
    created: list[str]
    removed: list[str]

    @classmethod
    def plan(cls, ingress: Path, total: int) -> Changes | None:
        """The changes for this ingress; None when it has too few whole valid assets."""
        whole = [
            d
            for d, names in generated_assets(total)
            if len(names) == FRAMES and untouched(d, names)
        ]
        if len(whole) < REMOVED + APPENDED + math.ceil(REWRITTEN / (FRAMES - 1)):
            return None
        chosen = spread(whole, min(len(whole), REMOVED + APPENDED + REWRITTEN))
        removed = spread(chosen, REMOVED)
        appended = spread([d for d in chosen if d not in removed], APPENDED)
        rest = [d for d in chosen if d not in removed and d not in appended]
        rewritten = [
            f"{d}/{frame_names(d, [frame])[0]}" for frame in range(1, FRAMES) for d in rest
        ][:REWRITTEN]
        new_index = math.ceil(total / FRAMES)
        new_index += new_index % BAD_EVERY == 0  # the generator spoils every BAD_EVERY-th asset
        directory, names = asset_files(new_index, NEW_FRAMES)
        return cls(
            ingress,
            rewritten,
            [f"{d}/{frame_names(d, [FRAMES + 1])[0]}" for d in appended],
            [f"{directory}/{name}" for name in names],
            [f"{d}/{frame_names(d, [FRAMES])[0]}" for d in removed],
        )

    def apply(self, forward: bool) -> None:
        from bench_soak import other_png

        frame = png_bytes()
        rewrite = other_png() if forward else frame
        for relative in self.rewritten:
            (self.ingress / relative).write_bytes(rewrite)
        added, gone = self.added(forward), self.gone(forward)
        for relative in added:
            path = self.ingress / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(frame)
        for relative in gone:
            (self.ingress / relative).unlink()
        for relative in gone:
            remove_empty_parents(self.ingress / relative, self.ingress)

    def added(self, forward: bool) -> list[str]:
        return self.appended + self.created if forward else self.removed

    def gone(self, forward: bool) -> list[str]:
        return self.removed if forward else self.appended + self.created

    def to_read(self, forward: bool) -> list[str]:
        """The changed files that exist after the change: what the run must read and stage."""
        return self.rewritten + self.added(forward)


def remove_empty_parents(path: Path, stop: Path) -> None:
    """Remove the directories above `path` that are empty, up to `stop` (kept)."""
    for parent in path.parents:
        if parent == stop:
            return
        try:
            parent.rmdir()
        except FileNotFoundError:
            continue  # removed with an earlier file
        except OSError:
            return  # not empty


# --- floors ----------------------------------------------------------------------------------


def decode(ingress: Path, relative: list[str]) -> None:
    """Open and fully decode every file (Raw001 requires the `decodes` trait)."""
    from PIL import Image

    for path in relative:
        try:
            with Image.open(ingress / path) as image:
                image.load()
        except OSError:
            pass  # notes.txt: the attempt is the cost


def best_seconds(
    func: Callable[[], Any], runs: int, warm_up: bool, before: Callable[[], Any] | None = None
) -> float:
    """The least wall time of `runs` calls, after one untimed call if `warm_up`; `before`
    runs untimed ahead of each call."""
    best = math.inf
    for attempt in range(runs + warm_up):
        if before:
            before()
        start = time.perf_counter()
        func()
        if attempt >= warm_up:
            best = min(best, time.perf_counter() - start)
    return best


def floors(
    ingress: Path, read: list[str], stage: list[str], target: Path, runs: int, warm_up: bool
) -> dict[str, float]:
    """Seconds of each floor: walk+stat of every file, decode of `read`, and bench_create's
    floor (a copy and one small JSON per file) of `stage` into `target`, emptied before each
    run and removed at the end."""
    from bench_create import floor
    from bench_sensor import floor as walk_stat

    copies = [(str(ingress / path), path) for path in stage]
    seconds = {
        "walk+stat": best_seconds(lambda: walk_stat(ingress), runs, warm_up),
        "decode": best_seconds(lambda: decode(ingress, read), runs, warm_up),
        "copy+json": best_seconds(
            lambda: floor(copies, target),
            runs,
            warm_up,
            lambda: shutil.rmtree(target, ignore_errors=True),
        ),
    }
    shutil.rmtree(target)
    return seconds


# --- jobs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """What the helper saw of one job."""

    seconds: float
    cpu_seconds: float
    status: int
    peak_mib: float


def launched(log: Path, argv: list[str]) -> None:
    """Helper entry: run the job, its output appended to `log`; print its wall and CPU time,
    exit status and the largest ru_maxrss of its process tree as JSON. A child's peak starts
    from what its parent holds when it forks, and this helper holds little, so none of the
    benchmark's own memory counts."""
    with log.open("ab") as out:
        start = time.perf_counter()
        status = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
        seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "status": status.returncode,
                "peak_mib": usage.ru_maxrss / 1024,  # KiB on Linux
            }
        )
    )


@dataclass(frozen=True)
class Setup:
    """One mode over one ingress: its config, instance, staging and job log under `root`."""

    mode: str
    ingress: Path
    root: Path
    expected: int  # files content/ must hold after every run

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def staging(self) -> Path:
        return self.root / "hidebound"

    @property
    def config(self) -> Path:
        return self.root / "hidebound.yaml"

    @property
    def log(self) -> Path:
        return self.root / "job.log"

    def write_config(self) -> None:
        """Copy mode, the repository's specs, this mode's workflow and staging."""
        import yaml

        config: dict[str, Any] = {
            "ingress_directory": str(self.ingress),
            "staging_directory": str(self.staging),
            "specification_files": [str(REPO / "specs")],
            "exclude_regex": EXCLUDE,
            "write_mode": "copy",
            "workflow": WORKFLOWS[self.mode],
        }
        if self.mode == "incremental":
            config["staging"] = "incremental"
        self.root.mkdir(parents=True, exist_ok=True)
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))

    def refusal(self) -> str | None:
        """Why the product's config validation refuses this config, if it does."""
        from hidebound_dagster.core.config import ConfigError, load_config

        try:
            load_config(self.config)
        except ConfigError as error:
            return str(error)
        return None

    def fresh(self) -> None:
        """A new instance directory with the repository's dagster.yaml, an empty staging."""
        from bench_fixed_cost import fresh_dagster_home

        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        fresh_dagster_home(self.root)
        self.staging.mkdir()

    def run(self, label: str) -> Launch:
        """One `dagster job execute -j workflow` through the helper, checked: WrongResultError if it
        failed or left another number of files in content/ than expected."""
        from bench_fixed_cost import clean_env

        from hidebound_dagster.location import CONFIG_FILE_VARIABLE
        from hidebound_dagster_tests.projects import job_execute_command

        argv = job_execute_command("workflow")
        env = {
            **clean_env(),
            CONFIG_FILE_VARIABLE: str(self.config),
            "DAGSTER_HOME": str(self.home),
        }
        with self.log.open("a") as log:
            print(f"=== {label}: {' '.join(argv)}", file=log)
        helper = [sys.executable, str(Path(__file__).resolve()), "--launch", str(self.log)]
        done = subprocess.run(
            [*helper, "--", *argv],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        launch = Launch(**json.loads(done.stdout.splitlines()[-1]))
        staged = sum(len(names) for _, _, names in os.walk(self.staging / "content"))
        print(
            f"    {label}: {launch.seconds:.2f} s, CPU {launch.cpu_seconds:.2f} s, peak RSS "
            f"{launch.peak_mib:.0f} MiB; content/ holds {staged} files",
            flush=True,
        )
        if launch.status or staged != self.expected:
            raise WrongResultError(
                f"{label}: exit status {launch.status}, {staged} files in content/, expected "
                f"{self.expected}; kept {self.root}\n--- job log (tail) ---\n"
                + self.log.read_text()[-3000:]
            )
        return launch

    def timed(
        self, label: str, runs: int, warm_up: bool, before: Callable[[int], Any]
    ) -> list[Launch]:
        """The launches of `runs` timed jobs after an optional untimed one; `before(attempt)`
        runs ahead of each."""
        launches = []
        for attempt in range(runs + warm_up):
            before(attempt)
            timed = attempt >= warm_up
            launch = self.run(f"{label} {'run' if timed else 'warm-up'}")
            if timed:
                launches.append(launch)
        return launches


def materialization_counts(home: Path) -> dict[str, int | None]:
    """The counts the latest materializations of file_table and staged_content carry (None
    for a key they do not carry)."""
    import dagster as dg

    counts: dict[str, int | None] = {}
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        for asset, keys in COUNT_KEYS.items():
            event = instance.get_latest_materialization_event(dg.AssetKey(asset))
            materialization = event.asset_materialization if event else None
            metadata = materialization.metadata if materialization else {}
            for key in keys:
                value = metadata.get(key)
                counts[key] = None if value is None else int(value.value)  # type: ignore[arg-type]
    finally:
        instance.dispose()
    return counts


# --- one mode at one N -----------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    files: int
    mode: str
    runs: int
    jobs: list[Launch]
    floor: dict[str, float]
    read: int  # files the run must read (the decode floor's)
    staged: int  # files the run must stage (the copy+json floor's)
    fixed: list[Launch]
    counts: dict[str, int | None]

    @property
    def job_seconds(self) -> float:
        return min(launch.seconds for launch in self.jobs)

    @property
    def fixed_seconds(self) -> float:
        return min(launch.seconds for launch in self.fixed)

    @property
    def floor_seconds(self) -> float:
        return sum(self.floor.values())

    @property
    def ratio(self) -> float:
        return self.job_seconds / (self.floor_seconds + self.fixed_seconds)

    @property
    def peak_mib(self) -> float:
        return max(launch.peak_mib for launch in self.jobs)

    def again(self, key: str) -> int | None:
        """Unchanged files an incremental run read (files_read) or copied (files_copied)
        again: the count beyond the changed files it had to."""
        value = self.counts.get(key)
        return None if value is None or self.mode != "incremental" else value - self.read


def runs_for(total: int) -> tuple[int, bool]:
    """(timed runs, untimed warm-up first?) for a measurement over `total` files."""
    return (1, False) if total >= SINGLE_RUN_FROM else (REPEATS, True)


def fixed_cost(mode: str, root: Path) -> list[Launch]:
    """The same command with this mode's config over a 1-file ingress: a fresh instance and
    staging for every full run; incremental re-runs an instance primed once, nothing changed."""
    from bench_fixed_cost import ASSET_DIR, PNG_NAME

    from hidebound_dagster_tests.images import write_png

    write_png(root / "ingress" / ASSET_DIR / PNG_NAME, "RGB", (8, 8))
    setup = Setup(mode, root / "ingress", root, expected=1)
    setup.write_config()
    label = f"{mode} fixed cost (1 file)"
    if mode == "full":
        return setup.timed(label, REPEATS, True, lambda _: setup.fresh())
    setup.fresh()
    setup.run(f"{label} prime")
    return setup.timed(label, REPEATS, True, lambda _: None)


def measure_full(ingress: Path, total: int, root: Path) -> Result:
    """The first workflow on a fresh instance and staging, against reading every file and
    staging the valid ones."""
    runs, warm_up = runs_for(total)
    fixed = fixed_cost("full", root / "one-file")
    floor = floors(
        ingress,
        list(relative_files(total, valid_only=False)),
        list(relative_files(total, valid_only=True)),
        root / "floor",
        runs,
        warm_up,
    )
    valid = valid_file_count(total)
    setup = Setup("full", ingress, root / "job", valid)
    setup.write_config()
    jobs = setup.timed(f"full N={total}", runs, warm_up, lambda _: setup.fresh())
    counts = materialization_counts(setup.home)
    return Result(total, "full", runs, jobs, floor, total, valid, fixed, counts)


def measure_incremental(ingress: Path, total: int, root: Path) -> Result | str:
    """A primed workflow re-run after 100 files changed, against walk+stat of every file and
    reading and staging the changed ones; a string saying why when it cannot run."""
    changes = Changes.plan(ingress, total)
    if changes is None:
        return f"N={total} has too few whole valid assets to change 100 files"
    setup = Setup("incremental", ingress, root / "job", valid_file_count(total))
    setup.write_config()
    refusal = setup.refusal()
    if refusal:
        return "the product refuses `staging: incremental`: " + refusal.replace("\n", " ")
    runs, warm_up = runs_for(total)
    fixed = fixed_cost("incremental", root / "one-file")
    setup.fresh()
    setup.run(f"incremental N={total} prime")
    marker = changed_marker(ingress)
    marker.touch()
    forward = True
    changes.apply(forward)
    try:
        floor = floors(
            ingress,
            changes.to_read(True),
            changes.to_read(True),
            root / "floor",
            runs,
            warm_up,
        )

        def change(attempt: int) -> None:
            nonlocal forward
            if attempt:  # the first run sees the change made before the floor
                changes.apply(not forward)
                forward = not forward

        jobs = setup.timed(f"incremental N={total}", runs, warm_up, change)
        counts = materialization_counts(setup.home)
    finally:
        if forward:
            changes.apply(False)
    marker.unlink()  # kept if undoing failed: the next run generates the ingress again
    changed = len(changes.to_read(True))
    return Result(total, "incremental", runs, jobs, floor, changed, changed, fixed, counts)


MEASURES: dict[str, Callable[[Path, int, Path], Result | str]] = {
    "full": measure_full,
    "incremental": measure_incremental,
}


# --- room, sizes, report ---------------------------------------------------------------------


def room_problem(workdir: Path, total: int, cached: bool) -> str | None:
    """Whether the file system lacks the blocks or inodes for this N: the ingress unless
    cached, then twice its files (a staged copy and a JSON each, or the floor's), one block
    each; the line printed either way."""
    probe = next(p for p in (workdir, *workdir.parents) if p.exists())
    stats = os.statvfs(probe)
    files = (0 if cached else total + total // FRAMES) + 2 * total
    need_bytes = files * BLOCK + SPARE_BYTES
    free_bytes = stats.f_bavail * stats.f_frsize
    print(
        f"room at N={total}: needs about {need_bytes / 2**30:.1f} GiB and {files} inodes; "
        f"{free_bytes / 2**30:.1f} GiB and {stats.f_favail} inodes free under {probe}"
    )
    if need_bytes > free_bytes or files > stats.f_favail:
        return f"not enough room for N={total} under {probe}: free some, or pass --workdir"
    return None


def measure_size(total: int, modes: list[str], workdir: Path, keep: bool) -> list[Result]:
    """Every mode at one N over the cached ingress, the work removed afterwards (unless it
    was wrong), and the ingress too if this run generated it and --keep is not given."""
    problem = room_problem(workdir, total, (workdir / f"files-{total}" / "ingress").is_dir())
    if problem:
        raise SystemExit(problem)
    ingress, generated, seconds = ingress_for(workdir, total)
    how = f"generated in {seconds:.1f} s" if generated else "cached"
    print(f"ingress: {ingress} ({total} files, {how}); load average {load_average()}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"workflow-{total}-", dir=workdir))
    results = []
    try:
        for mode in modes:
            outcome = MEASURES[mode](ingress, total, scratch / mode)
            if isinstance(outcome, str):
                print(f"SKIPPED {mode} at N={total}: {outcome}", flush=True)
            else:
                results.append(outcome)
            shutil.rmtree(scratch / mode, ignore_errors=True)
        shutil.rmtree(scratch)
    finally:
        if generated and not keep:
            shutil.rmtree(ingress.parent, ignore_errors=True)
    return results


def figure(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def report(results: list[Result]) -> bool:
    """Print the tables and the targets; True when every target set for a measured N holds."""
    if not results:
        print("\nnothing measured")
        return True
    header = (
        f"{'N':>8} {'mode':<11} {'runs':>4} {'job s':>8} {'CPU s':>8} {'floor s':>8} "
        f"{'fixed s':>7} {'ratio':>6} {'RSS MiB':>7} {'read':>7} {'reused':>7} {'copied':>7} "
        f"{'unch.':>6} {'re-read':>7} {'re-copied':>9}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    for r in results:
        job = min(r.jobs, key=lambda launch: launch.seconds)
        c = r.counts
        print(
            f"{r.files:>8} {r.mode:<11} {r.runs:>4} {r.job_seconds:8.2f} {job.cpu_seconds:8.2f} "
            f"{r.floor_seconds:8.2f} {r.fixed_seconds:7.2f} {r.ratio:6.2f} {r.peak_mib:7.0f} "
            f"{figure(c['files_read']):>7} {figure(c['files_reused']):>7} "
            f"{figure(c['files_copied']):>7} {figure(c['assets_unchanged']):>6} "
            f"{figure(r.again('files_read')) if r.mode == 'incremental' else '-':>7} "
            f"{figure(r.again('files_copied')) if r.mode == 'incremental' else '-':>9}"
        )
    header = (
        f"{'N':>8} {'mode':<11} {'walk+stat s':>11} {'decode s':>8} {'read':>7} "
        f"{'copy+json s':>11} {'staged':>7} {'fixed RSS MiB':>13}"
    )
    print(f"\nfloors and fixed cost:\n{header}\n{'-' * len(header)}")
    for r in results:
        print(
            f"{r.files:>8} {r.mode:<11} {r.floor['walk+stat']:11.3f} {r.floor['decode']:8.3f} "
            f"{r.read:>7} {r.floor['copy+json']:11.3f} {r.staged:>7} "
            f"{max(launch.peak_mib for launch in r.fixed):13.0f}"
        )
    print("\ntargets (issue 11):")
    return all([verdict(r, t) for r in results for t in TARGETS if t.mode == r.mode])


def verdict(result: Result, target: Target) -> bool:
    """Print the target beside the figures; False only when it is missed at its own N."""
    checks = []
    if target.max_ratio:
        checks.append((result.ratio <= target.max_ratio, f"ratio {result.ratio:.2f}"))
    if target.max_rss_mib:
        checks.append(
            (result.peak_mib <= target.max_rss_mib, f"peak RSS {result.peak_mib:.0f} MiB")
        )
    if target.no_reread:
        again = result.again("files_read")
        checks.append((again == 0, f"{figure(again)} unchanged files re-read"))
    met = all(ok for ok, _ in checks)
    figures = ", ".join(text for _, text in checks)
    if result.files != target.files:
        print(
            f"  {result.mode} N={result.files}: {target.describe()} is set for "
            f"N={target.files}; here {figures}"
        )
        return True
    print(
        f"  {result.mode} N={result.files}: {target.describe()}: "
        f"{'met' if met else 'NOT MET'} ({figures})"
    )
    return met


def counts_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give file counts >= 1, comma-separated")
    return values


def modes_list(text: str) -> list[str]:
    values = [part for part in text.split(",") if part]
    if not values or set(values) - set(MODES):
        raise argparse.ArgumentTypeError(f"give modes from {', '.join(MODES)}, comma-separated")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--files",
        type=counts_list,
        default=list(FILE_COUNTS),
        help="ingress sizes N, comma-separated (default 10000,100000,1000000)",
    )
    parser.add_argument(
        "--modes", type=modes_list, default=list(MODES), help="full,incremental (default both)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"where ingresses are cached and runs work (default {DEFAULT_WORKDIR})",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep an ingress generated by this run for later runs"
    )
    parser.add_argument("--launch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.launch:
        launched(args.launch, args.command)
        return 0
    workdir = args.workdir.resolve()
    print(
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average at start "
        f"{load_average()}; page cache warm; {REPEATS} timed runs after a warm-up below "
        f"N={SINGLE_RUN_FROM}, one run from there on (the 1-file fixed cost always {REPEATS})",
        flush=True,
    )
    results = []
    try:
        for total in args.files:
            results += measure_size(total, args.modes, workdir, args.keep)
    except WrongResultError as error:
        print(f"WRONG: {error}")
        return 1
    all_met = report(results)
    print(f"\nload average at end {load_average()}")
    return 0 if all_met else 2


if __name__ == "__main__":
    sys.exit(main())
