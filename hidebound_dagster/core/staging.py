"""Create and delete: staging the files of valid assets under <staging>/content without ever
losing or half-writing a file.

Copy mode builds the new content tree beside the old one and swaps it in with renames, so a
reader sees the old tree or the new one, never a mix. Move mode moves each file into its final
place (an atomic rename on one filesystem; copy, fsync, verify, then unlink across filesystems),
so a run killed at any instant leaves every file in ingress, in staging, or in both; an
interrupted move is put back by `restore_interrupted`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from hidebound_dagster.core.identity import (
    Identity,
    change,
    identities,
    is_the_file,
    sha256_file,
)
from hidebound_dagster.core.layout import PARTIAL, Staging
from hidebound_dagster.core.manifest import clear_records, unexported
from hidebound_dagster.core.parallel import Mapper, map_chunked, serial_map
from hidebound_dagster.core.progress import Progress

COPY_BUFFER = 1 << 20
CHANGED_WHILE_STAGED = "left out: a file changed while it was being copied"


class StagingError(RuntimeError):
    """Staging cannot proceed safely; nothing was lost, and the message says what to do."""


def source_changes(files: pd.DataFrame) -> pd.Series:
    """Why a file can no longer be staged as the update saw it (gone, replaced, or modified
    since), None where it is unchanged."""
    changes = [
        change(path, expected, "cannot be staged")
        for path, expected in zip(files["filepath"], identities(files), strict=True)
    ]
    return pd.Series(changes, index=files.index, dtype=object)


def stageable(files: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the valid files into those of assets whose every file is unchanged, and a table of
    the assets left out with their errors (an asset is staged whole or not at all)."""
    changes = source_changes(files)
    bad = files.loc[changes.notna(), "asset_path"]
    lines = files.loc[changes.notna(), "filename"] + ": " + changes.dropna()
    skipped = lines.groupby(bad).agg("\n".join).rename("error").rename_axis("asset_path")
    keep = ~files["asset_path"].isin(bad)
    return files[keep].reset_index(drop=True), skipped.reset_index()


Job = tuple[str, str, Identity]  # source, path relative to content, validated identity


def copy_chunk(target: Path, jobs: list[Job]) -> list[str | None]:
    """Copy each source under target; each copy's sha256, or None (and no copy) where the
    source is no longer the file the scan saw."""
    return [
        copy_validated(source, target / relative, expected) for source, relative, expected in jobs
    ]


