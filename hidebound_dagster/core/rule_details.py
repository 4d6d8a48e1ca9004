"""What broke an asset rule, with its values: the missing frames, the holes in a coordinate
grid, the first coordinate, the odd files. Computed for the failing assets only, one asset at a
time (a rule's verdict is vectorised; its explanation is a few lines per broken asset)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

MAX_SHOWN = 10  # values, files or coordinates named in one explanation
FRAME_PADDING = 4  # frames are written f0001 in file names
MAX_GRID = 100_000  # cells of a grid whose holes are listed


def compact(numbers: Iterable[int], pad: int = 0) -> str:
    """Whole numbers written the way VFX tools write frame ranges: 3, 5-7, 10-20x5."""
    values = sorted(set(numbers))
    chunks: list[str] = []
    start = 0
    while start < len(values):
        end = start
        step = values[start + 1] - values[start] if start + 1 < len(values) else 0
        while end + 1 < len(values) and values[end + 1] - values[end] == step:
            end += 1
        first, last = (f"{values[i]:0{pad}d}" for i in (start, end))
        if step == 1 and end > start:
            chunks.append(f"{first}-{last}")
        elif end - start >= 2:
            chunks.append(f"{first}-{last}x{step}")
        else:
            chunks.append(first)
            end = start
        start = end + 1
    shown = chunks[:MAX_SHOWN]
    more = f" and {len(chunks) - MAX_SHOWN} more ranges" if len(chunks) > MAX_SHOWN else ""
    return ", ".join(shown) + more


def _names(files: pd.Series) -> str:
    listed = ", ".join(sorted(files.astype(str))[:MAX_SHOWN])
    return listed + (f" and {len(files) - MAX_SHOWN} more" if len(files) > MAX_SHOWN else "")


def _coordinate(value: Any) -> str:
    return "[" + ", ".join(str(int(axis)) for axis in value) + "]"


def _pad(column: str) -> int:
    return FRAME_PADDING if column == "frame" else 0


def contiguous(rows: pd.DataFrame, column: str) -> str:
    numbers = pd.to_numeric(rows[column], errors="coerce")
    odd = rows.loc[numbers.isna() | (numbers % 1 != 0), "filename"]
    if len(odd):
        return f"{column} is not a whole number in {_names(odd)}"
    present = set(numbers.astype(int))
    missing = set(range(min(present), max(present) + 1)) - present
    return f"{column} {compact(missing, _pad(column))} missing" if missing else ""


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def homogeneous(rows: pd.DataFrame, column: str) -> str:
    values = rows[column].map(repr)
    counts = values.value_counts()
    if len(counts) == 1:
        return ""
    if len(counts) == len(rows) > MAX_SHOWN:
        return f"{column} differs in every one of the {_files(len(rows))}"
    usual = min(counts.index, key=lambda value: (-counts[value], value))  # ties: the first name
    odd = rows[values != usual].groupby(values[values != usual])["filename"]
    parts = [f"{column} {value} in {_names(files)}" for value, files in odd][:MAX_SHOWN]
    more = f"; {len(counts) - 1 - MAX_SHOWN} more values" if len(counts) - 1 > MAX_SHOWN else ""
    return "; ".join(parts) + more + f"; {usual} in the other {_files(counts[usual])}"


def _axes(rows: pd.DataFrame, column: str) -> list[tuple[int, ...]]:
    return [tuple(int(axis) for axis in value) for value in rows[column]]


def dense(rows: pd.DataFrame, column: str) -> str:
    coords = _axes(rows, column)
    sizes = sorted({len(coord) for coord in coords})
    if len(sizes) > 1:
        return f"{column} values have {' and '.join(map(str, sizes))} axes"
    ranges = [range(min(axis), max(axis) + 1) for axis in zip(*coords, strict=True)]
    cells = 1
    for span in ranges:
        cells *= len(span)
    present = set(coords)
    if cells > MAX_GRID:
        return f"{column} values fill {len(present)} of the {cells} cells of their grid"
    holes = [cell for cell in itertools.product(*ranges) if cell not in present]
    if not holes:
        return ""
    shown = ", ".join(map(_coordinate, holes[:MAX_SHOWN]))
    more = f" and {len(holes) - MAX_SHOWN} more" if len(holes) > MAX_SHOWN else ""
    return f"{column} {shown}{more} missing from the grid"


def uniform_count(rows: pd.DataFrame, column: str) -> str:
    counts = pd.Series(_axes(rows, column)).value_counts()
    usual = counts.mode().max()  # ties: the larger count
    odd = counts[counts != usual]
    if odd.empty:
        return ""
    listed = ", ".join(f"{_coordinate(c)} {_times(n)}" for c, n in odd.head(MAX_SHOWN).items())
    return f"{column} {listed}; every other value {_times(usual)}"


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def begins_at(rows: pd.DataFrame, column: str, origin: Sequence[int]) -> str:
    first = min(_axes(rows, column))
    if first == tuple(origin):
        return ""
    return f"first {column} is {_coordinate(first)}, not {_coordinate(origin)}"


EXPLAIN: dict[str, Callable[..., str]] = {
    "is_contiguous": contiguous,
    "is_homogeneous": homogeneous,
    "has_dense_coordinates": dense,
    "has_uniform_coordinate_count": uniform_count,
    "coordinates_begin_at": begins_at,
}


def explain(rule: str, rows: pd.DataFrame, columns: Sequence[str], **options: Any) -> pd.Series:
    """Per asset path of `rows` (the rows of the assets that broke `rule`), what broke it;
    empty when the rule has no explanation."""
    how = EXPLAIN.get(rule)
    if how is None or rows.empty:
        return pd.Series(dtype=object)

    def one_asset(asset: pd.DataFrame) -> str:
        lines = []
        for column in columns:
            try:
                lines.append(how(asset, column, **options))
            except (TypeError, ValueError):  # values the rule itself refused as malformed
                continue
        return "; ".join(line for line in lines if line)

    return rows.groupby("asset_path")[list(rows.columns)].apply(one_asset)
