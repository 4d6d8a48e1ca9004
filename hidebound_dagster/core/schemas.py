"""The declared schemas of the tables that pass between steps.

Every column the steps rely on is declared here with its type: integers are nullable Int64
(a missing size in one row can never turn every other row's nanosecond time into a rounded
float), verdicts are plain booleans, and text is text. Builders produce these tables, and the
IO manager conforms every table to its schema when it writes it and when it reads it back.
Columns a specification adds (its traits) travel with the dtypes that specification declares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
import pyarrow as pa

TEXT = "text"  # str or None per cell; the pandas dtype (str or object) is left as built

FILE_TABLE: dict[str, str] = {
    "filepath_relative": TEXT,
    "filename": TEXT,
    "specification": TEXT,
    "asset_type": TEXT,
    "asset_name": TEXT,
    "asset_path": TEXT,
    "extension": TEXT,
    "scan_error": TEXT,
    "link_target": TEXT,
    "spec_error": TEXT,
    "filename_error": TEXT,
    "path_error": TEXT,
    "file_error": TEXT,
    "size": "Int64",
    "mtime_ns": "Int64",
    "device": "Int64",
    "inode": "Int64",
    "filepath": TEXT,
    "file_id": TEXT,
    "asset_id": TEXT,
}
#: Errors about the file itself, in the order they are reported; trait errors follow.
FILE_ERRORS = ["scan_error", "spec_error", "filename_error", "path_error"]


def trait_error_columns(columns: Iterable[str]) -> list[str]:
    """The `<trait>_error` columns among a file table's columns, sorted."""
    return sorted(
        c for c in columns if c.endswith("_error") and c not in (*FILE_ERRORS, "file_error")
    )


VERDICT: dict[str, str] = {"asset_valid": "bool", "asset_error": TEXT}
ASSET_TABLE: dict[str, str] = {
    "asset_path": TEXT,
    "asset_name": TEXT,
    "asset_type": TEXT,
    "specification": TEXT,
    **VERDICT,
    "file_count": "Int64",
    "size": "Int64",
    "asset_id": TEXT,
}
VALIDATED_ASSETS: dict[str, str] = {**FILE_TABLE, **VERDICT}
STAGED_CONTENT: dict[str, str] = {**VALIDATED_ASSETS, "sha256": TEXT}
#: The schema of each table by its asset name.
TABLES: dict[str, dict[str, str]] = {
    "file_table": FILE_TABLE,
    "asset_table": ASSET_TABLE,
    "validated_assets": VALIDATED_ASSETS,
    "staged_content": STAGED_CONTENT,
}
ARROW = {"Int64": pa.int64(), "bool": pa.bool_(), TEXT: pa.string()}
DTYPES: dict[str, pd.api.extensions.ExtensionDtype | type] = {
    "Int64": pd.Int64Dtype(),
    "bool": bool,
}


class SchemaError(ValueError):
    """A table that does not have its declared columns and types; says which."""


def conform(table: pd.DataFrame, schema: Mapping[str, str], name: str) -> pd.DataFrame:
    """The table with every declared column in its declared type; SchemaError naming each
    missing column and each column whose values do not fit its type."""
    missing = [column for column in schema if column not in table]
    if missing:
        raise SchemaError(f"{name}: missing columns {missing}")
    problems, cast = [], {}
    for column, kind in schema.items():
        values = table[column]
        if kind == TEXT:
            if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
                problems.append(f"{column}: not text")
            continue
        try:
            cast[column] = values.astype(DTYPES[kind])
        except (TypeError, ValueError):
            problems.append(f"{column}: not {kind}")
    if problems:
        raise SchemaError(f"{name}: " + "; ".join(problems))
    return table.assign(**cast)


def arrow_fields(table: pd.DataFrame, schema: Mapping[str, str]) -> dict[str, pa.DataType]:
    """The Arrow type of each declared column present in the table, for writing."""
    return {column: ARROW[kind] for column, kind in schema.items() if column in table}
