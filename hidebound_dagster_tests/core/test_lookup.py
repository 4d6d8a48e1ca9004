"""Column lookups through pyarrow: agreement of two columns, both missing counting as equal."""

import pandas as pd

from hidebound_dagster.core.lookup import among, positions, same_values


def test_same_values_counts_both_missing_as_the_same_and_one_missing_as_different() -> None:
    now = pd.Series(["a", None, None, "d", "e"], dtype=object)
    then = pd.Series(["a", None, "c", None, "x"], dtype="str")
    assert same_values(now, then).tolist() == [True, True, False, False, False]


def test_same_values_of_a_column_of_none_only_against_text() -> None:
    now = pd.Series([None, None], dtype=object)
    then = pd.Series([None, "/ingress/target.png"], dtype=object)
    assert same_values(now, then).tolist() == [True, False]


def test_same_values_of_nullable_integers_exactly() -> None:
    big = 1_733_000_000_123_456_789  # a nanosecond time: not exact as a float
    now = pd.array([big, big, None], dtype="Int64")
    then = pd.array([big, big + 1, None], dtype="Int64")
    assert same_values(pd.Series(now), pd.Series(then)).tolist() == [True, False, True]


def test_positions_and_membership_by_value() -> None:
    values = pd.Series(["b", "z", None, "a"])
    pool = pd.Series(["a", "b", "c"])
    assert positions(values, pool).tolist() == [1, -1, -1, 0]
    assert among(values, pool).tolist() == [True, False, False, True]
