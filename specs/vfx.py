"""VFX media: EXR plates and multi-part renders, 10-bit DPX scans, tiled TIFF textures and
review clips. Traits come from headers (OpenImageIO for images, PyAV for video).

cat001/plt001/p-cat001_s-plt001_d-bg_v001/p-cat001_s-plt001_d-bg_v001_f1001.exr
cat001/rnd001/p-cat001_s-rnd001_d-beauty_v001/p-cat001_s-rnd001_d-beauty_v001_f1001.exr
cat001/scn001/p-cat001_s-scn001_d-neg_v001/p-cat001_s-scn001_d-neg_v001_f1001.dpx
cat001/txr001/p-cat001_s-txr001_d-rock_v001/p-cat001_s-txr001_d-rock_v001_c0000-0000.tif
cat001/rev001/p-cat001_s-rev001_d-edit_v001.mov
"""

import pandera.pandas as pa
from pandera.typing import Series

from hidebound_dagster.core import traits
from hidebound_dagster.core.specification import FileSpecification, SequenceSpecification

FRAME_FIELDS = ("project", "specification", "descriptor", "version", "frame", "extension")
TILE_FIELDS = ("project", "specification", "descriptor", "version", "coordinate", "extension")
LOSSLESS = ["none", "zip", "zips", "piz", "rle"]
AOV_CHANNELS = [f"{aov}.{c}" for aov in ("diffuse", "specular") for c in "RGB"]


class Plt001(SequenceSpecification):
    """A plate: half-float RGBA EXR frames, losslessly compressed, numbered without gaps, all
    alike, every frame decoding to its last pixel."""

    filename_fields = FRAME_FIELDS
    file_traits = {
        "decodes": traits.image_decodes,
        "width": traits.image_width,
        "height": traits.image_height,
        "channel_names": traits.image_channel_names,
        "pixel_type": traits.image_pixel_type,
        "compression": traits.image_compression,
    }

    frame: Series[int] = pa.Field(is_frame=True)
    decodes: Series[bool]
    width: Series[int] = pa.Field(gt=0)
    height: Series[int] = pa.Field(gt=0)
    channel_names: Series[str] = pa.Field(has_channels=["R", "G", "B", "A"])
    pixel_type: Series[str] = pa.Field(pixel_type_in=["half"])
    compression: Series[str] = pa.Field(isin=LOSSLESS)
    extension: Series[str] = pa.Field(isin=["exr"])

    class Config:
        is_contiguous = "frame"
        is_homogeneous = ["width", "height", "channel_names", "pixel_type"]


class Rnd001(SequenceSpecification):
    """A render: multi-part EXR frames carrying the beauty and the diffuse and specular AOVs."""

    filename_fields = FRAME_FIELDS
    file_traits = {
        "width": traits.image_width,
        "height": traits.image_height,
        "parts": traits.image_parts,
        "channel_names": traits.image_channel_names,
        "pixel_type": traits.image_pixel_type,
    }

    frame: Series[int] = pa.Field(is_frame=True)
    width: Series[int] = pa.Field(gt=0)
    height: Series[int] = pa.Field(gt=0)
    parts: Series[int] = pa.Field(ge=1)
    channel_names: Series[str] = pa.Field(has_channels=["R", "G", "B", "A", *AOV_CHANNELS])
    pixel_type: Series[str] = pa.Field(pixel_type_in=["half", "float"])
    extension: Series[str] = pa.Field(isin=["exr"])

    class Config:
        is_contiguous = "frame"
        is_homogeneous = ["width", "height", "channel_names", "pixel_type"]


class Scn001(SequenceSpecification):
    """A film scan: 10-bit RGB DPX frames, all the same size, numbered without gaps."""

    filename_fields = FRAME_FIELDS
    file_traits = {
        "width": traits.image_width,
        "height": traits.image_height,
        "channel_names": traits.image_channel_names,
        "bit_depth": traits.image_bit_depth,
    }

    frame: Series[int] = pa.Field(is_frame=True)
    width: Series[int] = pa.Field(gt=0)
    height: Series[int] = pa.Field(gt=0)
    channel_names: Series[str] = pa.Field(isin=["R,G,B"])
    bit_depth: Series[int] = pa.Field(is_eq=10)
    extension: Series[str] = pa.Field(isin=["dpx"])

    class Config:
        is_contiguous = "frame"
        is_homogeneous = ["width", "height"]


class Txr001(SequenceSpecification):
    """A texture set: tiled TIFF tiles on a u-v grid as UDIMs number them (c0000-0000 is 1001),
    dense from 0-0, all the same size and pixel type."""

    filename_fields = TILE_FIELDS
    file_traits = {
        "width": traits.image_width,
        "height": traits.image_height,
        "layout": traits.image_layout,
        "pixel_type": traits.image_pixel_type,
    }

    coordinate: Series[object] = pa.Field(is_coordinate=True)
    width: Series[int] = pa.Field(gt=0)
    height: Series[int] = pa.Field(gt=0)
    layout: Series[str] = pa.Field(is_scanline_or_tiled="tiled")
    pixel_type: Series[str] = pa.Field(pixel_type_in=["uint8", "uint16", "half", "float"])
    extension: Series[str] = pa.Field(isin=["tif", "tiff", "tx"])

    class Config:
        has_dense_coordinates = "coordinate"
        coordinates_begin_at = {"column": "coordinate", "origin": [0, 0]}
        is_homogeneous = ["width", "height", "pixel_type"]


class Rev001(FileSpecification):
    """A review clip: an H.264 or ProRes QuickTime or MP4 at a film or video frame rate, every
    frame decoding (a clip cut short is rejected even where its index survived)."""

    file_traits = {
        "decodes": traits.video_decodes,  # first: its one open also serves the header traits
        "fps": traits.video_fps,
        "codec": traits.video_codec,
        "width": traits.video_width,
        "height": traits.video_height,
        "frame_count": traits.video_frame_count,
    }

    decodes: Series[bool]
    fps: Series[float] = pa.Field(fps_in=[23.976, 24, 25, 29.97, 30])
    codec: Series[str] = pa.Field(codec_in=["h264", "prores"])
    width: Series[int] = pa.Field(gt=0)
    height: Series[int] = pa.Field(gt=0)
    frame_count: Series[int] = pa.Field(gt=0)
    extension: Series[str] = pa.Field(isin=["mov", "mp4"])


SPECIFICATIONS = [Plt001, Rnd001, Scn001, Txr001, Rev001]
