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


def chunk_bounds(count: int, chunks: int) -> list[tuple[int, int]]:
    """At most `chunks` contiguous, nearly equal, non-empty [low, high) ranges of count items."""
    chunks = max(1, min(chunks, count))
    size, rest = divmod(count, chunks)
    bounds = [i * size + min(i, rest) for i in range(chunks + 1)]
    return [(lo, hi) for lo, hi in pairwise(bounds) if hi > lo]


def chunked(items: Sequence[T], chunks: int) -> list[list[T]]:
    """Split items into at most `chunks` contiguous, nearly equal, non-empty lists."""
    return [list(items[lo:hi]) for lo, hi in chunk_bounds(len(items), chunks)]


def map_chunks(
    mapper: Mapper,
    func: Callable[[list[T]], R],
    items: Sequence[T],
    chunks: int,
    progress: Callable[[int], None] | None = None,
) -> list[R]:
    """Apply a chunk-level function through a mapper: one result per chunk, in item order.
    With `progress`, chunks go in up to ten waves and progress(items done) follows each. Each
    wave's chunks are cut from `items` when the wave starts, so a sequence that builds its
    items on slicing holds one wave of them at a time."""
    bounds = chunk_bounds(len(items), chunks * (10 if progress else 1))
    waves = chunked(bounds, 10) if progress else [bounds]
    results: list[R] = []
    done = 0
    for wave in waves:
        results += mapper(func, [list(items[lo:hi]) for lo, hi in wave])
        done += sum(hi - lo for lo, hi in wave)
        if progress:
            progress(done)
    return results


def map_chunked(
    mapper: Mapper,
    func: Callable[[list[T]], list[R]],
    items: Sequence[T],
    chunks: int,
    progress: Callable[[int], None] | None = None,
) -> list[R]:
    """Apply a chunk-level function through a mapper and flatten the results in item order."""
    return [value for chunk in map_chunks(mapper, func, items, chunks, progress) for value in chunk]
