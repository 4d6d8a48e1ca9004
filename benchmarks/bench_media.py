"""Benchmark of trait reads per media format against the floor of opening a file and reading its
header bytes.

    .venv/bin/python benchmarks/bench_media.py [--files 10000] [--videos 1000] [--workdir DIR]
        [--repeats 3] [--formats exr dpx ...]

Writes one small real file per format (EXR 16x8 half RGBA zip, multi-part EXR, 10-bit DPX, tiled
TIFF, PNG and JPEG 8x8 RGB, an H.264 .mov) and copies its bytes into N files (M for the video), in
directories of 250, cached under benchmarks/.work/media-<N>/ (git-ignored, reused when present).
Then, per format, sequentially in one thread, with the page cache warm (one untimed warm-up pass
each) and the best of 3 runs, interleaved so that the three share the machine's state:

* floor:   os.open + os.fstat + os.read(fd, 4096) + os.close of every file: the least any header
  read does;
* library: the bare library header read (OpenImageIO ImageInput.open(path).spec() + close;
  Pillow Image.open(path).size; PyAV av.open(path).streams.video[0]), which splits our overhead
  from the library's;
* traits:  clear_header_cache(), then file_table.read_traits (what the update step runs: each
  file checked against its scan identity, then) the traits a specification reads: for images
  image_width, image_height, image_channel_names, image_pixel_type, image_compression; for the
  video video_fps, video_codec, video_width, video_height, video_frame_count: one header read and
  four cache hits per file (checked against header_cache_info()).

Target: traits <= 1.5x the floor for EXR, at 10,000 frames.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORKDIR = REPO / "benchmarks" / ".work"
FILES_PER_DIR = 250
DEFAULT_FILES = 10_000
DEFAULT_VIDEOS = 1_000
TARGETS = {"exr": 1.5}  # traits / floor, at DEFAULT_FILES
HEADER_BYTES = 4096


# --- formats --------------------------------------------------------------------------------


class Format(NamedTuple):
    name: str
    extension: str
    library: str  # "oiio", "pillow" or "av": which bare header read is the library column
    write: Callable[[Path], object]
    video: bool = False


def _formats() -> list[Format]:
    from hidebound_dagster_tests import images, media

    return [
        Format(
            "exr", "exr", "oiio", lambda p: media.write_image(p, attributes={"compression": "zip"})
        ),
        Format("exr-multipart", "exr", "oiio", media.write_multipart_exr),
        Format(
            "dpx-10bit",
            "dpx",
            "oiio",
            lambda p: media.write_image(
                p, channels="RGB", pixel_type="uint16", attributes={"oiio:BitsPerSample": 10}
            ),
        ),
        Format(
            "tiff-tiled",
            "tif",
            "oiio",
            lambda p: media.write_image(
                p, size=(64, 64), channels="RGB", pixel_type="uint8", tile=32
            ),
        ),
        Format("png", "png", "pillow", lambda p: images.write_png(p, "RGB", (8, 8))),
        Format("jpeg", "jpg", "pillow", lambda p: images.write_jpeg(p, "RGB", (8, 8))),
        Format("mov", "mov", "av", media.write_video, video=True),
    ]


# --- ingress generation ---------------------------------------------------------------------


def sample_bytes(fmt: Format) -> bytes:
    """One real file of the format, written once; every copy holds these bytes."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"sample.{fmt.extension}"
        fmt.write(path)
        return path.read_bytes()


