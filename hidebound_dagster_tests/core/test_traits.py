"""Image traits read real files' headers once, and fail with one-line messages."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from hidebound_dagster.core import headers, traits
from hidebound_dagster.core.traits import (
    ImageHeader,
    TraitError,
    file_size,
    image_channels,
    image_header,
    image_height,
    image_width,
)
from hidebound_dagster_tests.images import write_corrupt_png, write_jpeg, write_png


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Each test starts and ends with an empty header cache."""
    traits.clear_header_cache()
    yield
    traits.clear_header_cache()


@pytest.mark.parametrize(
    ("mode", "transparency", "channels", "names", "pixel_type", "bits"),
    [
        ("1", False, 1, "Y", "uint8", 1),
        ("L", False, 1, "Y", "uint8", 8),
        ("I;16", False, 1, "Y", "uint16", 16),
        ("LA", False, 2, "Y,A", "uint8", 8),
        ("RGB", False, 3, "R,G,B", "uint8", 8),
        ("RGBA", False, 4, "R,G,B,A", "uint8", 8),
        ("P", False, 3, "R,G,B", "uint8", 8),
        ("P", True, 4, "R,G,B,A", "uint8", 8),
    ],
)
def test_png_traits(
    tmp_path: Path,
    mode: str,
    transparency: bool,
    channels: int,
    names: str,
    pixel_type: str,
    bits: int,
) -> None:
    path = write_png(tmp_path / "deep" / "f0001.png", mode, (7, 5), transparency)
    assert image_width(path) == 7
    assert image_height(path) == 5
    assert image_channels(path) == channels
    assert image_header(str(path)) == ImageHeader(
        width=7,
        height=5,
        channels=channels,
        channel_names=names,
        pixel_type=pixel_type,
        bit_depth=bits,
        compression="none",
        parts=1,
        part_names="",
        mip_levels=1,
        layout="scanline",
        data_window="0,0,6,4",
        display_window="0,0,6,4",
        colorspace=None,
        fps=None,
        format="PNG",
    )


@pytest.mark.parametrize(("mode", "channels"), [("L", 1), ("RGB", 3), ("CMYK", 4)])
def test_jpeg_traits(tmp_path: Path, mode: str, channels: int) -> None:
    path = write_jpeg(tmp_path / "f0001.jpg", mode, (9, 3))
    assert (image_width(path), image_height(path), image_channels(path)) == (9, 3, channels)
    assert image_header(path).format == "JPEG"


def test_palette_with_transparency_has_trns_chunk(tmp_path: Path) -> None:
    path = write_png(tmp_path / "p.png", "P", transparency=True)
    assert b"tRNS" in path.read_bytes()
    assert b"tRNS" not in write_png(tmp_path / "q.png", "P").read_bytes()


def test_transparency_needs_palette(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="palette"):
        write_png(tmp_path / "x.png", "RGB", transparency=True)


def test_file_size(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"12345")
    assert file_size(path) == 5


def test_three_traits_share_one_header_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_png(tmp_path / "f0001.png", "RGBA", (3, 2))
    other = write_png(tmp_path / "f0002.png", "RGB", (3, 2))
    opened: list[int] = []
    real_open = Image.open

    def counting_open(fp, *args: object, **kwargs: object) -> Image.Image:
        opened.append(os.fstat(fp.fileno()).st_ino)  # an open file, never a path to follow
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    for trait in (image_width, image_height, image_channels):
        trait(path)
        trait(str(other))
    assert opened == [path.stat().st_ino, other.stat().st_ino]
    info = traits.header_cache_info()
    assert (info.misses, info.hits) == (2, 4)


def test_rewritten_file_is_read_again(tmp_path: Path) -> None:
    path = write_png(tmp_path / "f0001.png", "RGB", (3, 2))
    assert image_width(path) == 3
    write_png(path, "RGB", (30, 2))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # coarse-mtime filesystems
    assert image_width(path) == 30


def empty_file(directory: Path) -> Path:
    path = directory / "f0001.png"
    path.write_bytes(b"")
    return path


def text_file(directory: Path) -> Path:
    path = directory / "f0001.png"
    path.write_text("hello world\n")
    return path


def corrupt_file(directory: Path) -> Path:
    return write_corrupt_png(directory / "f0001.png")


def missing_file(directory: Path) -> Path:
    return directory / "f0001.png"


def a_directory(directory: Path) -> Path:
    path = directory / "f0001.png"
    path.mkdir()
    return path


