"""Incremental staging in the core: the staged record, what counts as unchanged (source
identity, staged identity, the metadata JSON), strays and leftovers of a killed create, the
metadata written only where it differs, move mode's rules, and delete."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from hidebound_dagster.core import incremental
from hidebound_dagster.core.identity import path_id
from hidebound_dagster.core.incremental import ALREADY_STAGED, stage_incremental
from hidebound_dagster.core.incremental_metadata import (
    ChunkWriter,
    asset_batches,
    describe_incremental,
)
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import read_manifest
from hidebound_dagster.core.metadata import describe_rebuild
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.staged_record import read_record, write_record
from hidebound_dagster.core.staging import Staged, StagingError, delete, stage_rebuild
from hidebound_dagster.core.verification import verify_staging
from hidebound_dagster_tests.core.move_worker import EXPORTER, SPECS, mark_exported, update

RAW = "cat001/raw001"


def asset(name: str) -> str:
    return f"{RAW}/p-cat001_s-raw001_d-{name}_v001"


def frame_path(name: str, frame: int) -> str:
    return f"{asset(name)}/p-cat001_s-raw001_d-{name}_v001_f{frame:04d}.png"


def write_frame(ingress: Path, name: str, frame: int, shade: int = 0) -> Path:
    """A 2x2 frame whose colour encodes its asset, number and shade: its own bytes."""
    path = ingress / frame_path(name, frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (2, 2), (frame, sum(map(ord, name)) % 256, shade)).save(path)
    return path


def write_sequence(ingress: Path, name: str, frames: int = 3) -> None:
    for frame in range(1, frames + 1):
        write_frame(ingress, name, frame)


def files_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def touch_marks(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, ctime) of every file: any write, rename, chmod or utime changes one of them."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_ctime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def specs() -> dict:
    return load_specifications([SPECS])


@pytest.fixture
def ingress(tmp_path: Path) -> Path:
    root = tmp_path / "ingress"
    for name in ("a", "b", "c"):
        write_sequence(root, name)
    return root


def create(ingress: Path, staging: Path, specs: dict, mode: str = "copy") -> Staged:
    """update, then the incremental create and its metadata, as the Dagster assets chain them."""
    staged = stage_incremental(update(ingress, specs)["valid"], ingress, staging, mode)
    describe_incremental(staging, staged.files, specs)
    return staged


def counts(staged: Staged) -> tuple[int, ...]:
    """assets unchanged, staged, removed; files copied, removed."""
    return (
        staged.assets_unchanged,
        staged.assets_staged,
        staged.assets_removed,
        staged.files_copied,
        staged.files_removed,
    )


# the record ----------------------------------------------------------------------------------


def test_the_record_keeps_its_declared_types_and_missing_values(
    ingress: Path, staging: Path, specs: dict
) -> None:
    create(ingress, staging, specs)
    record = read_record(Staging(staging))
    assert record is not None and len(record) == 9
    assert str(record["inode"].dtype) == "Int64" and str(record["staged_mtime_ns"].dtype) == "Int64"
    assert record["settled"].dtype == bool and record["settled"].all()
    assert record["description"].notna().all() and record["description"].nunique() == 9
    for kind, path in (("file", "filepath_relative"), ("asset", "asset_path")):
        (chunk,) = (staging / "metadata" / f"{kind}-chunk").iterdir()
        data = chunk.read_bytes()
        for row in record.itertuples():
            offset, length = getattr(row, f"{kind}_offset"), getattr(row, f"{kind}_length")
            json_file = staging / "metadata" / kind / f"{path_id(getattr(row, path))}.json"
            assert data[offset : offset + length] == json_file.read_bytes()
    pending = record.assign(description=None, staged_inode=pd.NA, settled=False)
    write_record(Staging(staging), pending)
    again = read_record(Staging(staging))
    assert again is not None
    assert again["description"].isna().all() and again["staged_inode"].isna().all()
    assert not again["settled"].any()
    assert again["sha256"].tolist() == record["sha256"].tolist()


def test_a_damaged_record_means_nothing_is_known_and_the_staging_is_rebuilt(
    ingress: Path, staging: Path, specs: dict
) -> None:
    create(ingress, staging, specs)
    (staging / ".staged.parquet").write_bytes(b"PAR1 not really")
    assert read_record(Staging(staging)) is None
    staged = create(ingress, staging, specs)
    assert counts(staged) == (0, 3, 0, 9, 0)
    assert verify_staging(Staging(staging)) == []


# unchanged, changed, strays ------------------------------------------------------------------


def test_unchanged_assets_are_not_touched_and_changed_ones_are_staged_again(
    ingress: Path, staging: Path, specs: dict
) -> None:
    create(ingress, staging, specs)
    before = touch_marks(staging)
    write_frame(ingress, "b", 2, shade=50)
    staged = create(ingress, staging, specs)
    assert counts(staged) == (2, 1, 0, 3, 3)
    after = touch_marks(staging)
    untouched = [
        *(f"content/{frame_path(n, f)}" for n in "ac" for f in (1, 2, 3)),
        *(f"metadata/file/{path_id(frame_path(n, f))}.json" for n in "ac" for f in (1, 2, 3)),
        *(f"metadata/asset/{path_id(asset(n))}.json" for n in "ac"),
    ]
    assert {p: after[p] for p in untouched} == {p: before[p] for p in untouched}
    restaged = f"content/{frame_path('b', 2)}"
    assert (staging / restaged).read_bytes() == (ingress / frame_path("b", 2)).read_bytes()
    assert after[f"content/{frame_path('b', 1)}"] != before[f"content/{frame_path('b', 1)}"]
    assert verify_staging(Staging(staging)) == []


@pytest.mark.parametrize("damage", ["bytes", "replaced", "removed"])
def test_a_staged_file_that_is_not_what_was_recorded_is_staged_again(
    ingress: Path, staging: Path, specs: dict, damage: str
) -> None:
    create(ingress, staging, specs)
    staged = staging / "content" / frame_path("c", 1)
    status = staged.stat()
    if damage == "bytes":  # other bytes, same size and mtime: the inode stays, the ctime not
        staged.write_bytes(bytes(status.st_size))
        os.utime(staged, ns=(status.st_atime_ns, status.st_mtime_ns))
    elif damage == "replaced":  # same bytes and times, another inode (both exist at once)
        copy = staged.with_name("copy")
        shutil.copy2(staged, copy)
        copy.replace(staged)
    else:
        staged.unlink()
    result = create(ingress, staging, specs)
    if damage == "bytes":  # the inode and times are what was recorded: content is trusted
        assert counts(result) == (3, 0, 0, 0, 0)
        assert verify_staging(Staging(staging)) == [
            f"content/{frame_path('c', 1)}: sha256 differs from its metadata"
        ]
        return
    assert counts(result) == (2, 1, 0, 3, 2 if damage == "removed" else 3)
    assert staged.read_bytes() == (ingress / frame_path("c", 1)).read_bytes()
    assert verify_staging(Staging(staging)) == []


def test_stray_files_in_content_are_removed(ingress: Path, staging: Path, specs: dict) -> None:
    create(ingress, staging, specs)
    (staging / "content" / RAW / "notes.txt").write_text("not staged by anyone\n")
    (staging / "content" / "elsewhere").mkdir()
    (staging / "content" / "elsewhere" / "x.png").write_bytes(b"x")
    staged = create(ingress, staging, specs)
    assert counts(staged) == (3, 0, 0, 0, 2)
    assert sorted(files_of(staging / "content")) == sorted(
        frame_path(n, f) for n in "abc" for f in (1, 2, 3)
    )
    assert not (staging / "content" / "elsewhere").exists()


def test_what_a_killed_create_left_unsettled_is_removed_and_staged_again(
    ingress: Path, staging: Path, specs: dict
) -> None:
    """A create killed while copying b leaves b's rows unsettled and half of b in content:
    the next create removes that half and stages b whole."""
    create(ingress, staging, specs)
    layout = Staging(staging)
    record = read_record(layout)
    assert record is not None
    is_b = record["asset_path"] == asset("b")
    write_record(layout, record.assign(settled=~is_b, sha256=record["sha256"].where(~is_b)))
    half = staging / "content" / frame_path("b", 2)
    half.write_bytes(half.read_bytes()[:10])
    (staging / "content" / frame_path("b", 3)).unlink()
    layout.manifest.unlink()
    staged = create(ingress, staging, specs)
    assert counts(staged) == (2, 1, 0, 3, 2)
    assert files_of(staging / "content") == {
        frame_path(n, f): (ingress / frame_path(n, f)).read_bytes()
        for n in "abc"
        for f in (1, 2, 3)
    }
    assert verify_staging(layout) == []


def test_an_invalid_or_vanished_asset_leaves_staging_with_its_metadata(
    ingress: Path, staging: Path, specs: dict
) -> None:
    create(ingress, staging, specs)
    (ingress / frame_path("a", 2)).unlink()  # a gap: a is invalid
    shutil.rmtree(ingress / asset("b"))
    staged = create(ingress, staging, specs)
    assert counts(staged) == (1, 0, 2, 0, 6)
    assert sorted(files_of(staging / "content")) == [frame_path("c", f) for f in (1, 2, 3)]
    assert sorted(p.stem for p in (staging / "metadata" / "asset").iterdir()) == [
        path_id(asset("c"))
    ]
    assert len(list((staging / "metadata" / "file").iterdir())) == 3
    assert not (staging / "content" / asset("a")).exists()  # emptied directories go too


# metadata ------------------------------------------------------------------------------------


def test_metadata_is_rewritten_where_only_the_description_changed(
    ingress: Path, staging: Path, specs: dict
) -> None:
    """A file whose traits read differently (a specification changed) gets new JSON, its asset
    too, and nothing is copied; the rest of the metadata is not touched."""
    create(ingress, staging, specs)
    before = touch_marks(staging)
    valid = update(ingress, specs)["valid"]
    valid.loc[valid["filepath_relative"] == frame_path("a", 1), "channels"] = 4
    staged = stage_incremental(valid, ingress, staging, "copy")
    described = describe_incremental(staging, staged.files, specs)
    assert counts(staged) == (3, 0, 0, 0, 0)
    assert (described.assets_rewritten, described.files_rewritten) == (1, 1)
    record = json.loads(
        (staging / "metadata/file" / f"{path_id(frame_path('a', 1))}.json").read_text()
    )
    assert record["file_traits"]["channels"] == 4
    changed = {p for p, mark in touch_marks(staging).items() if before.get(p) != mark}
    assert changed == {
        f"metadata/file/{path_id(frame_path('a', 1))}.json",
        f"metadata/asset/{path_id(asset('a'))}.json",
        ".staged.parquet",
        ".manifest.json",
        *(p for p in touch_marks(staging) if "-chunk/" in p),
    }


def test_metadata_a_user_removed_or_added_is_put_right(
    ingress: Path, staging: Path, specs: dict
) -> None:
    create(ingress, staging, specs)
    expected = files_of(staging / "metadata")
    (staging / "metadata/file" / f"{path_id(frame_path('b', 3))}.json").unlink()
    (staging / "metadata/asset" / f"{path_id(asset('c'))}.json").unlink()
    (staging / "metadata/asset" / "stray.json").write_text("{}")
    (staging / "metadata/file" / ".half-written.json.tmp").write_text("{")
    (staging / "metadata/file-chunk" / "hidebound-file-chunk_2000-01-01T-00-00-00.json").write_text(
        "[]"
    )
    create(ingress, staging, specs)
    assert files_of(staging / "metadata") == expected


def test_the_incremental_metadata_equals_the_rebuilt_one(
    ingress: Path, staging: Path, specs: dict, tmp_path: Path
) -> None:
    create(ingress, staging, specs)
    write_sequence(ingress, "d", 4)
    create(ingress, staging, specs)
    incremental = files_of(staging)
    shutil.rmtree(staging)
    staged = stage_rebuild(update(ingress, specs)["valid"], ingress, staging, "copy")
    describe_rebuild(staging, staged.files, specs)
    rebuilt = files_of(staging)
    for tree in (incremental, rebuilt):
        tree.pop(".staged.parquet", None)
    assert incremental == rebuilt


@pytest.mark.parametrize("indexed", [True, False])
def test_lines_of_unchanged_assets_are_copied_from_the_chunk_the_record_indexes(
    ingress: Path, staging: Path, specs: dict, indexed: bool
) -> None:
    """The old file chunk is altered in a's lines, keeping its size: when its identity is
    still the one recorded (mtime put back) a's lines are copied from it as they are (so they
    were not made again) beside b's new lines; when it is not, every line is made again."""
    create(ingress, staging, specs)
    (chunk,) = (staging / "metadata" / "file-chunk").iterdir()
    status = chunk.stat()
    text = chunk.read_text()
    altered = text.replace(
        '"filename": "p-cat001_s-raw001_d-a_', '"filename": "P-CAT001_s-raw001_d-a_'
    )
    assert altered.count("P-CAT001") == 3 and len(altered) == len(text)
    with chunk.open("r+") as handle:  # in place: the same inode
        handle.write(altered)
    if indexed:
        os.utime(chunk, ns=(status.st_atime_ns, status.st_mtime_ns))
    write_frame(ingress, "b", 1, shade=60)
    staged = create(ingress, staging, specs)
    assert counts(staged) == (2, 1, 0, 3, 3)
    (chunk,) = (staging / "metadata" / "file-chunk").iterdir()
    records = json.loads(chunk.read_text())
    assert [r["filepath_relative"] for r in records] == [
        frame_path(n, f) for n in "abc" for f in (1, 2, 3)
    ]
    assert sum(r["filename"].startswith("P-CAT001") for r in records) == (3 if indexed else 0)
    b1 = json.loads((staging / "metadata/file" / f"{path_id(frame_path('b', 1))}.json").read_text())
    assert (
        records[3] == b1
        and b1["sha256"] == hashlib.sha256((ingress / frame_path("b", 1)).read_bytes()).hexdigest()
    )


