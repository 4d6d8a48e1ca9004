"""Whole-asset verdicts over real ingress trees: an asset is valid only if every one of its
files parsed, every trait was read and its specification passed; errors name file and rule."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

from hidebound_dagster.core import asset_table
from hidebound_dagster.core.asset_table import ASSET_COLUMNS, build_asset_table, valid_files
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.identity import ID_NAMESPACE
from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster_tests.conftest import (
    EXAMPLE_INGRESS,
    EXAMPLE_SPECS,
    write_frames,
    write_tiles,
)
from hidebound_dagster_tests.images import write_corrupt_png, write_png

Specs = dict[str, type[Specification]]
GRID = [(0, 0), (0, 1), (1, 0), (1, 1)]
NAME_EXPECTED = "expected [a-z0-9][a-z0-9-]*"


def seq(descriptor: str, spec: str = "seq001", version: int = 1) -> str:
    return f"seqs/p-proj001_s-{spec}_d-{descriptor}_v{version:03d}"


def tex(descriptor: str, spec: str = "tex001") -> str:
    return f"texs/p-proj001_s-{spec}_d-{descriptor}_v001"


def img(descriptor: str) -> str:
    return f"imgs/p-proj001_s-img001_d-{descriptor}_v001.png"


class Case(NamedTuple):
    asset_path: str
    valid: bool
    error_parts: tuple[str, ...] = ()


CASES = [
    # sequences: contiguous frames and homogeneous width
    Case(seq("ok"), True),
    Case(
        seq("gap"),
        False,
        ("rule failed: frame values are contiguous within each asset: frame 0003 missing",),
    ),
    Case(
        seq("wide"),
        False,
        (
            "rule failed: width values are homogeneous within each asset: width 5 in "
            "p-proj001_s-seq001_d-wide_v001_f0003.png; 4 in the other 2 files",
        ),
    ),
    # a badly named frame invalidates the whole sequence
    Case(
        seq("bad"),
        False,
        ("p-proj001_s-seq001_d-Bad_v001_f0002.png: ", "found 'Bad'", NAME_EXPECTED),
    ),
    # frames named after another asset than their directory
    Case(
        seq("dirname"),
        False,
        (
            "p-proj001_s-seq001_d-other_v001_f0001.png: ",
            "Invalid asset directory name. Expecting: p-proj001_s-seq001_d-other_v001.",
        ),
    ),
    # a column check: 4 channels where 1 or 3 are allowed
    Case(
        seq("rgba"),
        False,
        (
            "p-proj001_s-seq001_d-rgba_v001_f0001.png: channels 4 fails",
            "p-proj001_s-seq001_d-rgba_v001_f0002.png: channels 4 fails",
        ),
    ),
    # an unreadable frame
    Case(
        seq("broken"), False, ("p-proj001_s-seq001_d-broken_v001_f0002.png: ", "corrupt PNG header")
    ),
    # homogeneous descriptor (the asset name leaves the descriptor out)
    Case(
        "seqs/p-proj001_s-seq002_v001",
        False,
        (
            "descriptor values are homogeneous within each asset: descriptor 'bb' in "
            "p-proj001_s-seq002_d-bb_v001_f0002.png; 'aa' in the other 1 file",
        ),
    ),
    Case("seqs/p-proj001_s-seq002_v002", True),
    # files of two specifications in one asset directory
    Case(seq("mixed"), False, ("seq001", "seq002")),
    # files
    Case(img("good"), True),
    Case(
        img("grey"), False, ("p-proj001_s-img001_d-grey_v001.png: channels 1 fails isin([3, 4])",)
    ),
    Case(img("tiny"), False, ("p-proj001_s-img001_d-tiny_v001.png: width 1 fails",)),
    Case(img("corrupt"), False, ("p-proj001_s-img001_d-corrupt_v001.png: ", "corrupt PNG header")),
    Case(img("empty"), False, ("p-proj001_s-img001_d-empty_v001.png: ", "(0 bytes)")),
    Case("imgs/p-proj001_s-img001_d-jpeg_v001.jpg", False, ("extension 'jpg' fails",)),
    # complexes: dense grid and origin
    Case(tex("dense"), True),
    Case(
        tex("sparse"),
        False,
        (
            "coordinate values form a dense grid within each asset: coordinate [1, 1] missing "
            "from the grid",
        ),
    ),
    Case(tex("origin", "tex002"), True),
    Case(
        tex("shifted", "tex002"),
        False,
        (
            "coordinate values begin at [0, 0] within each asset: first coordinate is [1, 1], "
            "not [0, 0]",
        ),
    ),
    # a column no filename field and no trait provides
    Case("imgs/p-proj001_s-dep001_d-deep_v001.png", False, ("column 'depth' is missing",)),
]


def build_ingress(root: Path) -> None:
    """Write the assets of CASES (in the same order) and files that belong to no asset."""
    write_frames(root, seq("ok"), [1, 2, 3])
    (root / seq("ok") / "Thumbs.db").write_bytes(b"not an asset file")
    write_frames(root, seq("gap"), [1, 2, 4])
    write_frames(root, seq("wide"), [1, 2])
    write_frames(root, seq("wide"), [3], size=(5, 4))
    write_frames(root, seq("bad"), [1, 3])
    write_frames(root, seq("bad"), [2], name="p-proj001_s-seq001_d-Bad_v001")
    write_frames(root, seq("dirname"), [1, 2], name="p-proj001_s-seq001_d-other_v001")
    write_frames(root, seq("rgba"), [1, 2], mode="RGBA")
    write_frames(root, seq("broken"), [1, 3])
    write_corrupt_png(root / seq("broken") / "p-proj001_s-seq001_d-broken_v001_f0002.png")
    write_frames(root, "seqs/p-proj001_s-seq002_v001", [1], name="p-proj001_s-seq002_d-aa_v001")
    write_frames(root, "seqs/p-proj001_s-seq002_v001", [2], name="p-proj001_s-seq002_d-bb_v001")
    write_frames(root, "seqs/p-proj001_s-seq002_v002", [1, 2], name="p-proj001_s-seq002_d-aa_v002")
    write_frames(root, seq("mixed"), [1])
    write_frames(root, seq("mixed"), [1], name="p-proj001_s-seq002_d-mixed_v001")
    write_png(root / img("good"), "RGB", (4, 4))
    write_png(root / img("grey"), "L", (4, 4))
    write_png(root / img("tiny"), "RGB", (1, 4))
    write_corrupt_png(root / img("corrupt"))
    (root / img("empty")).write_bytes(b"")
    write_png(root / "imgs/p-proj001_s-img001_d-jpeg_v001.jpg")
    write_tiles(root, tex("dense"), GRID)
    write_tiles(root, tex("sparse"), GRID[:3])
    write_tiles(root, tex("origin", "tex002"), [(0, 0), (0, 1)])
    write_tiles(root, tex("shifted", "tex002"), [(1, 1), (1, 2)])
    write_png(root / "imgs/p-proj001_s-dep001_d-deep_v001.png")
    (root / "notes.txt").write_text("notes")
    write_png(root / "imgs/p-proj001_s-zzz999_d-unknown_v001.png")


class Built(NamedTuple):
    root: Path
    specs: Specs
    files: pd.DataFrame
    assets: pd.DataFrame


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, specs: Specs) -> Built:
    root = tmp_path_factory.mktemp("ingress")
    build_ingress(root)
    files = build_file_table(root, specs)
    return Built(root, specs, files, build_asset_table(files, specs))


def verdicts(assets: pd.DataFrame) -> dict[str, dict]:
    return {row["asset_path"]: row for row in assets.to_dict("records")}


def test_one_row_per_asset(built: Built) -> None:
    assert list(built.assets.columns) == ASSET_COLUMNS
    assert sorted(built.assets["asset_path"]) == sorted(case.asset_path for case in CASES)
    assert built.assets["asset_path"].is_monotonic_increasing


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.asset_path.rpartition("/")[2])
def test_verdict(built: Built, case: Case) -> None:
    row = verdicts(built.assets)[case.asset_path]
    assert bool(row["asset_valid"]) is case.valid, row["asset_error"]
    if case.valid:
        assert row["asset_error"] is None
    else:
        assert row["asset_error"], "an invalid asset must say why"
        for part in case.error_parts:
            assert part in row["asset_error"]


def test_counts_and_sizes(built: Built) -> None:
    rows = verdicts(built.assets)
    ok = rows[seq("ok")]
    assert ok["file_count"] == 3  # Thumbs.db is not part of the asset
    assert ok["asset_type"] == "sequence"
    assert ok["specification"] == "seq001"
    assert ok["asset_name"] == "p-proj001_s-seq001_d-ok_v001"
    frames = sorted((built.root / seq("ok")).glob("*.png"))
    assert ok["size"] == sum(path.stat().st_size for path in frames)
    assert rows[seq("bad")]["file_count"] == 3  # the bad file counts as part of its asset
    assert rows[tex("dense")]["file_count"] == 8
    assert rows[tex("dense")]["asset_type"] == "complex"
    assert rows[img("good")]["file_count"] == 1


def test_thumbs_db_is_listed_but_does_not_invalidate(built: Built) -> None:
    thumbs = built.files[built.files["filename"] == "Thumbs.db"].iloc[0]
    assert "no specification" in thumbs["file_error"]
    assert verdicts(built.assets)[seq("ok")]["asset_valid"]


def test_bad_frame_error_names_only_the_bad_file(built: Built) -> None:
    error = verdicts(built.assets)[seq("bad")]["asset_error"]
    assert error.count("\n") == 0
    assert "f0001" not in error
    assert "f0003" not in error
    assert "at character 21" in error


def test_asset_rules_are_not_blamed_on_a_file_error(tmp_path: Path, specs: Specs) -> None:
    """A gap plus a bad file: the file is the reported problem (the rule would fail only
    because the file is missing from validation)."""
    asset = seq("walk")
    write_frames(tmp_path, asset, [1, 2, 4])
    write_frames(tmp_path, asset, [3], name="p-proj001_s-seq001_d-Walk_v001")
    files = build_file_table(tmp_path, specs)
    row = build_asset_table(files, specs).iloc[0]
    assert not row["asset_valid"]
    assert "p-proj001_s-seq001_d-Walk_v001_f0003.png: " in row["asset_error"]
    assert "contiguous" not in row["asset_error"]


def test_badly_named_file_inside_a_complex_asset_invalidates_it(
    tmp_path: Path, specs: Specs
) -> None:
    """A tile whose name breaks the grammar sits inside the asset's tree: the asset must not
    be staged without it (no partial assets)."""
    asset = tex("fur")
    write_tiles(tmp_path, asset, GRID, maps=["diffuse"])
    write_png(tmp_path / asset / "normal" / "p-proj001_s-tex001_d-Fur_v001_c0000-0000.png")
    files = build_file_table(tmp_path, specs)
    assets = build_asset_table(files, specs)
    row = verdicts(assets)[asset]
    assert not row["asset_valid"]
    assert "p-proj001_s-tex001_d-Fur_v001_c0000-0000.png" in row["asset_error"]
    assert "p-proj001_s-tex001_d-Fur_v001_c0000-0000.png" not in set(
        valid_files(files, assets)["filename"]
    )


def test_valid_files_keeps_only_files_of_valid_assets(built: Built) -> None:
    chosen = valid_files(built.files, built.assets)
    valid_paths = {case.asset_path for case in CASES if case.valid}
    assert set(chosen["asset_path"]) == valid_paths
    assert chosen["asset_valid"].all()
    assert chosen["asset_error"].isna().all()
    assert chosen["file_error"].isna().all()
    assert "Thumbs.db" not in set(chosen["filename"])
    expected = built.files[built.files["asset_path"].isin(valid_paths)]
    assert sorted(chosen["filepath_relative"]) == sorted(expected["filepath_relative"])
    assert list(chosen.index) == list(range(len(chosen)))


def test_asset_ids_are_deterministic_across_roots(tmp_path: Path, built: Built) -> None:
    root = tmp_path / "another root" / "ingress"
    build_ingress(root)
    files = build_file_table(root, built.specs)
    assets = build_asset_table(files, built.specs)
    pd.testing.assert_series_equal(assets["asset_id"], built.assets["asset_id"])
    for row in assets.itertuples():
        assert row.asset_id == str(uuid.uuid5(ID_NAMESPACE, row.asset_path))
        assert uuid.UUID(row.asset_id).version == 5


def test_empty_file_table_gives_empty_asset_table(tmp_path: Path, specs: Specs) -> None:
    (tmp_path / "notes.txt").write_text("no assets here")
    files = build_file_table(tmp_path, specs)
    assets = build_asset_table(files, specs)
    assert assets.empty
    assert list(assets.columns) == ASSET_COLUMNS
    assert valid_files(files, assets).empty


# --- the README's example ------------------------------------------------------------------

README_SPEC = """
import pandera.pandas as pa
from pandera.typing import Series

