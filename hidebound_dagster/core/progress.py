"""Progress of a long stage: start, every tenth of the way, and end, each logged once."""

from __future__ import annotations

from collections.abc import Callable


class Progress:
    """Logs `stage: 30% (3 of 10)` when a new tenth of the work is complete."""

    def __init__(self, log: Callable[[str], None], stage: str, total: int) -> None:
        self.log, self.stage, self.total = log, stage, total
        self.logged_tenth = 0  # the start is logged by the stage itself

    def __call__(self, done: int) -> None:
        tenth = 10 if self.total == 0 else done * 10 // self.total
        if tenth > self.logged_tenth:
            self.logged_tenth = tenth
            self.log(f"{self.stage}: {tenth * 10}% ({done} of {self.total})")
