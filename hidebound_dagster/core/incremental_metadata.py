"""Incremental metadata: bring <staging>/metadata in line with what is staged, writing the JSON
of only the files and assets whose JSON would differ, and both chunks whole.

A file's JSON is made of a few values of its row (ids, names, paths, size, sha256, its traits)
and the staging path; their hash is its `description` in the staged record. An asset whose
files' descriptions are unchanged and whose JSON is there is not described again: its lines
are copied, as byte ranges, from the old chunks (which the record indexes, with their
identity), so an incremental create over a million staged files builds the JSON of the
changed assets only. A JSON about to be replaced is first recorded as unwritten, so a create
killed before recording it writes it again; every JSON and chunk is written beside the old one
and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from contextlib import ExitStack
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from hidebound_dagster.core.identity import ids
from hidebound_dagster.core.layout import METADATA_TYPES, Staging
from hidebound_dagster.core.lookup import among, positions
from hidebound_dagster.core.manifest import write_recorded_manifest
from hidebound_dagster.core.metadata import (
    KINDS,
    SEPARATOR,
    ChunkWriter,
    Described,
    asset_batches,
    chunk_identity,
    chunk_name,
    data_time,
    records_of,
)
from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.staged_record import (
    LINES,
    indexed_chunks,
    read_record,
    write_record,
)

#: What a file's JSON is made of that its path does not name, besides its specification's
#: traits (ids, names and paths follow from the path, the ingress and the staging directory).
DESCRIBED = ["asset_path", "asset_name", "asset_type", "specification", "size", "sha256"]
PATH_OF = {"file": "filepath_relative", "asset": "asset_path"}  # what each kind's id is of


def descriptions(
    staged: pd.DataFrame, specs: Mapping[str, type[Specification]], staging: Path
) -> np.ndarray:
    """A 64-bit hash per file of what its JSON is made of beside its path; the hash key covers
    the staging and ingress directories and the columns and their kinds, so any of them
    changing changes them all."""
    traits = {c for spec in specs.values() for c in spec.columns() if c in staged}
    columns = sorted(set(DESCRIBED) | traits)
    values = pd.DataFrame({column: canonical(staged[column]) for column in columns})
    ingress = ingress_of(staged)
    key = json.dumps([str(staging), ingress, [(c, str(values[c].dtype)) for c in columns]])
    hashed = pd.util.hash_pandas_object(
        values, index=False, hash_key=hashlib.sha256(key.encode()).hexdigest()[:16]
    )
    return hashed.to_numpy().view(np.int64)


def ingress_of(staged: pd.DataFrame) -> str | None:
    """The ingress directory the files were staged from (what their ingress paths start with)."""
    if staged.empty:
        return None
    return str(staged["filepath"].iloc[0]).removesuffix(str(staged["filepath_relative"].iloc[0]))


def canonical(column: pd.Series) -> pd.Series:
    """A column in one dtype per kind of value, so equal values hash equal whichever dtype a
    table gave them: integers Int64, floats Float64, booleans boolean, anything else text."""
    kinds: dict[str, pd.api.extensions.ExtensionDtype] = {
        "i": pd.Int64Dtype(),
        "u": pd.Int64Dtype(),
        "f": pd.Float64Dtype(),
        "b": pd.BooleanDtype(),
    }
    kind = kinds.get(getattr(column.dtype, "kind", "O"))
    if kind is not None:
        return column.astype(kind)
    if isinstance(column.dtype, pd.StringDtype):
        return column.astype(object)
    return column.map(lambda v: v if v is None or isinstance(v, str) else repr(v)).astype(object)


def staged_record(layout: Staging, staged: pd.DataFrame) -> pd.DataFrame:
    """The record of what is staged, when it holds every staged row with the same sha256 and
    every row not settled is in the table (moved, to be described now); else ValueError (the
    table is not what is staged now)."""
    record = read_record(layout)
    if record is None:
        raise ValueError(f"{layout.staged.name} is missing; run create again")
    paths = staged["filepath_relative"]
    sha256 = aligned(record, paths, ["sha256"])["sha256"]
    unsettled = record.loc[~record["settled"], "filepath_relative"]
    if not sha256.eq(staged["sha256"]).fillna(False).all() or not among(unsettled, paths).all():
        raise ValueError("staged_content is not what is staged now; run create again")
    return record


def json_names(directory: Path) -> pd.Series:
    """The ids of the JSON records in one metadata directory; anything else there (a record a
    killed create was writing) is removed."""
    names = []
    for entry in os.scandir(directory):
        if entry.name.endswith(".json"):
            names.append(entry.name[:-5])
        else:
            Path(entry.path).unlink()
    return pd.Series(names, dtype="str")


def existing_records(layout: Staging) -> dict[str, pd.Series]:
    """The ids of the file and asset JSON records there are (every metadata directory made)."""
    for kind in METADATA_TYPES:
        layout.metadata_dir(kind).mkdir(parents=True, exist_ok=True)
    return {kind: json_names(layout.metadata_dir(kind)) for kind in KINDS}


def replace_text(path: Path, text: str) -> None:
    """Write a new file beside `path` and rename it over: an existing record is replaced, never
    rewritten in place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def old_chunk(directory: Path, indexed: dict[str, Any] | None) -> Path | None:
    """The one chunk in a directory, when it is the chunk file the record indexes."""
    chunks = list(directory.glob("*.json")) if directory.is_dir() else []
    if not indexed or len(chunks) != 1 or chunk_identity(chunks[0]) != indexed:
        return None
    return chunks[0]