PREFIX = "cannot read image header of f0001.png: "


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (empty_file, "not a recognised image (0 bytes)"),
        (text_file, "not a recognised image (12 bytes)"),
        (corrupt_file, "corrupt PNG header (86 bytes)"),
        (missing_file, "file not found"),
        (a_directory, "not a regular file"),
    ],
    ids=["zero-bytes", "text", "corrupt", "missing", "directory"],
)
def test_unreadable_files_raise_one_line_trait_errors(
    tmp_path: Path, make: Callable[[Path], Path], reason: str
) -> None:
    path = make(tmp_path)
    for trait in (image_width, image_height, image_channels):
        with pytest.raises(TraitError) as caught:
            trait(path)
        assert str(caught.value).startswith(PREFIX + reason)
        assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_corrupt_file_error_chains_the_cause(tmp_path: Path) -> None:
    path = write_corrupt_png(tmp_path / "f0001.png")
    with pytest.raises(TraitError) as caught:
        image_width(path)
    assert isinstance(caught.value.__cause__, OSError)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_png(tmp_path / "f0001.png")

    def refuse(*_args: object, **_kwargs: object) -> Image.Image:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", refuse)  # chmod is no use when tests run as root
    with pytest.raises(TraitError, match=r"^cannot read image header of f0001\.png: permission"):
        image_width(path)


def test_failures_are_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "f0001.png"
    path.write_bytes(b"")
    with pytest.raises(TraitError):
        image_width(path)
    write_png(path, "L", (6, 6))
    assert image_width(path) == 6


def test_file_size_of_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraitError, match=r"^cannot read size of nope\.bin: file not found$"):
        file_size(tmp_path / "nope.bin")


# --- image_decodes: the full decode ----------------------------------------------------------


def noisy_png(path: Path, size: tuple[int, int] = (64, 64)) -> Path:
    """A PNG whose pixels do not compress away, so cutting it loses image data."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def test_a_whole_image_decodes(tmp_path: Path) -> None:
    assert traits.image_decodes(noisy_png(tmp_path / "whole.png")) is True


def test_an_image_truncated_after_its_header_passes_the_header_but_not_the_decode(
    tmp_path: Path,
) -> None:
    path = noisy_png(tmp_path / "half.png")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert traits.image_width(path) == 64  # the header read alone is fooled
    with pytest.raises(TraitError) as raised:
        traits.image_decodes(path)
    assert str(raised.value).startswith(
        "cannot read image data of half.png: does not decode to its last pixel:"
    )


def test_damaged_image_data_does_not_decode(tmp_path: Path) -> None:
    path = noisy_png(tmp_path / "damaged.png")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # zero a run inside the compressed pixels
    path.write_bytes(bytes(data))
    with pytest.raises(TraitError, match="does not decode to its last pixel"):
        traits.image_decodes(path)


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = noisy_png(tmp_path / "big.png", (100, 50))
    monkeypatch.setattr(headers, "DECODE_MAX_PIXELS", 4_999)
    opened: list[str] = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append("x") or real_open(*a, **k))
    traits.clear_header_cache()
    with pytest.raises(TraitError) as raised:
        traits.image_decodes(path)
    assert "refused: 100 x 50 pixels is over the decode limit of 4,999" in str(raised.value)
    assert len(opened) == 1  # the header only, never a decode


def test_a_decode_first_serves_the_header_traits_with_one_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = noisy_png(tmp_path / "frame.png")
    opened: list[str] = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda fp, *a, **k: opened.append(fp) or real_open(fp))
    traits.clear_header_cache()
    assert traits.image_decodes(path) is True
    assert (image_width(path), image_height(path), image_channels(path)) == (64, 64, 3)
    assert traits.image_decodes(path) is True
    assert len(opened) == 1
    info = traits.header_cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_a_header_read_first_does_not_count_as_a_decode(tmp_path: Path) -> None:
    path = noisy_png(tmp_path / "half.png")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    traits.clear_header_cache()
    assert image_width(path) == 64
    with pytest.raises(TraitError, match="does not decode to its last pixel"):
        traits.image_decodes(path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/in/a/p-x_v001.PNG", "png"),
        ("/in/a/b.tar.gz", "gz"),
        ("/in/a.dir/noext", ""),
        ("/in/a/.hidden", ""),
        ("/in/a/name.", ""),
        ("/in/a/..png", "png"),
        ("relative.exr", "exr"),
    ],
)
def test_extension_is_what_follows_the_last_dot_of_the_name(path: str, expected: str) -> None:
    assert traits.extension(path) == expected
