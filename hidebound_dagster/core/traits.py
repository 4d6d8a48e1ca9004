"""File traits: functions ``path -> value`` that describe a file.

Image traits read the header only (Pillow opens lazily), and every image trait of a file
shares one cached header read, so a specification with three image traits opens a file once.
`image_decodes` is the one that decodes every pixel, for specifications that must reject a
truncated or damaged frame (a header read passes those). Failures raise ``TraitError`` whose
message is a single line, fit for an ``<trait>_error`` cell.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO, NamedTuple

from PIL import Image, UnidentifiedImageError

HEADER_CACHE_SIZE = 4096
#: `image_decodes` refuses larger images before decoding them: decompression bombs, and the
#: bound on its memory (about 200 MB at 4 bytes a pixel) and time per file.
DECODE_MAX_PIXELS = 50_000_000
#: A decode slower than this is reported as an error (Pillow cannot be interrupted mid-decode;
#: the pixel bound above is what keeps a decode short).
DECODE_MAX_SECONDS = 30.0

# Leading bytes of common image formats: lets a failure say "corrupt PNG" rather than "unknown".
_SIGNATURES: dict[bytes, str] = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


class TraitError(ValueError):
    """A trait could not be read from a file; ``str()`` is a one-line message for users."""


class ImageHeader(NamedTuple):
    """What an image header says about the image, without decoding any pixel."""

    width: int
    height: int
    channels: int
    mode: str
    format: str | None


def image_width(path: str | os.PathLike[str]) -> int:
    """Width of the image in pixels."""
    return image_header(path).width


def image_height(path: str | os.PathLike[str]) -> int:
    """Height of the image in pixels."""
    return image_header(path).height


def image_channels(path: str | os.PathLike[str]) -> int:
    """Number of channels as the image displays (a palette counts as RGB, or RGBA if it has
    transparency)."""
    return image_header(path).channels


def image_decodes(path: str | os.PathLike[str]) -> bool:
    """True when every pixel of the image decodes; a truncated, damaged or oversized image
    raises a TraitError saying which. List it first among a spec's traits: its one open of the
    file also serves the header traits."""
    name = os.fspath(path)
    info = _stat_file(name, "image data")
    _read_image(name, info.st_mtime_ns, info.st_size, decode=True)
    return True


def file_size(path: str | os.PathLike[str]) -> int:
    """Size of the file in bytes."""
    return _stat_file(os.fspath(path), "size").st_size


def image_header(path: str | os.PathLike[str]) -> ImageHeader:
    """Header of the image at ``path``; cached per file version (path, mtime, size), so a file
    rewritten in place is read again while unchanged files are read once."""
    name = os.fspath(path)
    info = _stat_file(name, "image header")
    return _read_image(name, info.st_mtime_ns, info.st_size, decode=False)


class CacheInfo(NamedTuple):
    hits: int
    misses: int  # a miss is one real file read


_cache: OrderedDict[tuple[str, int, int], tuple[ImageHeader, bool]] = OrderedDict()
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


def _read_image(path: str, mtime_ns: int, size: int, decode: bool) -> ImageHeader:
    """The header of one file version, read once; with `decode`, every pixel decoded too (a
    header read first is not enough, a decode first serves later header reads). Failures
    raise and are therefore not cached."""
    key = (path, mtime_ns, size)
    with _lock:
        cached = _cache.get(key)
        if cached and (cached[1] or not decode):
            _cache.move_to_end(key)
            _counts["hits"] += 1
            return cached[0]
        _counts["misses"] += 1
    header = _open_image(path, size, decode)
    with _lock:
        _cache[key] = (header, decode)
        while len(_cache) > HEADER_CACHE_SIZE:
            _cache.popitem(last=False)
    return header


def _open_image(path: str, size: int, decode: bool) -> ImageHeader:
    """Open the image lazily, copy its header and, with `decode`, load every pixel (refusing
    images over DECODE_MAX_PIXELS before decoding them)."""
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            header = ImageHeader(
                width=image.width,
                height=image.height,
                channels=_channels(image),
                mode=image.mode,
                format=image.format,
            )
            if decode:
                _decode(image, path)
            return header
    except TraitError:
        raise
    except Exception as error:
        reason = _describe_failure(error, path, size)
        raise TraitError(_message("image header", path, reason)) from error


def open_regular(path: str) -> BinaryIO:
    """The file opened for reading without following a link or blocking on a FIFO; an error
    unless it is a regular file."""
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(handle).st_mode):
        os.close(handle)
        raise TraitError(_message("image header", path, "not a regular file"))
    return os.fdopen(handle, "rb")


def _decode(image: Image.Image, path: str) -> None:
    """Load every pixel of an opened image, within the pixel and time limits."""
    if image.width * image.height > DECODE_MAX_PIXELS:
        raise TraitError(
            _message(
                "image data",
                path,
                (
                    f"refused: {image.width} x {image.height} pixels is over the decode limit of "
                    f"{DECODE_MAX_PIXELS:,} (a decompression bomb?)"
                ),
            )
        )
    start = time.monotonic()
    try:
        image.load()
    except Exception as error:
        reason = f"does not decode to its last pixel: {_one_line(error)}"
        raise TraitError(_message("image data", path, reason)) from error
    seconds = time.monotonic() - start
    if seconds > DECODE_MAX_SECONDS:
        reason = f"took {seconds:.0f} s to decode, over the limit of {DECODE_MAX_SECONDS:.0f} s"
        raise TraitError(_message("image data", path, reason))


def _channels(image: Image.Image) -> int:
    """Channels as displayed: palette images show as RGB, or RGBA with a transparent entry."""
    if image.mode == "P":
        return 4 if "transparency" in image.info else 3
    return len(image.getbands())


def _stat_file(path: str, what: str) -> os.stat_result:
    """Stat a regular file, turning every failure into a one-line ``TraitError``."""
    try:
        info = os.lstat(path)  # a link is not followed: only regular files are read
    except OSError as error:
        raise TraitError(_message(what, path, _describe_os_error(error))) from error
    if not stat.S_ISREG(info.st_mode):
        raise TraitError(_message(what, path, "not a regular file"))
    return info


def _describe_failure(error: Exception, path: str, size: int) -> str:
    """Say in a few words why Pillow could not read a header."""
    if isinstance(error, UnidentifiedImageError):
        kind = _signature_format(path)
        if kind is None:
            return f"not a recognised image ({size} bytes)"
        return f"corrupt {kind} header ({size} bytes)"
    if isinstance(error, Image.DecompressionBombError):
        return f"image too large to open safely ({_one_line(error)})"
    if isinstance(error, OSError) and error.errno is not None:
        return _describe_os_error(error)
    kind = _signature_format(path) or "image"
    return f"corrupt {kind} header ({size} bytes): {_one_line(error)}"


def _describe_os_error(error: OSError) -> str:
    """Plain words for the file-system errors users actually meet."""
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, IsADirectoryError):
        return "not a regular file"
    return error.strerror or _one_line(error)


def _signature_format(path: str) -> str | None:
    """Format whose signature the file starts with, if any (read only on the failure path)."""
    try:
        with open_regular(path) as handle:
            head = handle.read(8)
    except (OSError, TraitError):
        return None
    return next((kind for sig, kind in _SIGNATURES.items() if head.startswith(sig)), None)


def _message(what: str, path: str, reason: str) -> str:
    """The single-line message every trait failure uses."""
    return f"cannot read {what} of {Path(path).name}: {reason}"


def _one_line(error: BaseException) -> str:
    """An exception's text collapsed onto one line (or its class name if it has none)."""
    return " ".join(str(error).split()) or type(error).__name__
