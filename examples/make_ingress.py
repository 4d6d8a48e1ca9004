"""Write the bundled example ingress: valid and invalid assets of every example spec.

Run `python examples/make_ingress.py` to recreate examples/ingress (it is committed as well).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

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


if __name__ == "__main__":
    main()
