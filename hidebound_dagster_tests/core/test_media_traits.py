"""Media traits read EXR, DPX, TIFF and video headers once, and fail with one-line messages."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import OpenImageIO as oiio  # noqa: N813 (the name its docs use)
import pytest

from hidebound_dagster.core import traits
from hidebound_dagster.core.headers import ImageHeader, TraitError, VideoHeader
from hidebound_dagster.core.oiio_headers import read_oiio
from hidebound_dagster.core.pillow_headers import read_pillow
from hidebound_dagster_tests.images import write_jpeg, write_png
from hidebound_dagster_tests.media import truncate, write_image, write_multipart_exr, write_video

Trait = Callable[[Any], Any]


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Each test starts and ends with an empty header cache."""
    traits.clear_header_cache()
    yield
    traits.clear_header_cache()


def error_of(trait: Trait, path: Path) -> str:
    """The message of the TraitError the trait raises, checked to be one line."""
    with pytest.raises(TraitError) as caught:
        trait(path)
    text = str(caught.value)
    assert "\n" not in text
    return text


def bump_mtime(path: Path) -> None:
    """Move the file's mtime a second on, for filesystems with coarse timestamps."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


# --- EXR ------------------------------------------------------------------------------------


def test_exr_header_traits(tmp_path: Path) -> None:
    path = write_image(tmp_path / "plate.exr", attributes={"compression": "zip"})
    assert traits.image_width(path) == 16
    assert traits.image_height(path) == 8
    assert traits.image_channels(path) == 4
    assert traits.image_channel_names(path) == "R,G,B,A"
    assert traits.image_pixel_type(path) == "half"
    assert traits.image_bit_depth(path) == 16
    assert traits.image_compression(path) == "zip"
    assert traits.image_parts(path) == 1
    assert traits.image_part_names(path) == ""
    assert traits.image_mip_levels(path) == 1
    assert traits.image_layout(path) == "scanline"
    assert traits.image_data_window(path) == "0,0,15,7"
    assert traits.image_display_window(path) == "0,0,15,7"
    assert traits.image_fps(path) is None
    assert traits.image_header(path).format == "openexr"


@pytest.mark.parametrize("compression", ["zip", "piz", "none"])
def test_exr_compression(tmp_path: Path, compression: str) -> None:
    path = write_image(tmp_path / "plate.exr", attributes={"compression": compression})
    assert traits.image_compression(path) == compression


@pytest.mark.parametrize(("pixel_type", "bits"), [("half", 16), ("float", 32)])
def test_exr_pixel_type_and_bit_depth(tmp_path: Path, pixel_type: str, bits: int) -> None:
    path = write_image(tmp_path / "plate.exr", pixel_type=pixel_type)
    assert traits.image_pixel_type(path) == pixel_type
    assert traits.image_bit_depth(path) == bits


def test_exr_fps_from_header(tmp_path: Path) -> None:
    path = write_image(tmp_path / "plate.exr", attributes={"FramesPerSecond": "24"})
    assert traits.image_fps(path) == 24.0


def test_exr_without_fps_has_none(tmp_path: Path) -> None:
    assert traits.image_fps(write_image(tmp_path / "plate.exr")) is None


def test_multipart_exr_lists_every_part(tmp_path: Path) -> None:
    path = write_multipart_exr(tmp_path / "beauty.exr")
    assert traits.image_parts(path) == 3
    assert traits.image_part_names(path) == "rgba,diffuse,specular"
    assert traits.image_channel_names(path) == (
        "R,G,B,A,diffuse.R,diffuse.G,diffuse.B,specular.R,specular.G,specular.B"
    )
    assert traits.image_channels(path) == 4  # of the first part


def test_multipart_exr_decodes_every_part(tmp_path: Path) -> None:
    assert traits.image_decodes(write_multipart_exr(tmp_path / "beauty.exr")) is True


def test_multipart_exr_damaged_in_its_last_part_does_not_decode(tmp_path: Path) -> None:
    path = truncate(write_multipart_exr(tmp_path / "beauty.exr", size=(64, 64)), 0.95)
    assert traits.image_parts(path) == 3  # the headers are whole
    assert error_of(traits.image_decodes, path).startswith(
        "cannot read image data of beauty.exr: part 2 does not decode"
    )


# --- DPX, TIFF, MIP maps -----------------------------------------------------------------------


def test_dpx_10_bit(tmp_path: Path) -> None:
    path = write_image(
        tmp_path / "scan.dpx",
        channels=("R", "G", "B"),
        pixel_type="uint16",
        attributes={"oiio:BitsPerSample": 10},
    )
    assert traits.image_bit_depth(path) == 10
    assert traits.image_pixel_type(path) == "uint16"
    assert traits.image_channel_names(path) == "R,G,B"
    assert traits.image_header(path).format == "dpx"


@pytest.mark.parametrize(("tile", "layout"), [(32, "tiled"), (0, "scanline")])
def test_tiff_layout(tmp_path: Path, tile: int, layout: str) -> None:
    path = write_image(tmp_path / "rock.tif", (64, 64), ("R", "G", "B"), "uint8", tile=tile)
    assert traits.image_layout(path) == layout
    assert traits.image_header(path).format == "tiff"


@pytest.mark.parametrize("name", ["rock.tx", "rock.exr"])
def test_mip_mapped_texture_counts_its_levels(tmp_path: Path, name: str) -> None:
    source = oiio.ImageBuf(str(write_image(tmp_path / "source.exr", size=(64, 32))))
    path = tmp_path / name
    assert oiio.ImageBufAlgo.make_texture(oiio.MakeTxTexture, source, str(path), oiio.ImageSpec())
    assert traits.image_mip_levels(path) == 7  # 64x32, 32x16, ... 1x1
    assert traits.image_layout(path) == "tiled"
    assert traits.image_width(path) == 64  # of the top level
    assert traits.image_decodes(path) is True


# --- Pillow and OpenImageIO agree on PNG and JPEG ----------------------------------------------

SHARED_FIELDS = (
    "width",
    "height",
    "channels",
    "channel_names",
    "pixel_type",
    "parts",
    "mip_levels",
    "layout",
    "data_window",
    "display_window",
)


def both_readers(path: Path) -> tuple[ImageHeader, ImageHeader]:
    """The header as Pillow reads it and as OpenImageIO reads it."""
    size = path.stat().st_size
    return read_pillow(str(path), size, False), read_oiio(str(path), size, False)


def shared(header: ImageHeader) -> dict[str, Any]:
    return {field: getattr(header, field) for field in SHARED_FIELDS}


def png(mode: str, transparency: bool = False) -> Callable[[Path], Path]:
    return lambda directory: write_png(directory / "f.png", mode, (7, 5), transparency)


def jpeg(mode: str) -> Callable[[Path], Path]:
    return lambda directory: write_jpeg(directory / "f.jpg", mode, (7, 5))


@pytest.mark.parametrize(
    ("write", "channels", "names", "pixel_type"),
    [
        (png("L"), 1, "Y", "uint8"),
        (png("LA"), 2, "Y,A", "uint8"),
        (png("RGB"), 3, "R,G,B", "uint8"),
        (png("RGBA"), 4, "R,G,B,A", "uint8"),
        (png("P"), 3, "R,G,B", "uint8"),
        (png("P", transparency=True), 4, "R,G,B,A", "uint8"),
        (png("I;16"), 1, "Y", "uint16"),
        (jpeg("L"), 1, "Y", "uint8"),
        (jpeg("RGB"), 3, "R,G,B", "uint8"),
    ],
    ids=[
        "png-L",
        "png-LA",
        "png-RGB",
        "png-RGBA",
        "png-P",
        "png-P-tRNS",
        "png-I16",
        "jpg-L",
        "jpg-RGB",
    ],
)
def test_pillow_and_oiio_agree(
    tmp_path: Path, write: Callable[[Path], Path], channels: int, names: str, pixel_type: str
) -> None:
    pillow, oiio_header = both_readers(write(tmp_path))
    expected = {
        "width": 7,
        "height": 5,
        "channels": channels,
        "channel_names": names,
        "pixel_type": pixel_type,
        "parts": 1,
        "mip_levels": 1,
        "layout": "scanline",
        "data_window": "0,0,6,4",
        "display_window": "0,0,6,4",
    }
    assert shared(pillow) == expected
    assert shared(oiio_header) == expected


def test_cmyk_jpeg_keeps_four_channels_in_pillow_but_oiio_converts_to_rgb(tmp_path: Path) -> None:
    pillow, oiio_header = both_readers(write_jpeg(tmp_path / "f.jpg", "CMYK", (7, 5)))
    assert (pillow.channels, pillow.channel_names) == (4, "C,M,Y,K")
    assert (oiio_header.channels, oiio_header.channel_names) == (3, "R,G,B")


def test_one_bit_png_is_1_bit_in_pillow_but_8_in_oiio(tmp_path: Path) -> None:
    pillow, oiio_header = both_readers(write_png(tmp_path / "f.png", "1", (7, 5)))
    assert (pillow.bit_depth, oiio_header.bit_depth) == (1, 8)
    assert shared(pillow) == shared(oiio_header)


def test_colorspace_is_none_through_pillow_only(tmp_path: Path) -> None:
    pillow, oiio_header = both_readers(write_png(tmp_path / "f.png", "RGB", (7, 5)))
    assert pillow.colorspace is None
    assert isinstance(oiio_header.colorspace, str) and oiio_header.colorspace


def test_format_names_differ_in_case(tmp_path: Path) -> None:
    pillow, oiio_header = both_readers(write_png(tmp_path / "f.png", "RGB", (7, 5)))
    assert (pillow.format, oiio_header.format) == ("PNG", "png")


# --- video --------------------------------------------------------------------------------------


def test_mov_h264_with_timecode(tmp_path: Path) -> None:
    path = write_video(tmp_path / "edit.mov", fps=24, timecode="01:00:00:00")
    assert traits.video_fps(path) == 24.0
    assert traits.video_frame_count(path) == 12
    assert traits.video_duration(path) == 0.5
    assert traits.video_width(path) == 32
    assert traits.video_height(path) == 16
    assert traits.video_codec(path) == "h264"
    assert traits.video_pixel_format(path) == "yuv420p"
    assert traits.video_has_audio(path) is False
    assert traits.video_timecode(path) == "01:00:00:00"


def test_mp4_with_audio_and_no_timecode(tmp_path: Path) -> None:
    path = write_video(tmp_path / "dailies.mp4", fps=25, audio=True)
    assert traits.video_header(path) == VideoHeader(
        duration=0.48,
        fps=25.0,
        frame_count=12,
        width=32,
        height=16,
        codec="h264",
        pixel_format="yuv420p",
        has_audio=True,
        timecode=None,
    )


def test_mpeg4_codec(tmp_path: Path) -> None:
    assert traits.video_codec(write_video(tmp_path / "old.mov", codec="mpeg4")) == "mpeg4"


# --- broken and unreadable files ---------------------------------------------------------------


def test_exr_truncated_in_its_header_is_damaged(tmp_path: Path) -> None:
    path = truncate(write_image(tmp_path / "cut.exr"), 0.6)
    for trait in (traits.image_width, traits.image_decodes):
        assert error_of(trait, path).startswith("cannot read image header of cut.exr: damaged")


def test_exr_truncated_in_its_pixels_passes_the_header_but_not_the_decode(tmp_path: Path) -> None:
    path = write_image(tmp_path / "cut.exr", (64, 64), attributes={"compression": "none"})
    truncate(path, 0.9)
    assert traits.image_width(path) == 64  # the header read alone is fooled
    assert error_of(traits.image_decodes, path).startswith(
        "cannot read image data of cut.exr: part 0 does not decode"
    )


def test_text_file_named_exr_is_not_a_recognised_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.exr"
    path.write_text("hello world\n")
    assert error_of(traits.image_width, path).startswith(
        "cannot read image header of notes.exr: not a recognised image"
    )


def test_missing_exr(tmp_path: Path) -> None:
    assert error_of(traits.image_width, tmp_path / "gone.exr") == (
        "cannot read image header of gone.exr: file not found"
    )


def test_link_to_an_exr_is_never_followed(tmp_path: Path) -> None:
    link = tmp_path / "link.exr"
    link.symlink_to(write_image(tmp_path / "plate.exr"))
    assert error_of(traits.image_width, link) == (
        "cannot read image header of link.exr: not a regular file"
    )
    assert error_of(traits.image_decodes, link) == (
        "cannot read image data of link.exr: not a regular file"
    )


def test_link_to_a_video_is_never_followed(tmp_path: Path) -> None:
    link = tmp_path / "link.mov"
    link.symlink_to(write_video(tmp_path / "edit.mov"))
    assert error_of(traits.video_fps, link) == (
        "cannot read video header of link.mov: not a regular file"
    )


def test_truncated_mov_is_not_a_readable_video(tmp_path: Path) -> None:
    path = truncate(write_video(tmp_path / "edit.mov", timecode="01:00:00:00"), 0.6)
    assert error_of(traits.video_fps, path).startswith(
        "cannot read video header of edit.mov: not a readable video"
    )


def test_text_file_named_mov_is_not_a_readable_video(tmp_path: Path) -> None:
    path = tmp_path / "edit.mov"
    path.write_text("hello world\n")
    assert error_of(traits.video_codec, path) == (
        "cannot read video header of edit.mov: not a readable video (12 bytes): "
        "Invalid data found when processing input"
    )


def test_missing_mov(tmp_path: Path) -> None:
    assert error_of(traits.video_fps, tmp_path / "gone.mov") == (
        "cannot read video header of gone.mov: file not found"
    )


def test_an_exr_named_mov_reads_as_a_frameless_video(tmp_path: Path) -> None:
    """What happens, not what should: FFmpeg's image demuxer opens a still as a 'video' of no
    counted frames at its default 25 fps, so no error is raised."""
    path = tmp_path / "edit.mov"
    shutil.copy(write_image(tmp_path / "plate.exr"), path)
    header = traits.video_header(path)
    assert (header.codec, header.width, header.height) == ("exr", 16, 8)
    assert (header.fps, header.frame_count, header.duration) == (25.0, 0, 0.0)
    assert header.has_audio is False


def swap_for_link_after_stat(monkeypatch: pytest.MonkeyPatch, link: Path, target: Path) -> None:
    """Make the traits' lstat see the regular target, as if the link arrived just after it."""
    real = traits.stat_regular
    monkeypatch.setattr(
        traits,
        "stat_regular",
        lambda path, what: real(str(target), what) if path == str(link) else real(path, what),
    )