def copy_validated(source: str, destination: Path, expected: Identity) -> str | None:
    """Copy the validated file (opened without following links or blocking, checked to be the
    same regular file before and after) and return the sha256 of the bytes written."""
    try:
        handle = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        before = os.fstat(handle)
        if not is_the_file(before, expected):
            return None
        digest = hashlib.sha256()
        with os.fdopen(handle, "rb", closefd=False) as reader, destination.open("xb") as writer:
            while chunk := reader.read(COPY_BUFFER):
                digest.update(chunk)
                writer.write(chunk)
        if not is_the_file(os.fstat(handle), expected):
            destination.unlink()
            return None
        os.utime(destination, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.chmod(destination, stat.S_IMODE(before.st_mode))  # noqa: PTH101
        return digest.hexdigest()
    finally:
        os.close(handle)


def move_chunk(target: Path, jobs: list[Job]) -> list[str | None]:
    """Move each source under target without a moment where it is nowhere; a source that is no
    longer the validated file stops the create (what was moved is put back by update)."""
    digests: list[str | None] = []
    for source, relative, expected in jobs:
        if change(source, expected, "cannot be staged"):
            raise StagingError(f"{source} changed while it was being staged; run update again")
        digests.append(move_file(Path(source), target / relative))
    return digests


def move_file(source: Path, destination: Path) -> str:
    """Move one file and return its sha256: rename on one filesystem; across filesystems copy to
    a partial name, fsync, verify size and sha256, rename into place, then remove the source."""
    digest = sha256_file(source)
    if destination.exists():
        raise StagingError(f"{destination} already exists; refusing to overwrite it")
    try:
        source.rename(destination)
        return digest
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
    partial_path = destination.with_name(destination.name + PARTIAL)
    shutil.copy2(source, partial_path)
    with partial_path.open("rb+") as handle:
        os.fsync(handle.fileno())
    if partial_path.stat().st_size != source.stat().st_size or sha256_file(partial_path) != digest:
        partial_path.unlink()
        raise StagingError(f"copy of {source} to {destination} did not verify; source kept")
    partial_path.rename(destination)
    fsync_directory(destination.parent)
    source.unlink()
    return digest


def fsync_directory(directory: Path) -> None:
    """Make a rename in a directory durable."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def parents(paths: pd.Series) -> list[str]:
    """The distinct parent directories of a column of paths ('' for a top-level name)."""
    return list(dict.fromkeys(path.rpartition("/")[0] for path in paths))


def make_directories(root: Path, relative_paths: pd.Series) -> None:
    """Create every parent directory once, not once per file."""
    for parent in parents(relative_paths):
        (root / parent).mkdir(parents=True, exist_ok=True)


def swap_in(new: Path, place: Path) -> None:
    """Replace `place` by the directory `new` with two renames, then drop the old tree."""
    old = place.with_name(f".{place.name}-old-{uuid.uuid4().hex[:8]}")
    if place.exists():
        place.rename(old)
    new.rename(place)
    shutil.rmtree(old, ignore_errors=True)


def has_files(directory: Path) -> bool:
    """Whether a directory tree holds any file."""
    return directory.is_dir() and any(p.is_file() for p in directory.rglob("*"))


def complete(staging: Path) -> bool:
    """A create finished here: its metadata was swapped in after its content."""
    return Staging(staging).metadata.is_dir()


def not_exported_reason(staging: Path, exporters: Sequence[str]) -> str | None:
    """Why move-mode content here may not be replaced or deleted (it may be the only copy of
    its files); None when every exporter took exactly this content."""
    if not has_files(Staging(staging).content):
        return None
    reasons = unexported(Staging(staging), exporters)
    return "; ".join(reasons) if reasons else None


def restore_interrupted(ingress: Path, staging: Path) -> int:
    """Put back into ingress the files of a move that was killed before its metadata was
    written; returns how many files were put back."""
    content = Staging(staging).content
    if complete(staging) or not content.is_dir():
        return 0
    paths = sorted(p for p in content.rglob("*") if p.is_file())
    restored = sum(put_back(path, ingress / path.relative_to(content)) for path in paths)
    remove_empty_directories(content, keep_root=False)
    return restored


def put_back(path: Path, original: Path) -> bool:
    """Undo the move of one staged file to `original` in ingress; True when it was moved back.
    A partial copy is dropped (its source was never removed), and so is a file whose original
    holds the same bytes; a file whose original now holds other bytes stays (the only copy)."""
    if path.name.endswith(PARTIAL):
        path.unlink()
    elif original.exists():
        if sha256_file(original) == sha256_file(path):
            path.unlink()
    else:
        original.parent.mkdir(parents=True, exist_ok=True)
        move_file(path, original)
        return True
    return False


def remove_empty_directories(root: Path, keep_root: bool = True) -> None:
    """Remove, bottom-up, every directory under root that holds nothing."""
    if not root.is_dir():
        return
    for directory, _, _ in sorted(os.walk(root), key=lambda item: -len(item[0])):
        if (keep_root and Path(directory) == root) or any(os.scandir(directory)):
            continue
        Path(directory).rmdir()


def delete(ingress: Path, staging: Path, write_mode: str, exporters: Sequence[str] = ()) -> None:
    """Remove the content, the metadata and their records only. In move mode the staged files
    may be the only copy: an interrupted move is put back first, and content that not every
    exporter in `exporters` (identities) exported is kept, with an error saying why."""
    layout = Staging(staging)
    if write_mode == "move":
        restore_interrupted(ingress, staging)
        reason = not_exported_reason(staging, exporters)
        if reason:
            raise StagingError(
                f"refusing to delete {layout.content}: in move mode it holds the only copy of "
                f"its files, and it is not exported: {reason}; run export first, or move the "
                "files back"
            )
    if layout.content.exists():
        layout.content.rename(layout.trash())
    for path in layout.owned():
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    remove_leftovers(staging)


def overlapping(first: Path, second: Path) -> bool:
    """Whether two directories are the same, or one is inside the other."""
    first, second = first.resolve(), second.resolve()
    return first == second or first in second.parents or second in first.parents


def check_apart(ingress: Path, staging: Path) -> None:
    """Refuse a staging directory inside, containing or equal to the ingress directory."""
    if overlapping(ingress, staging):
        ingress, staging = ingress.resolve(), staging.resolve()
        raise StagingError(
            f"staging {staging} and ingress {ingress} must not be equal or inside one another"
        )


def stage_content(
    files: pd.DataFrame,
    ingress: Path,
    staging: Path,
    write_mode: str,
    mapper: Mapper = serial_map,
    chunks: int = 16,
    log: Callable[[str], None] | None = None,
    exporters: Sequence[str] = (),
) -> pd.Series:
    """Copy or move the files into <staging>/content, replacing what was there; returns each
    file's sha256. Raises StagingError where the old content must not be replaced (move mode:
    content that not every exporter in `exporters` took)."""
    check_apart(ingress, staging)
    staging.mkdir(exist_ok=True)
    layout = Staging(staging)
    content = layout.content
    remove_leftovers(staging)
    if write_mode == "move":
        if restore_interrupted(ingress, staging):
            raise StagingError(
                "an interrupted move was put back into ingress, so the update this create "
                "would stage is out of date; run update again"
            )
        reason = not_exported_reason(staging, exporters)
        if reason:
            raise StagingError(
                f"{content} holds files of an earlier move that are not exported ({reason}); "
                "export or delete them before the next create"
            )
    clear_records(layout)
    shutil.rmtree(layout.metadata, ignore_errors=True)  # content without metadata = unfinished
    target = content if write_mode == "move" else layout.work_dir("content")
    if write_mode == "move":
        shutil.rmtree(content, ignore_errors=True)
    target.mkdir()
    make_directories(target, files["filepath_relative"])
    work = copy_chunk if write_mode == "copy" else move_chunk
    jobs = list(zip(files["filepath"], files["filepath_relative"], identities(files), strict=True))
    try:
        progress = Progress(log, f"create: {write_mode}", len(jobs)) if log else None
        digests = pd.Series(
            map_chunked(mapper, partial(work, target), jobs, chunks, progress),
            index=files.index,
            dtype=object,
        )
        if write_mode == "copy":
            digests = drop_changed_assets(files, digests, target)
    except BaseException:
        if write_mode == "copy":
            shutil.rmtree(target, ignore_errors=True)
        raise
    if write_mode == "copy":
        swap_in(target, content)
    else:
        for parent in parents(files["filepath"]):
            remove_empty_parents(Path(parent), ingress)
    return digests


def drop_changed_assets(files: pd.DataFrame, digests: pd.Series, target: Path) -> pd.Series:
    """Remove from the new content tree every file of an asset that had a file change while it
    was copied (an asset is staged whole or not at all); those files' digests become None."""
    changed = files.loc[digests.isna(), "asset_path"].unique()
    if not len(changed):
        return digests
    dropped = files["asset_path"].isin(changed)
    for relative in files.loc[dropped & digests.notna(), "filepath_relative"]:
        (target / relative).unlink()
    remove_empty_directories(target)
    return digests.where(~dropped, None)


