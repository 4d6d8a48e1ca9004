"""Media checks judge channels, pixel types, codecs, rates and layouts in the VFX specs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from hidebound_dagster.core import traits
from hidebound_dagster.core import validators as v
from hidebound_dagster.core.asset_table import build_asset_table
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.specification import (
    FileSpecification,
    Specification,
    validation_failures,
)
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster_tests.conftest import EXAMPLE_SPECS
from hidebound_dagster_tests.media import truncate, write_image, write_multipart_exr, write_video

Specs = dict[str, type[Specification]]


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Each test starts and ends with an empty header cache."""
    traits.clear_header_cache()
    yield
    traits.clear_header_cache()


@pytest.fixture(scope="module")
def vfx() -> Specs:
    """specs/vfx.py loaded the way users load it."""
    return load_specifications([EXAMPLE_SPECS / "vfx.py"])


def cells(*values: Any) -> pd.Series:
    return pd.Series(list(values), dtype=object)


# --- the checks as functions --------------------------------------------------------------------


def test_has_channels_matches_whole_names_only() -> None:
    series = cells(
        "R,G,B,A,diffuse.R",
        "diffuse.R,R,G,B,A",
        "R,G,B,A,diffuse.RR",
        "R,G,B,A,xdiffuse.R",
        "R,G,B,diffuse.R",
    )
    assert v.has_channels(series, ["R", "A", "diffuse.R"]).tolist() == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_has_channels_of_null_or_non_text_cells_fails() -> None:
    series = cells(None, float("nan"), 5, ["R", "G", "B"], b"R,G,B", "")
    assert v.has_channels(series, ["R"]).tolist() == [False] * 6


def test_pixel_type_in() -> None:
    series = cells("half", "float", "uint8", "HALF", None)
    assert v.pixel_type_in(series, ["half", "float"]).tolist() == [True, True, False, False, False]


def test_codec_in() -> None:
    series = cells("h264", "prores", "mpeg4", None)
    assert v.codec_in(series, ["h264", "prores"]).tolist() == [True, True, False, False]


def test_fps_in_matches_within_the_rounding_of_traits() -> None:
    series = cells(23.976, 24000 / 1001, 24, 24.0, 12.0, 24.5, 23.98, None, "24", True)
    assert v.fps_in(series, [23.976, 24]).tolist() == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
    ]


def test_fps_in_on_a_float_column() -> None:
    series = pd.Series([23.976, 24.0, 12.0, float("nan")])
    assert v.fps_in(series, [23.976, 24]).tolist() == [True, True, False, False]


@pytest.mark.parametrize(
    ("layout", "expected"), [("tiled", [True, False, False]), ("scanline", [False, True, False])]
)
def test_is_scanline_or_tiled(layout: str, expected: list[bool]) -> None:
    assert v.is_scanline_or_tiled(cells("tiled", "scanline", None), layout).tolist() == expected


def test_is_scanline_or_tiled_fails_every_cell_for_another_layout() -> None:
    assert v.is_scanline_or_tiled(cells("tiled", "scanline"), "tile").tolist() == [False, False]


# --- the checks as pandera fields ---------------------------------------------------------------


class Media(pa.DataFrameModel):
    channel_names: Series[str] = pa.Field(has_channels=["R", "diffuse.R"])
    pixel_type: Series[str] = pa.Field(pixel_type_in=["half", "float"])
    codec: Series[str] = pa.Field(codec_in=["h264"])
    fps: Series[float] = pa.Field(fps_in=[23.976, 24])
    layout: Series[str] = pa.Field(is_scanline_or_tiled="tiled")


def test_fields_pass_good_rows() -> None:
    frame = pd.DataFrame(
        {
            "channel_names": ["R,G,B,diffuse.R", "diffuse.R,R"],
            "pixel_type": ["half", "float"],
            "codec": ["h264", "h264"],
            "fps": [23.976, 24.0],
            "layout": ["tiled", "tiled"],
        }
    )
    Media.validate(frame)


def test_fields_report_each_failing_cell_with_its_check() -> None:
    frame = pd.DataFrame(
        {
            "channel_names": ["R,G,B,diffuse.RR"],
            "pixel_type": ["uint8"],
            "codec": ["mpeg4"],
            "fps": [12.0],
            "layout": ["scanline"],
        }
    )
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        Media.validate(frame, lazy=True)
    cases = caught.value.failure_cases
    assert dict(zip(cases["column"], cases["check"], strict=True)) == {
        "channel_names": "has channels ['R', 'diffuse.R']",
        "pixel_type": "has a pixel type in ['half', 'float']",
        "codec": "has a codec in ['h264']",
        "fps": "has a frame rate in [23.976, 24]",
        "layout": "is 'tiled'",
    }


