"""Declared table schemas: builders produce them, the tables keep them through Parquet, and a
table that does not fit is refused with the columns named."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.schemas import (
    FILE_TABLE,
    SchemaError,
    arrow_fields,
    conform,
)
from hidebound_dagster.core.tables import read_table, write_table
from hidebound_dagster_tests.conftest import write_frames

BIG_NS = 1_700_000_000_123_456_789  # above 2**53: a float cannot hold it


def test_the_file_table_has_every_declared_column_in_its_type(tmp_path: Path, specs) -> None:
    (frame,) = write_frames(tmp_path, "proj/seq001/p-proj_s-seq001_d-walk_v001", [1])
    os.utime(frame, ns=(BIG_NS, BIG_NS))
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere.png")  # a row without facts
    table = build_file_table(tmp_path, specs)
    for column, kind in FILE_TABLE.items():
        assert column in table, column
        if kind == "Int64":
            assert str(table[column].dtype) == "Int64", column
    row = table.set_index("filepath_relative").loc[frame.relative_to(tmp_path).as_posix()]
    assert row["mtime_ns"] == BIG_NS


def test_a_null_in_one_row_never_changes_another_through_parquet(tmp_path: Path, specs) -> None:
    (frame,) = write_frames(tmp_path, "proj/seq001/p-proj_s-seq001_d-walk_v001", [1])
    os.utime(frame, ns=(BIG_NS, BIG_NS))
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    table = build_file_table(tmp_path, specs)
    path = tmp_path.parent / f"{tmp_path.name}-table.parquet"
    write_table(table, path, arrow_fields(table, FILE_TABLE))
    back = conform(read_table(path), FILE_TABLE, "file_table")
    assert str(back["mtime_ns"].dtype) == "Int64"
    assert back["mtime_ns"].tolist() == table["mtime_ns"].tolist()
    assert BIG_NS in back["mtime_ns"].dropna().tolist()
    assert back["mtime_ns"].isna().sum() == 1


def minimal(**changes: object) -> pd.DataFrame:
    row = {column: ("x" if kind == "text" else 1) for column, kind in FILE_TABLE.items()}
    return pd.DataFrame([{**row, **changes}])


def test_a_missing_column_is_named() -> None:
    with pytest.raises(SchemaError, match=r"file_table: missing columns \['inode'\]"):
        conform(minimal().drop(columns="inode"), FILE_TABLE, "file_table")


def test_a_fractional_number_in_an_integer_column_is_refused() -> None:
    with pytest.raises(SchemaError, match="mtime_ns: not Int64"):
        conform(minimal(mtime_ns=1.5), FILE_TABLE, "file_table")


def test_a_number_in_a_text_column_is_refused() -> None:
    with pytest.raises(SchemaError, match="file_error: not text"):
        conform(minimal(file_error=3), FILE_TABLE, "file_table")


def test_conform_casts_declared_integers_to_nullable_int64() -> None:
    table = conform(minimal(size=7.0), FILE_TABLE, "file_table")
    assert str(table["size"].dtype) == "Int64"
    assert table["size"].tolist() == [7]