def plan(
    staged: pd.DataFrame, record: pd.DataFrame, existing: dict[str, pd.Series], reuse: bool
) -> pd.DataFrame:
    """Per staged file: its description as recorded and its old chunk lines; `write_file`: its
    JSON is written (its description changed, or its JSON is missing); `write_asset`: its
    asset's JSON is (any of its files' is, or it is missing); `fresh`: its asset's lines are
    made again rather than copied from the old chunks (all, when those cannot be reused)."""
    recorded = aligned(record, staged["filepath_relative"], ["description", *LINES])
    table = staged.assign(
        recorded=recorded["description"].array, **{c: recorded[c].array for c in LINES}
    )
    assets = table["asset_id"]
    same = table["recorded"].eq(table["description"]).fillna(False).astype(bool)
    same &= among(table["file_id"], existing["file"])
    sound = (same & among(assets, existing["asset"])).groupby(assets).transform("all")
    placed = table[LINES].notna().all(axis=1).groupby(assets).transform("all")
    return table.assign(
        write_file=~same, write_asset=~sound, fresh=~(sound & placed) if reuse else True
    )


def describe_incremental(
    staging: Path, staged: pd.DataFrame, specs: Mapping[str, type[Specification]]
) -> Described:
    """Write the JSON of every staged file and asset whose JSON would differ from what is
    there, and both chunks whole (the lines of unchanged assets copied from the old chunks);
    then the record (descriptions, chunk lines, chunk identities) and the manifest. Files
    staged but not in the table (kept by a move-mode create) keep the JSON and lines already
    written for them."""
    layout = Staging(staging)
    record = staged_record(layout, staged)
    layout.manifest.unlink(missing_ok=True)
    existing = existing_records(layout)
    staged = staged.assign(description=descriptions(staged, specs, staging))
    indexed = indexed_chunks(layout)
    olds = {k: old_chunk(layout.metadata_dir(f"{k}-chunk"), indexed.get(k)) for k in KINDS}
    table = plan(staged, record, existing, reuse=all(olds.values()))
    unwritten = table.loc[table["write_file"] & table["recorded"].notna(), "filepath_relative"]
    if len(unwritten):  # JSON that looks written: recorded as unwritten before it is replaced
        marked = record["description"].where(~among(record["filepath_relative"], unwritten))
        write_record(layout, record.assign(description=marked))
    kept = record[~among(record["filepath_relative"], staged["filepath_relative"])]
    order = chunk_order(table, kept, reusable=all(olds.values()))
    now = data_time(record)
    with ExitStack() as stack:
        old = {
            k: stack.enter_context(path.open("rb")) if path else None for k, path in olds.items()
        }
        writers = {
            k: ChunkWriter(layout.metadata_dir(f"{k}-chunk"), chunk_name(k, now)) for k in KINDS
        }
        rewritten = write_described(layout, order, table, old, writers, specs, staging)
    for kind, names in existing.items():
        for name in names[~among(names, order[f"{kind}_id"])]:
            layout.metadata_file(kind, name).unlink()
    counts = {kind: writer.count for kind, writer in writers.items()}
    chunks = {kind: writer.install() for kind, writer in writers.items()}
    record = described_record(record, order)
    write_record(layout, record.assign(settled=True), chunks)
    manifest = write_recorded_manifest(layout, record)
    return Described(
        assets=counts["asset"],
        files=counts["file"],
        files_rewritten=rewritten[0],
        assets_rewritten=rewritten[1],
        content_digest=manifest.content_digest,
    )


def chunk_order(table: pd.DataFrame, kept: pd.DataFrame, reusable: bool) -> pd.DataFrame:
    """Every staged file in chunk order, kept files (staged by an earlier move, not in the
    table) first: ids, path, description, old lines, and what is to be written or made."""
    kept = kept.assign(
        file_id=ids(kept["filepath_relative"]).to_numpy(),
        asset_id=ids(kept["asset_path"]).to_numpy(),
        write_file=False,
        write_asset=False,
        fresh=~kept[LINES].notna().all(axis=1) | (not reusable),
        row=-1,
    )
    columns = ["file_id", "asset_id", "filepath_relative", "description", *LINES]
    columns += ["write_file", "write_asset", "fresh", "row"]
    table = table.assign(row=np.arange(len(table)))
    order = pd.concat([kept[columns], table[columns]], ignore_index=True)
    return order


