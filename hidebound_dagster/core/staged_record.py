"""The staged record: what is really staged, file by file, so an incremental create decides
"unchanged" from the staging itself and never from a table that may be stale.

One row per staged file: the source identity update validated (size, mtime_ns, device, inode),
the sha256 of the bytes staged, the staged file's own identity, and what its metadata was
written from: a hash of the values its JSON is made of (`description`, missing until its JSON
is written) and where its line and its asset's line are (byte offset and length) in the chunk
files whose identity the record carries. A row that is not `settled` is being staged,
replaced or removed: whatever of it is in content/ may be partial, and the next create removes
it (or, moved, puts it back into ingress) and starts that asset again. The record is written
atomically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hidebound_dagster.core.identity import IDENTITY_COLUMNS, tree_status
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import write_atomically
from hidebound_dagster.core.schemas import TEXT, SchemaError, conform

STAGED_IDENTITY = [f"staged_{name}" for name in IDENTITY_COLUMNS]
#: Where a file's line and its asset's line are in the chunks: byte offset and length.
LINES = ["file_offset", "file_length", "asset_offset", "asset_length"]
RECORD: dict[str, str] = {
    "filepath_relative": TEXT,
    "asset_path": TEXT,
    **dict.fromkeys(IDENTITY_COLUMNS, "Int64"),
    "sha256": TEXT,
    **dict.fromkeys(STAGED_IDENTITY, "Int64"),
    "description": "Int64",
    **dict.fromkeys(LINES, "Int64"),
    "settled": "bool",
}
CHUNKS = b"chunks"  # the record's key-value metadata: each chunk it indexes, and its identity
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


def write_record(
    staging: Staging, record: pd.DataFrame, chunks: Mapping[str, Any] | None = None
) -> None:
    """Replace the record atomically: a reader sees the old record or the new one, whole.
    `chunks`: the chunk files (by kind: name and identity) that the line columns index; by
    default the chunks the record indexed so far."""
    chunks = indexed_chunks(staging) if chunks is None else chunks
    table = pa.Table.from_pandas(
        conform(record[list(RECORD)], RECORD, staging.staged.name),
        schema=ARROW_SCHEMA.with_metadata({CHUNKS: json.dumps(dict(chunks))}),
        preserve_index=False,
    )
    write_atomically(staging.staged, lambda handle: pq.write_table(table, handle))


def indexed_chunks(staging: Staging) -> dict[str, Any]:
    """The chunk files the record indexes, by kind (name and identity); empty for none."""
    try:
        metadata = pq.read_schema(staging.staged).metadata or {}
        return dict(json.loads(metadata.get(CHUNKS, b"{}")))
    except (OSError, ValueError, pa.ArrowException):
        return {}


def on_disk(content: Path) -> pd.DataFrame:
    """Every entry under content/ that is not a directory: its path relative to content, its
    identity (lstat: links are not followed) and whether it is a regular file."""
    disk = tree_status(content)
    old, new = ["path", *IDENTITY_COLUMNS], ["filepath_relative", *STAGED_IDENTITY]
    names = dict(zip(old, new, strict=True))
    return disk[[*names, "regular"]].rename(columns=names)
