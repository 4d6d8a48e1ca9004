"""Video headers through PyAV (FFmpeg): the container's and first video stream's headers, read
from the already opened regular file; no frame is decoded."""

from __future__ import annotations

from fractions import Fraction

from hidebound_dagster.core.headers import (
    TraitError,
    VideoHeader,
    message,
    one_line,
    open_regular,
)


def read_video(path: str, size: int) -> VideoHeader:
    """The headers of the video at `path`; a TraitError naming the file when FFmpeg cannot
    read them or the file holds no video stream."""
    import av  # imported on first use: most runs never read a video

    try:
        with open_regular(path, "video header") as handle, av.open(handle, "r") as container:
            if not container.streams.video:
                raise TraitError(message("video header", path, "no video stream"))
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(0)
            seconds = _seconds(stream.duration, stream.time_base, container.duration)
            timecodes = [s.metadata.get("timecode") for s in container.streams]
            return VideoHeader(
                duration=round(seconds, 3),
                fps=round(float(rate), 3),
                frame_count=stream.frames or round(seconds * float(rate)),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                codec=stream.codec_context.name,
                pixel_format=stream.codec_context.pix_fmt or "unknown",
                has_audio=bool(container.streams.audio),
                timecode=next(filter(None, timecodes), container.metadata.get("timecode")),
            )
    except TraitError:
        raise
    except Exception as error:
        reason = f"not a readable video ({size} bytes): {_without_path(one_line(error), path)}"
        raise TraitError(message("video header", path, reason)) from error


def _seconds(duration: int | None, time_base: Fraction | None, container: int | None) -> float:
    """The stream's duration in seconds, else the container's (FFmpeg counts microseconds)."""
    if duration and time_base:
        return float(duration * time_base)
    return (container or 0) / 1_000_000


def _without_path(text: str, path: str) -> str:
    """FFmpeg's message without the ': <file>' it appends (the message names the file)."""
    return text.split(": '", 1)[0].removeprefix("[Errno ").split("] ", 1)[-1]
