"""Killing a forked worker child safely: through a pidfd, so a signal can only reach that
process, never a later one that reuses its pid."""

from __future__ import annotations

import os
import signal


def pidfd(pid: int) -> int | None:
    """A handle on the forked child, taken at once (None if it has already ended)."""
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


def kill(handle: int | None) -> None:
    """SIGKILL the child behind the handle (nothing if it has already ended)."""
    if handle is None:
        return
    try:
        signal.pidfd_send_signal(handle, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        os.close(handle)