class Chn001(FileSpecification):
    file_traits = {"channel_names": traits.image_channel_names, "fps": traits.video_fps}
    channel_names: Series[str] = pa.Field(has_channels=["diffuse.R"])
    fps: Series[float] = pa.Field(fps_in=[23.976, 24])


def test_null_cells_fail_through_validation() -> None:
    rows = pd.DataFrame(
        {
            "specification": ["chn001"] * 2,
            "extension": ["exr"] * 2,
            "channel_names": ["diffuse.R", None],
            "fps": [24.0, None],
        }
    )
    assert validation_failures(Chn001, rows).to_dict("records") == [
        {"row": 1, "scope": "file", "message": "channel_names nan fails not_nullable"},
        {"row": 1, "scope": "file", "message": "fps nan fails not_nullable"},
    ]


class Lay001(FileSpecification):
    file_traits = {"layout": traits.image_layout}
    layout: Series[str] = pa.Field(is_scanline_or_tiled="tile")


def test_a_misspelt_layout_says_which_layouts_there_are() -> None:
    rows = pd.DataFrame({"specification": ["lay001"], "extension": ["tif"], "layout": ["tiled"]})
    messages = validation_failures(Lay001, rows)["message"].tolist()
    assert any("takes one of ['scanline', 'tiled']" in message for message in messages)


# --- specs/vfx.py on hand-built rows ------------------------------------------------------------

PLATE = "cat001/plt001/p-cat001_s-plt001_d-bg_v001"
RENDER = "cat001/rnd001/p-cat001_s-rnd001_d-beauty_v001"
TEXTURE = "cat001/txr001/p-cat001_s-txr001_d-rock_v001"
CLIP = "cat001/rev001/p-cat001_s-rev001_d-edit_v001.mov"
RGBA = "R,G,B,A"
AOVS = "diffuse.R,diffuse.G,diffuse.B,specular.R,specular.G,specular.B"


def frame_rows(asset: str, spec: str, **columns: list[Any]) -> pd.DataFrame:
    """Rows for frames 1001... of one sequence asset, with the given trait columns."""
    count = len(next(iter(columns.values())))
    frames = list(range(1001, 1001 + count))
    name = asset.rpartition("/")[2]
    return pd.DataFrame(
        {
            "project": ["cat001"] * count,
            "specification": [spec] * count,
            "descriptor": [name.split("_d-")[1].split("_")[0]] * count,
            "version": [1] * count,
            "frame": frames,
            "asset_path": [asset] * count,
            "filename": [f"{name}_f{frame:04d}.exr" for frame in frames],
            **columns,
        }
    )


def plate_rows(pixel_types: list[str]) -> pd.DataFrame:
    count = len(pixel_types)
    return frame_rows(
        PLATE,
        "plt001",
        decodes=[True] * count,
        width=[16] * count,
        height=[8] * count,
        channel_names=[RGBA] * count,
        pixel_type=pixel_types,
        compression=["zip"] * count,
        extension=["exr"] * count,
    )


def render_rows(channel_names: str) -> pd.DataFrame:
    return frame_rows(
        RENDER,
        "rnd001",
        width=[16],
        height=[8],
        parts=[3],
        channel_names=[channel_names],
        pixel_type=["half"],
        extension=["exr"],
    )


def texture_rows(layout: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "project": ["cat001"],
            "specification": ["txr001"],
            "descriptor": ["rock"],
            "version": [1],
            "coordinate": [[0, 0]],
            "asset_path": [TEXTURE],
            "filename": ["p-cat001_s-txr001_d-rock_v001_c0000-0000.tif"],
            "width": [64],
            "height": [64],
            "layout": [layout],
            "pixel_type": ["uint8"],
            "extension": ["tif"],
        }
    )


def clip_rows(fps: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "project": ["cat001"],
            "specification": ["rev001"],
            "descriptor": ["edit"],
            "version": [1],
            "asset_path": [CLIP],
            "filename": [CLIP.rpartition("/")[2]],
            "decodes": [True],
            "fps": [fps],
            "codec": ["h264"],
            "width": [32],
            "height": [16],
            "frame_count": [12],
            "extension": ["mov"],
        }
    )


