"""Single-file assets: one image is the whole asset.

cat001/img001/p-cat001_s-img001_d-calico-portrait_v001.png
"""

import pandera.pandas as pa
from pandera.typing import Series

from hidebound_dagster.core import traits
from hidebound_dagster.core.specification import FileSpecification


class Img001(FileSpecification):
    """A single PNG or JPEG of at least 2 x 2 pixels, RGB or RGBA."""

    filename_fields = ("project", "specification", "descriptor", "version", "extension")
    file_traits = {
        "width": traits.image_width,
        "height": traits.image_height,
        "channels": traits.image_channels,
    }

    width: Series[int] = pa.Field(ge=2)
    height: Series[int] = pa.Field(ge=2)
    channels: Series[int] = pa.Field(isin=[3, 4])
    extension: Series[str] = pa.Field(isin=["png", "jpg"])


SPECIFICATIONS = [Img001]
