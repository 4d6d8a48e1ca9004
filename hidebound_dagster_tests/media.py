"""Write small real VFX and video files for tests and the bundled example: EXR (single and
multi-part), DPX, tiled TIFF through OpenImageIO, and H.264 or MPEG-4 clips through PyAV. Each
is a few KiB; the pixels are a ramp so a decode has something to check."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import OpenImageIO as oiio  # noqa: N813 (the name its docs use)

RGBA = ("R", "G", "B", "A")
AOVS = ("diffuse", "specular")
FIXED_TIME = "2026:12:01 00:00:00"


def write_image(
    path: Path | str,
    size: tuple[int, int] = (16, 8),
    channels: Sequence[str] = RGBA,
    pixel_type: str = "half",
    attributes: dict[str, object] | None = None,
    tile: int = 0,
) -> Path:
    """One image of `size` (width, height) in any format OpenImageIO writes, chosen by the
    extension; `attributes` become header attributes (`compression`, `oiio:BitsPerSample`...)."""
    spec = _spec(size, channels, pixel_type, attributes or {})
    if tile:
        spec.tile_width = spec.tile_height = tile
    return _write(Path(path), [spec])


def write_multipart_exr(
    path: Path | str,
    size: tuple[int, int] = (16, 8),
    aovs: Sequence[str] = AOVS,
    pixel_type: str = "half",
) -> Path:
    """A multi-part EXR render: part `rgba` (R,G,B,A), then one part per AOV (`diffuse.R`...)."""
    specs = [_spec(size, RGBA, pixel_type, {"name": "rgba"})]
    specs += [_spec(size, [f"{aov}.{c}" for c in "RGB"], pixel_type, {"name": aov}) for aov in aovs]
    return _write(Path(path), specs)


def write_video(
    path: Path | str,
    fps: int = 24,
    frames: int = 12,
    size: tuple[int, int] = (32, 16),
    codec: str = "libx264",
    timecode: str | None = None,
    audio: bool = False,
    faststart: bool = False,
) -> Path:
    """A short clip (`.mov`, `.mp4`...), optionally with a start timecode, a silent audio track,
    and its index first (`faststart`: a clip cut short then keeps a readable header)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if timecode:
            stream.metadata["timecode"] = timecode
        sound = container.add_stream("aac", rate=8000) if audio else None
        for index in range(frames):
            pixels = np.full((size[1], size[0], 3), index * 16 % 256, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
        if sound is not None:
            silence = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            silence.sample_rate = 8000
            container.mux(sound.encode(silence))
            container.mux(sound.encode())
    return path


def truncate(path: Path, keep: float = 0.6) -> Path:
    """Cut the file to `keep` of its bytes, as a copy killed mid-write leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _spec(
    size: tuple[int, int], channels: Sequence[str], pixel_type: str, attributes: dict[str, object]
) -> oiio.ImageSpec:
    spec = oiio.ImageSpec(size[0], size[1], len(channels), pixel_type)
    spec.channelnames = tuple(channels)
    spec.attribute("DateTime", FIXED_TIME)  # the same bytes on every run of make_ingress
    for name, value in attributes.items():
        spec.attribute(name, value)
    return spec


def _write(path: Path, specs: list[oiio.ImageSpec]) -> Path:
    """Write every part (a ramp of pixels each), creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    output = oiio.ImageOutput.create(str(path))
    if output is None:
        raise ValueError(f"OpenImageIO cannot write {path.name}: {oiio.geterror()}")
    opened = output.open(str(path), specs) if len(specs) > 1 else output.open(str(path), specs[0])
    if not opened:
        raise ValueError(f"OpenImageIO cannot write {path.name}: {output.geterror()}")
    for index, spec in enumerate(specs):
        if index:
            output.open(str(path), spec, "AppendSubimage")
        output.write_image(_ramp(spec))
    output.close()
    return path


def _ramp(spec: oiio.ImageSpec) -> np.ndarray:
    """Pixels rising left to right, in the spec's pixel type."""
    dtype = {"half": np.float16, "float": np.float32, "uint8": np.uint8, "uint16": np.uint16}
    ramp = np.linspace(0, 1, spec.width, dtype=np.float32)
    pixels = np.broadcast_to(ramp[None, :, None], (spec.height, spec.width, spec.nchannels))
    kind = dtype[str(spec.format)]
    scale = np.iinfo(kind).max if np.issubdtype(kind, np.integer) else 1
    return (pixels * scale).astype(kind)
