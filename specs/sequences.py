"""Image sequences: a directory of numbered PNG frames, the README's example asset.

cat001/raw001/p-cat001_s-raw001_d-calico-jumping_v001/
    p-cat001_s-raw001_d-calico-jumping_v001_f0001.png
    p-cat001_s-raw001_d-calico-jumping_v001_f0002.png
"""

import pandera.pandas as pa
from pandera.typing import Series

from hidebound_dagster.core import traits
from hidebound_dagster.core.specification import SequenceSpecification


class Raw001(SequenceSpecification):
    """PNG frames with 1 or 3 channels, all the same size, numbered without gaps, and every
    frame decoding to its last pixel (a half-written frame is rejected)."""

    filename_fields = ("project", "specification", "descriptor", "version", "frame", "extension")
    asset_name_fields = ("project", "specification", "descriptor", "version")
    file_traits = {
        "decodes": traits.image_decodes,  # first: its one read also serves the header traits
        "width": traits.image_width,
        "height": traits.image_height,
        "channels": traits.image_channels,
    }

    frame: Series[int] = pa.Field(is_frame=True)
    width: Series[int] = pa.Field(gt=0)
    height: Series[int] = pa.Field(gt=0)
    channels: Series[int] = pa.Field(isin=[1, 3])
    decodes: Series[bool]
    extension: Series[str] = pa.Field(isin=["png"])

    class Config:
        is_contiguous = "frame"
        is_homogeneous = ["width", "height", "descriptor"]


SPECIFICATIONS = [Raw001]
