"""Staging (create and delete): the layout of <staging>/content, copy and move mode, repeated
creates, zero valid assets, the overlap and move-mode refusals, files that change between update
and create, a full disk, and moves across filesystems."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from hidebound_dagster.core import staging as staging_module
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.staging import (
    StagingError,
    check_apart,
    delete,
    restore_interrupted,
    stage_content,
    stageable,
)
from hidebound_dagster_tests.conftest import write_frames, write_tiles
from hidebound_dagster_tests.core.move_worker import (
    EXPORTER,
    SPECS,
    create,
    mark_exported,
    pipeline,
    update,
)
from hidebound_dagster_tests.images import write_png

NOW = datetime(2026, 11, 26, 6, 0, 0)
PORTRAIT = "cat001/img001/p-cat001_s-img001_d-portrait_v001.png"
JUMP = "cat001/raw001/p-cat001_s-raw001_d-jump_v001"
FUR = "cat001/tex001/p-cat001_s-tex001_d-fur_v001"
GAP = "cat001/raw001/p-cat001_s-raw001_d-gap_v001"
GRID = [(0, 0), (0, 1), (1, 0), (1, 1)]

ASSET_FILES = {
    "file": [PORTRAIT],
    "sequence": [f"{JUMP}/p-cat001_s-raw001_d-jump_v001_f{f:04d}.png" for f in (1, 2, 3)],
    "complex": [
        f"{FUR}/{sub}/p-cat001_s-tex001_d-fur_v001_c{x:04d}-{y:04d}.png"
        for sub in ("diffuse", "normal")
        for x, y in GRID
    ],
}
VALID = sorted(path for paths in ASSET_FILES.values() for path in paths)
INVALID = sorted(
    [
        *(f"{GAP}/p-cat001_s-raw001_d-gap_v001_f{f:04d}.png" for f in (1, 2, 4)),
        "cat001/notes.txt",
    ]
)


def make_ingress(root: Path) -> Path:
    """A file, a sequence and a complex asset (valid), a sequence with a gap (invalid) and a file
    without a specification; every image has its own bytes."""
    write_png(root / PORTRAIT, "RGB", (4, 3))
    write_frames(root, JUMP, [1, 2, 3], size=(3, 2))
    write_tiles(root, FUR, GRID)
    write_frames(root, GAP, [1, 2, 4])
    (root / "cat001/notes.txt").write_text("shot notes\n")
    return root


def tree(root: Path) -> dict[str, bytes]:
    """Relative POSIX path -> bytes of every file under root."""
    if not root.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def ingress(tmp_path: Path) -> Path:
    return make_ingress(tmp_path / "ingress")


@pytest.fixture
def specs() -> dict:
    return load_specifications([SPECS])


@pytest.fixture
def shm(tmp_path: Path) -> Iterator[Path]:
    """A directory on /dev/shm (tmpfs), a different filesystem from tmp_path."""
    root = Path("/dev/shm") / f"hidebound-test-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    assert root.stat().st_dev != tmp_path.stat().st_dev, "need /dev/shm on another filesystem"
    yield root
    shutil.rmtree(root, ignore_errors=True)


# layout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("asset_type", ["file", "sequence", "complex"])
def test_copy_stages_each_asset_type_under_its_path_relative_to_ingress(
    ingress: Path, staging: Path, asset_type: str
) -> None:
    before = tree(ingress)
    pipeline(ingress, staging, "copy")
    for relative in ASSET_FILES[asset_type]:
        staged = staging / "content" / relative
        assert staged.is_file(), relative
        assert staged.read_bytes() == before[relative]


def test_copy_stages_exactly_the_valid_files_and_leaves_ingress_untouched(
    ingress: Path, staging: Path
) -> None:
    before = tree(ingress)
    result = pipeline(ingress, staging, "copy")
    assert tree(staging / "content") == {path: before[path] for path in VALID}
    assert tree(ingress) == before
    assert sorted(result["staged"]["filepath_relative"]) == VALID


def test_stage_content_returns_the_sha256_of_each_staged_file(
    ingress: Path, staging: Path, specs: dict
) -> None:
    valid = update(ingress, specs)["valid"]
    digests = stage_content(valid, ingress, staging, "copy")
    assert list(digests.index) == list(valid.index)
    for relative, value in zip(valid["filepath_relative"], digests, strict=True):
        assert value == digest((ingress / relative).read_bytes())


def test_copy_keeps_the_modification_time_of_the_source(ingress: Path, staging: Path) -> None:
    """Reference 4.5: copy mode uses shutil.copy2, so staged copies keep their mtime."""
    old = 1_600_000_000_000_000_000
    for relative in VALID:
        os.utime(ingress / relative, ns=(old, old))
    pipeline(ingress, staging, "copy")
    changed = [r for r in VALID if (staging / "content" / r).stat().st_mtime_ns != old]
    assert changed == []


# move mode ----------------------------------------------------------------------------------


def test_move_moves_valid_files_and_removes_only_emptied_ingress_directories(
    ingress: Path, staging: Path
) -> None:
    before = tree(ingress)
    pipeline(ingress, staging, "move")
    assert tree(staging / "content") == {path: before[path] for path in VALID}
    assert tree(ingress) == {path: before[path] for path in INVALID}
    for emptied in (JUMP, FUR, "cat001/tex001", "cat001/img001"):
        assert not (ingress / emptied).exists(), emptied
    for kept in (GAP, "cat001/raw001", "cat001"):
        assert (ingress / kept).is_dir(), kept


def test_move_never_removes_the_ingress_root(tmp_path: Path, staging: Path) -> None:
    ingress = tmp_path / "ingress"
    write_frames(ingress, JUMP, [1, 2])
    write_png(ingress / "p-cat001_s-img001_d-root_v001.png")  # a file asset at the root
    pipeline(ingress, staging, "move")
    assert ingress.is_dir()
    assert list(ingress.iterdir()) == []
    assert len(tree(staging / "content")) == 3


def test_move_refuses_to_replace_content_that_was_not_exported(
    ingress: Path, staging: Path, specs: dict
) -> None:
    pipeline(ingress, staging, "move")
    staged = tree(staging / "content")
    write_frames(ingress, "cat001/raw001/p-cat001_s-raw001_d-next_v001", [1, 2])
    valid = update(ingress, specs)["valid"]
    with pytest.raises(StagingError, match="not exported"):
        stage_content(valid, ingress, staging, "move")
    assert tree(staging / "content") == staged
    assert len(list((ingress / "cat001/raw001/p-cat001_s-raw001_d-next_v001").iterdir())) == 2


# repeated creates and zero valid assets -----------------------------------------------------


def test_create_twice_gives_the_same_staging_tree(ingress: Path, staging: Path) -> None:
    pipeline(ingress, staging, "copy", now=NOW)
    first = tree(staging)
    pipeline(ingress, staging, "copy", now=NOW)
    assert tree(staging) == first
    assert sorted(p.name for p in staging.iterdir()) == [".manifest.json", "content", "metadata"]


def test_create_twice_keeps_one_chunk_of_each_kind(ingress: Path, staging: Path) -> None:
    pipeline(ingress, staging, "copy", now=datetime(2026, 1, 1, 0, 0, 0))
    pipeline(ingress, staging, "copy", now=datetime(2026, 1, 1, 0, 0, 9))
    for kind in ("asset-chunk", "file-chunk"):
        names = [p.name for p in (staging / "metadata" / kind).iterdir()]
        assert names == [f"hidebound-{kind}_2026-01-01T-00-00-09.json"]


def test_create_again_drops_an_asset_removed_from_ingress(ingress: Path, staging: Path) -> None:
    first = pipeline(ingress, staging, "copy")
    jump_ids = {r["file_id"] for r in first["files"] if r["asset_path_relative"] == JUMP}
    jump_asset = {r["asset_id"] for r in first["assets"] if r["asset_path_relative"] == JUMP}
    assert len(jump_ids) == 3 and len(jump_asset) == 1
    shutil.rmtree(ingress / JUMP)
    pipeline(ingress, staging, "copy")
    assert not (staging / "content" / JUMP).exists()
    assert sorted(tree(staging / "content")) == [p for p in VALID if not p.startswith(JUMP)]
    metadata = staging / "metadata"
    assert not {p.stem for p in (metadata / "file").iterdir()} & jump_ids
    assert not {p.stem for p in (metadata / "asset").iterdir()} & jump_asset
    for kind in ("asset-chunk", "file-chunk"):
        (chunk,) = (metadata / kind).iterdir()
        assert "jump" not in chunk.read_text()


@pytest.mark.parametrize("write_mode", ["copy", "move"])
def test_zero_valid_assets_gives_an_empty_valid_staging_tree(
    tmp_path: Path, staging: Path, write_mode: str
) -> None:
    ingress = tmp_path / "ingress"
    write_frames(ingress, GAP, [1, 2, 4])
    (ingress / "notes.txt").write_text("no specification\n")
    before = tree(ingress)
    result = pipeline(ingress, staging, write_mode)
    assert result["files"] == [] and result["assets"] == []
    assert (staging / "content").is_dir()
    assert tree(staging / "content") == {}
    for kind in ("asset", "file"):
        assert (staging / "metadata" / kind).is_dir()
        assert list((staging / "metadata" / kind).iterdir()) == []
    for kind in ("asset-chunk", "file-chunk"):
        (chunk,) = (staging / "metadata" / kind).iterdir()
        assert json.loads(chunk.read_text()) == []
    assert tree(ingress) == before


# delete -------------------------------------------------------------------------------------


@pytest.mark.parametrize("write_mode", ["copy", "move"])
def test_delete_removes_only_content_and_metadata(
    ingress: Path, staging: Path, write_mode: str
) -> None:
    pipeline(ingress, staging, write_mode)
    if write_mode == "move":
        mark_exported(staging)
    (staging / "README.txt").write_text("keep me\n")
    (staging / "logs").mkdir()
    (staging / "logs" / "run.log").write_text("keep me too\n")
    before = tree(ingress)
    delete(ingress, staging, write_mode, [EXPORTER])
    assert tree(ingress) == before
    assert sorted(p.name for p in staging.iterdir()) == ["README.txt", "logs"]
    assert (staging / "README.txt").read_text() == "keep me\n"
    assert (staging / "logs" / "run.log").read_text() == "keep me too\n"


def test_delete_of_an_empty_staging_directory_does_nothing(ingress: Path, staging: Path) -> None:
    staging.mkdir()
    delete(ingress, staging, "copy")
    delete(ingress, staging, "move", [EXPORTER])
    assert staging.is_dir() and list(staging.iterdir()) == []


def test_move_delete_refuses_content_that_was_not_exported(ingress: Path, staging: Path) -> None:
    pipeline(ingress, staging, "move")
    staged = tree(staging / "content")
    with pytest.raises(StagingError, match="not exported: disk:/test/exported has not exported it"):
        delete(ingress, staging, "move", [EXPORTER])
    assert tree(staging / "content") == staged
    assert (staging / "metadata").is_dir()
    mark_exported(staging)
    ingress_before = tree(ingress)
    delete(ingress, staging, "move", [EXPORTER])
    assert not (staging / "content").exists()
    assert not (staging / "metadata").exists()
    assert tree(ingress) == ingress_before


# overlap refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ingress_part", "staging_part"),
    [
        ("root/ingress", "root/ingress/sub/hidebound"),  # staging inside ingress
        ("root/hidebound/ingress", "root/hidebound"),  # ingress inside staging
        ("root/same", "root/same"),  # equal
        ("root/ingress", "root/ingress/./"),  # equal, spelled differently
    ],
)
def test_check_apart_refuses_overlapping_directories(
    tmp_path: Path, ingress_part: str, staging_part: str
) -> None:
    (tmp_path / ingress_part).mkdir(parents=True)
    with pytest.raises(StagingError, match="must not be equal or inside one another"):
        check_apart(tmp_path / ingress_part, tmp_path / staging_part)


def test_check_apart_sees_through_symbolic_links(tmp_path: Path) -> None:
    ingress = tmp_path / "ingress"
    ingress.mkdir()
    (tmp_path / "link").symlink_to(ingress)
    with pytest.raises(StagingError):
        check_apart(ingress, tmp_path / "link" / "hidebound")


@pytest.mark.parametrize(
    "staging_part", ["ingress2/hidebound", "ingress-old/hidebound", "hidebound"]
)
def test_check_apart_allows_siblings_sharing_a_name_prefix(
    tmp_path: Path, staging_part: str
) -> None:
    (tmp_path / "ingress").mkdir()
    check_apart(tmp_path / "ingress", tmp_path / staging_part)


def test_stage_content_refuses_staging_inside_ingress_and_touches_nothing(
    ingress: Path, specs: dict
) -> None:
    before = tree(ingress)
    valid = update(ingress, specs)["valid"]
    with pytest.raises(StagingError):
        stage_content(valid, ingress, ingress / "hidebound", "move")
    assert tree(ingress) == before
    assert not (ingress / "hidebound").exists()


# files changed between update and create ----------------------------------------------------


def test_file_deleted_between_update_and_create_leaves_its_whole_asset_out(
    ingress: Path, staging: Path, specs: dict
) -> None:
    valid = update(ingress, specs)["valid"]
    gone = ASSET_FILES["sequence"][1]
    (ingress / gone).unlink()
    result = create(valid, ingress, staging, "copy", specs)
    staged = sorted(tree(staging / "content"))
    assert staged == sorted(ASSET_FILES["file"] + ASSET_FILES["complex"])
    assert list(result["skipped"]["asset_path"]) == [JUMP]
    (error,) = result["skipped"]["error"]
    assert error.startswith(Path(gone).name + ": ")
    assert "No such file or directory" in error and "since the scan" in error
    assert JUMP not in {record["asset_path_relative"] for record in result["assets"]}


@pytest.mark.parametrize("change", ["size", "mtime"])
def test_file_changed_between_update_and_create_leaves_its_whole_asset_out(
    ingress: Path, staging: Path, specs: dict, change: str
) -> None:
    valid = update(ingress, specs)["valid"]
    changed = ingress / ASSET_FILES["complex"][5]
    if change == "size":
        with changed.open("ab") as handle:
            handle.write(b"\0")
    else:
        stat = changed.stat()
        os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    files, skipped = stageable(valid)
    assert FUR not in set(files["asset_path"])
    assert sorted(files["filepath_relative"]) == sorted(
        ASSET_FILES["file"] + ASSET_FILES["sequence"]
    )
    assert list(skipped["asset_path"]) == [FUR]
    assert skipped["error"].iloc[0] == (
        f"{changed.name}: cannot be staged: it is no longer the file the scan saw "
        "(replaced or modified)"
    )
    create(valid, ingress, staging, "move", specs)
    assert not (staging / "content" / FUR).exists()
    assert len(list((ingress / FUR).rglob("*.png"))) == 8  # nothing of that asset moved


# failures while staging ---------------------------------------------------------------------


def failing_copyfile(monkeypatch: pytest.MonkeyPatch, after: int) -> list[str]:
    """Make shutil.copyfile write half of the (after+1)th file, then fail with ENOSPC."""
    real = shutil.copyfile
    calls: list[str] = []

    def copyfile(source, destination, *args, **kwargs):
        calls.append(str(source))
        if len(calls) > after:
            data = Path(source).read_bytes()
            Path(destination).write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))
        return real(source, destination, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", copyfile)
    return calls


def failing_copy(monkeypatch: pytest.MonkeyPatch, after: int) -> list[str]:
    """Make the copy-mode copy write half of the (after+1)th file, then fail with ENOSPC."""
    real = staging_module.copy_validated
    calls: list[str] = []

    def copy(source, destination, expected):
        calls.append(str(source))
        if len(calls) > after:
            data = Path(source).read_bytes()
            Path(destination).write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))
        return real(source, destination, expected)

    monkeypatch.setattr(staging_module, "copy_validated", copy)
    return calls


def test_disk_full_during_copy_keeps_the_previous_content_and_no_temporary_directory(
    ingress: Path, staging: Path, specs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline(ingress, staging, "copy")
    previous = tree(staging / "content")
    write_frames(ingress, "cat001/raw001/p-cat001_s-raw001_d-extra_v001", [1, 2, 3])
    valid = update(ingress, specs)["valid"]
    calls = failing_copy(monkeypatch, after=6)
    with pytest.raises(OSError) as raised:
        stage_content(valid, ingress, staging, "copy")
    assert raised.value.errno == errno.ENOSPC
    assert len(calls) == 7
    assert tree(staging / "content") == previous
    kept = ("content", "metadata", ".manifest.json")
    assert [p.name for p in staging.iterdir() if p.name not in kept] == []


def test_disk_full_during_a_cross_filesystem_move_loses_nothing(
    shm: Path, staging: Path, specs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingress = make_ingress(shm / "ingress")
    before = tree(ingress)
    valid = update(ingress, specs)["valid"]
    failing_copyfile(monkeypatch, after=5)
    with pytest.raises(OSError):
        stage_content(valid, ingress, staging, "move")
    ingress_now, content_now = tree(ingress), tree(staging / "content")
    for relative, data in before.items():
        assert ingress_now.get(relative) == data or content_now.get(relative) == data, relative
    assert len([p for p in VALID if p in content_now]) == 5  # the moves before the failure
    monkeypatch.undo()
    restore_interrupted(ingress, staging)
    assert tree(ingress) == before
    assert tree(staging / "content") == {}
    assert not [p for p in (*ingress.rglob("*"), *staging.rglob("*")) if ".partial" in p.name]


def test_cross_filesystem_move_verifies_and_removes_the_sources(shm: Path, staging: Path) -> None:
    ingress = make_ingress(shm / "ingress")
    before = tree(ingress)
    result = pipeline(ingress, staging, "move")
    assert tree(staging / "content") == {path: before[path] for path in VALID}
    assert tree(ingress) == {path: before[path] for path in INVALID}
    assert not [p for p in staging.rglob("*") if p.name.endswith(".partial")]
    for record in result["files"]:
        assert record["sha256"] == digest(before[record["filepath_relative"]])
        assert Path(record["filepath"]).is_file()
    assert not (ingress / JUMP).exists() and not (ingress / FUR).exists()


def test_cross_filesystem_move_keeps_the_modification_time_of_the_source(
    shm: Path, staging: Path
) -> None:
    """Reference 4.5: move mode uses shutil.move, which keeps the mtime across filesystems."""
    ingress = make_ingress(shm / "ingress")
    old = 1_600_000_000_000_000_000
    for relative in VALID:
        os.utime(ingress / relative, ns=(old, old))
    pipeline(ingress, staging, "move")
    changed = [r for r in VALID if (staging / "content" / r).stat().st_mtime_ns != old]
    assert changed == []


# interrupted runs ---------------------------------------------------------------------------


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after the raise runs, no except Exception catches it."""


