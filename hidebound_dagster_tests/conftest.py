"""Shared fixtures: specification files written as text and loaded the way users load them,
and small helpers to lay out real ingress trees."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster_tests.images import write_png

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_INGRESS = REPO / "examples" / "ingress"
EXAMPLE_SPECS = REPO / "specs"

#: Specifications for the file- and asset-table tests: one of each asset type, one per asset
#: rule, and one declaring a column nothing provides.
TEST_SPECS = '''
import pandera.pandas as pa
from pandera.typing import Series

from hidebound_dagster.core import traits
from hidebound_dagster.core.specification import (
    ComplexSpecification,
    FileSpecification,
    SequenceSpecification,
)

IMAGE = {
    "width": traits.image_width,
    "height": traits.image_height,
    "channels": traits.image_channels,
}
TILE_FIELDS = ("project", "specification", "descriptor", "version", "coordinate", "extension")


class Seq001(SequenceSpecification):
    """Frames: contiguous, all the same width, 1 or 3 channels, png."""

    filename_fields = ("project", "specification", "descriptor", "version", "frame", "extension")
    file_traits = IMAGE
    frame: Series[int] = pa.Field(is_frame=True)
    width: Series[int] = pa.Field(gt=0)
    height: Series[int] = pa.Field(gt=0)
    channels: Series[int] = pa.Field(isin=[1, 3])
    extension: Series[str] = pa.Field(isin=["png"])

    class Config:
        is_contiguous = "frame"
        is_homogeneous = ["width"]


class Seq002(SequenceSpecification):
    """Frames whose asset name leaves out the descriptor, which must be the same in every file."""

    filename_fields = ("project", "specification", "descriptor", "version", "frame", "extension")
    asset_name_fields = ("project", "specification", "version")
    frame: Series[int] = pa.Field(is_frame=True)

    class Config:
        is_homogeneous = ["descriptor"]


class Img001(FileSpecification):
    """One RGB(A) png of at least 2 x 2 pixels."""

    file_traits = IMAGE
    width: Series[int] = pa.Field(ge=2)
    height: Series[int] = pa.Field(ge=2)
    channels: Series[int] = pa.Field(isin=[3, 4])
    extension: Series[str] = pa.Field(isin=["png"])


class Tex001(ComplexSpecification):
    """Tiles in sub-directories forming a dense grid."""

    filename_fields = TILE_FIELDS
    file_traits = {"width": traits.image_width}
    coordinate: Series[object] = pa.Field(is_coordinate=True)
    width: Series[int] = pa.Field(gt=0)

    class Config:
        has_dense_coordinates = "coordinate"


class Tex002(ComplexSpecification):
    """Tiles whose first coordinate is 0-0."""

    filename_fields = TILE_FIELDS
    coordinate: Series[object] = pa.Field(is_coordinate=True)

    class Config:
        coordinates_begin_at = {"column": "coordinate", "origin": [0, 0]}


class Dep001(FileSpecification):
    """Declares a depth column that no filename field and no trait provides."""

    depth: Series[int] = pa.Field(gt=0)
'''

SpecWriter = Callable[..., Path]


@pytest.fixture
def write_spec(tmp_path_factory: pytest.TempPathFactory) -> SpecWriter:
    """Write a specification module (dedented text) and return its path; by default in a
    directory of its own, outside tmp_path, so it never shows up in an ingress."""
    default = tmp_path_factory.mktemp("specs")

    def write(text: str, name: str = "specs.py", directory: Path | None = None) -> Path:
        path = (directory or default) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture(scope="session")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, type[Specification]]:
    """TEST_SPECS written to a file and loaded through load_specifications, by token."""
    path = tmp_path_factory.mktemp("test_specs") / "test_specs.py"
    path.write_text(TEST_SPECS)
    return load_specifications([path])


def write_frames(
    root: Path,
    directory: str,
    frames: Iterable[int],
    name: str = "",
    mode: str = "RGB",
    size: tuple[int, int] = (4, 4),
) -> list[Path]:
    """PNG frames `<name>_fNNNN.png` in root/directory; name defaults to the directory's name."""
    name = name or directory.rpartition("/")[2]
    return [
        write_png(root / directory / f"{name}_f{frame:04d}.png", mode, size) for frame in frames
    ]


def write_tiles(
    root: Path,
    directory: str,
    coordinates: Iterable[tuple[int, int]],
    maps: Iterable[str] = ("diffuse", "normal"),
    name: str = "",
) -> list[Path]:
    """PNG tiles `<name>_cXXXX-YYYY.png` in one sub-directory per map of root/directory."""
    name = name or directory.rpartition("/")[2]
    coordinates = list(coordinates)
    return [
        write_png(root / directory / sub / f"{name}_c{x:04d}-{y:04d}.png")
        for sub in maps
        for x, y in coordinates
    ]
