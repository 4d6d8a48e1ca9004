"""Complex assets: a directory tree named after the asset, files in sub-directories.

    cat001/tex001/p-cat001_s-tex001_d-fur_v001/
        diffuse/p-cat001_s-tex001_d-fur_v001_c0000-0000.png
        diffuse/p-cat001_s-tex001_d-fur_v001_c0000-0001.png
        normal/p-cat001_s-tex001_d-fur_v001_c0000-0000.png
        normal/p-cat001_s-tex001_d-fur_v001_c0000-0001.png

The asset directory is the nearest ancestor named after the asset
(ComplexSpecification.asset_paths); override asset_paths for another layout.
"""

import pandera.pandas as pa
from pandera.typing import Series

from hidebound_dagster.core import traits
from hidebound_dagster.core.specification import ComplexSpecification


class Tex001(ComplexSpecification):
    """Texture tiles in per-map sub-directories; tiles form a dense grid from 0-0, and every
    tile has the same size."""

    filename_fields = (
        "project",
        "specification",
        "descriptor",
        "version",
        "coordinate",
        "extension",
    )
    file_traits = {"width": traits.image_width, "height": traits.image_height}

    coordinate: Series[object] = pa.Field(is_coordinate=True)
    width: Series[int] = pa.Field(gt=0)
    height: Series[int] = pa.Field(gt=0)
    extension: Series[str] = pa.Field(isin=["png"])

    class Config:
        has_dense_coordinates = "coordinate"
        coordinates_begin_at = {"column": "coordinate", "origin": [0, 0]}
        is_homogeneous = ["width", "height"]


SPECIFICATIONS = [Tex001]
