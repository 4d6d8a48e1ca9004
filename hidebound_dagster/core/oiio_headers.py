"""Images through OpenImageIO, for the formats of VFX pipelines (EXR, DPX, TIFF, and whatever
else its plug-ins read): headers of every part and MIP level by seeking; pixels only when a
specification asks (`image_decodes`) or the report wants a thumbnail (`display_pixels`)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hidebound_dagster.core.headers import (
    BIT_DEPTHS,
    ImageHeader,
    TraitError,
    describe_os_error,
    message,
    one_line,
    refuse_oversized,
)

if TYPE_CHECKING:
    import numpy as np
    import OpenImageIO as oiio  # noqa: N813 (the name its docs use)


def read_oiio(path: str, size: int, decode: bool) -> ImageHeader:
    """The header of every part of the image at `path` and, with `decode`, every pixel of every
    part read."""
    import OpenImageIO as oiio  # noqa: N813 (first use: most runs never read such a file)

    with held_open(path, "image header"):
        return _read_held(oiio, path, size, decode)


@contextmanager
def held_open(path: str, what: str) -> Iterator[os.stat_result]:
    """OpenImageIO opens by name: hold the file open (never through a link) while it reads, and
    refuse the result if the name no longer leads to that file afterwards. Yields its status."""
    try:
        held = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:  # gone or swapped for a link since the caller's stat
        raise TraitError(message(what, path, describe_os_error(error))) from error
    try:
        status = os.fstat(held)
        if not stat.S_ISREG(status.st_mode):
            raise TraitError(message(what, path, "not a regular file"))
        yield status
        if not _same_file(status, path):
            raise TraitError(message(what, path, "replaced while it was read"))
    finally:
        os.close(held)


def display_pixels(path: str, longest: int) -> np.ndarray:
    """The first part scaled to fit `longest` pixels, as 8-bit R,G,B(,A) for a thumbnail; float
    images (scene-linear) get a plain 2.2 display gamma, clipped to [0, 1]."""
    import numpy as np
    import OpenImageIO as oiio  # noqa: N813
    from OpenImageIO import ImageBufAlgo

    with held_open(path, "image data") as status:
        source = oiio.ImageBuf(path)
        spec = source.spec()
        if source.has_error:
            reason = _reason(source.geterror(), path, status.st_size)
            raise TraitError(message("image data", path, reason))
        refuse_oversized(spec.width, spec.height, path)
        names = list(spec.channelnames)
        shown = tuple(names.index(c) for c in "RGBA" if c in names) or (0,)
        scale = min(1.0, longest / max(spec.width, spec.height))
        size = max(1, round(spec.width * scale)), max(1, round(spec.height * scale))
        picked = ImageBufAlgo.channels(source, shown)
        roi = oiio.ROI(0, size[0], 0, size[1], 0, 1, 0, len(shown))
        small = ImageBufAlgo.resize(picked, roi=roi) if scale < 1 else picked
        pixels = small.get_pixels(oiio.FLOAT)
    if pixels is None:
        reason = f"does not decode: {one_line(small.geterror() or source.geterror())}"
        raise TraitError(message("image data", path, reason))
    if str(spec.format) in ("half", "float", "double"):
        pixels = np.clip(pixels, 0, 1) ** (1 / 2.2)
    return (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)


def _read_held(oiio: Any, path: str, size: int, decode: bool) -> ImageHeader:
    """Open the image by name, read its header (and pixels, with `decode`), close it."""
    image = oiio.ImageInput.open(path)
    if image is None:
        raise TraitError(message("image header", path, _reason(oiio.geterror(), path, size)))
    try:
        header = _header(image)
        if decode:
            _decode(image, header, path)
        return header
    finally:
        image.close()
        oiio.geterror()  # clear what a failed seek left, or OpenImageIO prints it at exit


def _same_file(held: os.stat_result, path: str) -> bool:
    """Whether `path` still names the held regular file (not a link swapped in)."""
    try:
        now = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(now.st_mode) and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _header(image: oiio.ImageInput) -> ImageHeader:
    """The first part's spec, with every part's channels and names and the mip-level count."""
    first = image.spec()
    specs = [first]
    declared = first.get_int_attribute("oiio:subimages", 0)  # EXR and DPX say how many parts
    while len(specs) < declared or (not declared and image.seek_subimage(len(specs), 0)):
        image.seek_subimage(len(specs), 0)
        specs.append(image.spec())
    levels = 1
    while _may_have_mip_levels(image, first) and image.seek_subimage(0, levels):
        levels += 1
    if len(specs) > 1 or levels > 1:
        image.seek_subimage(0, 0)
    pixel_type = str(first.format)
    fps = first.getattribute("FramesPerSecond")
    return ImageHeader(
        width=first.width,
        height=first.height,
        channels=first.nchannels,
        channel_names=",".join(name for spec in specs for name in spec.channelnames),
        pixel_type=pixel_type,
        bit_depth=first.get_int_attribute("oiio:BitsPerSample") or BIT_DEPTHS.get(pixel_type, 0),
        compression=first.get_string_attribute("compression") or "none",
        parts=len(specs),
        part_names=",".join(filter(None, (spec.get_string_attribute("name") for spec in specs))),
        mip_levels=levels,
        layout="tiled" if first.tile_width else "scanline",
        data_window=_window(first.x, first.y, first.width, first.height),
        display_window=_window(first.full_x, first.full_y, first.full_width, first.full_height),
        colorspace=first.get_string_attribute("oiio:ColorSpace") or None,
        fps=_rational(fps),
        format=image.format_name(),
    )


#: Formats whose MIP levels must be tiled: a scanline image of these has one level, unprobed.
_TILED_MIP_FORMATS = frozenset({"openexr", "tiff", "dpx", "cineon", "png", "jpeg"})


def _may_have_mip_levels(image: oiio.ImageInput, first: oiio.ImageSpec) -> bool:
    """Whether probing for a second MIP level can find one (a failed probe costs a re-read)."""
    return bool(first.tile_width) or image.format_name() not in _TILED_MIP_FORMATS


def _decode(image: oiio.ImageInput, header: ImageHeader, path: str) -> None:
    """Read every pixel of every part, refusing images over the pixel limit first."""
    refuse_oversized(header.width, header.height, path, header.parts)
    for part in range(header.parts):
        image.seek_subimage(part, 0)
        if image.read_image() is None:
            reason = f"part {part} does not decode to its last pixel: {one_line(image.geterror())}"
            raise TraitError(message("image data", path, reason))


def _window(x: int, y: int, width: int, height: int) -> str:
    """A window as OpenEXR writes it: xmin,ymin,xmax,ymax, inclusive."""
    return f"{x},{y},{x + width - 1},{y + height - 1}"


def _rational(value: Any) -> float | None:
    """Frames per second from OpenImageIO's rational pair (or number), None when absent."""
    if value is None:
        return None
    if isinstance(value, tuple):
        numerator, denominator = value
        return round(numerator / denominator, 3) if denominator else None
    return round(float(value), 3)


def _reason(error: str, path: str, size: int) -> str:
    """OpenImageIO's error in a few words: without the file name it repeats (the message names
    the file), each distinct line once."""
    noise = re.compile(rf"^\s*\w+ Error \({re.escape(path)}\):\s*|\s*\({re.escape(path)}\)")
    lines = dict.fromkeys(noise.sub("", line).strip() for line in error.splitlines())
    text = "; ".join(filter(None, lines))
    if "could not find a format reader" in text:
        return f"not a recognised image ({size} bytes)"
    if re.search(r"\bnot an? \w+ file\b", text):
        return f"not a recognised image ({size} bytes): {one_line(text)}"
    return f"damaged ({size} bytes): {one_line(text)}"
