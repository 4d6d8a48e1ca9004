"""Metadata written by create: deterministic ids, staged and ingress paths, sizes and checksums,
trait lists aligned per file, and the per-id JSONs and chunk lists on disk."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from hidebound_dagster.core.identity import ID_NAMESPACE
from hidebound_dagster.core.metadata import asset_records, write_batches
from hidebound_dagster_tests.conftest import write_frames, write_tiles
from hidebound_dagster_tests.core.move_worker import pipeline
from hidebound_dagster_tests.images import write_png

PORTRAIT = "cat001/img001/p-cat001_s-img001_d-portrait_v001.png"
JUMP = "cat001/raw001/p-cat001_s-raw001_d-jump_v001"
FUR = "cat001/tex001/p-cat001_s-tex001_d-fur_v001"
GRID = [(0, 0), (0, 1), (1, 0), (1, 1)]
ASSET_TYPES = {PORTRAIT: "file", JUMP: "sequence", FUR: "complex"}
FILE_COUNTS = {PORTRAIT: 1, JUMP: 3, FUR: 8}

#: The reference's keys (section 4.5) in its order, then the ones BEHAVIOR.md adds.
FILE_KEYS = [
    "asset_id",
    "asset_path",
    "asset_path_relative",
    "asset_name",
    "asset_type",
    "file_id",
    "file_traits",
    "filename",
    "filepath",
    "filepath_relative",
    "ingress_filepath",
    "size",
    "sha256",
]
ASSET_KEYS = [
    "asset_id",
    "asset_path",
    "asset_path_relative",
    "asset_name",
    "asset_traits",
    "asset_type",
    "file_ids",
    "filenames",
    "filepaths",
    "filepaths_relative",
    "ingress_filepaths",
    "sizes",
    "sha256s",
]
CHUNK_NAME = re.compile(r"^hidebound-(asset|file)-chunk_\d{4}-\d\d-\d\dT-\d\d-\d\d-\d\d\.json$")


def make_ingress(root: Path) -> Path:
    write_png(root / PORTRAIT, "RGBA", (5, 3))
    write_frames(root, JUMP, [1, 2, 3], mode="L", size=(3, 2))
    write_tiles(root, FUR, GRID)
    write_frames(root, "cat001/raw001/p-cat001_s-raw001_d-gap_v001", [1, 3])  # invalid
    return root


def uuid5(relative: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, relative))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_dir(directory: Path) -> dict[str, dict]:
    """id -> record of every <id>.json in a directory."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def chunk(staging: Path, kind: str) -> list[dict]:
    (path,) = (staging / "metadata" / f"{kind}-chunk").iterdir()
    assert CHUNK_NAME.match(path.name), path.name
    return json.loads(path.read_text())


@pytest.fixture
def ingress(tmp_path: Path) -> Path:
    return make_ingress(tmp_path / "ingress")


@pytest.fixture
def staged(ingress: Path, staging: Path) -> dict:
    """One copy-mode create, with the ingress bytes it started from."""
    sizes = {p.relative_to(ingress).as_posix(): p.stat().st_size for p in ingress.rglob("*.png")}
    digests = {p.relative_to(ingress).as_posix(): sha256(p) for p in ingress.rglob("*.png")}
    result = pipeline(ingress, staging, "copy")
    return {**result, "sizes": sizes, "digests": digests}


# identity -----------------------------------------------------------------------------------


def test_ids_are_uuid5_of_the_path_relative_to_ingress(staged: dict) -> None:
    assert len(staged["files"]) == 12 and len(staged["assets"]) == 3
    for record in staged["files"]:
        assert record["file_id"] == uuid5(record["filepath_relative"])
        assert record["asset_id"] == uuid5(record["asset_path_relative"])
        assert uuid.UUID(record["file_id"]).version == 5
    for record in staged["assets"]:
        assert record["asset_id"] == uuid5(record["asset_path_relative"])


