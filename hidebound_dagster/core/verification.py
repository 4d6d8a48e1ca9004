"""Whether a staging is fit to export: every staged file is described by its file metadata,
sizes and sha256 agree, nothing is stray, and the manifest describes it all.

Proving it reads every staged byte once. After that a file is hashed again, and a metadata
record read again, only when its identity changed: the check keeps what it proved in
<staging>/.verified.parquet, per staged file the identity (device, inode, size, mtime and
ctime, which no user can set back) of the file and of its metadata JSON. As with git's
"racily clean" entries, a file whose ctime is within RACY_NS of the check's start is not kept:
a change in the same clock tick would not move its times, so it is proved again next time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from hidebound_dagster.core.identity import TREE_STATUS, sha256_file, tree_status
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import content_digest, read_manifest
from hidebound_dagster.core.parallel import Mapper, map_chunked, serial_map
from hidebound_dagster.core.schemas import TEXT, SchemaError, arrow_fields, conform
from hidebound_dagster.core.tables import read_table, write_table

#: Changes this close to the check's start may not have moved a file's times yet (coarse file
#: system clocks tick in milliseconds; some in seconds).
RACY_NS = 2_000_000_000
CONTENT_STATUS = [f"content_{name}" for name in TREE_STATUS]
JSON_STATUS = [f"json_{name}" for name in TREE_STATUS]
VERIFIED: dict[str, str] = {
    "filepath_relative": TEXT,
    **dict.fromkeys(CONTENT_STATUS, "Int64"),
    "json": TEXT,  # the name of its file metadata record under metadata/file/
    **dict.fromkeys(JSON_STATUS, "Int64"),
    "size": "Int64",
    "sha256": TEXT,
}
DESCRIBED = ["json", "filepath_relative", "size", "sha256"]


def verify_staging(staging: Staging, mapper: Mapper = serial_map, chunks: int = 16) -> list[str]:
    """Every problem that makes this staging unfit to export: content without metadata, metadata
    without content, sizes or sha256 that disagree, a missing or stale manifest. Remembers what
    it proved intact, so that the next check reads only what changed since."""
    start = time.time_ns()
    known = read_verified(staging)
    records, problems = described(staging, known)
    disk = status_as(tree_status(staging.content), "content")
    both = records.merge(disk, left_on="filepath_relative", right_on="path", how="outer")
    stray, missing = both["filepath_relative"].isna(), both["path"].isna()
    problems += [f"content/{p}: no file metadata describes it" for p in sorted(both["path"][stray])]
    problems += [
        f"content/{p}: described by file metadata but missing"
        for p in sorted(both["filepath_relative"][missing])
    ]
    both = both[~stray & ~missing]
    regular = both["regular"].astype(bool)
    problems += [f"content/{p}: not a regular file" for p in sorted(both["path"][~regular])]
    both = both[regular]
    sized = both["content_size"].eq(both["size"]).astype(bool)
    problems += [
        f"content/{p}: {actual} bytes, its metadata says {said}"
        for p, actual, said in sorted(rows(both[~sized], "path", "content_size", "size"))
    ]
    both = both[sized]
    actual, hashed = actual_sha256(staging, both, known, mapper, chunks)
    matches = actual.eq(both["sha256"]).astype(bool)
    differ = sorted(both["path"][~matches])
    problems += [f"content/{p}: sha256 differs from its metadata" for p in differ]
    proved = both[matches]
    news = hashed + int((~proved["remembered"]).sum())
    write_verified(staging, proved, start, unchanged=not news and len(proved) == len(known))
    manifest = read_manifest(staging)
    if manifest is None:
        problems.append(f"{staging.manifest.name}: missing; run create again")
    elif not problems and manifest.content_digest != content_digest(
        rows(proved, "filepath_relative", "size", "sha256")
    ):
        problems.append(f"{staging.manifest.name}: does not describe the staged files")
    return problems


def status_as(entries: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """tree_status entries with their status columns named for what they are the status of."""
    return entries.rename(columns={name: f"{prefix}_{name}" for name in TREE_STATUS})


def rows(frame: pd.DataFrame, *columns: str) -> Iterator[tuple[Any, ...]]:
    """The values of these columns, row by row."""
    return zip(*(frame[column] for column in columns), strict=True)


def described(staging: Staging, known: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The path, size and sha256 each file metadata record states, with its identity and
    whether it was `remembered` (unchanged since proved, so not read); and the records that
    cannot be read. A path described twice keeps the later record by name."""
    directory = staging.metadata_dir("file")
    found = tree_status(directory)
    found = found[~found["path"].str.contains("/") & found["path"].str.endswith(".json")]
    found = status_as(found, "json").rename(columns={"path": "json"})
    remembered = found.merge(known[["json", *JSON_STATUS, *DESCRIBED[1:]]], how="left")
    unknown = remembered["sha256"].isna()
    read, problems = read_records(directory, remembered.loc[unknown, ["json", "regular"]])
    records = pd.concat(
        [
            remembered.loc[~unknown, DESCRIBED].assign(remembered=True),
            read.assign(remembered=False),
        ],
        ignore_index=True,
    )
    records = records.astype({"size": "Int64"}).merge(found.drop(columns="regular"), on="json")
    records = records.sort_values("json", ignore_index=True)
    if not staging.metadata.is_dir():
        problems.append("metadata: missing; run create again")
    return records.drop_duplicates("filepath_relative", keep="last"), problems


