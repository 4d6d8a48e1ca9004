"""Lookups of whole columns through pyarrow's hash tables and compute kernels: which values
are in a pool, where each one is, and where two columns agree. No Python object per value."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def texts(values: pd.Series | Iterable[str]) -> pa.Array:
    """Text as an Arrow array (an Arrow-backed column as it is, without a Python object per
    value), for lookups by pyarrow's hash tables."""
    if isinstance(values, pd.Series):
        return pa.array(values, type=pa.string(), from_pandas=True)
    return pa.array(list(values), type=pa.string())


def among(values: pd.Series, pool: pd.Series | Iterable[str]) -> pd.Series:
    """Whether each value is one of the pool's (missing values are not)."""
    found = pc.is_in(texts(values), value_set=texts(pool)).fill_null(False)
    return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index, dtype=bool)


def positions(values: pd.Series, pool: pd.Series) -> np.ndarray:
    """Where each value first is in the pool, -1 where it is not."""
    found = pc.index_in(texts(values), value_set=texts(pool)).fill_null(-1)
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def same_values(now: pd.Series, then: pd.Series) -> np.ndarray:
    """Where two aligned columns of one kind hold the same value, both missing counting as the
    same."""
    left, right = pa.array(now, from_pandas=True), pa.array(then, from_pandas=True)
    if pa.types.is_null(left.type):  # a column of None only
        left = left.cast(right.type)
    elif left.type != right.type:
        right = right.cast(left.type)
    equal = pc.fill_null(pc.equal(left, right), False)
    both_missing = pc.and_(left.is_null(), right.is_null())
    return pc.or_(equal, both_missing).to_numpy(zero_copy_only=False)