@pytest.mark.parametrize(
    ("write", "trait", "what"),
    [
        pytest.param(png("RGB"), traits.image_width, "image header", id="pillow"),
        pytest.param(
            lambda directory: write_video(directory / "f.mov"),
            traits.video_fps,
            "video header",
            id="video",
        ),
        pytest.param(
            lambda directory: write_image(directory / "f.exr"),
            traits.image_width,
            "image header",
            id="oiio",
        ),
    ],
)
def test_file_swapped_for_a_link_after_the_stat_is_a_trait_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[Path], Path],
    trait: Trait,
    what: str,
) -> None:
    target = write(tmp_path)
    link = tmp_path / f"link{target.suffix}"
    link.symlink_to(target)
    swap_for_link_after_stat(monkeypatch, link, target)
    assert error_of(trait, str(link)).startswith(f"cannot read {what} of {link.name}: ")


# --- one header read per file version ----------------------------------------------------------


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """Record every real read through `traits.<name>` (read_oiio or read_video)."""
    reads: list[str] = []
    real = getattr(traits, name)

    def read(path: str, *args: Any) -> Any:
        reads.append(path)
        return real(path, *args)

    monkeypatch.setattr(traits, name, read)
    return reads


@pytest.mark.parametrize(
    ("write", "reader", "five_traits"),
    [
        pytest.param(
            lambda directory: write_image(directory / "plate.exr"),
            "read_oiio",
            [
                "image_width",
                "image_height",
                "image_channel_names",
                "image_pixel_type",
                "image_compression",
            ],
            id="exr",
        ),
        pytest.param(
            lambda directory: write_video(directory / "edit.mov"),
            "read_video",
            ["video_fps", "video_codec", "video_width", "video_height", "video_frame_count"],
            id="clip",
        ),
    ],
)
def test_five_traits_read_a_file_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[Path], Path],
    reader: str,
    five_traits: list[str],
) -> None:
    path = write(tmp_path)
    reads = counting(monkeypatch, reader)
    for name in five_traits:
        getattr(traits, name)(path)
    assert (traits.header_cache_info().misses, traits.header_cache_info().hits) == (1, 4)
    assert reads == [str(path)]


