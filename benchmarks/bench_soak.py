"""Soak benchmark: the real `workflow` job run again and again in one process over a changing
ingress, every run checked, the resident set printed after each.

    .venv/bin/python benchmarks/bench_soak.py [--files 10000] [--runs 20] [--workdir DIR]
        [--keep] [--seed 0]

Generates an ingress of N files with bench_update.py's generator (Raw001 PNG sequences, one
asset in four invalid) in a fresh `soak-N/` under benchmarks/.work/, writes a config with a
disk exporter, loads the code location once (build_defs(load_location(config)), as `dagster
dev` does) and executes its `workflow` job (delete, update, create, export) R times in this
process against one persistent SQLite instance (DAGSTER_HOME in the work directory). Before
every run after the first, files are added and removed:

* a new asset of 40 frames (every third one invalid, with the generator's bad names);
* two whole assets removed (one valid, one invalid);
* the middle frame of a valid asset removed (it becomes invalid) and the frame removed the
  time before put back (that asset becomes valid again);
* a frame appended to a valid asset, and one frame of another rewritten with other pixels.

After every run it checks, against a model of the ingress that this script keeps from the
files it wrote (never from the tables of the code under test): the run succeeded; the ingress
is untouched (copy mode); `<staging>/content` holds exactly the files of the valid assets, byte
for byte; `metadata/file` and `metadata/asset` have one record per staged file and valid asset,
naming exactly those paths, and one chunk each; the disk export holds every file ever staged,
each with the bytes it had when it was last staged, and every staged metadata file.

Printed per run: seconds, ingress files, valid assets, staged files, exported files, RSS after
the run (gc.collect() first), threads and open file descriptors. RSS is flat when its maximum
over runs 2..R stays within 10% of the RSS after run 2 (run 1 is the warm-up: imports, caches).

Exit status: 0 when every run was right and RSS stayed flat, 1 when a run was wrong, 2 when
every run was right but RSS grew by more than 10%.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import random
import re
import shutil
import sys
import time
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from bench_update import DEFAULT_WORKDIR, REPO, asset_files, generate, load_average, png_bytes

RSS_TOLERANCE = 0.10  # max RSS over runs 2..R may exceed the RSS after run 2 by this much
NEW_ASSET_FRAMES = 40
FIRST_NEW_INDEX = 400_000  # indices of added assets: above the generated ones, same name widths
MIB = 1024 * 1024

#: What a valid Raw001 asset of this ingress looks like (the checker's own rule, not the spec's
#: code): its directory is the asset name, every file is <name>_fNNNN.png, frames contiguous.
ASSET_NAME = re.compile(r"^p-proj\d{3}_s-raw001_d-desc\d{6}_v\d{3}$")


# --- the model of the ingress ---------------------------------------------------------------


def other_png() -> bytes:
    """Another real 8x8 RGB PNG (other pixels, same size): a rewritten frame."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` by POSIX relative path, with its bytes."""
    tree: dict[str, bytes] = {}
    if not root.is_dir():
        return tree
    for directory, _, names in os.walk(root):
        base = Path(directory).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        for name in names:
            tree[prefix + name] = Path(directory, name).read_bytes()
    return tree


def frame_of(asset: str, name: str) -> int | None:
    """The frame number of a well-formed frame file of `asset`, else None."""
    stem = asset.rsplit("/", 1)[-1]
    match = re.fullmatch(re.escape(stem) + r"_f(\d{4})\.png", name)
    return int(match.group(1)) if match else None


