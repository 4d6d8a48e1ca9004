"""The staged record: what is really staged, file by file, so an incremental create decides
"unchanged" from the staging itself and never from a table that may be stale.

One row per staged file: the source identity update validated (size, mtime_ns, device, inode),
the sha256 of the bytes staged, the staged file's own identity, and the sha256 of the file
metadata JSON written for it (missing until it is written). A row that is not `settled` is
being staged, replaced or removed: whatever of it is in content/ or metadata/ may be partial,
and the next create removes it and starts that asset again. The record is written atomically.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hidebound_dagster.core.identity import IDENTITY_COLUMNS
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import write_atomically
from hidebound_dagster.core.schemas import TEXT, SchemaError, conform

STAGED_IDENTITY = [f"staged_{name}" for name in IDENTITY_COLUMNS]
RECORD: dict[str, str] = {
    "filepath_relative": TEXT,
    "asset_path": TEXT,
    **dict.fromkeys(IDENTITY_COLUMNS, "Int64"),
    "sha256": TEXT,
    **dict.fromkeys(STAGED_IDENTITY, "Int64"),
    "metadata_sha256": TEXT,
    "settled": "bool",
}
ARROW_TYPES = {"Int64": pa.int64(), "bool": pa.bool_(), TEXT: pa.string()}
ARROW_SCHEMA = pa.schema([(name, ARROW_TYPES[kind]) for name, kind in RECORD.items()])


def empty_record() -> pd.DataFrame:
    """A record of nothing staged, with its declared dtypes."""
    return conform(pd.DataFrame({name: pd.Series(dtype=object) for name in RECORD}), RECORD, "")


def read_record(staging: Staging) -> pd.DataFrame | None:
    """The record of what is staged; None when there is none or it cannot be read (then nothing
    is known to be staged)."""
    try:
        table = pq.read_table(staging.staged, schema=ARROW_SCHEMA)
    except (OSError, ValueError, pa.ArrowException):
        return None
    frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    try:
        return conform(frame, RECORD, staging.staged.name)
    except SchemaError:
        return None


def write_record(staging: Staging, record: pd.DataFrame) -> None:
    """Replace the record atomically: a reader sees the old record or the new one, whole."""
    table = pa.Table.from_pandas(
        conform(record[list(RECORD)], RECORD, staging.staged.name),
        schema=ARROW_SCHEMA,
        preserve_index=False,
    )
    write_atomically(staging.staged, lambda handle: pq.write_table(table, handle))


def on_disk(content: Path) -> pd.DataFrame:
    """Every entry under content/ that is not a directory: its path relative to content, its
    identity (lstat: links are not followed) and whether it is a regular file."""
    paths: list[str] = []
    status: list[os.stat_result] = []
    for directory, _, names in os.walk(content):
        base = os.path.relpath(directory, content)
        prefix = "" if base == "." else base + "/"
        for name in names:
            paths.append(prefix + name)
            status.append(os.lstat(os.path.join(directory, name)))  # noqa: PTH118
    columns = {
        name: pd.array([getattr(s, f"st_{field}") for s in status], dtype="Int64")
        for name, field in zip(STAGED_IDENTITY, ("dev", "ino", "size", "mtime_ns"), strict=True)
    }
    regular = [stat.S_ISREG(s.st_mode) for s in status]
    return pd.DataFrame(
        {"filepath_relative": pd.Series(paths, dtype=object), **columns, "regular": regular}
    )