from hidebound_dagster.core.specification import SequenceSpecification


class Spec001(SequenceSpecification):
    filename_fields = (
        "project", "specification", "descriptor", "version", "coordinate", "frame", "extension",
    )
    asset_name_fields = ("project", "specification", "descriptor", "version")
    coordinate: Series[object] = pa.Field(is_coordinate=True)
    frame: Series[int] = pa.Field(is_frame=True)
    extension: Series[str] = pa.Field(isin=["png"])

    class Config:
        is_contiguous = "frame"


class Spec002(SequenceSpecification):
    filename_fields = ("project", "specification", "descriptor", "version", "frame", "extension")
    frame: Series[int] = pa.Field(is_frame=True)
"""


def test_readme_example(tmp_path: Path, write_spec: object) -> None:
    specs = load_specifications([write_spec(README_SPEC, "readme.py")])  # type: ignore[operator]
    root = tmp_path / "projects"
    running = "p-cat001/spec001/p-cat001_s-spec001_d-running-cat_v001"
    for frame, descriptor in [(1, "running-cat"), (2, "Running-Cat"), (3, "running-cat")]:
        name = f"p-cat001_s-spec001_d-{descriptor}_v001_c0000-0005_f{frame:04d}.png"
        write_png(root / running / name)
    for descriptor, version in [("calico-jumping", 1), ("tabby-playing", 1), ("tabby-playing", 2)]:
        asset = f"p-cat001_s-spec002_d-{descriptor}_v{version:03d}"
        write_frames(root, f"p-cat001/s-spec002/d-{descriptor}/{asset}", [1, 2, 3])
    files = build_file_table(root, specs)
    assets = verdicts(build_asset_table(files, specs))
    assert len(assets) == 4
    assert [path for path, row in assets.items() if not row["asset_valid"]] == [running]
    assert assets[running]["asset_error"] == (
        "p-cat001_s-spec001_d-Running-Cat_v001_c0000-0005_f0002.png: Names are lowercase: write "
        "'running-cat', not 'Running-Cat'. Illegal descriptor field "
        'token at character 21 of "p-cat001_s-spec001_d-Running-Cat_v001_c0000-0005_f0002.png": '
        "found 'Running-Cat', expected [a-z0-9][a-z0-9-]*."
    )
    # The README's metadata for the third frame.
    third = files[files["filename"].str.endswith("running-cat_v001_c0000-0005_f0003.png")].iloc[0]
    assert {
        "project": third["project"],
        "specification": third["specification"],
        "descriptor": third["descriptor"],
        "version": third["version"],
        "coordinate": list(third["coordinate"]),
        "frame": third["frame"],
        "extension": third["extension"],
    } == {
        "project": "cat001",
        "specification": "spec001",
        "descriptor": "running-cat",
        "version": 1,
        "coordinate": [0, 5],
        "frame": 3,
        "extension": "png",
    }


# --- the bundled example -------------------------------------------------------------------

EXAMPLE_VERDICTS = {
    "cat001/raw001/p-cat001_s-raw001_d-calico-jumping_v001": (True, ""),
    "cat001/raw001/p-cat001_s-raw001_d-tabby-playing_v002": (True, ""),
    "cat001/img001/p-cat001_s-img001_d-calico-portrait_v001.png": (True, ""),
    "cat001/tex001/p-cat001_s-tex001_d-fur_v001": (True, ""),
    "cat001/raw001/p-cat001_s-raw001_d-running-cat_v001": (
        False,
        "p-cat001_s-raw001_d-Running-Cat_v001_f0002.png: Names are lowercase: write "
        "'running-cat', not 'Running-Cat'. Illegal descriptor",
    ),
    "cat001/raw001/p-cat001_s-raw001_d-rgba-frames_v001": (False, "channels 4 fails"),
    "cat001/raw001/p-cat001_s-raw001_d-gap_v001": (False, "frame values are contiguous"),
    "cat001/img001/p-cat001_s-img001_d-corrupt_v001.png": (False, "cannot read image header"),
    "cat001/tex001/p-cat001_s-tex001_d-scales_v001": (False, "dense grid"),
    "cat001/plt001/p-cat001_s-plt001_d-bg_v001": (True, ""),
    "cat001/rnd001/p-cat001_s-rnd001_d-beauty_v001": (True, ""),
    "cat001/scn001/p-cat001_s-scn001_d-neg_v001": (True, ""),
    "cat001/txr001/p-cat001_s-txr001_d-rock_v001": (True, ""),
    "cat001/rev001/p-cat001_s-rev001_d-edit_v001.mov": (True, ""),
    "cat001/rev001/p-cat001_s-rev001_d-dailies_v001.mp4": (True, ""),
    "cat001/plt001/p-cat001_s-plt001_d-truncated_v001": (False, "cannot read image header"),
    "cat001/plt001/p-cat001_s-plt001_d-float_v001": (
        False,
        "pixel_type 'float' fails has a pixel type in ['half']",
    ),
    "cat001/rnd001/p-cat001_s-rnd001_d-no-specular_v001": (
        False,
        "channel_names 'R,G,B,A,diffuse.R,diffuse.G,diffuse.B' fails has channels",
    ),
    "cat001/rev001/p-cat001_s-rev001_d-odd-rate_v001.mov": (
        False,
        "fps 12.0 fails has a frame rate in [23.976, 24, 25, 29.97, 30]",
    ),
}


@pytest.fixture(scope="module")
def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    specs = load_specifications([EXAMPLE_SPECS])
    files = build_file_table(EXAMPLE_INGRESS, specs)
    return files, build_asset_table(files, specs)


def test_bundled_example_counts(example: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    files, assets = example
    assert len(files) == 48
    assert len(assets) == 19
    assert int(assets["asset_valid"].sum()) == 10
    no_asset = files[files["asset_path"].isna()]
    assert sorted(no_asset["filename"]) == ["notes.txt", "p-cat001_s-vid009_d-clip_v001.mov"]


@pytest.mark.parametrize("asset_path", sorted(EXAMPLE_VERDICTS))
def test_bundled_example_verdicts(
    example: tuple[pd.DataFrame, pd.DataFrame], asset_path: str
) -> None:
    valid, part = EXAMPLE_VERDICTS[asset_path]
    row = verdicts(example[1])[asset_path]
    assert bool(row["asset_valid"]) is valid, row["asset_error"]
    assert part in (row["asset_error"] or "")


def test_validation_in_batches_of_whole_assets_gives_the_same_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bundled example (19 assets, rule failures with their details) validated about two
    files at a time: no batch splits an asset, and the table is the one a single validation
    gives."""
    specs = load_specifications([EXAMPLE_SPECS])
    files = build_file_table(EXAMPLE_INGRESS, specs)
    whole = build_asset_table(files, specs)
    seen: list[pd.DataFrame] = []
    batches = asset_table.asset_batches

    def recorded(rows: pd.DataFrame) -> list[pd.DataFrame]:
        seen.extend(batches(rows))
        return batches(rows)

    monkeypatch.setattr(asset_table, "VALIDATION_BATCH", 2)
    monkeypatch.setattr(asset_table, "asset_batches", recorded)
    batched = build_asset_table(files, specs)
    pd.testing.assert_frame_equal(batched, whole)
    assert len(seen) > 10
    paths = [set(batch["asset_path"]) for batch in seen]
    assert all(not a & b for i, a in enumerate(paths) for b in paths[i + 1 :])  # never split
    assert (~whole["asset_valid"]).sum() >= 5
