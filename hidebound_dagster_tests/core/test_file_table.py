"""The file table over real ingress trees: parsed fields, traits, asset paths, errors, ids."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.identity import ID_NAMESPACE
from hidebound_dagster.core.parallel import thread_mapper
from hidebound_dagster.core.specification import Specification
from hidebound_dagster_tests.conftest import write_frames, write_tiles
from hidebound_dagster_tests.images import write_corrupt_png, write_png

Specs = dict[str, type[Specification]]

SEQ = "proj/seq/p-proj001_s-seq001_d-walk_v001"
TEX = "proj/tex/p-proj001_s-tex001_d-fur_v001"
IMG = "proj/img/p-proj001_s-img001_d-still_v002.png"


def build_ingress(root: Path) -> Path:
    """One asset of each type plus files that belong to no asset."""
    write_frames(root, SEQ, [1, 2, 3], size=(6, 4))
    write_tiles(root, TEX, [(0, 0), (0, 1), (1, 0), (1, 1)])
    write_png(root / IMG, "RGBA", (5, 3))
    (root / SEQ / "Thumbs.db").write_bytes(b"thumbs")
    write_png(root / "proj/p-proj001_s-zzz999_d-other_v001.png")
    return root


def by_path(table: pd.DataFrame) -> dict[str, dict]:
    return {row["filepath_relative"]: row for row in table.to_dict("records")}


def present(value: object) -> bool:
    return not (value is None or (pd.api.types.is_scalar(value) and pd.isna(value)))


class Ingress(NamedTuple):
    root: Path
    table: pd.DataFrame


@pytest.fixture(scope="module")
def ingress(tmp_path_factory: pytest.TempPathFactory, specs: Specs) -> Ingress:
    root = build_ingress(tmp_path_factory.mktemp("file_table") / "ingress")
    return Ingress(root, build_file_table(root, specs))


@pytest.fixture
def table(ingress: Ingress) -> pd.DataFrame:
    return ingress.table.copy()


def test_one_row_per_file_with_facts(table: pd.DataFrame, ingress: Ingress) -> None:
    assert len(table) == 3 + 8 + 1 + 1 + 1
    assert table["filepath_relative"].is_unique
    assert table["filepath_relative"].is_monotonic_increasing
    rows = by_path(table)
    image = rows[IMG]
    assert image["filepath"] == str(ingress.root / IMG)
    assert image["size"] == (ingress.root / IMG).stat().st_size
    assert list(table.columns[:6]) == [
        "filepath_relative",
        "filename",
        "specification",
        "asset_type",
        "asset_name",
        "asset_path",
    ]
    assert list(table.columns[-8:]) == [
        "file_error",
        "size",
        "mtime_ns",
        "device",
        "inode",
        "filepath",
        "file_id",
        "asset_id",
    ]


def test_file_asset(table: pd.DataFrame) -> None:
    row = by_path(table)[IMG]
    assert row["specification"] == "img001"
    assert row["asset_type"] == "file"
    assert row["asset_path"] == IMG
    assert row["asset_name"] == "p-proj001_s-img001_d-still_v002"  # asset_name_fields
    assert (row["project"], row["descriptor"], row["version"]) == ("proj001", "still", 2)
    assert row["extension"] == "png"
    assert (row["width"], row["height"], row["channels"]) == (5, 3, 4)
    assert row["file_error"] is None


def test_sequence_asset(table: pd.DataFrame) -> None:
    frames = table[table["specification"] == "seq001"]
    assert frames["frame"].tolist() == [1, 2, 3]
    assert set(frames["asset_path"]) == {SEQ}
    assert set(frames["asset_name"]) == {"p-proj001_s-seq001_d-walk_v001"}
    assert set(frames["asset_type"]) == {"sequence"}
    assert frames["width"].tolist() == [6, 6, 6]
    assert frames["channels"].tolist() == [3, 3, 3]
    assert frames["file_error"].isna().all()


def test_complex_asset_files_in_sub_directories(table: pd.DataFrame) -> None:
    tiles = table[table["specification"] == "tex001"]
    assert len(tiles) == 8
    assert set(tiles["asset_path"]) == {TEX}
    assert set(tiles["asset_type"]) == {"complex"}
    assert sorted(map(list, tiles["coordinate"]))[:2] == [[0, 0], [0, 0]]
    assert set(tiles["filepath_relative"].str.split("/").str[3]) == {"diffuse", "normal"}
    assert tiles["file_error"].isna().all()


def test_complex_asset_is_the_nearest_ancestor_named_after_it(tmp_path: Path, specs: Specs) -> None:
    """The asset name appears twice up the tree: the deeper directory is the asset."""
    outer = "p-proj001_s-tex001_d-fur_v001"
    write_tiles(tmp_path, f"{outer}/x/{outer}", [(0, 0)], name=outer)
    table = build_file_table(tmp_path, specs)
    assert set(table["asset_path"]) == {f"{outer}/x/{outer}"}
    assert table["file_error"].isna().all()


def test_complex_file_outside_any_asset_directory(tmp_path: Path, specs: Specs) -> None:
    write_png(tmp_path / "tex/maps/p-proj001_s-tex001_d-lost_v001_c0000-0000.png")
    row = build_file_table(tmp_path, specs).iloc[0]
    assert row["asset_path"] is None or pd.isna(row["asset_path"])
    assert row["file_error"] == "No directory named p-proj001_s-tex001_d-lost_v001 holds this file."


def test_sequence_file_at_ingress_root_has_no_asset_directory(tmp_path: Path, specs: Specs) -> None:
    write_frames(tmp_path, "", [1], name="p-proj001_s-seq001_d-walk_v001")
    row = build_file_table(tmp_path, specs).iloc[0]
    assert pd.isna(row["asset_path"])
    assert "No directory named p-proj001_s-seq001_d-walk_v001" in row["file_error"]


def test_directory_name_mismatch_is_a_path_error(tmp_path: Path, specs: Specs) -> None:
    write_frames(
        tmp_path, "p-proj001_s-seq001_d-walk_v001", [1], name="p-proj001_s-seq001_d-run_v001"
    )
    row = build_file_table(tmp_path, specs).iloc[0]
    assert row["asset_path"] == "p-proj001_s-seq001_d-walk_v001"
    assert (
        row["path_error"]
        == row["file_error"]
        == (
            "Invalid asset directory name. Expecting: p-proj001_s-seq001_d-run_v001. "
            "Found: p-proj001_s-seq001_d-walk_v001."
        )
    )


def test_no_specification_token(table: pd.DataFrame) -> None:
    row = by_path(table)[f"{SEQ}/Thumbs.db"]
    assert not present(row["specification"])
    assert not present(row["asset_path"])
    assert not present(row["asset_id"])
    assert row["file_error"] == "no specification: the file name has no s-<spec> field"


def test_unknown_specification_token(table: pd.DataFrame, specs: Specs) -> None:
    row = by_path(table)["proj/p-proj001_s-zzz999_d-other_v001.png"]
    assert row["specification"] == "zzz999"
    assert not present(row["asset_path"])
    assert row["file_error"].startswith("unknown specification 'zzz999'")
    for token in specs:
        assert token in row["file_error"]


def test_bad_file_name_says_where_and_what_was_expected(tmp_path: Path, specs: Specs) -> None:
    write_frames(
        tmp_path, "p-proj001_s-seq001_d-walk_v001", [2], name="p-proj001_s-seq001_d-Walk_v001"
    )
    row = build_file_table(tmp_path, specs).iloc[0]
    assert row["file_error"] == (
        "Names are lowercase: write 'walk', not 'Walk'. "
        "Illegal descriptor field token at character 21 of "
        '"p-proj001_s-seq001_d-Walk_v001_f0002.png": '
        "found 'Walk', expected [a-z0-9][a-z0-9-]*."
    )
    assert row["asset_path"] == "p-proj001_s-seq001_d-walk_v001"  # still part of its asset


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        (write_corrupt_png, "corrupt PNG header"),
        (lambda path: path.write_bytes(b""), "(0 bytes)"),
        (lambda path: path.write_text("plain text, not an image"), "not a recognised image"),
    ],
    ids=["corrupt", "zero-bytes", "text"],
)
def test_unreadable_image_is_a_trait_error(
    tmp_path: Path, specs: Specs, write: object, reason: str
) -> None:
    path = tmp_path / "p-proj001_s-img001_d-bad_v001.png"
    write(path)  # type: ignore[operator]
    row = build_file_table(tmp_path, specs).iloc[0]
    assert row["file_error"].startswith("channels, height, width: cannot read image header of ")
    assert "p-proj001_s-img001_d-bad_v001.png" in row["file_error"]
    assert reason in row["file_error"]
    for trait in ["width", "height", "channels"]:
        assert not present(row.get(trait))
        assert reason in row[f"{trait}_error"]


def test_scan_error_skips_traits_and_is_the_file_error(tmp_path: Path, specs: Specs) -> None:
    asset = tmp_path / "p-proj001_s-seq001_d-walk_v001"
    write_frames(tmp_path, asset.name, [1])
    (asset / "p-proj001_s-seq001_d-walk_v001_f0002.png").symlink_to(tmp_path / "gone.png")
    rows = by_path(build_file_table(tmp_path, specs))
    broken = rows[f"{asset.name}/p-proj001_s-seq001_d-walk_v001_f0002.png"]
    assert broken["file_error"] == (
        "symbolic link: not ingested (links are not followed; see follow_symlinks)"
    )
    assert broken["asset_path"] == asset.name
    assert not present(broken.get("width_error"))


def test_weird_ingress_path_reads_traits(tmp_path: Path, specs: Specs) -> None:
    root = tmp_path / "tmp" / "in (1)+[x]"
    write_frames(root, SEQ, [1, 2], size=(7, 2))
    table = build_file_table(root, specs, include_regex=r"^proj/", exclude_regex="")
    assert table["width"].tolist() == [7, 7]
    assert table["file_error"].isna().all()
    assert set(table["asset_path"]) == {SEQ}


def test_empty_ingress(tmp_path: Path, specs: Specs) -> None:
    table = build_file_table(tmp_path, specs)
    assert table.empty
    for column in ["filepath_relative", "asset_path", "file_error", "file_id", "asset_id"]:
        assert column in table.columns


def test_parallel_mapper_gives_the_same_table(tmp_path: Path, specs: Specs) -> None:
    root = build_ingress(tmp_path / "ingress")
    serial = build_file_table(root, specs, chunks=1)
    threaded = build_file_table(root, specs, mapper=thread_mapper(4), chunks=5)
    pd.testing.assert_frame_equal(
        serial.drop(columns="coordinate"), threaded.drop(columns="coordinate")
    )
    assert serial["coordinate"].astype(str).tolist() == threaded["coordinate"].astype(str).tolist()


# --- identity ------------------------------------------------------------------------------


def test_ids_are_uuid5_of_relative_paths_and_deterministic(tmp_path: Path, specs: Specs) -> None:
    first = build_file_table(build_ingress(tmp_path / "one" / "ingress"), specs)
    second = build_file_table(build_ingress(tmp_path / "two" / "other name"), specs)
    assert first["file_id"].tolist() == second["file_id"].tolist()
    assert first["asset_id"].tolist() == second["asset_id"].tolist()
    assert first["file_id"].is_unique
    for value in first["file_id"]:
        assert uuid.UUID(value).version == 5
    rows = by_path(first)
    assert rows[IMG]["file_id"] == str(uuid.uuid5(ID_NAMESPACE, IMG))
    frame = f"{SEQ}/p-proj001_s-seq001_d-walk_v001_f0001.png"
    assert rows[frame]["asset_id"] == str(uuid.uuid5(ID_NAMESPACE, SEQ))
    tiles = first[first["specification"] == "tex001"]
    assert tiles["asset_id"].nunique() == 1
    assert tiles["file_id"].nunique() == 8
