"""Metadata of staged assets: one JSON per file and per asset, plus one chunk of each (a JSON
list of them all, one record a line), written to a fresh directory swapped in whole, so a
reader never sees a partial set. Records are made and written a batch of whole assets at a
time, their chunk lines streamed to disk, so memory does not grow with the staged table."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from hidebound_dagster.core.identity import IDENTITY_COLUMNS, identity_of
from hidebound_dagster.core.layout import METADATA_TYPES, Staging
from hidebound_dagster.core.manifest import write_manifest
from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.staging import remove_leftovers, swap_in

FILE_KEYS = [
    "asset_id",
    "asset_path",
    "asset_path_relative",
    "asset_name",
    "asset_type",
    "file_id",
    "file_traits",
    "filename",
    "filepath",
    "filepath_relative",
    "ingress_filepath",
    "size",
    "sha256",
]
#: Asset-level lists, one element per file, in file order.
ASSET_LISTS = {
    "file_ids": "file_id",
    "filenames": "filename",
    "filepaths": "filepath",
    "filepaths_relative": "filepath_relative",
    "ingress_filepaths": "ingress_filepath",
    "sizes": "size",
    "sha256s": "sha256",
}
KINDS = ("file", "asset")
#: Files described per batch of whole assets: bounds what a metadata writer holds.
BATCH_ROWS = 20_000
#: A chunk's layout: "[", a line per record, "]"; "[]" when empty.
OPEN, SEPARATOR, CLOSE, EMPTY = b"[\n", b",\n", b"\n]", b"[]"
COPY_BLOCK = 1 << 20


def plain(value: Any) -> Any:
    """A table cell as a JSON value: numpy scalars as Python, missing as None."""
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def file_traits(files: pd.DataFrame, specs: Mapping[str, type[Specification]]) -> pd.Series:
    """Each file's traits: its specification's name fields and file traits, as a dict."""
    traits = pd.Series(None, index=files.index, dtype=object)
    for token, rows in files.groupby("specification"):
        columns = [c for c in specs[str(token)].columns() if c in rows]
        records = [{k: plain(v) for k, v in r.items()} for r in rows[columns].to_dict("records")]
        traits[rows.index] = pd.Series(records, index=rows.index, dtype=object)
    return traits


def file_table_for_metadata(
    files: pd.DataFrame, specs: Mapping[str, type[Specification]], staging: Path
) -> pd.DataFrame:
    """The staged files with every metadata field as a column (paths in staging)."""
    content = str(Staging(staging).content) + "/"
    return files.assign(
        asset_path_relative=files["asset_path"],
        asset_path=content + files["asset_path"],
        filepath=content + files["filepath_relative"],
        ingress_filepath=files["filepath"],
        file_traits=file_traits(files, specs),
    )


def file_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """One metadata dict per file, keys in a fixed order."""
    rows = table[FILE_KEYS].to_dict("records")
    return [{str(k): plain(v) for k, v in row.items()} for row in rows]  # keys are FILE_KEYS


def asset_records(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One metadata dict per asset: its identity, its traits as lists aligned per file (None
    where a file lacks a trait), and per-file lists."""
    assets: dict[str, dict[str, Any]] = {}
    for record in files:
        asset = assets.setdefault(
            record["asset_id"],
            {
                "asset_id": record["asset_id"],
                "asset_path": record["asset_path"],
                "asset_path_relative": record["asset_path_relative"],
                "asset_name": record["asset_name"],
                "asset_traits": {},
                "asset_type": record["asset_type"],
                **{key: [] for key in ASSET_LISTS},
            },
        )
        for key, source in ASSET_LISTS.items():
            asset[key].append(record[source])
    return list(align_traits(assets, files).values())


