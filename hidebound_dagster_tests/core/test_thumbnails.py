"""Thumbnails for the ingest report: scaled with their aspect kept, cached by content, and
never a failure: links, FIFOs, broken and oversized images each get a note instead."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from PIL import Image

from hidebound_dagster.core.thumbnails import thumbnail


def gradient(path: Path, size: tuple[int, int]) -> Path:
    image = Image.new("RGB", size)
    image.putdata(
        [(x % 256, y % 256, (x * y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    image.save(path)
    return path


def test_a_thumbnail_keeps_the_aspect_and_is_cached_by_content(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    source = gradient(tmp_path / "a.png", (300, 200))
    made = thumbnail(str(source), str(cache))
    assert made.note is None and made.name is not None
    with Image.open(cache / made.name) as small:
        assert small.size == (128, 85)
    first = (cache / made.name).stat().st_mtime_ns
    twin = tmp_path / "b.png"
    twin.write_bytes(source.read_bytes())
    assert thumbnail(str(twin), str(cache)).name == made.name  # same bytes, same thumbnail
    assert (cache / made.name).stat().st_mtime_ns == first  # not made again
    assert [p.name for p in cache.iterdir()] == [made.name]  # no temporary file left


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_what_cannot_be_shown_gets_a_note(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    source = gradient(tmp_path / "a.png", (8, 8))
    link = tmp_path / "link.png"
    link.symlink_to(source)
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    huge = tmp_path / "huge.png"  # a header claiming 10000 x 10000 pixels, hardly any data
    header = struct.pack(">IIBBBBB", 10000, 10000, 8, 2, 0, 0, 0)
    huge.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0"))
        + png_chunk(b"IEND", b"")
    )
    for path in (link, fifo, broken, huge):
        made = thumbnail(str(path), str(cache))
        assert made.name is None and made.note and made.note.startswith(("no thumbnail", "10000"))
    assert thumbnail(str(huge), str(cache)).note == "10000x10000 pixels: too large"
    assert thumbnail(str(broken), str(cache)).note == "no thumbnail: not an image Pillow can read"
    assert not list(cache.iterdir())


def test_sixteen_bit_greys_are_scaled_not_clipped(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    source = tmp_path / "deep.png"
    image = Image.new("I;16", (4, 4))
    image.putdata([30000] * 16)
    image.save(source)
    made = thumbnail(str(source), str(cache))
    assert made.name is not None
    with Image.open(cache / made.name) as small:
        assert small.getpixel((0, 0)) == (30000 // 256,) * 3


def test_a_known_identity_is_not_read_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    source = gradient(tmp_path / "a.png", (20, 10))
    made = thumbnail(str(source), str(cache), identity="1:2:3:4:a.png")
    assert made.name is not None
    source.unlink()  # were it read again, it would fail now
    assert thumbnail(str(source), str(cache), identity="1:2:3:4:a.png") == made
    other = thumbnail(str(source), str(cache), identity="1:2:3:5:a.png")  # it changed: read
    assert other.name is None and other.note and "FileNotFoundError" in other.note


def flat_image(path: Path, size: tuple[int, int], pixel_type: str, value: float) -> Path:
    """An OpenImageIO-written image of one grey value (and opaque alpha for 4 channels)."""
    import OpenImageIO as oiio  # noqa: N813

    channels = 4 if path.suffix == ".exr" else 3
    buffer = oiio.ImageBuf(oiio.ImageSpec(*size, channels, pixel_type))
    oiio.ImageBufAlgo.fill(buffer, (value, value, value, 1.0)[:channels])
    assert buffer.write(str(path)), buffer.geterror()
    return path


def test_an_exr_thumbnail_is_scaled_and_shown_with_a_display_gamma(tmp_path: Path) -> None:
    source = flat_image(tmp_path / "plate.exr", (256, 128), "half", 0.5)
    made = thumbnail(str(source), str(tmp_path))
    assert made.note is None and made.name is not None
    with Image.open(tmp_path / made.name) as small:
        assert (small.size, small.mode) == ((128, 64), "RGBA")
        assert small.getpixel((10, 10)) == (186, 186, 186, 255)  # 0.5 ** (1 / 2.2) * 255


def test_a_dpx_thumbnail_keeps_its_code_values(tmp_path: Path) -> None:
    source = flat_image(tmp_path / "scan.dpx", (64, 32), "uint16", 0.5)
    made = thumbnail(str(source), str(tmp_path))
    assert made.note is None and made.name is not None
    with Image.open(tmp_path / made.name) as small:
        assert (small.size, small.mode) == ((64, 32), "RGB")
        assert small.getpixel((3, 3)) == (128, 128, 128)


def test_a_truncated_exr_gets_a_note(tmp_path: Path) -> None:
    source = flat_image(tmp_path / "cut.exr", (64, 64), "half", 0.5)
    source.write_bytes(source.read_bytes()[:200])
    made = thumbnail(str(source), str(tmp_path))
    assert made.name is None
    assert made.note is not None and made.note.startswith("no thumbnail: cannot read image data")
