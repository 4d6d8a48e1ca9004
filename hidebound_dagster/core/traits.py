"""File traits: functions ``path -> value`` that describe a file, for `file_traits`.

Image traits read the header only: PNG and JPEG through Pillow, every other image (EXR, DPX,
TIFF...) through OpenImageIO; video traits read container headers through PyAV. All traits of a
file share one cached header read, so a specification with five image traits opens a file once.
`image_decodes` is the one that decodes every pixel, for specifications that must reject a
truncated or damaged frame (a header read passes some of those). Failures raise ``TraitError``
whose message is a single line, fit for an ``<trait>_error`` cell.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, NamedTuple

from hidebound_dagster.core import pillow_headers
from hidebound_dagster.core.headers import ImageHeader, VideoHeader, stat_regular
from hidebound_dagster.core.headers import TraitError as TraitError  # for custom traits
from hidebound_dagster.core.oiio_headers import read_oiio
from hidebound_dagster.core.pillow_headers import read_pillow
from hidebound_dagster.core.video_headers import read_video

HEADER_CACHE_SIZE = 4096
Trait = Callable[[str | os.PathLike[str]], Any]


def image_header(path: str | os.PathLike[str]) -> ImageHeader:
    """Header of the image at ``path``; cached per file version (path, mtime, size), so a file
    rewritten in place is read again while unchanged files are read once."""
    return _cached(os.fspath(path), "image header", decode=False)


def video_header(path: str | os.PathLike[str]) -> VideoHeader:
    """Headers of the video at ``path``, cached like image headers."""
    return _cached(os.fspath(path), "video header", decode=False)


def image_decodes(path: str | os.PathLike[str]) -> bool:
    """True when every pixel of the image (every part of an EXR) decodes; a truncated, damaged
    or oversized image raises a TraitError saying which. List it first among a spec's traits:
    for PNG and JPEG its one open of the file also serves the header traits."""
    _cached(os.fspath(path), "image data", decode=True)
    return True


def video_decodes(path: str | os.PathLike[str]) -> bool:
    """True when every frame of the first video stream decodes, and as many as the header
    counts; a clip cut short or damaged raises a TraitError saying which frame. List it first
    among a spec's video traits: its one open also serves the header traits."""
    _cached(os.fspath(path), "video data", decode=True)
    return True


def file_size(path: str | os.PathLike[str]) -> int:
    """Size of the file in bytes."""
    return stat_regular(os.fspath(path), "size").st_size


def _field_trait(header: Callable[[str], tuple], prefix: str, field: str, doc: str) -> Trait:
    """The trait `<prefix>_<field>`: one field of the file's cached header."""

    def trait(path: str | os.PathLike[str]) -> Any:
        return getattr(header(os.fspath(path)), field)

    trait.__name__ = trait.__qualname__ = f"{prefix}_{field}"
    trait.__doc__ = doc
    return trait


_image_trait = partial(_field_trait, image_header, "image")
_video_trait = partial(_field_trait, video_header, "video")