def test_a_decode_first_serves_the_exr_header_traits(tmp_path: Path) -> None:
    path = write_multipart_exr(tmp_path / "beauty.exr")
    assert traits.image_decodes(path) is True
    assert (traits.image_parts(path), traits.image_width(path)) == (3, 16)
    assert (traits.header_cache_info().misses, traits.header_cache_info().hits) == (1, 2)


def test_a_rewritten_exr_is_read_again(tmp_path: Path) -> None:
    path = write_image(tmp_path / "plate.exr")
    assert traits.image_width(path) == 16
    write_image(path, size=(32, 8))
    bump_mtime(path)
    assert traits.image_width(path) == 32
    assert traits.header_cache_info().misses == 2


def test_a_rewritten_clip_is_read_again(tmp_path: Path) -> None:
    path = write_video(tmp_path / "edit.mov", fps=24)
    assert traits.video_fps(path) == 24.0
    write_video(path, fps=25)
    bump_mtime(path)
    assert traits.video_fps(path) == 25.0
    assert traits.header_cache_info().misses == 2


# --- video_decodes ---------------------------------------------------------------------------


def test_a_whole_clip_decodes(tmp_path: Path) -> None:
    assert traits.video_decodes(write_video(tmp_path / "whole.mov", frames=24)) is True


def test_a_clip_cut_short_with_its_index_first_reads_but_does_not_decode(tmp_path: Path) -> None:
    path = truncate(write_video(tmp_path / "cut.mp4", frames=48, faststart=True), 0.7)
    assert traits.video_frame_count(path) == 48  # the header alone is fooled
    traits.clear_header_cache()
    message = error_of(traits.video_decodes, path)
    assert message.startswith("cannot read video data of cut.mp4: "), message
    assert "of 48" in message and "\n" not in message


def test_a_decode_first_serves_the_video_header_traits(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mov")
    traits.video_decodes(path)
    assert (traits.video_fps(path), traits.video_codec(path)) == (24.0, "h264")
    assert traits.header_cache_info() == traits.CacheInfo(hits=2, misses=1)
