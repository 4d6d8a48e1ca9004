"""Metadata of staged assets: one JSON per file and per asset, plus one chunk of each (a JSON
list of them all), written to a fresh directory swapped in whole, so a reader never sees a
partial set."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import compress, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hidebound_dagster.core.identity import ids
from hidebound_dagster.core.layout import METADATA_TYPES, Staging
from hidebound_dagster.core.manifest import write_manifest
from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.staged_record import read_record, write_record
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


def write_metadata(
    staging: Path,
    files: list[dict[str, Any]],
    assets: list[dict[str, Any]],
    now: datetime | None = None,
) -> None:
    """Write every metadata file into a fresh directory and swap it in as <staging>/metadata."""
    now = now or datetime.now()
    remove_leftovers(staging)  # of an earlier write killed half-way
    layout = Staging(staging)
    work = layout.work_dir("metadata")
    try:
        for kind in METADATA_TYPES:
            (work / kind).mkdir(parents=True)
        for record in files:
            (work / "file" / f"{record['file_id']}.json").write_text(json.dumps(record))
        for record in assets:
            (work / "asset" / f"{record['asset_id']}.json").write_text(json.dumps(record))
        (work / "file-chunk" / chunk_name("file", now)).write_text(json_lines(files))
        (work / "asset-chunk" / chunk_name("asset", now)).write_text(json_lines(assets))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    swap_in(work, layout.metadata)


def json_lines(records: list[dict[str, Any]]) -> str:
    """A JSON list with one record per line, as the original chunk files are laid out."""
    if not records:
        return "[]"
    return "[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]"


#: Files described per batch by the incremental writer: bounds what is held in memory.
BATCH_ROWS = 20_000


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


def describe_rebuild(
    staging: Path, staged: pd.DataFrame, specs: Mapping[str, type[Specification]]
) -> Described:
    """Write the metadata of every staged file afresh (write_metadata), then the manifest."""
    files = file_records(file_table_for_metadata(staged, specs, staging))
    assets = asset_records(files)
    write_metadata(staging, files, assets, data_time(staged))
    manifest = write_manifest(Staging(staging), staged)
    return Described(len(assets), len(files), len(assets), len(files), manifest.content_digest)


class ChunkWriter:
    """Writes one chunk (a JSON list, one record a line, as json_lines lays it out) to a hidden
    temporary file, then installs it as the only chunk of its kind."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / name
        self.temporary = directory / f".{name}.{os.getpid()}.tmp"
        self.handle = self.temporary.open("w")
        self.count = 0

    def write(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.handle.write(("[\n" if self.count == 0 else ",\n") + line)
            self.count += 1

    def install(self) -> None:
        """Close the chunk, rename it into place and remove every other entry beside it."""
        self.handle.write("\n]" if self.count else "[]")
        self.handle.close()
        self.temporary.replace(self.path)
        for other in self.path.parent.iterdir():
            if other != self.path:
                other.unlink()


@dataclass(frozen=True)
class Described:
    """What the incremental metadata writer described, and how much of it it rewrote."""

    assets: int
    files: int
    assets_rewritten: int
    files_rewritten: int
    content_digest: str  # of the manifest written last


def json_names(directory: Path) -> set[str]:
    """The ids of the JSON records in one metadata directory; anything else there (a record a
    killed create was writing) is removed."""
    names = set()
    for entry in os.scandir(directory):
        if entry.name.endswith(".json"):
            names.add(entry.name[:-5])
        else:
            Path(entry.path).unlink()
    return names


def replace_text(path: Path, text: str) -> None:
    """Write a new file beside `path` and rename it over: an existing record is replaced, never
    rewritten in place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def staged_record(layout: Staging, staged: pd.DataFrame) -> pd.DataFrame:
    """The record of what is staged, when it holds every staged row with the same sha256 and
    every row not settled is in the table (moved, to be described now); else ValueError (the
    table is not what is staged now)."""
    record = read_record(layout)
    if record is None:
        raise ValueError(f"{layout.staged.name} is missing; run create again")
    sha256 = staged["filepath_relative"].map(
        pd.Series(record["sha256"].to_numpy(), index=record["filepath_relative"])
    )
    unsettled = record.loc[~record["settled"], "filepath_relative"]
    if (
        not sha256.eq(staged["sha256"]).all()
        or not unsettled.isin(staged["filepath_relative"]).all()
    ):
        raise ValueError("staged_content is not what is staged now; run create again")
    return record


def describe_incremental(
    staging: Path, staged: pd.DataFrame, specs: Mapping[str, type[Specification]]
) -> Described:
    """Bring <staging>/metadata in line with what is staged, rewriting the JSON of only the
    files and assets whose JSON differs from what the record says was written, and both chunks
    whole; then the record (with each file JSON's sha256) and the manifest. Files staged but
    not in the table (kept by a move-mode create) keep the JSON already written for them."""
    layout = Staging(staging)
    record = staged_record(layout, staged)
    layout.manifest.unlink(missing_ok=True)
    table = file_table_for_metadata(staged, specs, staging)
    kept = kept_ids(record, staged)
    existing = existing_records(layout)
    chunks = {
        kind: ChunkWriter(layout.metadata_dir(f"{kind}-chunk"), chunk_name(kind, data_time(record)))
        for kind in ("file", "asset")
    }
    for kind, writer in chunks.items():  # what a move-mode create kept: its JSON as written
        writer.write(layout.metadata_file(kind, i).read_text() for i in kept[kind])
    written = pd.Series(record["metadata_sha256"].to_numpy(), index=record["filepath_relative"])
    digests, counts, waiting = describe_batches(layout, table, written, existing, chunks)
    if len(waiting):  # JSON that looks written: recorded as unwritten before it is replaced
        deferred = table["file_id"].isin(waiting)
        unmarked = ~written.index.isin(table.loc[deferred, "filepath_relative"])
        write_record(layout, record.assign(metadata_sha256=written.where(unmarked).to_numpy()))
        counts += rewrite_assets(layout, table, deferred)
    for kind, names in existing.items():
        for name in names - set(table[f"{kind}_id"]) - set(kept[kind]):
            layout.metadata_file(kind, name).unlink()
    for writer in chunks.values():
        writer.install()
    digest = pd.Series(digests, index=staged["filepath_relative"].to_numpy(), dtype=object)
    kept_digests = pd.Series(written.to_numpy(), index=record.index)  # what was written for them
    record["metadata_sha256"] = record["filepath_relative"].map(digest).fillna(kept_digests)
    write_record(layout, record.assign(settled=True))
    manifest = write_manifest(layout, record)
    return Described(
        assets=chunks["asset"].count,
        files=chunks["file"].count,
        files_rewritten=int(counts[0]),
        assets_rewritten=int(counts[1]),
        content_digest=manifest.content_digest,
    )


def kept_ids(record: pd.DataFrame, staged: pd.DataFrame) -> dict[str, list[str]]:
    """The file and asset ids of what is staged but not in the table (kept by a move)."""
    kept = record[~record["filepath_relative"].isin(staged["filepath_relative"])]
    return {
        "file": ids(kept["filepath_relative"]).tolist(),
        "asset": ids(kept["asset_path"]).unique().tolist(),
    }


def existing_records(layout: Staging) -> dict[str, set[str]]:
    """The ids of the file and asset JSON records there are (every metadata directory made)."""
    for kind in METADATA_TYPES:
        layout.metadata_dir(kind).mkdir(parents=True, exist_ok=True)
    return {kind: json_names(layout.metadata_dir(kind)) for kind in ("file", "asset")}


def describe_batches(
    layout: Staging,
    table: pd.DataFrame,
    written: pd.Series,
    existing: dict[str, set[str]],
    chunks: dict[str, ChunkWriter],
) -> tuple[list[str], np.ndarray, pd.Series]:
    """Every file's JSON into the chunks, batch by batch, writing the records that may be
    written at once (see rewrites): the sha256 of each file's JSON, how many (files, assets)
    were written, and the file ids whose JSON is to be replaced later."""
    digests: list[str] = []
    counts = np.zeros(2, dtype=int)
    later = [pd.Series(dtype=object)]
    for batch in asset_batches(table):
        files = file_records(batch)
        lines = [json.dumps(file) for file in files]
        assets = asset_records(files)
        chunks["file"].write(lines)
        chunks["asset"].write(json.dumps(asset) for asset in assets)
        digests += [sha256_text(line) for line in lines]
        now, wait = rewrites(batch, digests[-len(lines) :], written, existing)
        counts += write_records(layout, batch, lines, assets, now)
        later.append(batch.loc[wait, "file_id"])
    return digests, counts, pd.concat(later)


def rewrite_assets(layout: Staging, table: pd.DataFrame, files: pd.Series) -> np.ndarray:
    """Write the JSON of the files marked in `files` and of their assets."""
    rows = table[table["asset_id"].isin(table.loc[files, "asset_id"])]
    records = file_records(rows)
    lines = [json.dumps(record) for record in records]
    return write_records(layout, rows, lines, asset_records(records), files[rows.index])


def rewrites(
    batch: pd.DataFrame, digests: list[str], written: pd.Series, existing: dict[str, set[str]]
) -> tuple[pd.Series, pd.Series]:
    """Which files of a batch to write now and which later. A file's JSON is written when its
    record says none was (a create killed half-way, or new content), when it differs from what
    was written, or when it or its asset's JSON is missing; an asset's JSON when any of its
    files is. Now: assets whose rewritten files are all recorded as unwritten, so a kill leaves
    them recorded so; later (after recording them unwritten): the rest."""
    before = batch["filepath_relative"].map(written)
    unwritten = before.isna()
    differs = ~unwritten & (
        before.ne(pd.Series(digests, index=batch.index)) | ~batch["file_id"].isin(existing["file"])
    )
    write = unwritten | differs | ~batch["asset_id"].isin(existing["asset"])
    wait = (write & ~unwritten).groupby(batch["asset_id"]).transform("any")
    return write & ~wait, write & wait


def write_records(
    layout: Staging,
    rows: pd.DataFrame,
    lines: list[str],
    assets: list[dict[str, Any]],
    write: pd.Series,
) -> np.ndarray:
    """Write the file JSON of the rows marked `write` and the asset JSON of their assets (`rows`
    holds every file of those assets, `lines` their JSON); returns (files, assets) written."""
    for file_id, line in zip(rows["file_id"][write], compress(lines, write), strict=True):
        replace_text(layout.metadata_file("file", file_id), line)
    targets = set(rows.loc[write, "asset_id"])
    for asset in assets:
        if asset["asset_id"] in targets:
            replace_text(layout.metadata_file("asset", asset["asset_id"]), json.dumps(asset))
    return np.array([int(write.sum()), len(targets)])