def messages(spec: type[Specification], rows: pd.DataFrame) -> list[str]:
    return validation_failures(spec, rows)["message"].tolist()


@pytest.mark.parametrize(
    ("token", "rows"),
    [
        ("plt001", plate_rows(["half", "half"])),
        ("rnd001", render_rows(f"{RGBA},{AOVS}")),
        ("txr001", texture_rows("tiled")),
        ("rev001", clip_rows(24.0)),
        ("rev001", clip_rows(23.976)),
    ],
    ids=["plate", "render", "texture", "clip-24", "clip-23.976"],
)
def test_good_rows_pass(vfx: Specs, token: str, rows: pd.DataFrame) -> None:
    assert messages(vfx[token], rows) == []


def test_plate_with_a_float_frame(vfx: Specs) -> None:
    assert "pixel_type 'float' fails has a pixel type in ['half']" in messages(
        vfx["plt001"], plate_rows(["half", "float"])
    )


def test_render_without_specular(vfx: Specs) -> None:
    names = f"{RGBA},diffuse.R,diffuse.G,diffuse.B"
    assert messages(vfx["rnd001"], render_rows(names)) == [
        f"channel_names {names!r} fails has channels "
        "['R', 'G', 'B', 'A', 'diffuse.R', 'diffuse.G', 'diffuse.B', "
        "'specular.R', 'specular.G', 'specular.B']: missing specular.R, specular.G, specular.B"
    ]


def test_review_at_12_fps(vfx: Specs) -> None:
    assert messages(vfx["rev001"], clip_rows(12.0)) == [
        "fps 12.0 fails has a frame rate in [23.976, 24, 25, 29.97, 30]"
    ]


def test_scanline_texture(vfx: Specs) -> None:
    assert messages(vfx["txr001"], texture_rows("scanline")) == [
        "layout 'scanline' fails is 'tiled'"
    ]


# --- specs/vfx.py through the file and asset tables ---------------------------------------------


class Built(NamedTuple):
    files: pd.DataFrame
    assets: pd.DataFrame


def frames(
    root: Path, spec: str, descriptor: str, count: int, extension: str = "exr"
) -> list[Path]:
    """Paths of `count` frames from 1001 of one sequence asset."""
    asset = f"p-cat001_s-{spec}_d-{descriptor}_v001"
    return [
        root / f"cat001/{spec}/{asset}/{asset}_f{1001 + index:04d}.{extension}"
        for index in range(count)
    ]


def tile(root: Path, descriptor: str, x: int, y: int) -> Path:
    asset = f"p-cat001_s-txr001_d-{descriptor}_v001"
    return root / f"cat001/txr001/{asset}/{asset}_c{x:04d}-{y:04d}.tif"


def build_vfx_ingress(root: Path) -> None:
    """One good asset of each VFX specification and one broken way of each."""
    for path in frames(root, "plt001", "bg", 2):
        write_image(path, attributes={"compression": "zip"})
    write_image(frames(root, "plt001", "float", 1)[0], pixel_type="float")
    cut = frames(root, "plt001", "cut", 2)
    for path in cut:
        write_image(path, (64, 64), attributes={"compression": "none"})
    truncate(cut[1], 0.9)  # cut in its pixels: the header reads, the decode fails
    for path in frames(root, "rnd001", "beauty", 2):
        write_multipart_exr(path)
    write_multipart_exr(frames(root, "rnd001", "no-specular", 1)[0], aovs=["diffuse"])
    for path in frames(root, "scn001", "neg", 2, "dpx"):
        write_image(
            path, channels="RGB", pixel_type="uint16", attributes={"oiio:BitsPerSample": 10}
        )
    write_image(frames(root, "scn001", "sixteen", 1, "dpx")[0], channels="RGB", pixel_type="uint16")
    for x, y in [(0, 0), (1, 0), (0, 1), (1, 1)]:
        write_image(tile(root, "rock", x, y), (64, 64), "RGB", "uint8", tile=32)
    write_image(tile(root, "flat", 0, 0), (64, 64), "RGB", "uint8")
    rev = root / "cat001/rev001"
    write_video(rev / "p-cat001_s-rev001_d-edit_v001.mov", timecode="01:00:00:00")
    write_video(rev / "p-cat001_s-rev001_d-dailies_v001.mp4", fps=25, audio=True)
    write_video(rev / "p-cat001_s-rev001_d-odd-rate_v001.mov", fps=12)
    write_video(rev / "p-cat001_s-rev001_d-old_v001.mov", codec="mpeg4")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, vfx: Specs) -> Built:
    root = tmp_path_factory.mktemp("vfx") / "ingress"
    build_vfx_ingress(root)
    files = build_file_table(root, vfx)
    return Built(files, build_asset_table(files, vfx))


