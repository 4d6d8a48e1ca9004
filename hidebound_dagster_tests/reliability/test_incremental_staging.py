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
from pathlib import Path

import pytest
from PIL import Image

from hidebound_dagster.core.identity import path_id
from hidebound_dagster_tests.projects import job_execute

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
