"""Incremental staging: reconcile <staging>/content with the new verdicts instead of clearing
it. What is staged is read from the staged record (staged_record.py) and the content tree
itself, never from an earlier table.

Copy mode: an asset is unchanged when the same files, with the same source identity, are
recorded for it and each staged file is still the one recorded (same device, inode, size and
mtime); it is then not copied, rewritten or hashed. Every other asset that was staged is
removed, and every other valid asset is copied in. Move mode: staged files have left ingress,
so every staged asset stays; an ingress asset whose path is already staged is left in ingress,
with an error; new assets are moved in.

Crash safety: before a file is touched, the record marks every row this create may change as
not settled, and the manifest is gone until the metadata step rewrites it; the next create
removes (copy) or puts back into ingress (move) whatever an unsettled row left, and converges.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hidebound_dagster.core.identity import IDENTITY_COLUMNS
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.lookup import among, positions
from hidebound_dagster.core.manifest import clear_exports
from hidebound_dagster.core.schemas import conform
from hidebound_dagster.core.staged_record import (
    LINES,
    RECORD,
    STAGED_IDENTITY,
    on_disk,
    read_record,
    write_record,
)
from hidebound_dagster.core.staging import (
    SERIAL,
    Spread,
    Staged,
    StagingError,
    check_apart,
    copy_chunk,
    move_chunk,
    parents,
    put_back,
    remove_empty_parents,
    remove_files,
    remove_leftovers,
    stage_rebuild,
    stageable,
    with_digests,
)

ALREADY_STAGED = (
    "already staged by an earlier move (write_mode: move, staging: incremental): the staged "
    "files are the only copy of that asset, so this one was left in ingress untouched; export "
    "and delete the staging to stage it again, or deliver it as a new version"
)


def stage_incremental(
    files: pd.DataFrame,
    ingress: Path,
    staging: Path,
    write_mode: str,
    spread: Spread = SERIAL,
    exporters: Sequence[str] = (),
) -> Staged:
    """Reconcile the staging with the files of valid assets. A staging without a readable
    record (the first incremental create, or one after a rebuild or a delete) is rebuilt, under
    the rebuild's rules, and then recorded."""
    check_apart(ingress, staging)
    staging.mkdir(exist_ok=True)
    layout = Staging(staging)
    remove_leftovers(staging)
    record = read_record(layout)
    if record is None:
        staged = stage_rebuild(files, ingress, staging, write_mode, spread, exporters)
        write_record(layout, staged_rows(staged.files, layout.content, write_mode == "copy"))
        return staged
    if write_mode == "move":
        return move_in(files, ingress, layout, record, spread)
    clear_exports(layout)
    return reconcile_copies(files, layout, record, spread)


def staged_rows(staged: pd.DataFrame, content: Path, settled: bool) -> pd.DataFrame:
    """Record rows of files just staged: what the table says of the source, the sha256 of the
    bytes staged, and the staged file's identity (one lstat each); metadata not yet written.
    Moved files are settled only once their metadata is written: until then the next create
    puts them back into ingress, since no later table will describe them."""
    status = [os.lstat(content / relative) for relative in staged["filepath_relative"]]
    fields = ("st_dev", "st_ino", "st_size", "st_mtime_ns")
    rows = staged[["filepath_relative", "asset_path", *IDENTITY_COLUMNS, "sha256"]].assign(
        **{
            name: pd.array([getattr(s, field) for s in status], dtype="Int64")
            for name, field in zip(STAGED_IDENTITY, fields, strict=True)
        },
        description=None,
        **dict.fromkeys(LINES),
        settled=settled,
    )
    return record_rows(rows)


