"""Video headers through PyAV (FFmpeg): the container's and first video stream's headers, read
from the already opened regular file; frames are decoded only when a specification asks
(`video_decodes`)."""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

from hidebound_dagster.core.headers import (
    TraitError,
    VideoHeader,
    message,
    one_line,
    open_regular,
)

#: A decode slower than this is reported as an error (FFmpeg decodes frame by frame, so memory
#: stays small; time is what a huge or hostile clip costs).
DECODE_MAX_SECONDS = 120.0


def read_video(path: str, size: int, decode: bool = False) -> VideoHeader:
    """The headers of the video at `path` and, with `decode`, every frame of its first video
    stream decoded; a TraitError naming the file when FFmpeg cannot read them, the file holds
    no video stream, or a frame does not decode."""
    import av  # imported on first use: most runs never read a video

    try:
        with open_regular(path, "video header") as handle, av.open(handle, "r") as container:
            if not container.streams.video:
                raise TraitError(message("video header", path, "no video stream"))
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(0)
            seconds = _seconds(stream.duration, stream.time_base, container.duration)
            timecodes = [s.metadata.get("timecode") for s in container.streams]
            header = VideoHeader(
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
            if decode:
                _decode(container, stream, header, path)
            return header
    except TraitError:
        raise
    except Exception as error:
        reason = f"not a readable video ({size} bytes): {_without_path(one_line(error), path)}"
        raise TraitError(message("video header", path, reason)) from error


def _decode(container: Any, stream: Any, header: VideoHeader, path: str) -> None:
    """Decode every frame of the stream; fewer frames than the header counts is an error (a
    clip cut short in its data, with its index intact)."""
    start, decoded = time.monotonic(), 0
    try:
        for _frame in container.decode(stream):
            decoded += 1
            if time.monotonic() - start > DECODE_MAX_SECONDS:
                reason = f"took over {DECODE_MAX_SECONDS:.0f} s to decode"
                raise TraitError(message("video data", path, reason))
    except TraitError:
        raise
    except Exception as error:
        detail = _without_path(one_line(error), path)
        reason = f"frame {decoded + 1} of {header.frame_count} does not decode: {detail}"
        raise TraitError(message("video data", path, reason)) from error
    if decoded < header.frame_count:
        reason = f"{decoded} of {header.frame_count} frames decode"
        raise TraitError(message("video data", path, reason))


def _seconds(duration: int | None, time_base: Fraction | None, container: int | None) -> float:
    """The stream's duration in seconds, else the container's (FFmpeg counts microseconds)."""
    if duration and time_base:
        return float(duration * time_base)
    return (container or 0) / 1_000_000


def _without_path(text: str, path: str) -> str:
    """FFmpeg's message without the ': <file>' it appends (the message names the file)."""
    return text.split(": '", 1)[0].removeprefix("[Errno ").split("] ", 1)[-1]