def interrupt_move_after(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    real = staging_module.move_file
    moved: list[Path] = []

    def move_file(source: Path, destination: Path) -> str:
        if len(moved) == count:
            raise Killed
        moved.append(source)
        return real(source, destination)

    monkeypatch.setattr(staging_module, "move_file", move_file)


def test_rerun_after_an_interrupted_move_stages_no_partial_asset(
    tmp_path: Path, staging: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A move killed halfway through a sequence, then the next update + create (a workflow
    without `delete`): the sequence must be staged whole or not at all, and nothing lost."""
    ingress = tmp_path / "ingress"
    frames = write_frames(ingress, JUMP, range(1, 7))
    before = tree(ingress)
    interrupt_move_after(monkeypatch, 3)
    with pytest.raises(Killed):
        pipeline(ingress, staging, "move")
    monkeypatch.undo()
    assert len(tree(staging / "content")) == 3  # half the sequence was moved when it died

    # the update saw half the sequence; create puts the moved half back and refuses to stage
    with pytest.raises(StagingError, match="run update again"):
        pipeline(ingress, staging, "move")
    assert tree(ingress) == before

    result = pipeline(ingress, staging, "move")
    content = tree(staging / "content")
    assert content == before
    assert sorted(Path(p).name for p in content) == sorted(f.name for f in frames)
    assert [len(a["filenames"]) for a in result["assets"]] == [6]


def test_next_create_removes_what_a_killed_create_left_behind(ingress: Path, staging: Path) -> None:
    """A create killed (SIGKILL) while copying leaves its new tree `.content-<hex>`, one killed
    while writing metadata leaves `.metadata-<hex>`; the next create starts from a clean
    staging area, so neither may survive it."""
    pipeline(ingress, staging, "copy")
    for name in (".content-0badf00d", ".metadata-0badf00d"):
        leftover = staging / name / "cat001"
        leftover.mkdir(parents=True)
        (leftover / "half-written.png").write_bytes(b"\x89PNG")
    pipeline(ingress, staging, "copy")
    assert sorted(p.name for p in staging.iterdir()) == [".manifest.json", "content", "metadata"]


def test_an_old_export_marker_never_lets_an_interrupted_move_be_deleted(
    tmp_path: Path, staging: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run 1 is staged and exported. Run 2 moves a new frame, then dies before its metadata.
    Before anyone restores it, a different file arrives at that frame's ingress path, so
    restore_interrupted must leave the staged frame where it is: it is now the only copy of
    those bytes, and neither the next create nor delete may remove it on the strength of run 1's
    export marker."""
    ingress = tmp_path / "ingress"
    write_frames(ingress, JUMP, [1, 2])
    pipeline(ingress, staging, "move")
    mark_exported(staging)

    new, other = write_frames(ingress, "cat001/raw001/p-cat001_s-raw001_d-next_v001", [1, 2])
    Image.new("RGB", (4, 4), (0, 255, 0)).save(other)  # every file has its own bytes
    only_copy = new.read_bytes()
    interrupt_move_after(monkeypatch, 1)
    with pytest.raises(Killed):
        pipeline(ingress, staging, "move")
    monkeypatch.undo()
    staged = staging / "content" / new.relative_to(ingress)
    assert staged.read_bytes() == only_copy and not new.exists()
    Image.new("RGB", (4, 4), (255, 0, 0)).save(new)  # another file arrives at the same path
    assert new.read_bytes() != only_copy

    attempts = {
        "the next create": lambda: pipeline(ingress, staging, "move"),
        "delete": lambda: delete(ingress, staging, "move", [EXPORTER]),
    }
    for name, attempt in attempts.items():
        with contextlib.suppress(StagingError):
            attempt()
        copies = [
            p
            for p in (*ingress.rglob("*"), *staging.rglob("*"))
            if p.is_file() and p.read_bytes() == only_copy
        ]
        assert copies, f"{name} deleted the only copy of {new.relative_to(ingress)}"