def test_a_stale_table_is_refused(ingress: Path, staging: Path, specs: dict) -> None:
    staged = stage_incremental(update(ingress, specs)["valid"], ingress, staging, "copy")
    stale = staged.files.assign(
        sha256=staged.files["sha256"].where(staged.files.index > 0, "0" * 64)
    )
    with pytest.raises(ValueError, match="not what is staged now"):
        describe_incremental(staging, stale, specs)
    assert read_manifest(Staging(staging)) is None


def test_asset_batches_never_split_an_asset_and_keep_the_table_order() -> None:
    table = pd.DataFrame({"asset_id": list("aaabbbbcdd"), "n": range(10)})
    batches = list(asset_batches(table, rows=3))
    assert [b["asset_id"].tolist() for b in batches] == [list("aaa"), list("bbbb"), list("cdd")]
    interleaved = pd.DataFrame({"asset_id": list("abab"), "n": range(4)})
    assert [b["n"].tolist() for b in asset_batches(interleaved, rows=1)] == [[0, 1, 2, 3]]
    assert list(asset_batches(table.iloc[:0])) == []


def chunk_text(records: list) -> str:
    """The original's chunk layout, spelled out: "[", one record a line, "]"; "[]" when empty."""
    if not records:
        return "[]"
    return "[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]"


