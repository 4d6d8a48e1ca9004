"""Failure handling shared by the exporters: the error type and retries with backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


class ExportError(RuntimeError):
    """An export failed; the message names the exporter and its target and holds no secret."""

    def __init__(self, exporter: str, target: str, problem: str) -> None:
        super().__init__(f"{exporter} export to {target} failed: {problem}")
        self.exporter = exporter
        self.target = target
        self.problem = problem

    def __reduce__(self):
        return type(self), (self.exporter, self.target, self.problem)


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter for the given 1-based attempt that just failed."""
    return min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def retry(
    call: Callable[[], R],
    is_transient: Callable[[BaseException], bool],
    attempts: int = 5,
    base_delay: float = 0.25,
    max_delay: float = 8.0,
    sleep: Callable[[float], None] = time.sleep,
) -> R:
    """Run `call`, retrying transient failures with exponential backoff; re-raise the last one."""
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, not {attempts}")
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as error:
            if attempt >= attempts or not is_transient(error):
                raise
            sleep(backoff_delay(attempt, base_delay, max_delay))
    raise AssertionError("unreachable")
