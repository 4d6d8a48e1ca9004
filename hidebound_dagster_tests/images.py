"""Write small real image files for tests (PNG in every mode we care about, JPEG, corrupt)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_MODES = ("1", "L", "I;16", "LA", "RGB", "RGBA", "P")

# A greyscale ramp: 256 RGB entries, so palette images are valid for any pixel value.
_PALETTE = [level for index in range(256) for level in (index, index, index)]


def write_png(
    path: Path | str,
    mode: str = "RGB",
    size: tuple[int, int] = (4, 4),
    transparency: bool = False,
) -> Path:
    """Write a PNG of ``mode`` and ``size`` (creating parent directories); with ``mode="P"``,
    ``transparency=True`` adds a tRNS chunk making palette entry 0 transparent."""
    if transparency and mode != "P":
        raise ValueError("transparency is only supported for palette (P) images")
    image = Image.new(mode, size)
    options: dict[str, int] = {}
    if mode == "P":
        image.putpalette(_PALETTE)
        if transparency:
            options["transparency"] = 0
    return _save(image, path, "PNG", **options)


def write_jpeg(path: Path | str, mode: str = "RGB", size: tuple[int, int] = (4, 4)) -> Path:
    """Write a JPEG of ``mode`` (L, RGB or CMYK) and ``size``, creating parent directories."""
    return _save(Image.new(mode, size), path, "JPEG")


def write_corrupt_png(path: Path | str) -> Path:
    """Write a file that starts like a PNG but continues with garbage instead of chunks."""
    path = _prepare(path)
    path.write_bytes(PNG_SIGNATURE + b"this is not a chunk stream" * 3)
    return path


def _save(image: Image.Image, path: Path | str, image_format: str, **options: int) -> Path:
    """Save ``image`` to ``path`` in ``image_format`` and return the path."""
    path = _prepare(path)
    image.save(path, format=image_format, **options)
    return path


def _prepare(path: Path | str) -> Path:
    """The path as a ``Path``, with its parent directories created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
