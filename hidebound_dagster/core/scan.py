"""Listing an ingress directory: one record per file, with the problems that stop a file from
being read recorded on its row instead of raised."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

SCAN_COLUMNS = ["filepath_relative", "filename", "size", "mtime_ns", "scan_error"]


def printable(name: str) -> str:
    """A file name as valid UTF-8: undecodable bytes shown as \\xNN escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def scan_directory(root: Path) -> pd.DataFrame:
    """Walk root without following the same directory twice: relative path, size, mtime and a
    scan error (unreadable file, broken link, link loop, non-UTF-8 name) per file. The real
    tree is walked first and symbolic links to directories after it, each level in name order,
    so the same tree always gives the same rows."""
    records: list[tuple[str, str, int | None, int | None, str | None]] = []
    seen = {_identity(root)}
    real: list[tuple[str, str]] = [("", str(root))]
    links: list[tuple[str, str]] = []
    while real or links:
        prefix, directory = real.pop() if real else links.pop(0)
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name, reverse=True)
        except OSError as error:
            problem = f"cannot list directory: {error.strerror}"
            records.append(error_row(prefix.rstrip("/"), problem))
            continue
        found_real: list[tuple[str, str]] = []
        found_links: list[tuple[str, str]] = []
        for entry in entries:
            relative = prefix + entry.name
            try:
                if entry.is_dir():
                    found = found_links if entry.is_symlink() else found_real
                    found.append((relative + "/", entry.path))
                    continue
                stat = entry.stat()
            except OSError as error:
                records.append(error_row(relative, f"cannot read file: {error.strerror}"))
                continue
            shown = printable(relative)
            name_error = None if shown == relative else "file path is not valid UTF-8"
            records.append(
                (shown, shown.rpartition("/")[2], stat.st_size, stat.st_mtime_ns, name_error)
            )
        real += _unseen(found_real, seen, records)
        links += _unseen(sorted(found_links), seen, records)
    table = pd.DataFrame.from_records(records, columns=SCAN_COLUMNS)
    table = table.astype({"size": "Int64", "mtime_ns": "Int64", "scan_error": object})
    return table.sort_values("filepath_relative", ignore_index=True)


def error_row(relative: str, problem: str) -> tuple[str, str, None, None, str]:
    """A row for an entry that cannot be read."""
    shown = printable(relative)
    return shown, shown.rpartition("/")[2], None, None, problem


def _unseen(
    pending: list[tuple[str, str]], seen: set[tuple[int, int]], records: list
) -> list[tuple[str, str]]:
    """Directories not scanned yet; one reached again (through a link) becomes an error row."""
    kept = []
    for prefix, directory in pending:
        try:
            identity = _identity(Path(directory))
        except OSError as error:
            problem = f"cannot read directory: {error.strerror}"
            records.append(error_row(prefix.rstrip("/"), problem))
            continue
        if identity in seen:
            records.append(
                error_row(
                    prefix.rstrip("/"), "symbolic link to a directory already scanned (a loop?)"
                )
            )
            continue
        seen.add(identity)
        kept.append((prefix, directory))
    return kept


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def select(files: pd.DataFrame, include_regex: str, exclude_regex: str) -> pd.DataFrame:
    """Rows whose relative path matches include (all if empty) and not exclude (none if empty)."""
    keep = pd.Series(True, index=files.index)
    paths = files["filepath_relative"]
    if include_regex:
        keep &= paths.str.contains(re.compile(include_regex), regex=True)
    if exclude_regex:
        keep &= ~paths.str.contains(re.compile(exclude_regex), regex=True)
    return files[keep].reset_index(drop=True)
