"""What a staging area holds, as digests, and who exported it.

Create writes a manifest (a digest of every staged file's path, size and sha256, and a digest of
their sizes and modification times); each exporter records the manifest digest it exported; the
integrity check proves content, metadata and manifest agree before anything is exported; and
delete in move mode requires every configured exporter to have exported exactly this content.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from hidebound_dagster.core.identity import sha256_file
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.parallel import Mapper, map_chunked, serial_map


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
    """Forget what was staged and exported: the manifest, the export records and the record of
    the staged files."""
    clear_exports(staging)
    staging.staged.unlink(missing_ok=True)


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


def sha256_files(paths: list[str]) -> list[str]:
    return [sha256_file(path) for path in paths]


def verify_staging(staging: Staging, mapper: Mapper = serial_map, chunks: int = 16) -> list[str]:
    """Every problem that makes this staging unfit to export: content without metadata, metadata
    without content, sizes or sha256 that disagree, a missing or stale manifest."""
    records, problems = file_metadata(staging)
    stats = content_stats(staging.content)
    problems += [
        f"content/{path}: no file metadata describes it"
        for path in sorted(set(stats) - set(records))
    ]
    problems += [
        f"content/{path}: described by file metadata but missing"
        for path in sorted(set(records) - set(stats))
    ]
    both = sorted(set(stats) & set(records))
    regular = [p for p in both if stat.S_ISREG(stats[p].st_mode)]  # lstat: links are not
    problems += [
        f"content/{p}: not a regular file" for p in both if not stat.S_ISREG(stats[p].st_mode)
    ]
    sizes = [p for p in regular if stats[p].st_size != records[p]["size"]]
    problems += [
        f"content/{p}: {stats[p].st_size} bytes, its metadata says {records[p]['size']}"
        for p in sizes
    ]
    paths = [str(staging.content / p) for p in regular]
    digests = map_chunked(mapper, sha256_files, paths, chunks)
    problems += [
        f"content/{p}: sha256 differs from its metadata"
        for p, actual in zip(regular, digests, strict=True)
        if actual != records[p]["sha256"]
    ]
    manifest = read_manifest(staging)
    if manifest is None:
        problems.append(f"{staging.manifest.name}: missing; run create again")
    elif not problems and manifest.content_digest != content_digest(
        (p, stats[p].st_size, records[p]["sha256"]) for p in regular
    ):
        problems.append(f"{staging.manifest.name}: does not describe the staged files")
    return problems


def file_metadata(staging: Staging) -> tuple[dict[str, dict], list[str]]:
    """The size and sha256 of each file metadata record, by its path under content/, and the
    records that cannot be read."""
    records: dict[str, dict] = {}
    problems: list[str] = []
    directory = staging.metadata_dir("file")
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            record = json.loads(path.read_text())
            records[record["filepath_relative"]] = {
                "size": record["size"],
                "sha256": record["sha256"],
            }
        except (OSError, ValueError, KeyError, TypeError):
            problems.append(f"metadata/file/{path.name}: not a readable file metadata record")
    if not staging.metadata.is_dir():
        problems.append("metadata: missing; run create again")
    return records, problems
