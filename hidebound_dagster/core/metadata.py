"""Metadata of staged assets: one JSON per file and per asset, plus one chunk of each (a JSON
list of them all), written to a fresh directory swapped in whole, so a reader never sees a
partial set."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

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


@dataclass(frozen=True)
class Described:
    """What a metadata writer described, and how much of it it wrote."""

    assets: int
    files: int
    assets_rewritten: int
    files_rewritten: int
    content_digest: str  # of the manifest written last


def describe_rebuild(
    staging: Path, staged: pd.DataFrame, specs: Mapping[str, type[Specification]]
) -> Described:
    """Write the metadata of every staged file afresh (write_metadata), then the manifest."""
    files = file_records(file_table_for_metadata(staged, specs, staging))
    assets = asset_records(files)
    write_metadata(staging, files, assets, data_time(staged))
    manifest = write_manifest(Staging(staging), staged)
    return Described(len(assets), len(files), len(assets), len(files), manifest.content_digest)