def remove_leftovers(staging: Path) -> None:
    """Remove what a killed create, metadata write or delete left (never the only copy of a
    file: a move never goes through work directories, and delete trashes only what it may)."""
    for leftover in Staging(staging).leftovers():
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def remove_empty_parents(directory: Path, stop: Path) -> None:
    """Remove a directory emptied by moves, and its emptied parents, up to (not including)
    stop."""
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def remove_files(root: Path, relative_paths: Iterable[str]) -> int:
    """Remove these files (or links) under root, and the directories that leaves empty, up to
    root; returns how many were there."""
    removed = 0
    for relative in relative_paths:
        try:
            (root / relative).unlink()
        except FileNotFoundError:
            continue
        removed += 1
        remove_empty_parents((root / relative).parent, root)
    return removed


@dataclass(frozen=True)
class Staged:
    """What a create staged: the files it describes (the table's rows, with sha256), the valid
    assets it left out (asset_path, error), and how much it did."""

    files: pd.DataFrame
    skipped: pd.DataFrame
    assets_unchanged: int = 0  # staged before and left untouched: not copied, not hashed
    assets_staged: int = 0  # copied or moved in by this create
    assets_removed: int = 0  # staged before, removed (vanished, invalid or changed and left out)
    files_copied: int = 0
    files_removed: int = 0


def with_digests(
    files: pd.DataFrame, digests: pd.Series, skipped: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The files that were staged, with their sha256, and the skipped assets plus those left
    out because a file changed during the copy (its digest is None)."""
    changed = files.loc[digests.isna(), ["asset_path"]].drop_duplicates()
    skipped = pd.concat([skipped, changed.assign(error=CHANGED_WHILE_STAGED)], ignore_index=True)
    staged = files[digests.notna()].assign(sha256=digests.dropna()).reset_index(drop=True)
    return staged, skipped


@dataclass(frozen=True)
class Spread:
    """How a create spreads its copies or moves: the mapper, how many chunks, and where its
    progress is logged."""

    mapper: Mapper = serial_map
    chunks: int = 16
    log: Callable[[str], None] | None = None

    def transfer(
        self,
        files: pd.DataFrame,
        content: Path,
        work: Callable[[Path, list], list[str | None]],
        stage: str,
    ) -> pd.Series:
        """Apply a copy or move chunk function to the files, into content/; each file's sha256
        (None where a copy found its source changed)."""
        make_directories(content, files["filepath_relative"])
        jobs = list(
            zip(files["filepath"], files["filepath_relative"], identities(files), strict=True)
        )
        progress = Progress(self.log, stage, len(jobs)) if self.log else None
        digests = map_chunked(self.mapper, partial(work, content), jobs, self.chunks, progress)
        return pd.Series(digests, index=files.index, dtype=object)


SERIAL = Spread()


def stage_rebuild(
    files: pd.DataFrame,
    ingress: Path,
    staging: Path,
    write_mode: str,
    spread: Spread = SERIAL,
    exporters: Sequence[str] = (),
) -> Staged:
    """Clear and rebuild: stage every valid file afresh (see stage_content); an asset with a
    file gone or changed since update is left out whole."""
    valid, skipped = stageable(files)
    digests = stage_content(
        valid, ingress, staging, write_mode, spread.mapper, spread.chunks, spread.log, exporters
    )
    staged, skipped = with_digests(valid, digests, skipped)
    assets = int(staged["asset_path"].nunique())
    return Staged(staged, skipped, assets_staged=assets, files_copied=len(staged))
