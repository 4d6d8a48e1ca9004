"""What a media file's header says, the one error every trait failure raises, and the safe way
to open a file for a header read. Shared by the readers (Pillow, OpenImageIO, PyAV)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO, NamedTuple

#: A decode refuses larger images before decoding them: decompression bombs, and the bound on
#: its memory (about 200 MB at 4 bytes a pixel) and time per file. Every reader and the
#: thumbnails share it.
DECODE_MAX_PIXELS = 50_000_000
#: Bits per sample of each pixel type, for files that do not say (both readers name types so).
BIT_DEPTHS = {"uint8": 8, "int8": 8, "uint16": 16, "int16": 16, "half": 16, "uint32": 32}
BIT_DEPTHS |= {"int32": 32, "float": 32, "double": 64}


class TraitError(ValueError):
    """A trait could not be read from a file; ``str()`` is a one-line message for users."""


class ImageHeader(NamedTuple):
    """An image as its header describes it, without decoding any pixel. Lists are written as
    comma-joined text (``R,G,B,A``) so they fit one table cell; windows are ``xmin,ymin,xmax,ymax``
    (inclusive, as OpenEXR writes them)."""

    width: int
    height: int
    channels: int
    channel_names: str  # every part's channels, in order: R,G,B,A,diffuse.R,...
    pixel_type: str  # of the first part: uint8, uint16, half, float...
    bit_depth: int  # bits per sample: 10 for a 10-bit DPX held in uint16
    compression: str  # "none" when the file says none or nothing
    parts: int  # subimages (EXR parts)
    part_names: str  # names of named parts, comma-joined; "" when none is named
    mip_levels: int
    layout: str  # "scanline" or "tiled"
    data_window: str
    display_window: str
    colorspace: str | None  # as the file declares it (or the reader infers it)
    fps: float | None
    format: str  # PNG, JPEG, openexr, dpx, tiff...


class VideoHeader(NamedTuple):
    """A video as its container and first video stream describe it, without decoding."""

    duration: float  # seconds
    fps: float
    frame_count: int
    width: int
    height: int
    codec: str  # h264, mpeg4, prores...
    pixel_format: str  # yuv420p...
    has_audio: bool
    timecode: str | None


def refuse_oversized(width: int, height: int, path: str, parts: int = 1) -> None:
    """A TraitError, before any pixel is decoded, for images over DECODE_MAX_PIXELS."""
    if width * height * parts > DECODE_MAX_PIXELS:
        reason = (
            f"refused: {width} x {height} pixels is over the decode limit of "
            f"{DECODE_MAX_PIXELS:,} (a decompression bomb?)"
        )
        raise TraitError(message("image data", path, reason))


def open_regular(path: str, what: str = "image header") -> BinaryIO:
    """The file opened for reading without following a link or blocking on a FIFO; an error
    unless it is a regular file."""
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(handle).st_mode):
        os.close(handle)
        raise TraitError(message(what, path, "not a regular file"))
    return os.fdopen(handle, "rb")


def stat_regular(path: str, what: str) -> os.stat_result:
    """Stat a regular file without following a link; every failure is a one-line TraitError."""
    try:
        info = os.lstat(path)
    except OSError as error:
        raise TraitError(message(what, path, describe_os_error(error))) from error
    if not stat.S_ISREG(info.st_mode):
        raise TraitError(message(what, path, "not a regular file"))
    return info


def describe_os_error(error: OSError) -> str:
    """Plain words for the file-system errors users actually meet."""
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, IsADirectoryError) or error.errno == errno.ELOOP:
        return "not a regular file"  # ELOOP: a link, refused by O_NOFOLLOW
    return error.strerror or one_line(error)


def message(what: str, path: str, reason: str) -> str:
    """The single-line message every trait failure uses."""
    return f"cannot read {what} of {Path(path).name}: {reason}"


def one_line(error: BaseException | str) -> str:
    """An exception's (or a library's error) text collapsed onto one line, or the class name."""
    text = " ".join(str(error).split())
    return text or (type(error).__name__ if isinstance(error, BaseException) else "unknown error")
