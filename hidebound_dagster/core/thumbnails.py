"""Small PNG thumbnails of ingress images for the ingest report, cached by the identity of their
source (device, inode, size, mtime: a changed file is a new file), or else by a sha256 of its
bytes: an unchanged frame is never read twice. A thumbnail that cannot be made is a note, never
an error: the report shows a placeholder."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from hidebound_dagster.core import headers
from hidebound_dagster.core.headers import TraitError, open_regular
from hidebound_dagster.core.oiio_headers import display_pixels
from hidebound_dagster.core.traits import extension

SIZE = (128, 128)  # the longest side fits in 128 pixels, aspect kept
PILLOW_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "bmp", "gif", "webp"})
#: Read through OpenImageIO: VFX formats, and TIFF (tiled and deep ones Pillow cannot read).
OIIO_EXTENSIONS = frozenset({"exr", "sxr", "mxr", "dpx", "cin", "tif", "tiff", "tx", "hdr"})
EXTENSIONS = PILLOW_EXTENSIONS | OIIO_EXTENSIONS


@dataclass(frozen=True)
class Thumbnail:
    """Where the thumbnail of one source is (its name in the cache directory), or why not."""

    name: str | None
    note: str | None = None


def thumbnail(source: str, cache: str, identity: str | None = None) -> Thumbnail:
    """The thumbnail of `source` in directory `cache`, made unless it is there already; read
    without following links or blocking (as traits are)."""
    try:
        name = _name(identity.encode()) if identity is not None else None
        if name is not None and (Path(cache) / name).is_file():
            return Thumbnail(name)
        through_oiio = extension(source) in OIIO_EXTENSIONS
        # OpenImageIO reads the file itself: its bytes are read here only to name the thumbnail
        data = None if through_oiio and name is not None else _bytes(source)
        name = name or _name(data or b"")
        target = Path(cache) / name
        if target.is_file():
            return Thumbnail(name)
        if through_oiio:
            shown = Image.fromarray(display_pixels(source, max(SIZE)))
        else:
            with Image.open(io.BytesIO(data or b"")) as image:
                if image.width * image.height > headers.DECODE_MAX_PIXELS:
                    return Thumbnail(None, f"{image.width}x{image.height} pixels: too large")
                image.thumbnail(SIZE)
                shown = displayable(image)
        partial = target.with_name(f".{name}.{os.getpid()}.tmp")
        shown.save(partial, format="PNG")
        partial.replace(target)
        return Thumbnail(name)
    except UnidentifiedImageError:
        return Thumbnail(None, "no thumbnail: not an image Pillow can read")
    except TraitError as error:
        return Thumbnail(None, f"no thumbnail: {error}")
    except Exception as error:  # any unreadable image: a note, never a failure
        return Thumbnail(None, f"no thumbnail: {type(error).__name__}: {error}".splitlines()[0])


def thumbnail_chunk(items: list[tuple[str, str | None]], cache: str) -> list[Thumbnail]:
    """Thumbnails of (source, identity) pairs: one task per chunk, not per image."""
    return [thumbnail(source, cache, identity) for source, identity in items]


def _bytes(source: str) -> bytes:
    """The whole file, read without following a link or blocking."""
    with open_regular(source) as handle:
        return handle.read()


def _name(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:32] + ".png"


def displayable(image: Image.Image) -> Image.Image:
    """8-bit RGB, or RGBA where the image has transparency; 16- and 32-bit greys scaled down to
    8 bits rather than clipped white."""
    if image.mode.startswith("I;16") or image.mode == "I":
        return image.convert("I").point(lambda value: value / 256).convert("L").convert("RGB")
    transparent = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if transparent else "RGB")
