"""Listing an ingress directory: one record per entry that is not a directory, with whatever
stops it from being read recorded on its row instead of raised.

Only regular files inside ingress are ever read. A symbolic link is a row with an error and is
never followed, unless `follow_symlinks="within"`, which follows links whose resolved target
stays inside ingress (each directory once). FIFOs, sockets and devices are rows with an error;
the scan only lists and lstats, so it never opens (and never blocks on) any of them.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Literal

import pandas as pd

SCAN_COLUMNS = [
    "filepath_relative",
    "filename",
    "size",
    "mtime_ns",
    "device",
    "inode",
    "scan_error",
    "link_target",
]
FACTS = ["size", "mtime_ns", "device", "inode"]
BATCH = 65_536  # rows listed before they are packed into arrays
LinkPolicy = Literal["never", "within"]
SPECIAL = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}
LINK_NOT_FOLLOWED = "symbolic link: not ingested (links are not followed; see follow_symlinks)"
LINK_OUTSIDE = "symbolic link to outside the ingress directory: not ingested"


def printable(name: str) -> str:
    """A file name as valid UTF-8: undecodable bytes shown as \\xNN escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


class Rows:
    """The scan's rows as columns, so integer columns are built exactly (never via float).
    Every BATCH rows the lists become arrays, so a walk of a million files never holds a
    million Python objects per column."""

    def __init__(self) -> None:
        self.columns: dict[str, list] = {}
        self.parts: list[pd.DataFrame] = []
        self.start()

    def start(self) -> None:
        self.columns = {name: [] for name in SCAN_COLUMNS if name != "filename"}

    def add(
        self,
        relative: str,
        status: os.stat_result | None,
        problem: str | None,
        target: str | None = None,
    ) -> None:
        columns = self.columns
        columns["filepath_relative"].append(relative)
        if status:
            columns["size"].append(status.st_size)
            columns["mtime_ns"].append(status.st_mtime_ns)
            columns["device"].append(status.st_dev)
            columns["inode"].append(status.st_ino)
        else:
            for name in FACTS:
                columns[name].append(None)
        columns["scan_error"].append(problem)
        columns["link_target"].append(target)
        if len(columns["scan_error"]) >= BATCH:
            self.flush()

    def flush(self) -> None:
        columns = self.columns
        paths, problems = printable_paths(columns["filepath_relative"], columns["scan_error"])
        self.parts.append(
            pd.DataFrame(
                {
                    "filepath_relative": paths,
                    "filename": paths.str.replace(r"(?s)^.*/", "", regex=True),  # \n in names
                    **{name: pd.array(columns[name], dtype="Int64") for name in FACTS},
                    "scan_error": problems,
                    "link_target": pd.Series(columns["link_target"], dtype=object),
                }
            )
        )
        self.start()

    def table(self) -> pd.DataFrame:
        self.flush()
        table = pd.concat(self.parts, ignore_index=True) if len(self.parts) > 1 else self.parts[0]
        return table.sort_values("filepath_relative", ignore_index=True)


def printable_paths(paths: list[str], problems: list[str | None]) -> tuple[pd.Series, pd.Series]:
    """The paths as valid UTF-8 text, and the problems with a path that is not valid UTF-8
    added; only a listing that holds such a path pays for checking each one."""
    errors = pd.Series(problems, dtype=object)
    try:
        return pd.Series(pd.array(paths, dtype="str")), errors
    except UnicodeEncodeError:
        shown = [printable(path) for path in paths]
    changed = pd.Series([a != b for a, b in zip(shown, paths, strict=True)])
    errors[changed & errors.isna()] = "file path is not valid UTF-8"
    return pd.Series(pd.array(shown, dtype="str")), errors


def scan_directory(root: Path, follow_symlinks: LinkPolicy = "never") -> pd.DataFrame:
    """Walk root: relative path, size, mtime, device, inode and a scan error per entry. The
    real tree is walked first and followed links to directories after it (so a directory is
    listed under its real path), each level in name order: the same tree gives the same rows."""
    rows = Rows()
    inside = root.resolve()
    seen = {identity(root.stat())}
    real: list[tuple[str, str]] = [("", str(root))]
    links: list[tuple[str, str, tuple[int, int]]] = []
    while real or links:
        if real:
            prefix, directory = real.pop()
        else:
            relative, directory, key = links.pop(0)
            if key in seen:
                rows.add(relative, None, "symbolic link to a directory already scanned (a loop?)")
                continue
            seen.add(key)
            prefix = relative + "/"
        try:
            entries = list(os.scandir(directory))
        except OSError as error:
            rows.add(prefix.rstrip("/"), None, f"cannot list directory: {error.strerror}")
            continue
        found_links: list[tuple[str, str, tuple[int, int]]] = []
        subdirectories: list[os.DirEntry[str]] = []
        for entry in entries:
            relative = prefix + entry.name
            try:
                if entry.is_symlink():
                    followed = follow(entry.path, inside, follow_symlinks)
                    if isinstance(followed, str):
                        rows.add(relative, None, followed)
                    elif stat.S_ISDIR(followed[0].st_mode):
                        found_links.append((relative, str(followed[1]), identity(followed[0])))
                    else:  # read, and staged, through the file it resolves to
                        status, target = followed
                        rows.add(relative, status, not_regular(status), printable(str(target)))
                elif entry.is_dir(follow_symlinks=False):
                    subdirectories.append(entry)
                else:
                    status = entry.stat(follow_symlinks=False)
                    rows.add(relative, status, not_regular(status))
            except OSError as error:
                rows.add(relative, None, f"cannot read: {error.strerror}")
        for entry in sorted(subdirectories, key=lambda entry: entry.name, reverse=True):
            relative = prefix + entry.name
            try:
                key = identity(entry.stat(follow_symlinks=False))
            except OSError as error:
                rows.add(relative, None, f"cannot read: {error.strerror}")
                continue
            if key in seen:  # the same directory mounted twice
                rows.add(relative, None, "directory already scanned (mounted twice?)")
            else:
                seen.add(key)
                real.append((relative + "/", entry.path))
        links += sorted(found_links)
    return rows.table()


def resolved(path: str) -> str:
    return os.path.realpath(path)


def follow(path: str, inside: Path, policy: LinkPolicy) -> tuple[os.stat_result, Path] | str:
    """The status and resolved path of a link's target when the policy lets it be followed,
    else why not."""
    if policy == "never":
        return LINK_NOT_FOLLOWED
    target = Path(resolved(path))
    if target != inside and inside not in target.parents:
        return LINK_OUTSIDE
    try:
        return target.stat(), target
    except OSError as error:
        return f"broken symbolic link: {error.strerror}"


def not_regular(status: os.stat_result) -> str | None:
    """Why an entry that is not a directory is not read: None for a regular file."""
    if stat.S_ISREG(status.st_mode):
        return None
    kind = SPECIAL.get(stat.S_IFMT(status.st_mode), "not a regular file")
    return f"{kind}, not a regular file: never opened"


def identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def select(files: pd.DataFrame, include_regex: str, exclude_regex: str) -> pd.DataFrame:
    """Rows whose relative path matches include (all if empty) and not exclude (none if empty)."""
    keep = pd.Series(True, index=files.index)
    paths = files["filepath_relative"]
    if include_regex:
        keep &= paths.str.contains(re.compile(include_regex), regex=True)
    if exclude_regex:
        keep &= ~paths.str.contains(re.compile(exclude_regex), regex=True)
    return files[keep].reset_index(drop=True)