def write_described(
    layout: Staging,
    order: pd.DataFrame,
    table: pd.DataFrame,
    old: Mapping[str, BinaryIO | None],
    writers: dict[str, ChunkWriter],
    specs: Mapping[str, type[Specification]],
    staging: Path,
) -> tuple[int, int]:
    """Both chunks, batch by batch (asset-aligned): the lines of fresh assets made (table
    rows) or read from their JSON (kept files), writing the JSON marked to be written, the
    others copied from the old chunks; each file's new lines go into `order`. Returns how many
    file and asset JSON were written."""
    written = np.zeros(2, dtype=int)
    for batch in asset_batches(order):
        fresh = batch[batch["fresh"]]
        rows = fresh.loc[fresh["row"] >= 0, "row"]
        made = made_lines(table.iloc[rows] if len(rows) else None, specs, staging)
        made = merged(made, kept_texts(layout, fresh[fresh["row"] < 0]))
        written += [write_texts(layout, kind, batch, made[kind]) for kind in KINDS]
        file_lines = emit(writers["file"], old["file"], batch, "file", made["file"])
        order.loc[batch.index, ["file_offset", "file_length"]] = file_lines
        firsts = batch.drop_duplicates("asset_id")
        asset_lines = emit(writers["asset"], old["asset"], firsts, "asset", made["asset"])
        lines = pd.DataFrame(asset_lines, index=firsts["asset_id"].to_numpy())
        order.loc[batch.index, ["asset_offset", "asset_length"]] = lines.loc[
            batch["asset_id"].to_numpy()
        ].to_numpy()
    return int(written[0]), int(written[1])


def emit(
    writer: ChunkWriter,
    old: BinaryIO | None,
    rows: pd.DataFrame,
    kind: str,
    made: dict[str, str],
) -> np.ndarray:
    """Append the lines of these rows (files, or the first file of each asset): made lines one
    by one, old lines as byte ranges (one copy per run of lines that lie together in the old
    chunk); their new offsets and lengths, one row each."""
    fresh = rows["fresh"].to_numpy(dtype=bool)
    offsets = rows[f"{kind}_offset"].to_numpy(dtype=np.int64, na_value=-1)
    lengths = rows[f"{kind}_length"].to_numpy(dtype=np.int64, na_value=-1)
    together = (
        ~fresh[1:] & ~fresh[:-1] & (offsets[1:] == offsets[:-1] + lengths[:-1] + len(SEPARATOR))
    )
    starts = np.flatnonzero(np.concatenate([[True], ~together]))
    lines = np.empty((len(rows), 2), dtype=np.int64)
    record_ids = rows[f"{kind}_id"].to_numpy()
    for low, high in pairwise([*starts.tolist(), len(rows)]):
        if fresh[low]:
            lines[low] = writer.line(made[record_ids[low]])
            continue
        assert old is not None  # rows are fresh wherever there is no old chunk
        size = offsets[high - 1] + lengths[high - 1] - offsets[low]
        start = writer.copy(old, int(offsets[low]), int(size), high - low)
        lines[low:high, 0] = start + offsets[low:high] - offsets[low]
        lines[low:high, 1] = lengths[low:high]
    return lines


def made_lines(
    fresh: pd.DataFrame | None, specs: Mapping[str, type[Specification]], staging: Path
) -> dict[str, dict[str, str]]:
    """The JSON of these files and of their assets, by kind and id."""
    if fresh is None:
        return {"file": {}, "asset": {}}
    records, assets = records_of(fresh, specs, staging)
    files = dict(zip(fresh["file_id"], (json.dumps(r) for r in records), strict=True))
    return {"file": files, "asset": {a["asset_id"]: json.dumps(a) for a in assets}}


def kept_texts(layout: Staging, kept: pd.DataFrame) -> dict[str, dict[str, str]]:
    """The JSON of files (and their assets) a move kept, as written, by kind and id."""
    return {
        kind: {i: layout.metadata_file(kind, i).read_text() for i in kept[f"{kind}_id"]}
        for kind in KINDS
    }


def merged(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {kind: {k: v for part in parts for k, v in part[kind].items()} for kind in KINDS}


def write_texts(layout: Staging, kind: str, batch: pd.DataFrame, lines: dict[str, str]) -> int:
    """Write the JSON of the batch's files (or assets) marked to be written; how many."""
    marked = set(batch.loc[batch[f"write_{kind}"], f"{kind}_id"])
    for record_id in marked:
        replace_text(layout.metadata_file(kind, record_id), lines[record_id])
    return len(marked)


def described_record(record: pd.DataFrame, order: pd.DataFrame) -> pd.DataFrame:
    """The record with each file's description and its lines in the chunks just written."""
    columns = ["description", *LINES]
    described = aligned(order, record["filepath_relative"], columns).astype("Int64")
    return record.assign(**{column: described[column].array for column in columns})


def aligned(frame: pd.DataFrame, paths: pd.Series, columns: list[str]) -> pd.DataFrame:
    """The columns of `frame` (one row per filepath_relative) at these paths, in their order;
    missing where a path has no row."""
    at = positions(paths, frame["filepath_relative"])
    return pd.DataFrame(
        {c: frame[c].array.take(at, allow_fill=True) for c in columns}, index=paths.index
    )