def generate(target: Path, fmt: Format, count: int) -> None:
    """`count` copies of one file of `fmt` in directories of FILES_PER_DIR (built aside, then
    renamed)."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    data = sample_bytes(fmt)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for index in range(count):
        directory = partial / f"d{index // FILES_PER_DIR:04d}"
        if index % FILES_PER_DIR == 0:
            directory.mkdir(parents=True)
        handle = os.open(f"{directory}/f{index:06d}.{fmt.extension}", flags, 0o644)
        try:
            os.write(handle, data)
        finally:
            os.close(handle)
    partial.rename(target)


def ensure_files(workdir: Path, files: int, fmt: Format, count: int) -> tuple[list[str], str]:
    """The cached copies of `fmt` (sorted paths), and how they were obtained."""
    target = workdir / f"media-{files}" / f"{fmt.name}-{count}"
    how = "cached"
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        generate(target, fmt, count)
        how = f"generated in {time.perf_counter() - start:.1f} s"
    paths = sorted(
        entry.path
        for directory in sorted(os.scandir(target), key=lambda e: e.name)
        for entry in os.scandir(directory.path)
    )
    assert len(paths) == count, f"{target} holds {len(paths)} files, not {count}"
    return paths, how


# --- measurements ---------------------------------------------------------------------------


def floor(paths: list[str]) -> None:
    """The least a header read does: open, stat, read the first 4 KiB, close."""
    for path in paths:
        handle = os.open(path, os.O_RDONLY)
        os.fstat(handle)
        os.read(handle, HEADER_BYTES)
        os.close(handle)


def oiio_headers(paths: list[str]) -> None:
    import OpenImageIO as oiio  # noqa: N813 (the name its docs use)

    for path in paths:
        image = oiio.ImageInput.open(path)
        if image is None:
            raise OSError(oiio.geterror())
        image.spec()
        image.close()


def pillow_headers(paths: list[str]) -> None:
    from PIL import Image

    for path in paths:
        with Image.open(path) as image:
            image.size  # noqa: B018 (the header)


def av_headers(paths: list[str]) -> None:
    import av

    for path in paths:
        with av.open(path) as container:
            container.streams.video[0]


LIBRARIES = {"oiio": oiio_headers, "pillow": pillow_headers, "av": av_headers}
IMAGE_TRAITS = ("width", "height", "channel_names", "pixel_type", "compression")
VIDEO_TRAITS = ("fps", "codec", "width", "height", "frame_count")


def trait_functions(video: bool) -> dict[str, Callable[[str], Any]]:
    from hidebound_dagster.core import traits

    prefix, names = ("video", VIDEO_TRAITS) if video else ("image", IMAGE_TRAITS)
    return {name: getattr(traits, f"{prefix}_{name}") for name in names}


def scanned(paths: list[str]) -> list[tuple[str, tuple[int, int, int, int]]]:
    """Each path with the identity the scan records (taken before timing: the scan's cost)."""
    from hidebound_dagster.core.identity import identity_of

    return [(path, identity_of(os.lstat(path))) for path in paths]


def trait_reads(
    files: list[tuple[str, tuple[int, int, int, int]]], functions: dict[str, Callable[[str], Any]]
) -> None:
    """A specification's traits of every file as the update step reads them (read_traits: the
    file checked against its scan identity, then every trait), from a cleared header cache."""
    from hidebound_dagster.core.file_table import read_traits
    from hidebound_dagster.core.traits import clear_header_cache

    clear_header_cache()
    rows = read_traits(functions, files)
    failed = [row for row in rows if any(key.endswith("_error") for key in row)]
    assert not failed, failed[:1]


def best_of(funcs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """The best wall time of each function over `repeats` interleaved rounds, after one untimed
    warm-up round."""
    best = dict.fromkeys(funcs, float("inf"))
    for attempt in range(repeats + 1):
        for name, func in funcs.items():
            gc.collect()
            start = time.perf_counter()
            func()
            if attempt:
                best[name] = min(best[name], time.perf_counter() - start)
    return best


class Row(NamedTuple):
    fmt: Format
    files: int
    floor: float  # seconds per file
    library: float
    traits: float


def measure(fmt: Format, paths: list[str], repeats: int) -> Row:
    from hidebound_dagster.core.traits import header_cache_info

    functions = trait_functions(fmt.video)
    files = scanned(paths)
    library = LIBRARIES[fmt.library]
    seconds = best_of(
        {
            "floor": lambda: floor(paths),
            "library": lambda: library(paths),
            "traits": lambda: trait_reads(files, functions),
        },
        repeats,
    )
    info = header_cache_info()  # of the last traits run
    expected = (len(paths) * (len(functions) - 1), len(paths))
    assert (info.hits, info.misses) == expected, f"{fmt.name}: cache {info}, expected {expected}"
    count = len(paths)
    return Row(fmt, count, *(seconds[key] / count for key in ("floor", "library", "traits")))


# --- report ---------------------------------------------------------------------------------


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def libraries() -> str:
    """The versions of the three readers, and the OpenImageIO settings that could matter."""
    import av
    import OpenImageIO as oiio  # noqa: N813 (the name its docs use)
    import PIL

    settings = ", ".join(
        f"{name}={oiio.get_int_attribute(name)}" for name in ("openexr:core", "threads")
    )
    return (
        f"OpenImageIO {oiio.__version__} ({settings}), Pillow {PIL.__version__}, "
        f"PyAV {av.__version__}"
    )


def describe(fmt: Format, path: str) -> str:
    """What the traits read from the first copy, to show that the file is what it claims."""
    from hidebound_dagster.core import traits

    size = os.stat(path).st_size  # noqa: PTH116 (a str path)
    if fmt.video:
        video = traits.video_header(path)
        what = (
            f"{video.width}x{video.height} {video.codec} {video.fps:g} fps, "
            f"{video.frame_count} frames"
        )
    else:
        image = traits.image_header(path)
        what = (
            f"{image.width}x{image.height} {image.channel_names} {image.pixel_type} "
            f"{image.bit_depth}-bit {image.compression} {image.layout}, {image.parts} part(s)"
        )
    return f"  {fmt.name:<14} {size:>6} bytes: {what}"


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'format':<14} {'files':>6} {'floor µs':>9} {'library µs':>10} {'traits µs':>9} "
        f"{'traits/floor':>12} {'library/floor':>13} {'target':>7}  result"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        target = TARGETS.get(row.fmt.name)
        ratio = row.traits / row.floor
        result = "-" if target is None else ("met" if ratio <= target else "not met")
        print(
            f"{row.fmt.name:<14} {row.files:>6} {row.floor * 1e6:9.1f} {row.library * 1e6:10.1f} "
            f"{row.traits * 1e6:9.1f} {ratio:11.1f}x {row.library / row.floor:12.1f}x "
            f"{'-' if target is None else f'<={target:g}x':>7}  {result}"
        )
    print()
    print("traits - library (our overhead per file: stat, cache, safe open, the header tuple):")
    for row in rows:
        share = 100 * row.library / row.traits
        print(
            f"  {row.fmt.name:<14} {(row.traits - row.library) * 1e6:7.1f} µs; the library's "
            f"bare header read is {share:.0f} % of the trait read"
        )


def main(argv: list[str] | None = None) -> int:
    formats = _formats()
    names = [fmt.name for fmt in formats]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=DEFAULT_FILES, help="copies per image format")
    parser.add_argument("--videos", type=int, default=DEFAULT_VIDEOS, help="copies of the video")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", nargs="+", choices=names, default=names)
    args = parser.parse_args(argv)
    if args.files < 1 or args.videos < 1 or args.repeats < 1:
        parser.error("--files, --videos and --repeats must be at least 1")
    workdir = args.workdir.resolve()

    chosen = [fmt for fmt in formats if fmt.name in args.formats]
    corpus = {}
    for fmt in chosen:
        count = args.videos if fmt.video else args.files
        corpus[fmt.name], how = ensure_files(workdir, args.files, fmt, count)
        print(f"{fmt.name}: {count} files under {workdir / f'media-{args.files}'} ({how})")
    print(f"readers: {libraries()}")
    print("samples, as the traits read them:")
    for fmt in chosen:
        print(describe(fmt, corpus[fmt.name][0]))
    print(
        f"timing: page cache warm, one thread, one untimed warm-up then best of {args.repeats} "
        f"(interleaved); {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load average {load_average()}"
    )
    rows = [measure(fmt, corpus[fmt.name], args.repeats) for fmt in chosen]
    print()
    print_table(rows)
    note = "" if args.files == DEFAULT_FILES else f" (the target is set for {DEFAULT_FILES} files)"
    print(f"\nload average after timing: {load_average()}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
