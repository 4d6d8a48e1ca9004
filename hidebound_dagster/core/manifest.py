"""What a staging area holds, as digests, and who exported it.

Create writes a manifest (a digest of every staged file's path, size and sha256, and a digest of
their sizes and modification times); each exporter records the manifest digest it exported; the
integrity check (verification.py) proves they agree before anything is exported; and
delete in move mode requires every configured exporter to have exported exactly this content.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from hidebound_dagster.core.layout import Staging


@dataclass(frozen=True)
class Manifest:
    content_digest: str  # sha256 over (path, size, sha256) of every staged file
    stat_digest: str  # sha256 over (path, size, mtime_ns): cheap to re-check
    files: int
    bytes: int


def digest(lines: Iterable[str]) -> str:
    """The sha256 of sorted lines, so the order files were listed in never matters."""
    hasher = hashlib.sha256()
    for line in sorted(lines):
        hasher.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return hasher.hexdigest()


def content_stats(content: Path) -> dict[str, os.stat_result]:
    """Every entry under the content directory that is not a directory, by relative path."""
    stats: dict[str, os.stat_result] = {}
    for directory, _, names in os.walk(content):
        base = Path(directory).relative_to(content).as_posix()
        prefix = "" if base == "." else base + "/"
        for name in names:
            stats[prefix + name] = os.lstat(os.path.join(directory, name))  # noqa: PTH118
    return stats


def stat_digest(stats: dict[str, os.stat_result]) -> str:
    return times_digest((path, st.st_size, st.st_mtime_ns) for path, st in stats.items())


def times_digest(rows: Iterable[tuple[str, int, int]]) -> str:
    return digest(f"{path}\0{size}\0{mtime_ns}" for path, size, mtime_ns in rows)


def content_digest(rows: Iterable[tuple[str, int, str]]) -> str:
    return digest(f"{path}\0{size}\0{sha256}" for path, size, sha256 in rows)


def write_manifest(staging: Staging, staged: pd.DataFrame) -> Manifest:
    """Record what create staged: `staged` has filepath_relative and sha256 per file; sizes and
    times are read from the staged files themselves."""
    stats = content_stats(staging.content)
    sha256 = dict(zip(staged["filepath_relative"], staged["sha256"], strict=True))
    if set(stats) != set(sha256):
        raise ValueError("the staged content does not match the staged table")
    manifest = Manifest(
        content_digest=content_digest((p, st.st_size, sha256[p]) for p, st in stats.items()),
        stat_digest=stat_digest(stats),
        files=len(stats),
        bytes=sum(st.st_size for st in stats.values()),
    )
    write_json(staging.manifest, manifest.__dict__)
    return manifest


def write_recorded_manifest(staging: Staging, record: pd.DataFrame) -> Manifest:
    """Record what create staged from the staged record (path, staged size and mtime, sha256
    per file; the incremental create stat-ed every staged file), without walking content/."""
    rows = record[["filepath_relative", "staged_size", "staged_mtime_ns", "sha256"]]
    paths, sizes, times, sha256 = (rows[column].tolist() for column in rows)
    manifest = Manifest(
        content_digest=content_digest(zip(paths, sizes, sha256, strict=True)),
        stat_digest=times_digest(zip(paths, sizes, times, strict=True)),
        files=len(paths),
        bytes=int(sum(sizes)),
    )
    write_json(staging.manifest, manifest.__dict__)
    return manifest


def read_manifest(staging: Staging) -> Manifest | None:
    """The manifest of the last finished create; None when there is none (or it is damaged)."""
    try:
        return Manifest(**json.loads(staging.manifest.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file to a temporary name, fsync, then rename: never half a record."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def write_json(path: Path, data: object) -> None:
    """Write JSON atomically (see write_atomically)."""
    write_atomically(path, lambda handle: handle.write(json.dumps(data).encode()))


def clear_exports(staging: Staging) -> None:
    """Forget the manifest and who exported it: the staging claims nothing until the next
    manifest, and old exports never cover new content."""
    staging.manifest.unlink(missing_ok=True)
    shutil.rmtree(staging.exports, ignore_errors=True)


def clear_records(staging: Staging) -> None:
    """Forget what was staged, exported and proved intact: the manifest, the export records,
    the record of the staged files and what the integrity check remembers."""
    clear_exports(staging)
    staging.staged.unlink(missing_ok=True)
    staging.verified.unlink(missing_ok=True)


def record_export(staging: Staging, exporter: str, manifest: Manifest) -> None:
    """Record that `exporter` (its identity) exported the staging this manifest describes."""
    staging.exports.mkdir(exist_ok=True)
    write_json(
        staging.export_record(exporter),
        {
            "exporter": exporter,
            "content_digest": manifest.content_digest,
        },
    )


def exported_digest(staging: Staging, exporter: str) -> str | None:
    """The manifest digest `exporter` last exported from this staging, if any."""
    try:
        record = json.loads(staging.export_record(exporter).read_text())
    except (OSError, ValueError):
        return None
    return record.get("content_digest") if record.get("exporter") == exporter else None


def unexported(staging: Staging, exporters: Sequence[str]) -> list[str]:
    """Why the content of this staging may not be deleted as exported: empty when every exporter
    in `exporters` exported exactly the content that is there now."""
    if not exporters:
        return ["no exporter is configured, so it is the only copy of its files"]
    manifest = read_manifest(staging)
    if manifest is None:
        return ["it has no manifest: the create that staged it did not finish"]
    if stat_digest(content_stats(staging.content)) != manifest.stat_digest:
        return ["its files changed since create"]
    return [
        f"{exporter} has not exported it"
        for exporter in exporters
        if exported_digest(staging, exporter) != manifest.content_digest
    ]