def test_the_same_ingress_copied_to_another_root_gives_the_same_ids(
    ingress: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "other" / "place" / "ingress"
    shutil.copytree(ingress, elsewhere)
    first = pipeline(ingress, tmp_path / "hidebound", "copy")
    second = pipeline(elsewhere, tmp_path / "other" / "hidebound", "copy")
    assert {r["filepath_relative"]: r["file_id"] for r in first["files"]} == {
        r["filepath_relative"]: r["file_id"] for r in second["files"]
    }
    assert {r["asset_path_relative"]: r["asset_id"] for r in first["assets"]} == {
        r["asset_path_relative"]: r["asset_id"] for r in second["assets"]
    }
    for kind in ("file", "asset"):
        assert sorted(load_dir(tmp_path / "hidebound" / "metadata" / kind)) == sorted(
            load_dir(tmp_path / "other" / "hidebound" / "metadata" / kind)
        )


def test_two_runs_give_the_same_ids_and_records(ingress: Path, staging: Path) -> None:
    first = pipeline(ingress, staging, "copy")
    files = load_dir(staging / "metadata" / "file")
    assets = load_dir(staging / "metadata" / "asset")
    second = pipeline(ingress, staging, "copy")
    assert second["files"] == first["files"]
    assert second["assets"] == first["assets"]
    assert load_dir(staging / "metadata" / "file") == files
    assert load_dir(staging / "metadata" / "asset") == assets


# file records -------------------------------------------------------------------------------


def test_file_records_have_the_reference_fields_then_ours_in_order(staged: dict) -> None:
    for record in staged["files"]:
        assert list(record) == FILE_KEYS


def test_file_records_point_at_staging_and_remember_ingress(
    staged: dict, ingress: Path, staging: Path
) -> None:
    content = staging / "content"
    for record in staged["files"]:
        relative = record["filepath_relative"]
        assert record["filepath"] == str(content / relative)
        assert record["ingress_filepath"] == str(ingress / relative)
        assert record["asset_path"] == str(content / record["asset_path_relative"])
        assert record["filename"] == Path(relative).name
        staged_file = Path(record["filepath"])
        assert staged_file.is_file()
        assert record["size"] == staged["sizes"][relative] == staged_file.stat().st_size
        assert record["sha256"] == staged["digests"][relative] == sha256(staged_file)
        assert record["asset_type"] == ASSET_TYPES[record["asset_path_relative"]]


def test_file_traits_hold_the_name_fields_and_the_file_traits(staged: dict) -> None:
    by_name = {r["filename"]: r["file_traits"] for r in staged["files"]}
    assert by_name[Path(PORTRAIT).name] == {
        "project": "cat001",
        "specification": "img001",
        "descriptor": "portrait",
        "version": 1,
        "extension": "png",
        "width": 5,
        "height": 3,
        "channels": 4,
    }
    frame = by_name["p-cat001_s-raw001_d-jump_v001_f0002.png"]
    assert frame["frame"] == 2 and frame["width"] == 3 and frame["channels"] == 1
    assert frame["descriptor"] == "jump" and frame["version"] == 1
    tile = by_name["p-cat001_s-tex001_d-fur_v001_c0001-0000.png"]
    assert tile["coordinate"] == [1, 0]
    assert "coordinate_x" not in tile  # reading or searching never rewrites the traits
    assert type(tile["width"]) is int


def test_file_json_on_disk_is_the_record(staged: dict, staging: Path) -> None:
    on_disk = load_dir(staging / "metadata" / "file")
    assert on_disk == {r["file_id"]: r for r in staged["files"]}


def test_move_mode_records_the_staged_path_and_the_original_ingress_path(
    ingress: Path, staging: Path
) -> None:
    result = pipeline(ingress, staging, "move")
    for record in result["files"]:
        assert Path(record["filepath"]).is_file()
        assert not Path(record["ingress_filepath"]).exists()
        assert record["ingress_filepath"] == str(ingress / record["filepath_relative"])
        assert record["sha256"] == sha256(Path(record["filepath"]))


# asset records ------------------------------------------------------------------------------


def test_asset_records_have_the_reference_fields_then_ours_in_order(staged: dict) -> None:
    for record in staged["assets"]:
        assert list(record) == ASSET_KEYS


def test_asset_filepaths_are_staged_paths_aligned_with_the_file_lists(
    staged: dict, ingress: Path, staging: Path
) -> None:
    files = {r["file_id"]: r for r in staged["files"]}
    for asset in staged["assets"]:
        relative = asset["asset_path_relative"]
        assert asset["asset_path"] == str(staging / "content" / relative)
        assert asset["asset_type"] == ASSET_TYPES[relative]
        assert len(asset["file_ids"]) == FILE_COUNTS[relative]
        for index, file_id in enumerate(asset["file_ids"]):
            record = files[file_id]
            assert record["asset_id"] == asset["asset_id"]
            assert asset["filepaths"][index] == record["filepath"]
            assert asset["filepaths"][index].startswith(str(staging / "content") + "/")
            assert Path(asset["filepaths"][index]).is_file()
            assert asset["filenames"][index] == record["filename"]
            assert asset["filepaths_relative"][index] == record["filepath_relative"]
            assert asset["ingress_filepaths"][index] == str(ingress / record["filepath_relative"])
            assert asset["sizes"][index] == record["size"]
            assert asset["sha256s"][index] == record["sha256"]


def test_asset_traits_are_lists_aligned_per_file(staged: dict) -> None:
    files = {r["file_id"]: r for r in staged["files"]}
    for asset in staged["assets"]:
        traits = [files[file_id]["file_traits"] for file_id in asset["file_ids"]]
        names = {name for trait in traits for name in trait}
        assert set(asset["asset_traits"]) == names
        for name, values in asset["asset_traits"].items():
            assert values == [trait.get(name) for trait in traits], name
    fur = next(a for a in staged["assets"] if a["asset_path_relative"] == FUR)
    assert fur["asset_traits"]["coordinate"] == [[x, y] for _ in range(2) for x, y in GRID]


def test_asset_traits_put_none_where_a_file_lacks_a_trait() -> None:
    def record(name: str, traits: dict) -> dict:
        return {
            "asset_id": "a",
            "asset_path": "/s/content/x",
            "asset_path_relative": "x",
            "asset_name": "x",
            "asset_type": "sequence",
            "file_id": name,
            "file_traits": traits,
            "filename": name,
            "filepath": f"/s/content/x/{name}",
            "filepath_relative": f"x/{name}",
            "ingress_filepath": f"/i/x/{name}",
            "size": 1,
            "sha256": "0" * 64,
        }

    files = [
        record("f1", {"frame": 1, "width": 4}),
        record("f2", {"frame": 2}),
        record("f3", {"frame": 3, "width": 4, "note": "late"}),
    ]
    (asset,) = asset_records(files)
    assert asset["asset_traits"] == {
        "frame": [1, 2, 3],
        "width": [4, None, 4],
        "note": [None, None, "late"],
    }
    assert asset["file_ids"] == ["f1", "f2", "f3"]


def test_asset_json_on_disk_is_the_record(staged: dict, staging: Path) -> None:
    on_disk = load_dir(staging / "metadata" / "asset")
    assert on_disk == {r["asset_id"]: r for r in staged["assets"]}


# chunks -------------------------------------------------------------------------------------


def test_chunks_are_json_lists_with_one_record_per_file_and_asset(
    staged: dict, staging: Path
) -> None:
    files, assets = chunk(staging, "file"), chunk(staging, "asset")
    assert files == staged["files"]
    assert assets == staged["assets"]
    assert sorted(r["file_id"] for r in files) == sorted(load_dir(staging / "metadata" / "file"))
    assert sorted(r["asset_id"] for r in assets) == sorted(load_dir(staging / "metadata" / "asset"))
    assert len({r["file_id"] for r in files}) == 12
    assert len({r["asset_id"] for r in assets}) == 3


def test_chunk_names_carry_the_time_of_the_create(tmp_path: Path) -> None:
    write_batches(tmp_path, [([], [])], datetime(2026, 11, 26, 4, 11, 16))
    assert [p.name for p in (tmp_path / "metadata" / "file-chunk").iterdir()] == [
        "hidebound-file-chunk_2026-11-26T-04-11-16.json"
    ]
    assert [p.name for p in (tmp_path / "metadata" / "asset-chunk").iterdir()] == [
        "hidebound-asset-chunk_2026-11-26T-04-11-16.json"
    ]


# failures -----------------------------------------------------------------------------------


def test_disk_full_while_writing_metadata_keeps_the_old_metadata_and_no_temporary_directory(
    staged: dict, staging: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {
        p.relative_to(staging).as_posix(): p.read_bytes()
        for p in (staging / "metadata").rglob("*")
        if p.is_file()
    }
    real = Path.write_text
    calls: list[Path] = []

    def write_text(self: Path, *args, **kwargs):
        calls.append(self)
        if len(calls) > 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(OSError):
        write_batches(staging, [(staged["files"], staged["assets"])])
    monkeypatch.undo()
    after = {
        p.relative_to(staging).as_posix(): p.read_bytes()
        for p in (staging / "metadata").rglob("*")
        if p.is_file()
    }
    assert after == before
    assert sorted(p.name for p in staging.iterdir()) == [".manifest.json", "content", "metadata"]