class Ingress:
    """What the ingress holds (asset directory -> file name -> bytes) and what must follow."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.assets: dict[str, dict[str, bytes]] = {}
        for relative, data in read_tree(root).items():
            directory, _, name = relative.rpartition("/")
            self.assets.setdefault(directory, {})[name] = data

    def valid(self, asset: str) -> bool:
        names = self.assets[asset]
        if not names or not ASSET_NAME.match(asset.rsplit("/", 1)[-1]):
            return False
        frames = [frame_of(asset, name) for name in names]
        if None in frames:
            return False
        return max(frames) - min(frames) + 1 == len(set(frames))  # type: ignore[type-var]

    def valid_assets(self) -> list[str]:
        return sorted(a for a in self.assets if self.valid(a))

    def invalid_assets(self) -> list[str]:
        return sorted(a for a in self.assets if not self.valid(a))

    def files(self) -> dict[str, bytes]:
        return {f"{a}/{n}": d for a, names in self.assets.items() for n, d in names.items()}

    def staged(self) -> dict[str, bytes]:
        """The files create must stage: those of the valid assets."""
        return {f"{a}/{n}": d for a in self.valid_assets() for n, d in self.assets[a].items()}

    def file_count(self) -> int:
        return sum(len(names) for names in self.assets.values())

    # changes, made on disk and in the model together

    def write(self, asset: str, name: str, data: bytes) -> None:
        path = self.root / asset / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.assets.setdefault(asset, {})[name] = data

    def remove(self, asset: str, name: str) -> None:
        (self.root / asset / name).unlink()
        del self.assets[asset][name]

    def remove_asset(self, asset: str) -> None:
        shutil.rmtree(self.root / asset)
        del self.assets[asset]


class Changes:
    """The adds and removals made before each run after the first."""

    def __init__(self, ingress: Ingress, seed: int) -> None:
        self.ingress = ingress
        self.rng = random.Random(seed)
        self.frame = png_bytes()
        self.other = other_png()
        self.next_index = FIRST_NEW_INDEX + 1
        self.gap: tuple[str, str, bytes] | None = None  # frame removed last time, put back

    def apply(self, number: int) -> str:
        """Change the ingress before run `number` (2, 3, ...); a one-line summary."""
        ingress = self.ingress
        added = removed = 0
        notes = []
        # a new asset: valid unless every third, which gets the generator's four bad names
        index = self.next_index
        if number % 3 == 0:
            index += -index % 4  # asset_files makes multiples of 4 invalid
        else:
            index += 1 if index % 4 == 0 else 0
        self.next_index = index + 1
        directory, names = asset_files(index, NEW_ASSET_FRAMES)
        for name in names:
            ingress.write(
                directory, name, b"stray notes\n" if name.endswith(".txt") else self.frame
            )
        added += len(names)
        notes.append(f"+{'invalid' if index % 4 == 0 else 'valid'} asset ({len(names)} files)")

        touched: set[str] = {directory}
        if self.gap:  # put back the middle frame removed before the previous run
            asset, name, data = self.gap
            if asset in ingress.assets:
                ingress.write(asset, name, data)
                added += 1
                touched.add(asset)
                notes.append("gap filled")
            self.gap = None

        def pick(candidates: list[str], what: str) -> str | None:
            """An asset not changed yet this time; None (noted) when none is left."""
            left = [c for c in candidates if c not in touched]
            if not left:
                notes.append(f"no {what} left")
                return None
            choice = self.rng.choice(left)
            touched.add(choice)
            return choice

        for kind, candidates in (
            ("valid", ingress.valid_assets()),
            ("invalid", ingress.invalid_assets()),
        ):
            asset = pick(candidates, f"{kind} asset to remove")
            if asset:
                removed += len(ingress.assets[asset])
                ingress.remove_asset(asset)
                notes.append(f"-{kind} asset")

        # a gap in a valid asset's frames: the asset turns invalid
        valid = [a for a in ingress.valid_assets() if len(ingress.assets[a]) >= 3]
        asset = pick(valid, "valid asset for a gap")
        if asset:
            middle = sorted(ingress.assets[asset])[len(ingress.assets[asset]) // 2]
            self.gap = (asset, middle, ingress.assets[asset][middle])
            ingress.remove(asset, middle)
            removed += 1
            notes.append("gap made")

        # one more frame at the end of a valid asset: still valid
        asset = pick(ingress.valid_assets(), "valid asset to extend")
        if asset:
            last = max(frame_of(asset, n) or 0 for n in ingress.assets[asset])
            stem = asset.rsplit("/", 1)[-1]
            ingress.write(asset, f"{stem}_f{last + 1:04d}.png", self.frame)
            added += 1
            notes.append("frame appended")

        # one frame rewritten with other pixels (same size): the staged bytes must follow
        asset = pick(ingress.valid_assets(), "valid asset to rewrite")
        if asset:
            name = sorted(ingress.assets[asset])[0]
            current = ingress.assets[asset][name]
            ingress.write(asset, name, self.other if current == self.frame else self.frame)
            notes.append("frame rewritten")
        return f"+{added} -{removed} files: " + ", ".join(notes)


# --- the code location ----------------------------------------------------------------------


def prepare(workdir: Path, total: int) -> dict[str, Path]:
    """A fresh soak directory: the generated ingress, a config, a Dagster home."""
    root = workdir / f"soak-{total}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    generate(root / "ingress", total)
    config = root / "hidebound.yaml"
    config.write_text(
        "ingress_directory: ingress\n"
        "staging_directory: hidebound\n"
        f"specification_files: [{json.dumps(str(REPO / 'specs'))}]\n"
        "include_regex: ''\n"
        "exclude_regex: '\\.DS_Store'\n"
        "write_mode: copy\n"
        "workflow: [delete, update, create, export]\n"
        "exporters: [{name: disk, target_directory: exported}]\n"
    )
    home = root / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    return {
        "root": root,
        "ingress": root / "ingress",
        "staging": root / "hidebound",
        "exported": root / "exported",
        "config": config,
        "home": home,
        "log": root / "runs.log",
    }


# --- checks ---------------------------------------------------------------------------------


def differences(label: str, actual: dict[str, bytes], expected: dict[str, bytes]) -> list[str]:
    """What is missing, extra or different in `actual`, briefly."""
    problems = []
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(p for p in set(expected) & set(actual) if expected[p] != actual[p])
    for kind, paths in (("missing", missing), ("extra", extra), ("different bytes", changed)):
        if paths:
            problems.append(f"{label}: {len(paths)} {kind} (e.g. {paths[0]})")
    return problems


def json_files(directory: Path) -> list[Any]:
    if not directory.is_dir():
        return []
    return [json.loads(p.read_bytes()) for p in sorted(directory.glob("*.json"))]


def check(
    result: Any,
    paths: dict[str, Path],
    ingress: Ingress,
    exported_expected: dict[str, bytes],
) -> tuple[list[str], dict[str, int]]:
    """Every problem with what the run left, and the counts to print."""
    from hidebound_dagster_tests.projects import step_failures

    problems: list[str] = []
    if not result.success:
        problems += [f"run failed: {message}" for message in step_failures(result)] or [
            "run failed"
        ]
    problems += differences("ingress", read_tree(paths["ingress"]), ingress.files())

    expected = ingress.staged()
    valid_assets = ingress.valid_assets()
    staging = paths["staging"]
    content = read_tree(staging / "content")
    problems += differences("staged content", content, expected)

    file_records = json_files(staging / "metadata" / "file")
    asset_records = json_files(staging / "metadata" / "asset")
    if sorted(r.get("filepath_relative") for r in file_records) != sorted(expected):
        problems.append(
            f"metadata/file: {len(file_records)} records, expected one for each of "
            f"{len(expected)} staged files"
        )
    if sorted(r.get("asset_path_relative") for r in asset_records) != valid_assets:
        problems.append(
            f"metadata/asset: {len(asset_records)} records, expected one for each of "
            f"{len(valid_assets)} valid assets"
        )
    for kind, count in (("file-chunk", len(expected)), ("asset-chunk", len(valid_assets))):
        chunks = json_files(staging / "metadata" / kind)
        if [len(chunk) for chunk in chunks] != [count]:
            problems.append(
                f"metadata/{kind}: chunks of {[len(c) for c in chunks]} records, expected "
                f"one of {count}"
            )
    if not (staging / ".manifest.json").is_file():
        problems.append("no .manifest.json in staging")

    # The disk exporter mirrors and never removes: the target keeps every file ever staged,
    # each with the bytes of the last run that staged it.
    exported_expected.update(expected)
    exported = paths["exported"]
    exported_content = read_tree(exported / "content")
    problems += differences("exported content", exported_content, exported_expected)
    staged_metadata = read_tree(staging / "metadata")
    exported_metadata = read_tree(exported / "metadata")
    problems += differences(
        "exported metadata",
        {p: exported_metadata[p] for p in staged_metadata if p in exported_metadata},
        staged_metadata,
    )
    counts = {
        "ingress": ingress.file_count(),
        "valid_assets": len(valid_assets),
        "staged": len(content),
        "exported": len(exported_content),
    }
    return problems, counts


# --- the soak -------------------------------------------------------------------------------

STAGES = ("delete", "update", "create", "export")


def stage_of(step: str) -> str:
    """The workflow stage a step of the `workflow` job belongs to (checks go with their stage:
    the specification checks on asset_table with update, staging_is_intact with export)."""
    if step == "staging_cleared":
        return "delete"
    if step.startswith(("file_table", "asset_table", "validated_assets")):
        return "update"
    if step in ("staged_content", "metadata"):
        return "create"
    if step.startswith("export") or step == "metadata_staging_is_intact":
        return "export"
    return "other"


def stage_seconds(result: Any) -> dict[str, float]:
    """Seconds per stage, from the duration of each successful step."""
    seconds = dict.fromkeys((*STAGES, "other"), 0.0)
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            seconds[stage_of(event.step_key)] += event.event_specific_data.duration_ms / 1000
    return seconds


def slope(values: list[float]) -> float:
    """Least-squares change per run."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    return num / sum((x - mean_x) ** 2 for x in range(n))


