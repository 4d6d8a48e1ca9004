"""PNG and JPEG headers through Pillow, which opens lazily: one open reads the header and, when
a specification asks, decodes every pixel (so `image_decodes` and the header traits share it).
Its behaviour on hostile files (bombs, lying headers, sparse giants) is what the reliability
suite pins."""

from __future__ import annotations

import time

from PIL import Image, UnidentifiedImageError

from hidebound_dagster.core.headers import (
    BIT_DEPTHS,
    ImageHeader,
    TraitError,
    describe_os_error,
    message,
    one_line,
    open_regular,
    refuse_oversized,
)

#: Extensions read through Pillow; every other image goes through OpenImageIO.
EXTENSIONS = frozenset({"png", "jpg", "jpeg"})
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
# Band names as OpenImageIO names them, so both readers agree on the formats they share.
_BAND_NAMES = {"L": "Y", "I": "Y", "F": "Y", "1": "Y"}
_PIXEL_TYPES = {"I;16": "uint16", "I;16B": "uint16", "I;16L": "uint16", "I": "int32", "F": "float"}


def read_pillow(path: str, size: int, decode: bool) -> ImageHeader:
    """The header of the image at `path` and, with `decode`, every pixel decoded (refusing
    oversized images first)."""
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            header = _header(image)
            if decode:
                _decode(image, path)
            return header
    except TraitError:
        raise
    except Exception as error:
        reason = _describe_failure(error, path, size)
        raise TraitError(message("image header", path, reason)) from error


def _header(image: Image.Image) -> ImageHeader:
    """What Pillow's lazily opened image says, in the fields OpenImageIO fills too."""
    names = _channel_names(image)
    pixel_type = _PIXEL_TYPES.get(image.mode, "uint8")
    window = f"0,0,{image.width - 1},{image.height - 1}"
    return ImageHeader(
        width=image.width,
        height=image.height,
        channels=len(names),
        channel_names=",".join(names),
        pixel_type=pixel_type,
        bit_depth=1 if image.mode == "1" else BIT_DEPTHS[pixel_type],
        compression="none",
        parts=1,
        part_names="",
        mip_levels=1,
        layout="scanline",
        data_window=window,
        display_window=window,
        colorspace=None,
        fps=None,
        format=image.format or "unknown",
    )


def _channel_names(image: Image.Image) -> list[str]:
    """Channels as displayed: a palette shows as RGB, or RGBA with a transparent entry."""
    if image.mode == "P":
        return ["R", "G", "B", "A"] if "transparency" in image.info else ["R", "G", "B"]
    return [_BAND_NAMES.get(band, band) for band in image.getbands()]


def _decode(image: Image.Image, path: str) -> None:
    """Load every pixel of an opened image, within the pixel and time limits."""
    refuse_oversized(image.width, image.height, path)
    start = time.monotonic()
    try:
        image.load()
    except Exception as error:
        reason = f"does not decode to its last pixel: {one_line(error)}"
        raise TraitError(message("image data", path, reason)) from error
    seconds = time.monotonic() - start
    if seconds > DECODE_MAX_SECONDS:
        reason = f"took {seconds:.0f} s to decode, over the limit of {DECODE_MAX_SECONDS:.0f} s"
        raise TraitError(message("image data", path, reason))


def _describe_failure(error: Exception, path: str, size: int) -> str:
    """Say in a few words why Pillow could not read a header."""
    if isinstance(error, UnidentifiedImageError):
        kind = _signature_format(path)
        if kind is None:
            return f"not a recognised image ({size} bytes)"
        return f"corrupt {kind} header ({size} bytes)"
    if isinstance(error, Image.DecompressionBombError):
        return f"image too large to open safely ({one_line(error)})"
    if isinstance(error, OSError) and error.errno is not None:
        return describe_os_error(error)
    kind = _signature_format(path) or "image"
    return f"corrupt {kind} header ({size} bytes): {one_line(error)}"


def _signature_format(path: str) -> str | None:
    """Format whose signature the file starts with, if any (read only on the failure path)."""
    try:
        with open_regular(path) as handle:
            head = handle.read(8)
    except (OSError, TraitError):
        return None
    return next((kind for sig, kind in _SIGNATURES.items() if head.startswith(sig)), None)