def read_records(directory: Path, jsons: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The path, size and sha256 stated by each of these records, and those that cannot be
    read (a record that is not a regular file is never opened: a FIFO would block)."""
    statements, problems = [], []
    for name, regular in sorted(jsons.itertuples(index=False)):
        try:
            record = json.loads((directory / name).read_text()) if regular else None
            statements.append((name, *stated(record)))
        except (OSError, ValueError, KeyError, TypeError):
            problems.append(f"metadata/file/{name}: not a readable file metadata record")
    return pd.DataFrame(statements, columns=DESCRIBED, dtype=object), problems


def stated(record: object) -> tuple[str, int, str]:
    """What a file metadata record says of its file; TypeError unless it says it plainly."""
    if not isinstance(record, dict):
        raise TypeError("not an object")
    path, size, sha256 = record["filepath_relative"], record["size"], record["sha256"]
    if not (isinstance(path, str) and isinstance(sha256, str)) or type(size) is not int:
        raise TypeError("fields of the wrong type")
    return path, size, sha256


def actual_sha256(
    staging: Staging, files: pd.DataFrame, known: pd.DataFrame, mapper: Mapper, chunks: int
) -> tuple[pd.Series, int]:
    """The sha256 of each staged file: remembered where the file is unchanged since it was
    proved, read from its bytes otherwise; and how many were read."""
    key = ["filepath_relative", *CONTENT_STATUS]
    remembered = files[key].merge(known[[*key, "sha256"]], on=key, how="left")["sha256"]
    unknown = remembered.isna().to_numpy()
    paths = [str(staging.content / p) for p in files["filepath_relative"][unknown]]
    remembered[unknown] = map_chunked(mapper, sha256_files, paths, chunks)
    return pd.Series(remembered.to_numpy(), index=files.index, dtype=object), len(paths)


def sha256_files(paths: list[str]) -> list[str]:
    return [sha256_file(path) for path in paths]


def read_verified(staging: Staging) -> pd.DataFrame:
    """What the last check proved intact; empty when nothing is known (or the record of it
    cannot be read: then everything is proved again)."""
    try:
        return conform(read_table(staging.verified), VERIFIED, staging.verified.name)
    except (OSError, SchemaError, pa.ArrowException):
        empty = pd.DataFrame({name: pd.Series(dtype=object) for name in VERIFIED})
        return conform(empty, VERIFIED, staging.verified.name)


def write_verified(staging: Staging, proved: pd.DataFrame, start: int, unchanged: bool) -> None:
    """Remember the files proved intact, except those changed too close to `start` for their
    times to tell a later change; nothing is written when they are what was remembered."""
    settled = start - RACY_NS
    kept = proved[
        proved["content_ctime_ns"].lt(settled).astype(bool)
        & proved["json_ctime_ns"].lt(settled).astype(bool)
    ]
    if kept.empty:
        staging.verified.unlink(missing_ok=True)
    elif not unchanged or len(kept) != len(proved):
        table = conform(kept[list(VERIFIED)], VERIFIED, staging.verified.name)
        write_table(table, staging.verified, arrow_fields(table, VERIFIED))
