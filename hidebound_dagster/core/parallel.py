"""How per-item work is spread out: a mapper applies a function to items, in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Mapper(Protocol):
    """Anything that maps a function over items and returns the results in item order."""

    def __call__(self, func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]: ...


def serial_map(func: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """The simplest mapper: one item after another, in this thread."""
    return [func(item) for item in items]


def thread_mapper(max_workers: int = 8) -> Mapper:
    """A thread-pool mapper for I/O-bound work; items not started yet are cancelled once one
    fails, so a failure stops the work early."""

    def mapper(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if not items:
            return []
        with ThreadPoolExecutor(min(max_workers, len(items))) as pool:
            futures = [pool.submit(func, item) for item in items]
            try:
                return [future.result() for future in futures]
            finally:
                for future in futures:
                    future.cancel()

    return mapper


def chunked(items: Sequence[T], chunks: int) -> list[list[T]]:
    """Split items into at most `chunks` contiguous, nearly equal, non-empty lists."""
    chunks = max(1, min(chunks, len(items)))
    size, rest = divmod(len(items), chunks)
    bounds = [i * size + min(i, rest) for i in range(chunks + 1)]
    return [list(items[lo:hi]) for lo, hi in pairwise(bounds) if hi > lo]


def map_chunked(
    mapper: Mapper,
    func: Callable[[list[T]], list[R]],
    items: Sequence[T],
    chunks: int,
    progress: Callable[[int], None] | None = None,
) -> list[R]:
    """Apply a chunk-level function through a mapper and flatten the results in item order.
    With `progress`, chunks go in up to ten waves and progress(items done) follows each."""
    parts = chunked(items, chunks * (10 if progress else 1))
    waves = chunked(parts, 10) if progress else [parts]
    results: list[R] = []
    for wave in waves:
        results += [value for chunk in mapper(func, wave) for value in chunk]
        if progress:
            progress(len(results))
    return results
