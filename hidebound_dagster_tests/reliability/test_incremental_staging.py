"""`staging: incremental` through the real `dagster job execute`: after every change to ingress
(assets added, removed, made invalid and mended, a frame appended, a frame's bytes rewritten,
an asset renamed), the staging an incremental workflow [update, create, export] leaves is
byte for byte what a full rebuild (delete + create with `staging: rebuild`) of the same ingress
leaves, and the assets that did not change were not touched (same inode and ctime of every
staged file and of its metadata JSON)."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from hidebound_dagster.core.identity import path_id
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.staged_record import read_record
from hidebound_dagster.core.verification import verify_staging
from hidebound_dagster_tests.projects import job_execute
from hidebound_dagster_tests.reliability import test_kill_points as kill_points
from hidebound_dagster_tests.reliability.test_kill_points import (
    DIRECTORY,
    KILLED,
    Run,
    States,
    Tree,
    Worker,
    differences,
    leftovers,
    ok,
    spread,
    tree,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RAW = "cat001/raw001"
COUNTS = re.compile(
    r"create: staged (\d+) files; (\d+) assets unchanged \(not copied, not hashed\), "
    r"(\d+) staged \((\d+) files\), (\d+) removed \((\d+) files\)"
)


def asset(name: str) -> str:
    return f"{RAW}/p-cat001_s-raw001_d-{name}_v001"


def write_frame(ingress: Path, name: str, frame: int, shade: int = 0) -> Path:
    """One 2x2 frame of a raw001 sequence; its colour encodes the asset, frame and shade, so
    every frame has its own bytes."""
    path = ingress / asset(name) / f"p-cat001_s-raw001_d-{name}_v001_f{frame:04d}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = (frame, sum(map(ord, name)) % 256, shade)
    Image.new("RGB", (2, 2), colour).save(path)
    return path


def write_sequence(ingress: Path, name: str, frames: range) -> None:
    for frame in frames:
        write_frame(ingress, name, frame)


def rename_asset(ingress: Path, old: str, new: str) -> None:
    """What a TD does to rename an asset: its directory and every frame in it."""
    (ingress / asset(old)).rename(ingress / asset(new))
    for frame in (ingress / asset(new)).iterdir():
        frame.rename(frame.with_name(frame.name.replace(f"d-{old}_", f"d-{new}_")))


def sha256_tree(staging: Path) -> dict[str, str]:
    """sha256 of every file under content/ and metadata/; a chunk is keyed by its kind (its
    name carries a time)."""
    tree = {}
    for top in ("content", "metadata"):
        for path in sorted((staging / top).rglob("*")):
            if path.is_file():
                key = path.relative_to(staging).as_posix()
                kind = key.split("/")[1]
                tree[kind if kind.endswith("-chunk") else key] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return tree


def touches(staging: Path) -> dict[str, tuple[int, int]]:
    """(inode, ctime) of every file under content/ and metadata/: any write, rename, chmod or
    utime of a file changes one of them."""
    return {
        path.relative_to(staging).as_posix(): (path.stat().st_ino, path.stat().st_ctime_ns)
        for top in ("content", "metadata/file", "metadata/asset")
        for path in (staging / top).rglob("*")
        if path.is_file()
    }


def entries_of(staging: Path, names: list[str]) -> list[str]:
    """The staged files of these assets, their file JSON and their asset JSON."""
    entries = []
    for name in names:
        frames = sorted((staging / "content" / asset(name)).iterdir())
        relative = [frame.relative_to(staging / "content").as_posix() for frame in frames]
        entries += [f"content/{path}" for path in relative]
        entries += [f"metadata/file/{path_id(path)}.json" for path in relative]
        entries.append(f"metadata/asset/{path_id(asset(name))}.json")
    return entries


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("incremental")
    common = (
        "ingress_directory: ingress\nstaging_directory: hidebound\n"
        f"specification_files: [{REPO / 'specs'}]\n"
    )
    (root / "incremental.yaml").write_text(
        common
        + "staging: incremental\n"
        + "workflow: [update, create, export]\n"
        + "exporters: [{name: disk, target_directory: exported}]\n"
    )
    (root / "rebuild.yaml").write_text(
        common + "staging: rebuild\nworkflow: [delete, update, create]\n"
    )
    for directory in ("ingress", "home-incremental", "home-rebuild"):
        (root / directory).mkdir()
    return {"root": root, "ingress": root / "ingress", "staging": root / "hidebound"}


def run(project: dict[str, Path], config: str) -> str:
    """One workflow run of a config through `dagster job execute`; its console output."""
    result = job_execute(
        "workflow",
        project["root"] / f"home-{config}",
        project["root"] / f"{config}.yaml",
        cwd=project["root"],
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


def rebuilt(project: dict[str, Path]) -> dict[str, str]:
    """The tree a full rebuild of the same ingress leaves, at the same paths (the incremental
    staging is set aside meanwhile and put back untouched)."""
    staging = project["staging"]
    aside = staging.with_name("aside")
    staging.rename(aside)
    try:
        run(project, "rebuild")
        return sha256_tree(staging)
    finally:
        shutil.rmtree(staging)
        aside.rename(staging)


STEPS = [
    # what changes, the change, the assets it leaves untouched, and the create's counts:
    # files staged; assets unchanged, staged, removed; files copied, removed
    (
        "first run",
        lambda i: [write_sequence(i, n, range(1, 4)) for n in "abcd"],
        [],
        (12, 0, 4, 12, 0, 0),
    ),
    ("nothing", lambda i: None, ["a", "b", "c", "d"], (12, 4, 0, 0, 0, 0)),
    (
        "add e, remove d, rewrite c's frame 2",
        lambda i: [
            write_sequence(i, "e", range(1, 3)),
            shutil.rmtree(i / asset("d")),
            write_frame(i, "c", 2, shade=9),
        ],
        ["a", "b"],
        (11, 2, 2, 5, 1, 6),
    ),
    (
        "b loses frame 2 (invalid), a gains frame 4, e renamed to f",
        lambda i: [
            (i / asset("b") / "p-cat001_s-raw001_d-b_v001_f0002.png").unlink(),
            write_frame(i, "a", 4),
            rename_asset(i, "e", "f"),
        ],
        ["c"],
        (9, 1, 2, 6, 2, 8),
    ),
    (
        "b's frame 2 put back",
        lambda i: write_frame(i, "b", 2),
        ["a", "c", "f"],
        (12, 3, 1, 3, 0, 0),
    ),
]


def test_incremental_staging_equals_a_rebuild_after_every_change(
    project: dict[str, Path],
) -> None:
    staging = project["staging"]
    for what, change, untouched, counts in STEPS:
        before = touches(staging) if staging.exists() else {}
        change(project["ingress"])
        output = run(project, "incremental")
        logged = [tuple(map(int, line)) for line in COUNTS.findall(output)]
        assert logged == [counts], f"{what}: create logged {logged}"
        after, entries = touches(staging), entries_of(staging, untouched)
        assert all(path in before for path in entries), what
        touched = [path for path in entries if after[path] != before[path]]
        assert touched == [], f"{what}: untouched assets were touched: {touched[:4]}"
        incremental = sha256_tree(staging)
        assert incremental == rebuilt(project), f"{what}: differs from a rebuild"
        assert sha256_tree(staging) == incremental, what  # put back as it was


# kill points ---------------------------------------------------------------------------------

STAGED = ".staged.parquet"  # holds staged inodes: a re-copy gives new ones, so compared apart


def comparable(entries: Tree) -> Tree:
    return {path: digest for path, digest in entries.items() if path != STAGED}


def recorded(staging: Path) -> list[tuple[str, str, str]]:
    """What the staged record says is staged: (path, asset, sha256), every row settled."""
    record = read_record(Staging(staging))
    assert record is not None and record["settled"].all()
    rows = zip(record["filepath_relative"], record["asset_path"], record["sha256"], strict=True)
    return sorted(rows)


def claims(staging: Path) -> list[str]:
    """What is wrong with a staging that has a manifest (none: it claims nothing)."""
    if not (staging / ".manifest.json").exists():
        return []
    return [f"a manifest beside a broken staging: {p}" for p in verify_staging(Staging(staging))]


def kept_everywhere(start: Tree, ingress: Tree, staging: Tree) -> list[str]:
    """Every file of the start (ingress paths, and content/ paths) is whole in ingress or in
    content/ at its path."""
    lost = sorted(
        path
        for path, digest in start.items()
        if digest != DIRECTORY and digest not in (ingress.get(path), staging.get(f"content/{path}"))
    )
    return [f"lost: {lost[:4]}"] if lost else []


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            kill_points, "WORKER", "hidebound_dagster_tests.reliability.incremental_worker"
        )
        server = Worker(tmp_path_factory.mktemp("incremental-worker") / "stderr.log")
    yield server
    server.close()


def kill_points_of(counted: Run, parts: int) -> list[int]:
    """Call numbers spread over a counted run, and every one of its last 30 calls (the
    chunks, the record and the manifest are renamed into place there)."""
    return sorted({*spread(counted.calls, parts), *range(counted.calls - 29, counted.calls + 1)})


def test_a_killed_incremental_copy_create_converges(worker: Worker, tmp_path: Path) -> None:
    """Killed anywhere in an incremental copy-mode create over a changed ingress (a sequence
    added, one removed, a frame rewritten, a frame appended): ingress is untouched, a manifest
    is only ever beside a staging it describes, and the next update + create leaves what an
    uninterrupted create leaves."""
    ingress, staging = tmp_path / "ingress", tmp_path / "hidebound"
    for name in "abcde":
        write_sequence(ingress, name, range(1, 21))
    ok(worker.run("-", "pipeline", ingress, staging, "copy"))
    states = States(tmp_path / "states")
    states.save("old", staging)
    shutil.rmtree(ingress / asset("e"))
    write_sequence(ingress, "f", range(1, 21))
    write_frame(ingress, "a", 3, shade=5)
    write_frame(ingress, "b", 21)
    pristine = tree(ingress)
    assert worker.prepare(ingress, staging) == 101
    counted = ok(worker.run("count", "create", ingress, staging, "copy"))
    states.restore("old")
    ok(worker.run("-", "create", ingress, staging, "copy"))
    expected, expected_record = tree(staging), recorded(staging)
    points = kill_points_of(counted, 40)
    assert len(points) >= 60, counted.lines[-2:]
    problems = []
    for point in points:
        states.restore("old")
        run = worker.run(str(point), "create", ingress, staging, "copy")
        found = [] if run.code == KILLED else [f"not killed: {run.code} {run.error}"]
        found += differences("ingress after the kill", tree(ingress), pristine)
        found += claims(staging)
        ok(worker.run("-", "pipeline", ingress, staging, "copy"))
        found += differences("staging", comparable(tree(staging)), comparable(expected))
        found += leftovers({"staging": tree(staging)})
        found += [] if recorded(staging) == expected_record else ["the record differs"]
        problems += [f"call {point}: {problem}" for problem in found]
    print(f"\nincremental copy create: {len(points)} kill points survived")
    assert problems == []


def test_a_killed_incremental_move_create_loses_nothing_and_converges(
    worker: Worker, tmp_path: Path
) -> None:
    """Move mode: sequences a, b, c are staged (moved); then d and e arrive, and a is delivered
    again. Killed anywhere in the create, every file is in ingress or staging; the next runs
    (update + create, again after one that puts an interrupted move back) leave what an
    uninterrupted create leaves: d and e moved in beside a, b, c, the new a left in ingress."""
    ingress, staging = tmp_path / "ingress", tmp_path / "hidebound"
    for name in "abc":
        write_sequence(ingress, name, range(1, 11))
    ok(worker.run("-", "pipeline", ingress, staging, "move"))
    for name in "de":
        write_sequence(ingress, name, range(1, 11))
    for frame in range(1, 4):
        write_frame(ingress, "a", frame, shade=7)
    states = States(tmp_path / "states")
    states.save("start", ingress, staging)
    start = {**tree(ingress), **{p[8:]: d for p, d in tree(staging).items() if p[:8] == "content/"}}
    assert worker.prepare(ingress, staging) == 23
    counted = ok(worker.run("count", "create", ingress, staging, "move"))
    states.restore("start")
    ok(worker.run("-", "create", ingress, staging, "move"))
    expected, expected_ingress = tree(staging), tree(ingress)
    assert sorted(p for p, d in expected_ingress.items() if d != DIRECTORY) == [
        f"{asset('a')}/p-cat001_s-raw001_d-a_v001_f{frame:04d}.png" for frame in range(1, 4)
    ]
    points = kill_points_of(counted, 20)
    problems = []
    for point in points:
        states.restore("start")
        run = worker.run(str(point), "create", ingress, staging, "move")
        found = [] if run.code == KILLED else [f"not killed: {run.code} {run.error}"]
        found += kept_everywhere(start, tree(ingress), tree(staging))
        found += claims(staging)
        reruns = [worker.run("-", "pipeline", ingress, staging, "move") for _ in range(2)]
        if reruns[-1].code != 0:
            found.append(f"re-runs failed: {[r.error for r in reruns]}")
        found += differences("staging", comparable(tree(staging)), comparable(expected))
        found += differences("ingress", tree(ingress), expected_ingress)
        found += leftovers({"staging": tree(staging), "ingress": tree(ingress)})
        problems += [f"call {point}: {problem}" for problem in found]
    print(f"\nincremental move create: {len(points)} kill points survived")
    assert problems == []