def align_traits(
    assets: dict[str, dict[str, Any]], files: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Fill each asset's trait lists so element i belongs to file i."""
    per_asset: dict[str, list[dict[str, Any]]] = {}
    for record in files:
        per_asset.setdefault(record["asset_id"], []).append(record["file_traits"])
    for asset_id, traits in per_asset.items():
        names = list(dict.fromkeys(name for trait in traits for name in trait))
        assets[asset_id]["asset_traits"] = {
            name: [trait.get(name) for trait in traits] for name in names
        }
    return assets


def data_time(files: pd.DataFrame) -> datetime:
    """When the staged data last changed (its newest file), naming the chunk files: the same
    ingress gives the same chunk names, so re-exports never leave a second chunk behind."""
    newest = files["mtime_ns"].max() if len(files) else None
    if newest is None or pd.isna(newest):
        return datetime.now()
    return datetime.fromtimestamp(int(newest) / 1e9)


def chunk_name(kind: str, now: datetime) -> str:
    """The original chunk file name: hidebound-file-chunk_2026-11-26T-04-11-16.json."""
    return f"hidebound-{kind}-chunk_{now.strftime('%Y-%m-%dT-%H-%M-%S')}.json"


def asset_batches(table: pd.DataFrame, rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """The table in slices of about `rows` files that never split an asset, in table order (one
    slice when an asset's files are not contiguous, so the chunk order stays the table's)."""
    codes = pd.factorize(table["asset_id"])[0]
    if not len(codes):
        return
    if (np.diff(codes) < 0).any():
        yield table
        return
    starts = np.flatnonzero(np.diff(codes, prepend=-1))
    first = np.searchsorted(starts, np.arange(0, len(codes), rows))
    cuts = np.unique(starts[first[first < len(starts)]])
    for low, high in pairwise([*cuts.tolist(), len(codes)]):
        yield table.iloc[low:high]


def records_of(
    files: pd.DataFrame, specs: Mapping[str, type[Specification]], staging: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The file records and the asset records of these files (whole assets)."""
    records = file_records(file_table_for_metadata(files, specs, staging))
    return records, asset_records(records)


def write_batches(
    staging: Path,
    batches: Iterable[tuple[list[dict[str, Any]], list[dict[str, Any]]]],
    now: datetime | None = None,
) -> dict[str, int]:
    """Write every metadata file into a fresh directory and swap it in as <staging>/metadata,
    from (file records, asset records) made a batch at a time: each record goes to its JSON and
    its chunk line as its batch comes, so no more than a batch is held; how many records of
    each kind were written."""
    now = now or datetime.now()
    remove_leftovers(staging)  # of an earlier write killed half-way
    layout = Staging(staging)
    work = layout.work_dir("metadata")
    try:
        for directory in METADATA_TYPES:
            (work / directory).mkdir(parents=True)
        with ExitStack() as stack:
            writers = {
                kind: stack.enter_context(
                    ChunkWriter(work / f"{kind}-chunk", chunk_name(kind, now), aside=False)
                )
                for kind in KINDS
            }
            for batch in batches:
                for kind, records in zip(KINDS, batch, strict=True):
                    write_records(work / kind, f"{kind}_id", records, writers[kind])
            for writer in writers.values():
                writer.install()
        counts = {kind: writer.count for kind, writer in writers.items()}
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    swap_in(work, layout.metadata)
    return counts


def write_records(
    directory: Path, key: str, records: list[dict[str, Any]], chunk: ChunkWriter
) -> None:
    """Each record as <directory>/<record[key]>.json and as a line of the chunk."""
    for record in records:
        text = json.dumps(record)
        (directory / f"{record[key]}.json").write_text(text)
        chunk.line(text)


class ChunkWriter:
    """Writes one chunk (a JSON list, one record a line), a line at a time or as byte ranges of
    an old chunk, then installs it as the only chunk of its kind. It is written to a hidden
    temporary file renamed into place, or, in a work directory that is swapped in whole
    (`aside=False`), under its own name. As a context manager, a chunk not installed is
    removed on exit."""

    def __init__(self, directory: Path, name: str, aside: bool = True) -> None:
        self.path = directory / name
        self.temporary = directory / f".{name}.{os.getpid()}.tmp" if aside else self.path
        self.handle = self.temporary.open("wb")
        self.handle.write(OPEN)
        self.count = 0

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.handle.closed:
            self.handle.close()
            self.temporary.unlink(missing_ok=True)

    def line(self, text: str) -> tuple[int, int]:
        """Append one line; its offset and length."""
        data = text.encode()
        offset = self.handle.tell()
        self.handle.write(data + SEPARATOR)
        self.count += 1
        return offset, len(data)

    def copy(self, source: BinaryIO, offset: int, length: int, lines: int) -> int:
        """Append `lines` whole lines that are `length` bytes at `offset` of an old chunk; the
        offset they start at here."""
        start = self.handle.tell()
        source.seek(offset)
        while length:
            block = source.read(min(length, COPY_BLOCK))
            if not block:
                raise ValueError(f"{self.path.parent.name}: the old chunk ends early")
            self.handle.write(block)
            length -= len(block)
        self.handle.write(SEPARATOR)
        self.count += lines
        return start

    def install(self) -> dict[str, Any]:
        """Close the chunk, rename it into place (when written aside) and remove every other
        entry beside it; its name and identity, for the record."""
        if self.count:  # the separator after the last line
            self.handle.seek(-len(SEPARATOR), os.SEEK_END)
        else:  # the "[" before the first
            self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(CLOSE if self.count else EMPTY)
        self.handle.close()
        if self.temporary != self.path:
            self.temporary.replace(self.path)
        for other in self.path.parent.iterdir():
            if other != self.path:
                other.unlink()
        return chunk_identity(self.path)


def chunk_identity(path: Path) -> dict[str, Any]:
    """A chunk file's name and identity (device, inode, size, mtime)."""
    return {
        "name": path.name,
        **dict(zip(IDENTITY_COLUMNS, identity_of(os.lstat(path)), strict=True)),
    }


@dataclass(frozen=True)
class Described:
    """What a metadata writer described, and how much of it it wrote."""

    assets: int
    files: int
    assets_rewritten: int
    files_rewritten: int
    content_digest: str  # of the manifest written last


def describe_rebuild(
    staging: Path,
    staged: pd.DataFrame,
    specs: Mapping[str, type[Specification]],
    batch_rows: int = BATCH_ROWS,
) -> Described:
    """Write the metadata of every staged file afresh, a batch of whole assets at a time
    (write_batches), then the manifest."""
    batches = asset_batches(staged, batch_rows)
    counts = write_batches(
        staging, (records_of(batch, specs, staging) for batch in batches), data_time(staged)
    )
    manifest = write_manifest(Staging(staging), staged)
    files, assets = counts["file"], counts["asset"]
    return Described(assets, files, assets, files, manifest.content_digest)