def verdicts(built: Built) -> dict[str, tuple[bool, str | None]]:
    assets = built.assets
    names = assets["asset_path"].str.rpartition("/")[2]
    outcomes = zip(assets["asset_valid"], assets["asset_error"], strict=True)
    return dict(zip(names, outcomes, strict=True))


def test_good_vfx_assets_are_valid(built: Built) -> None:
    valid = {name for name, (ok, _error) in verdicts(built).items() if ok}
    assert valid == {
        "p-cat001_s-plt001_d-bg_v001",
        "p-cat001_s-rnd001_d-beauty_v001",
        "p-cat001_s-scn001_d-neg_v001",
        "p-cat001_s-txr001_d-rock_v001",
        "p-cat001_s-rev001_d-edit_v001.mov",
        "p-cat001_s-rev001_d-dailies_v001.mp4",
    }


@pytest.mark.parametrize(
    ("asset", "error"),
    [
        (
            "p-cat001_s-plt001_d-float_v001",
            "p-cat001_s-plt001_d-float_v001_f1001.exr: "
            "pixel_type 'float' fails has a pixel type in ['half']",
        ),
        (
            "p-cat001_s-rnd001_d-no-specular_v001",
            "p-cat001_s-rnd001_d-no-specular_v001_f1001.exr: "
            "channel_names 'R,G,B,A,diffuse.R,diffuse.G,diffuse.B' fails has channels "
            "['R', 'G', 'B', 'A', 'diffuse.R', 'diffuse.G', 'diffuse.B', "
            "'specular.R', 'specular.G', 'specular.B']: missing specular.R, specular.G, specular.B",
        ),
        (
            "p-cat001_s-scn001_d-sixteen_v001",
            "p-cat001_s-scn001_d-sixteen_v001_f1001.dpx: bit_depth 16 fails equals 10",
        ),
        (
            "p-cat001_s-txr001_d-flat_v001",
            "p-cat001_s-txr001_d-flat_v001_c0000-0000.tif: layout 'scanline' fails is 'tiled'",
        ),
        (
            "p-cat001_s-rev001_d-odd-rate_v001.mov",
            "p-cat001_s-rev001_d-odd-rate_v001.mov: "
            "fps 12.0 fails has a frame rate in [23.976, 24, 25, 29.97, 30]",
        ),
        (
            "p-cat001_s-rev001_d-old_v001.mov",
            "p-cat001_s-rev001_d-old_v001.mov: "
            "codec 'mpeg4' fails has a codec in ['h264', 'prores']",
        ),
    ],
    ids=["float-plate", "no-specular", "16-bit-scan", "scanline-texture", "12-fps", "mpeg4"],
)
def test_broken_vfx_asset_says_why(built: Built, asset: str, error: str) -> None:
    assert verdicts(built)[asset] == (False, error)


def test_truncated_plate_frame_fails_its_decode(built: Built) -> None:
    ok, error = verdicts(built)["p-cat001_s-plt001_d-cut_v001"]
    assert not ok
    assert error.startswith(
        "p-cat001_s-plt001_d-cut_v001_f1002.exr: decodes: cannot read image data of "
        "p-cat001_s-plt001_d-cut_v001_f1002.exr: part 0 does not decode"
    )


def test_traits_land_in_the_file_table(built: Built) -> None:
    rows = built.files.set_index("filename")
    render = rows.loc["p-cat001_s-rnd001_d-beauty_v001_f1001.exr"]
    assert (render["parts"], render["pixel_type"]) == (3, "half")
    assert rows.loc["p-cat001_s-scn001_d-neg_v001_f1001.dpx", "bit_depth"] == 10
    assert rows.loc["p-cat001_s-txr001_d-rock_v001_c0001-0001.tif", "layout"] == "tiled"
    clip = rows.loc["p-cat001_s-rev001_d-edit_v001.mov"]
    assert (clip["fps"], clip["codec"], clip["frame_count"]) == (24.0, "h264", 12)