@pytest.mark.parametrize("records", [[], [{"a": 1}], [{"a": 1}, {"b": [2, None]}]])
def test_a_chunk_is_laid_out_as_the_rebuild_lays_it_out(tmp_path: Path, records: list) -> None:
    (tmp_path / "old.json").write_text("[]")
    writer = ChunkWriter(tmp_path, "chunk.json")
    for record in records:
        writer.line(json.dumps(record))
    writer.install()
    assert [p.name for p in tmp_path.iterdir()] == ["chunk.json"]
    assert (tmp_path / "chunk.json").read_text() == chunk_text(records)


def test_a_chunk_copies_runs_of_lines_from_an_old_chunk(tmp_path: Path) -> None:
    """Lines copied as byte ranges (a run of two, then one after a new line) and new lines
    make the chunk of the same records in the original's layout."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    records = [{"n": n, "text": "é" * n} for n in range(4)]
    writer = ChunkWriter(old, "chunk.json")
    lines = [writer.line(json.dumps(record)) for record in records]
    writer.install()
    assert (old / "chunk.json").read_text() == chunk_text(records)
    writer = ChunkWriter(new, "chunk.json")
    with (old / "chunk.json").open("rb") as source:
        (first, _), (second, length) = lines[0], lines[1]
        writer.copy(source, first, second + length - first, 2)
        writer.line(json.dumps({"n": "new"}))
        writer.copy(source, *lines[3], 1)
    writer.install()
    expected = [records[0], records[1], {"n": "new"}, records[3]]
    assert (new / "chunk.json").read_text() == chunk_text(expected)


# move mode -----------------------------------------------------------------------------------


def test_move_keeps_every_staged_asset_and_refuses_a_path_already_staged(
    ingress: Path, staging: Path, specs: dict
) -> None:
    originals = files_of(ingress)
    create(ingress, staging, specs, "move")
    assert files_of(staging / "content") == originals
    write_sequence(ingress, "d")
    for frame in (1, 2):  # b again, other bytes: its staged files are the only copy of b
        write_frame(ingress, "b", frame, shade=80)
    delivered = files_of(ingress)
    staged = create(ingress, staging, specs, "move")
    assert counts(staged) == (3, 1, 0, 3, 0)
    assert staged.skipped.to_dict("records") == [
        {"asset_path": asset("b"), "error": ALREADY_STAGED}
    ]
    assert files_of(ingress) == {p: d for p, d in delivered.items() if p.startswith(asset("b"))}
    content = files_of(staging / "content")
    assert {p: content[p] for p in originals} == originals
    assert {p for p in content if p.startswith(asset("d"))} == {
        frame_path("d", f) for f in (1, 2, 3)
    }
    assert verify_staging(Staging(staging)) == []
    chunk = next((staging / "metadata" / "asset-chunk").iterdir())
    assert sorted(a["asset_path_relative"] for a in json.loads(chunk.read_text())) == [
        asset(n) for n in "abcd"
    ]


def test_move_refuses_files_no_create_recorded_and_touches_nothing(
    ingress: Path, staging: Path, specs: dict
) -> None:
    create(ingress, staging, specs, "move")
    (staging / "content" / "dropped-here.png").write_bytes(b"someone's only copy")
    write_sequence(ingress, "d")
    before = files_of(staging), files_of(ingress)
    with pytest.raises(StagingError, match=r"dropped-here\.png.*only copy"):
        stage_incremental(update(ingress, specs)["valid"], ingress, staging, "move")
    assert (files_of(staging), files_of(ingress)) == before


def test_a_move_killed_before_its_metadata_is_put_back_and_then_staged(
    ingress: Path, staging: Path, specs: dict
) -> None:
    create(ingress, staging, specs, "move")
    write_sequence(ingress, "d")
    stage_incremental(update(ingress, specs)["valid"], ingress, staging, "move")  # then killed
    assert not (ingress / asset("d")).exists()
    with pytest.raises(StagingError, match=r"put back into ingress \(3 files\).*run update again"):
        create(ingress, staging, specs, "move")
    assert sorted(files_of(ingress)) == [frame_path("d", f) for f in (1, 2, 3)]
    staged = create(ingress, staging, specs, "move")
    assert counts(staged) == (3, 1, 0, 3, 0)
    assert verify_staging(Staging(staging)) == []


def test_move_delete_after_incremental_creates_still_needs_the_export_of_this_content(
    ingress: Path, staging: Path, specs: dict
) -> None:
    create(ingress, staging, specs, "move")
    mark_exported(staging)
    write_sequence(ingress, "d")
    create(ingress, staging, specs, "move")  # new content: the old export no longer counts
    with pytest.raises(StagingError, match="has not exported it"):
        delete(ingress, staging, "move", [EXPORTER])
    assert len(files_of(staging / "content")) == 12
    mark_exported(staging)
    delete(ingress, staging, "move", [EXPORTER])
    assert sorted(p.name for p in staging.iterdir()) == []
    staged = create(ingress, staging, specs, "move")  # nothing recorded: a fresh start
    assert counts(staged) == (0, 0, 0, 0, 0)


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after the raise runs."""


def test_a_create_killed_after_recording_its_plan_keeps_exact_times(
    ingress: Path, staging: Path, specs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the record marks what it is about to change: the record read back holds
    every nanosecond time exactly (a float would round them), so the next create still sees
    the untouched assets as unchanged."""
    create(ingress, staging, specs)
    write_frame(ingress, "c", 1, shade=30)

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed

    monkeypatch.setattr(incremental, "copy_in", killed)
    with pytest.raises(Killed):
        create(ingress, staging, specs)
    monkeypatch.undo()
    record = read_record(Staging(staging))
    assert record is not None
    kept = record[record["settled"]]
    assert list(kept["asset_path"].unique()) == [asset("a"), asset("b")]
    on_disk = [
        (staging / "content" / path).stat().st_mtime_ns for path in kept["filepath_relative"]
    ]
    assert list(kept["staged_mtime_ns"]) == on_disk
    assert counts(create(ingress, staging, specs)) == (2, 1, 0, 3, 0)