image_width = _image_trait("width", "Width of the image (its data window) in pixels.")
image_height = _image_trait("height", "Height of the image (its data window) in pixels.")
image_channels = _image_trait(
    "channels", "Channels of the first part, as displayed (a palette is RGB, or RGBA)."
)
image_channel_names = _image_trait(
    "channel_names", "Every part's channel names, comma-joined: R,G,B,A,diffuse.R,..."
)
image_pixel_type = _image_trait("pixel_type", "Pixel type: uint8, uint16, half, float...")
image_bit_depth = _image_trait("bit_depth", "Bits per sample (10 for a 10-bit DPX).")
image_compression = _image_trait("compression", "Compression the header names, or 'none'.")
image_parts = _image_trait("parts", "Number of parts (EXR subimages); 1 for most images.")
image_part_names = _image_trait("part_names", "Names of the named parts, comma-joined.")
image_mip_levels = _image_trait("mip_levels", "Number of MIP levels; 1 without a MIP map.")
image_layout = _image_trait("layout", "'scanline' or 'tiled'.")
image_data_window = _image_trait("data_window", "Data window: xmin,ymin,xmax,ymax.")
image_display_window = _image_trait("display_window", "Display window: xmin,ymin,xmax,ymax.")
image_colorspace = _image_trait(
    "colorspace", "Colour space the file declares or OpenImageIO infers (None for Pillow's)."
)
image_fps = _image_trait("fps", "Frames per second the image header carries, or None.")
video_duration = _video_trait("duration", "Duration in seconds.")
video_fps = _video_trait("fps", "Average frame rate (23.976 for 24000/1001).")
video_frame_count = _video_trait("frame_count", "Number of frames.")
video_width = _video_trait("width", "Width of the first video stream in pixels.")
video_height = _video_trait("height", "Height of the first video stream in pixels.")
video_codec = _video_trait("codec", "Codec of the first video stream: h264, prores...")
video_pixel_format = _video_trait("pixel_format", "Pixel format: yuv420p, yuv422p10le...")
video_has_audio = _video_trait("has_audio", "Whether the container holds an audio stream.")
video_timecode = _video_trait("timecode", "Start timecode, or None where there is none.")


class CacheInfo(NamedTuple):
    hits: int
    misses: int  # a miss is one real file read


_cache: OrderedDict[tuple[str, str, int, int], tuple[Any, bool]] = OrderedDict()
_counts = {"hits": 0, "misses": 0}
_lock = threading.Lock()


def header_cache_info() -> CacheInfo:
    """Hits and misses of the header cache (a miss is one real file read)."""
    return CacheInfo(**_counts)


def clear_header_cache() -> None:
    """Forget every cached header, e.g. between test cases or runs."""
    with _lock:
        _cache.clear()
        _counts.update(hits=0, misses=0)


def _cached(path: str, what: str, decode: bool) -> Any:
    """The header of one file version, read once; with `decode`, every pixel decoded too (a
    header read first is not enough, a decode first serves later header reads). Failures
    raise and are therefore not cached."""
    info = _known_stat(path) or stat_regular(path, what)  # links are never followed
    kind = "video" if what.startswith("video") else "image"
    key = (kind, path, info.st_mtime_ns, info.st_size)
    with _lock:
        cached = _cache.get(key)
        if cached and (cached[1] or not decode):
            _cache.move_to_end(key)
            _counts["hits"] += 1
            return cached[0]
        _counts["misses"] += 1
    header = _read(kind, path, info.st_size, decode)
    with _lock:
        _cache[key] = (header, decode)
        while len(_cache) > HEADER_CACHE_SIZE:
            _cache.popitem(last=False)
    return header


_known = threading.local()


@contextmanager
def known_status(path: str, status: os.stat_result) -> Iterator[None]:
    """Within this block, header traits of `path` take `status` (a regular file's, just
    checked by the caller) instead of stat-ing the file once per trait."""
    _known.path, _known.status = path, status
    try:
        yield
    finally:
        _known.path = _known.status = None


def _known_stat(path: str) -> os.stat_result | None:
    return _known.status if getattr(_known, "path", None) == path else None


def _read(kind: str, path: str, size: int, decode: bool) -> ImageHeader | VideoHeader:
    """Read the header with the library that reads this kind of file."""
    if kind == "video":
        return read_video(path, size, decode)
    if extension(path) in pillow_headers.EXTENSIONS:
        return read_pillow(path, size, decode)
    return read_oiio(path, size, decode)


def extension(path: str) -> str:
    """The file's extension, lower case: what follows the last dot of its name, unless that dot
    starts or ends the name ('' then, as pathlib's suffix). String work: a Path per file cost
    a tenth of a header read."""
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    return name[dot + 1 :].lower() if 0 < dot < len(name) - 1 else ""
