"""Tables on disk: Parquet, written atomically, with mixed-type columns kept readable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def arrow_table(table: pd.DataFrame, types: Mapping[str, pa.DataType] | None = None) -> pa.Table:
    """The DataFrame as Arrow, declared columns in their declared types; an undeclared column
    whose values mix types is stored as text."""
    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        mixed = {
            column: table[column].map(lambda v: None if v is None else str(v))
            for column in table.select_dtypes(include="object").columns
            if column not in (types or {}) and _mixed(table[column])
        }
        arrow = pa.Table.from_pandas(table.assign(**mixed), preserve_index=False)
    for column, kind in (types or {}).items():
        index = arrow.schema.get_field_index(column)
        values = arrow.column(index)
        typed = values.cast(kind) if values.num_chunks else pa.chunked_array([], type=kind)
        arrow = arrow.set_column(index, pa.field(column, kind), typed)
    return arrow


def _mixed(column: pd.Series) -> bool:
    try:
        pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return True
    return False


def write_table(
    table: pd.DataFrame, path: Path, types: Mapping[str, pa.DataType] | None = None
) -> None:
    """Write Parquet to a temporary name, then rename, so readers never see half a table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(arrow_table(table, types), temporary)
    temporary.replace(path)


def read_table(path: Path) -> pd.DataFrame:
    """Read a table written by write_table. An empty table's text columns come back as object:
    pandas can neither join on nor hand back to Arrow an empty Arrow-backed string column."""
    table = pq.read_table(path).to_pandas()
    if table.empty:
        strings = [c for c in table.columns if isinstance(table[c].dtype, pd.StringDtype)]
        table = table.astype(dict.fromkeys(strings, object))
    return table