def where(frame: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """The rows of a frame where mask holds (the frame itself when it holds everywhere: no copy
    of a million rows to keep them all)."""
    return frame if mask.all() else frame[mask]


def pending_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Record rows of files this create is about to change: whatever of them is staged may be
    partial until they are settled."""
    missing = dict.fromkeys((c for c in RECORD if c not in rows), None)
    return record_rows(rows.assign(**{**missing, "settled": False}))


def record_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows in the record's declared dtypes, so that joining them to it never turns its
    integers into floats (a nanosecond time does not survive a float)."""
    return conform(rows[list(RECORD)], RECORD, "staged record")


def intact(record: pd.DataFrame, content: Path) -> tuple[pd.Series, pd.Series]:
    """Which record rows are settled and still staged as recorded (one walk of content/), and
    the paths in content/ that no record row names."""
    disk = on_disk(content)
    paths = disk["filepath_relative"]
    strays = paths[~among(paths, record["filepath_relative"])]
    present = record.merge(disk, on="filepath_relative", how="left", suffixes=("", "_now"))
    same = present["settled"].astype(bool) & present["regular"].astype("boolean").fillna(False)
    for column in STAGED_IDENTITY:
        same &= present[column].eq(present[column + "_now"]).fillna(False)
    return pd.Series(same.to_numpy(dtype=bool), index=record.index), strays


def changed_assets(files: pd.DataFrame, record: pd.DataFrame, still: pd.Series) -> pd.Series:
    """The asset paths, old or new, of every file that differs between the table and the record:
    new, gone, moved to another asset, another source identity, or not intact in staging."""
    columns = ["filepath_relative", "asset_path", *IDENTITY_COLUMNS]
    both = files[columns].merge(
        record[columns].assign(intact=still),
        on="filepath_relative",
        how="outer",
        suffixes=("", "_staged"),
        indicator=True,
    )
    same = (both["_merge"] == "both") & both["intact"].astype("boolean").fillna(False)
    for column in ["asset_path", *IDENTITY_COLUMNS]:
        same &= both[column].eq(both[column + "_staged"]).fillna(False)
    return pd.concat([both.loc[~same, "asset_path"], both.loc[~same, "asset_path_staged"]]).dropna()


def reconcile_copies(
    files: pd.DataFrame, layout: Staging, record: pd.DataFrame, spread: Spread
) -> Staged:
    """Copy mode: remove what changed or vanished, copy in what is new or changed, and leave
    the rest untouched."""
    still, strays = intact(record, layout.content)
    keep = ~among(files["asset_path"], changed_assets(files, record, still))
    gone = ~among(record["asset_path"], files.loc[keep, "asset_path"])
    previous = record.loc[gone, "asset_path"].drop_duplicates()
    fresh, skipped = stageable(files[~keep])
    removed = 0
    if gone.any() or (~keep).any() or len(strays):
        pending = pd.concat([pending_rows(record[gone]), pending_rows(files[~keep])])
        write_record(layout, pd.concat([record[~gone], pending], ignore_index=True))
        removed = remove_files(
            layout.content, pd.concat([strays, record.loc[gone, "filepath_relative"]]).unique()
        )
        fresh, skipped = copy_in(fresh, skipped, layout.content, spread)
        record = pd.concat(
            [record[~gone], staged_rows(fresh, layout.content, settled=True)], ignore_index=True
        )
        write_record(layout, record)
    at = positions(files["filepath_relative"], record["filepath_relative"])
    staged = where(files, pd.Series(at >= 0, index=files.index))
    sha256 = record["sha256"].array.take(at[at >= 0])
    return Staged(
        staged.assign(sha256=sha256).reset_index(drop=True),
        skipped,
        assets_unchanged=int(files.loc[keep, "asset_path"].nunique()),
        assets_staged=int(fresh["asset_path"].nunique()),
        assets_removed=int((~among(previous, fresh["asset_path"])).sum()),
        files_copied=len(fresh),
        files_removed=removed,
    )


def copy_in(
    files: pd.DataFrame, skipped: pd.DataFrame, content: Path, spread: Spread
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Copy each validated file into content/ (see copy_validated): the files copied, with
    their sha256, and the skipped assets plus those with a file that changed during its copy
    (whose copies are removed again, as are all copies when the copy fails)."""
    try:
        digests = spread.transfer(files, content, copy_chunk, "create: copy")
    except BaseException:
        remove_files(content, files["filepath_relative"])
        raise
    copied, skipped = with_digests(files, digests, skipped)
    paths = files["filepath_relative"]
    remove_files(content, paths[~among(paths, copied["filepath_relative"])])
    return copied, skipped


def move_in(
    files: pd.DataFrame, ingress: Path, layout: Staging, record: pd.DataFrame, spread: Spread
) -> Staged:
    """Move mode: every staged asset stays; new assets are moved in beside them, and an asset
    whose path is already staged stays in ingress with an error."""
    record = put_back_unsettled(ingress, layout, record)
    _, strays = intact(record, layout.content)
    if len(strays):
        raise StagingError(
            f"{layout.content} holds files that no create recorded ({', '.join(strays[:3])}"
            f"{', ...' if len(strays) > 3 else ''}); they may be the only copy: move them out "
            "of staging, then create again"
        )
    clear_exports(layout)
    clash = among(files["asset_path"], record["asset_path"]) | among(
        files["filepath_relative"], record["filepath_relative"]
    )
    clashing = among(files["asset_path"], files.loc[clash, "asset_path"])
    refused = files.loc[clashing, ["asset_path"]].drop_duplicates().assign(error=ALREADY_STAGED)
    fresh, skipped = stageable(files[~clashing])
    if len(fresh):
        write_record(layout, pd.concat([record, pending_rows(fresh)], ignore_index=True))
    digests = spread.transfer(fresh, layout.content, move_chunk, "create: move")
    fresh = fresh.assign(sha256=digests).reset_index(drop=True)
    for parent in parents(fresh["filepath"]):
        remove_empty_parents(Path(parent), ingress)
    write_record(
        layout,
        pd.concat([record, staged_rows(fresh, layout.content, settled=False)], ignore_index=True),
    )
    return Staged(
        fresh,
        pd.concat([skipped, refused], ignore_index=True),
        assets_unchanged=int(record["asset_path"].nunique()),
        assets_staged=int(fresh["asset_path"].nunique()),
        files_copied=len(fresh),
    )


def put_back_unsettled(ingress: Path, layout: Staging, record: pd.DataFrame) -> pd.DataFrame:
    """Put back into ingress the files of a move killed before it was recorded as settled, and
    record the rest as all that is staged; raise when anything was put back (the update this
    create would stage is out of date) or could not be (ingress holds other bytes there)."""
    unsettled = record.loc[~record["settled"], "filepath_relative"]
    if unsettled.empty:
        return record
    staged = [layout.content / p for p in unsettled if (layout.content / p).is_file()]
    restored = sum(put_back(path, ingress / path.relative_to(layout.content)) for path in staged)
    stuck = [str(path) for path in staged if path.exists()]
    for path in staged:
        remove_empty_parents(path.parent, layout.content)
    if stuck:
        raise StagingError(
            f"an interrupted move left {', '.join(stuck[:3])} in staging and ingress now holds "
            "other bytes at the same path; keep the right one by hand (staging holds the only "
            "copy of these), then create again"
        )
    record = record[record["settled"]].reset_index(drop=True)
    write_record(layout, record)
    if restored:
        raise StagingError(
            f"an interrupted move was put back into ingress ({restored} files), so the update "
            "this create would stage is out of date; run update again"
        )
    return record
