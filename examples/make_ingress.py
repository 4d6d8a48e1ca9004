"""Write the bundled example ingress: valid and invalid assets of every example spec.

Run `python examples/make_ingress.py` to recreate examples/ingress (it is committed as well).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PIL import Image

from hidebound_dagster_tests.media import truncate, write_image, write_multipart_exr, write_video

ROOT = Path(__file__).resolve().parent / "ingress"


def png(relative: str, mode: str = "RGB", size: tuple[int, int] = (8, 8)) -> None:
    """A tiny real PNG at ingress/relative."""
    path = ROOT / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size).save(path)


def sequence(directory: str, frames: list[int], mode: str = "RGB", name: str = "") -> None:
    """PNG frames named after their asset directory."""
    asset = name or directory.rpartition("/")[2]
    for frame in frames:
        png(f"{directory}/{asset}_f{frame:04d}.png", mode)


def tiles(directory: str, maps: list[str], coordinates: list[tuple[int, int]]) -> None:
    """Texture tiles in one sub-directory per map."""
    asset = directory.rpartition("/")[2]
    for name in maps:
        for x, y in coordinates:
            png(f"{directory}/{name}/{asset}_c{x:04d}-{y:04d}.png", size=(4, 4))


def frames(spec: str, descriptor: str, numbers: list[int], write: Callable[[Path], Path]) -> None:
    """Numbered frames of one VFX sequence asset, each written by `write`."""
    asset = f"p-cat001_s-{spec}_d-{descriptor}_v001"
    extension = {"scn001": "dpx"}.get(spec, "exr")
    for number in numbers:
        write(ROOT / f"cat001/{spec}/{asset}/{asset}_f{number:04d}.{extension}")


def vfx() -> None:
    """The VFX examples: valid plates, renders, scans, textures and reviews, and broken ones
    (a truncated frame, a wrong pixel type, a missing AOV, an odd frame rate)."""
    plate = partial(write_image, attributes={"compression": "zip"})
    frames("plt001", "bg", [1001, 1002, 1003], plate)
    frames("rnd001", "beauty", [1001, 1002], write_multipart_exr)
    dpx = partial(write_image, channels="RGB", pixel_type="uint16")
    frames("scn001", "neg", [1001, 1002], partial(dpx, attributes={"oiio:BitsPerSample": 10}))
    rock = "cat001/txr001/p-cat001_s-txr001_d-rock_v001"
    for x, y in [(0, 0), (1, 0), (0, 1), (1, 1)]:
        tile = ROOT / f"{rock}/p-cat001_s-txr001_d-rock_v001_c{x:04d}-{y:04d}.tif"
        write_image(tile, (64, 64), "RGB", "uint8", tile=32)
    write_video(ROOT / "cat001/rev001/p-cat001_s-rev001_d-edit_v001.mov", timecode="01:00:00:00")
    write_video(ROOT / "cat001/rev001/p-cat001_s-rev001_d-dailies_v001.mp4", fps=25, audio=True)
    # broken
    frames("plt001", "truncated", [1001, 1002], partial(plate, size=(64, 32)))
    truncate(next((ROOT / "cat001/plt001/p-cat001_s-plt001_d-truncated_v001").glob("*1002.exr")))
    frames("plt001", "float", [1001, 1002], partial(plate, pixel_type="float"))
    frames("rnd001", "no-specular", [1001], partial(write_multipart_exr, aovs=["diffuse"]))
    write_video(ROOT / "cat001/rev001/p-cat001_s-rev001_d-odd-rate_v001.mov", fps=12)


def main() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    seqs = "cat001/raw001"
    # valid
    sequence(f"{seqs}/p-cat001_s-raw001_d-calico-jumping_v001", [1, 2, 3])
    sequence(f"{seqs}/p-cat001_s-raw001_d-tabby-playing_v002", [1, 2, 3], mode="L")
    png("cat001/img001/p-cat001_s-img001_d-calico-portrait_v001.png", size=(6, 4))
    grid = [(0, 0), (0, 1), (1, 0), (1, 1)]
    tiles("cat001/tex001/p-cat001_s-tex001_d-fur_v001", ["diffuse", "normal"], grid)
    # invalid: a badly named frame (the README's example), RGBA frames, a missing frame
    running = f"{seqs}/p-cat001_s-raw001_d-running-cat_v001"
    sequence(running, [1, 3])
    sequence(running, [2], name="p-cat001_s-raw001_d-Running-Cat_v001")
    sequence(f"{seqs}/p-cat001_s-raw001_d-rgba-frames_v001", [1, 2], mode="RGBA")
    sequence(f"{seqs}/p-cat001_s-raw001_d-gap_v001", [1, 2, 4])
    corrupt = ROOT / "cat001/img001/p-cat001_s-img001_d-corrupt_v001.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    tiles("cat001/tex001/p-cat001_s-tex001_d-scales_v001", ["diffuse"], grid[:3])
    # no asset: no specification, an unknown specification
    (ROOT / "cat001/notes.txt").write_text("shot notes\n")
    (ROOT / "cat001/p-cat001_s-vid009_d-clip_v001.mov").write_bytes(b"\0" * 16)
    vfx()


if __name__ == "__main__":
    main()
