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
    scan error (unreadable file, broken link, link loop, non-UTF-8 name) per file."""
    records: list[tuple[str, str, int | None, int | None, str | None]] = []
    seen = {_identity(root)}
    stack = [("", str(root))]
    while stack:
        prefix, directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as error:
            records.append((prefix, prefix.rpartition("/")[2], None, None,
                            f"cannot list directory: {error.strerror}"))
            continue
        for entry in entries:
            relative = prefix + entry.name
            try:
                if entry.is_dir():
                    identity = _identity(Path(entry.path))
                    if identity in seen:
                        records.append((printable(relative), printable(entry.name), None, None,
                                        "symbolic link to a directory already scanned (a loop?)"))
                    else:
                        seen.add(identity)
                        stack.append((relative + "/", entry.path))
                    continue
                stat = entry.stat()
            except OSError as error:
                records.append((printable(relative), printable(entry.name), None, None,
                                f"cannot read file: {error.strerror}"))
                continue
            error_text = None if printable(entry.name) == entry.name else (
                "file name is not valid UTF-8"
            )
            records.append((printable(relative), printable(entry.name), stat.st_size,
                            stat.st_mtime_ns, error_text))
    table = pd.DataFrame.from_records(records, columns=SCAN_COLUMNS)
    table = table.astype({"size": "Int64", "mtime_ns": "Int64", "scan_error": object})
    return table.sort_values("filepath_relative", ignore_index=True)


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
