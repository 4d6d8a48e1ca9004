"""The persisted asset index: the last asset table with a digest of each asset's files, so an
update validates again only the assets whose files or specification changed.

An asset's digest covers, for each of its files, the path, the identity (size, mtime_ns,
device, inode, link target, path read), the file error and the version of the specification
that read it: everything its rows were derived from (see file_index). An asset keeps its
indexed verdict only when its digest is unchanged and every check of its specification judges
an asset by its own files alone; a specification with any other check (`unique`, a check of
its own, a check grouped by another column) is validated whole every time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from hidebound_dagster.core.asset_table import build_asset_table
from hidebound_dagster.core.schemas import ASSET_TABLE, SchemaError, arrow_fields, conform
from hidebound_dagster.core.specification import Specification, judged_per_asset
from hidebound_dagster.core.tables import read_table, write_table

INDEX_TABLE = "asset_index"  # stored beside the tables of its location
DIGEST_COLUMN = "files_digest"
SCHEMA = {**ASSET_TABLE, DIGEST_COLUMN: "text"}
#: The columns of a file row that its asset's digest covers (with the spec version).
DIGESTED = [
    "asset_path",
    "filepath_relative",
    "filepath",
    "size",
    "mtime_ns",
    "device",
    "inode",
    "link_target",
    "specification",
    "file_error",
]
HASH_KEYS = ("hidebound-assets", "asset-digest-two")  # two 64-bit hashes per row (16 bytes each)


def files_digests(files: pd.DataFrame, versions: Mapping[str, str]) -> pd.Series:
    """One digest per asset path of everything its files' rows were derived from."""
    in_assets = files[files["asset_path"].notna()]
    rows = in_assets[DIGESTED].assign(version=in_assets["specification"].map(dict(versions)))
    sums: dict[str, Any] = {"count": rows.groupby("asset_path").size()}
    for number, key in enumerate(HASH_KEYS):
        hashes = pd.util.hash_pandas_object(rows, index=False, hash_key=key).to_numpy()
        for half, part in (("low", hashes & 0xFFFFFFFF), ("high", hashes >> 32)):
            column = pd.Series(part.astype("int64"), index=rows.index)  # sums never overflow
            sums[f"{half}{number}"] = column.groupby(rows["asset_path"]).sum()
    parts = [column.astype("string") for column in sums.values()]
    return parts[0].str.cat(parts[1:], sep=":").astype(object)


def update_asset_table(
    files: pd.DataFrame,
    specs: Mapping[str, type[Specification]],
    digests: pd.Series,
    indexed: pd.DataFrame,
) -> tuple[pd.DataFrame, int]:
    """The asset table, keeping the indexed rows of assets whose files_digests are unchanged;
    and how many it kept."""
    local = {token: judged_per_asset(spec) for token, spec in specs.items()}
    per_asset = files["specification"].map(local).fillna(False).astype(bool)
    judged_alone = per_asset.groupby(files["asset_path"]).all()
    before = indexed.set_index("asset_path")[DIGEST_COLUMN].reindex(digests.index)
    unchanged = digests.index[(digests == before) & judged_alone.reindex(digests.index)]
    fresh = build_asset_table(files[~files["asset_path"].isin(unchanged)], specs)
    kept = indexed[indexed["asset_path"].isin(unchanged)][fresh.columns]
    table = pd.concat([fresh, kept]).sort_values("asset_path", ignore_index=True)
    return conform(table, ASSET_TABLE, "asset_table"), len(kept)


def read_index(path: Path) -> tuple[pd.DataFrame, str | None]:
    """The index stored at `path` (empty when there is none yet) and, when one was there but
    cannot be used, why: an unusable index costs validating every asset, never a wrong one."""
    empty = pd.DataFrame({column: pd.Series(dtype=object) for column in SCHEMA})
    if not path.exists():
        return empty, None
    try:
        return conform(read_table(path), SCHEMA, "asset index"), None
    except (OSError, SchemaError, pa.ArrowException) as error:
        return empty, f"asset index {path} not used ({error}): every asset is validated again"


def write_index(path: Path, assets: pd.DataFrame, digests: pd.Series) -> None:
    """Store the asset table as the index, each asset with the digest of its files."""
    indexed = assets.assign(**{DIGEST_COLUMN: assets["asset_path"].map(digests)})
    write_table(indexed, path, arrow_fields(indexed, SCHEMA))