def process_state() -> dict[str, float]:
    """RSS (after a full collection), threads and open file descriptors of this process."""
    import psutil

    gc.collect()
    me = psutil.Process()
    fds = me.num_fds() if hasattr(me, "num_fds") else -1
    return {"rss": me.memory_info().rss / MIB, "threads": me.num_threads(), "fds": fds}


def soak(total: int, runs: int, workdir: Path, keep: bool, seed: int) -> int:
    start = time.perf_counter()
    paths = prepare(workdir, total)
    print(
        f"ingress: {paths['ingress']} ({total} files, generated in "
        f"{time.perf_counter() - start:.1f} s); {runs} runs of `workflow` in one process; "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {load_average()}"
    )
    os.environ["DAGSTER_HOME"] = str(paths["home"])
    import dagster as dg

    from hidebound_dagster.definitions import build_defs
    from hidebound_dagster.location import load_location

    ingress = Ingress(paths["ingress"])
    changes = Changes(ingress, seed)
    defs = build_defs(load_location(paths["config"]))  # the code location loads once
    job = defs.resolve_job_def("workflow")
    exported_expected: dict[str, bytes] = {}
    rows: list[dict[str, Any]] = []
    wrong = 0
    state = process_state()
    print(
        f"before run 1: RSS {state['rss']:.0f} MiB, {state['threads']} threads, "
        f"{state['fds']} fds; Dagster's run logs go to {paths['log']}"
    )
    header = (
        f"{'run':>3} {'seconds':>7} {'CPU s':>6} {'del':>5} {'upd':>5} {'cre':>5} {'exp':>5} "
        f"{'dagster':>7} {'ingress':>7} {'valid':>5} {'staged':>6} {'exported':>8} "
        f"{'RSS MiB':>7} {'vs run 2':>8} {'thr':>3} {'fds':>3}  check"
    )
    print(header)
    print("-" * len(header))
    with dg.DagsterInstance.get() as instance, paths["log"].open("w") as log:
        for number in range(1, runs + 1):
            if number > 1:
                change = changes.apply(number)
                print(f"    before run {number}: {change}", file=log, flush=True)
            print(f"=== run {number} ===", file=log, flush=True)
            began, cpu_began = time.perf_counter(), time.process_time()
            with redirect_stderr(log):
                result = job.execute_in_process(instance=instance, raise_on_error=False)
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
            stages = stage_seconds(result)
            problems, counts = check(result, paths, ingress, exported_expected)
            del result
            state = process_state()
            row = {
                "run": number,
                "seconds": seconds,
                "cpu": cpu,
                **counts,
                **state,
                "problems": problems,
            }
            rows.append(row)
            wrong += bool(problems)
            base = rows[1]["rss"] if len(rows) > 1 else None
            versus = f"{100 * (state['rss'] / base - 1):+7.1f}%" if base else f"{'-':>8}"
            verdict = "ok" if not problems else "WRONG: " + "; ".join(problems[:3])
            steps = " ".join(f"{stages[stage]:5.1f}" for stage in STAGES)
            overhead = seconds - sum(stages.values())  # run start and end, events, resources
            print(
                f"{number:>3} {seconds:7.1f} {cpu:6.1f} {steps} {overhead:7.1f} "
                f"{counts['ingress']:>7} {counts['valid_assets']:>5} {counts['staged']:>6} "
                f"{counts['exported']:>8} {state['rss']:7.0f} {versus} "
                f"{state['threads']:>3} {state['fds']:>3}  {verdict}",
                flush=True,
            )
            for problem in problems[3:]:
                print(f"    {problem}")
    return report(rows, wrong, paths, keep)


