"""Progress of a long stage: every tenth of the way, each logged once, and only once the stage
has run for a second (a quick stage says only that it finished)."""

from __future__ import annotations

import time
from collections.abc import Callable

QUIET_SECONDS = 1.0


class Progress:
    """Logs `stage: 30% (3 of 10)` when a new tenth of the work is complete."""

    def __init__(
        self,
        log: Callable[[str], None],
        stage: str,
        total: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log, self.stage, self.total, self.clock = log, stage, total, clock
        self.started = clock()
        self.logged_tenth = 0  # the start is logged by the stage itself

    def __call__(self, done: int) -> None:
        tenth = 10 if self.total == 0 else done * 10 // self.total
        if tenth > self.logged_tenth and self.clock() - self.started >= QUIET_SECONDS:
            self.logged_tenth = tenth
            self.log(f"{self.stage}: {tenth * 10}% ({done} of {self.total})")