def report(rows: list[dict[str, Any]], wrong: int, paths: dict[str, Path], keep: bool) -> int:
    runs = len(rows)
    seconds = [row["seconds"] for row in rows]
    cpu = [row["cpu"] for row in rows]
    print()
    print(
        f"runs: {runs - wrong} of {runs} right; seconds per run: first {seconds[0]:.1f}, "
        f"min {min(seconds):.1f}, max {max(seconds):.1f}, last {seconds[-1]:.1f}; CPU s per "
        f"run: min {min(cpu):.1f}, max {max(cpu):.1f}, last {cpu[-1]:.1f}; "
        f"load average {load_average()}"
    )
    flat = True
    if runs >= 2:
        later = rows[1:]
        rss = [row["rss"] for row in later]
        base, peak = rss[0], max(rss)
        growth = peak / base - 1
        flat = growth <= RSS_TOLERANCE
        print(
            f"RSS (runs 2..{runs}, after gc.collect()): first {base:.0f} MiB, last {rss[-1]:.0f} "
            f"MiB, max {peak:.0f} MiB (run {later[rss.index(peak)]['run']}), min {min(rss):.0f} "
            f"MiB; run 1 {rows[0]['rss']:.0f} MiB; trend {slope(rss):+.2f} MiB per run "
            f"(least squares)"
        )
        print(
            f"target: max RSS over runs 2..{runs} within {RSS_TOLERANCE:.0%} of run 2: "
            f"{'ok' if flat else 'MISSED'} ({growth:+.1%}); last vs run 2 "
            f"{rss[-1] / base - 1:+.1%}; threads {later[0]['threads']} -> {later[-1]['threads']}, "
            f"fds {later[0]['fds']} -> {later[-1]['fds']}"
        )
    else:
        print("RSS flatness needs at least 2 runs")
    print(f"target: every run right: {'ok' if not wrong else 'MISSED'}")
    if wrong or keep:
        print(f"kept for inspection: {paths['root']}")
    else:
        shutil.rmtree(paths["root"], ignore_errors=True)
    return 1 if wrong else 0 if flat else 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="files in the first ingress")
    parser.add_argument("--runs", type=int, default=20, help="consecutive workflow runs")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"where soak-N/ goes (default {DEFAULT_WORKDIR}); it is made afresh every time",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep soak-N/ afterwards (it is kept when a run was wrong)",
    )
    parser.add_argument("--seed", type=int, default=0, help="which assets the changes pick")
    args = parser.parse_args(argv)
    if args.files < 1 or args.runs < 1:
        parser.error("--files and --runs must be >= 1")
    return soak(args.files, args.runs, args.workdir.resolve(), args.keep, args.seed)


if __name__ == "__main__":
    sys.exit(main())
