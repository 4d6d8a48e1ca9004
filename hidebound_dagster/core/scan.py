"""Listing an ingress directory: one record per entry that is not a directory, with whatever
stops it from being read recorded on its row instead of raised.

Only regular files inside ingress are ever read. A symbolic link is a row with an error and is
never followed, unless `follow_symlinks="within"`, which follows links whose resolved target
stays inside ingress (each directory once). FIFOs, sockets and devices are rows with an error;
the scan only lists and lstats, so it never opens (and never blocks on) any of them.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path
from typing import Literal

import numpy as np
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
BATCH = 65_536  # rows listed before they are packed into arrays
FORMAT_BITS = 0o170000  # the bits of st_mode that stat.S_IFMT keeps: the kind of entry
STATUS_FIELDS = {  # the table's integer columns, and the mode that tells a special file
    "size": attrgetter("st_size"),
    "mtime_ns": attrgetter("st_mtime_ns"),
    "device": attrgetter("st_dev"),
    "inode": attrgetter("st_ino"),
    "mode": attrgetter("st_mode"),
}
# What a row without a status holds in its (missing) facts: zeros, and a regular file's mode.
NO_STATUS = os.stat_result((stat.S_IFREG,) + (0,) * (os.stat_result.n_fields - 1))
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
    """The scan's rows as lists until a batch is packed into typed columns; the integer
    columns are built exactly (never via float). A walk of a million files is handed out in
    batches, so it never holds a million Python objects per column."""

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        self.paths: list[str] = []
        self.facts: dict[str, list[int]] = {name: [] for name in STATUS_FIELDS}
        self.missing: list[bool] = []
        self.problems: list[str | None] = []
        self.targets: list[str | None] = []

    def __len__(self) -> int:
        return len(self.paths)

    def add(
        self,
        relative: str,
        status: os.stat_result | None,
        problem: str | None = None,
        target: str | None = None,
    ) -> None:
        """One entry: its status, or the problem that stopped the scan from reading it."""
        known = NO_STATUS if status is None else status
        self.take([relative], [known], status is None, problem, target)

    def extend(
        self, prefix: str, entries: list[os.DirEntry[str]], statuses: list[os.stat_result]
    ) -> None:
        """The plain entries of one directory (neither a directory nor a link), lstat-ed."""
        self.take([prefix + entry.name for entry in entries], statuses, False, None, None)

    def take(
        self,
        paths: list[str],
        statuses: list[os.stat_result],
        missing: bool,
        problem: str | None,
        target: str | None,
    ) -> None:
        """Rows that share whether their facts are missing, their problem and link target;
        their facts are copied out at once, so the status objects can go."""
        self.paths += paths
        for name, field in STATUS_FIELDS.items():
            self.facts[name] += map(field, statuses)
        self.missing += [missing] * len(paths)
        self.problems += [problem] * len(paths)
        self.targets += [target] * len(paths)

    def batch(self) -> pd.DataFrame:
        """The rows so far as a table (every column but the file name, in listing order);
        the lists start afresh."""
        facts = {name: np.array(values, dtype=np.int64) for name, values in self.facts.items()}
        missing = np.array(self.missing, dtype=bool)
        special = special_problems(self.problems, facts.pop("mode"))
        paths, problems = printable_paths(self.paths, special)
        table = pd.DataFrame(
            {
                "filepath_relative": paths,
                **{
                    name: pd.arrays.IntegerArray(values, missing.copy())
                    for name, values in facts.items()
                },
                "scan_error": problems,
                "link_target": pd.Series(self.targets, dtype=object),
            }
        )
        self.start()
        return table


def special_problems(problems: list[str | None], modes: np.ndarray) -> list[str | None]:
    """The problems, with one added for every entry that is not a regular file (a FIFO, a
    socket, a device); only such entries are looked at one by one."""
    special = np.flatnonzero((modes & FORMAT_BITS) != stat.S_IFREG)
    for row in special:
        problems[row] = problems[row] or not_regular(int(modes[row]))
    return problems


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
    """Walk root: relative path, file name, size, mtime, device, inode and a scan error per
    entry, sorted by path."""
    batches = list(listing(root, follow_symlinks))
    table = pd.concat(batches, ignore_index=True) if len(batches) > 1 else batches[0]
    table = table.sort_values("filepath_relative", ignore_index=True)
    names = table["filepath_relative"].str.replace(r"(?s)^.*/", "", regex=True)  # \n in names
    table.insert(1, "filename", names)
    return table


def listing(root: Path, follow_symlinks: LinkPolicy = "never") -> Iterator[pd.DataFrame]:
    """Walk root, handing out the rows in batches of about BATCH (always at least one batch,
    perhaps empty), in no particular order."""
    walk = Walk(root, follow_symlinks)
    while walk.real or walk.links:
        if len(walk.rows) >= BATCH:
            yield walk.rows.batch()
        walk.visit_next()
    yield walk.rows.batch()


class Walk:
    """One walk of an ingress: the rows so far, the directories still to list and those seen.
    The real tree is walked first and followed links to directories after it, each level in
    name order, so a directory is listed under its real path whatever order the OS lists
    entries in."""

    def __init__(self, root: Path, follow_symlinks: LinkPolicy) -> None:
        self.rows = Rows()
        self.inside = root.resolve()
        self.policy = follow_symlinks
        self.seen = {identity(root.stat())}
        self.real: list[tuple[str, str]] = [("", str(root))]
        self.links: list[tuple[str, str, tuple[int, int]]] = []

    def visit_next(self) -> None:
        """List the next directory: the real tree first, then the followed links."""
        if self.real:
            self.visit(*self.real.pop())
            return
        relative, directory, key = self.links.pop(0)
        if key in self.seen:
            self.rows.add(relative, None, "symbolic link to a directory already scanned (a loop?)")
            return
        self.seen.add(key)
        self.visit(relative + "/", directory)

    def visit(self, prefix: str, directory: str) -> None:
        """List one directory through a descriptor, so each entry is lstat-ed by name."""
        try:
            descriptor = open_directory(directory)
        except OSError as error:
            self.unlisted(prefix, error)
            return
        try:
            self.read(prefix, directory, descriptor)
        finally:
            os.close(descriptor)

    def unlisted(self, prefix: str, error: OSError) -> None:
        self.rows.add(prefix.rstrip("/"), None, f"cannot list directory: {error.strerror}")

    def read(self, prefix: str, directory: str, descriptor: int) -> None:
        """The rows of one open directory; its subdirectories and links queued."""
        try:
            entries = list(os.scandir(descriptor))
        except OSError as error:
            self.unlisted(prefix, error)
            return
        try:  # the common case in one go: plain entries (neither directory nor link), lstat-ed
            odd = [entry.is_symlink() or entry.is_dir(follow_symlinks=False) for entry in entries]
            plain = list(itertools.compress(entries, [not flag for flag in odd]))
            statuses = [entry.stat(follow_symlinks=False) for entry in plain]
            rest = list(itertools.compress(entries, odd))
        except OSError:  # something vanished or cannot be read: each entry on its own
            plain, statuses, rest = [], [], entries
        self.rows.extend(prefix, plain, statuses)
        subdirectories: list[os.DirEntry[str]] = []
        found_links: list[tuple[str, str, tuple[int, int]]] = []
        for entry in rest:
            relative = prefix + entry.name
            try:
                if entry.is_symlink():
                    followed = follow(f"{directory}/{entry.name}", self.inside, self.policy)
                    if isinstance(followed, str):
                        self.rows.add(relative, None, followed)
                    elif stat.S_ISDIR(followed[0].st_mode):
                        found_links.append((relative, str(followed[1]), identity(followed[0])))
                    else:  # read, and staged, through the file it resolves to
                        status, target = followed
                        self.rows.add(relative, status, None, printable(str(target)))
                elif entry.is_dir(follow_symlinks=False):
                    subdirectories.append(entry)
                else:
                    self.rows.add(relative, entry.stat(follow_symlinks=False))
            except OSError as error:
                self.rows.add(relative, None, f"cannot read: {error.strerror}")
        self.descend(prefix, directory, subdirectories)
        self.links += sorted(found_links)

    def descend(self, prefix: str, directory: str, subdirectories: list[os.DirEntry[str]]) -> None:
        """Queue the subdirectories not seen before, to be listed in name order."""
        for entry in sorted(subdirectories, key=lambda entry: entry.name, reverse=True):
            relative = prefix + entry.name
            try:
                key = identity(entry.stat(follow_symlinks=False))
            except OSError as error:
                self.rows.add(relative, None, f"cannot read: {error.strerror}")
                continue
            if key in self.seen:  # the same directory mounted twice
                self.rows.add(relative, None, "directory already scanned (mounted twice?)")
            else:
                self.seen.add(key)
                self.real.append((relative + "/", f"{directory}/{entry.name}"))


def open_directory(path: str) -> int:
    """A descriptor of the directory at path, opened as opendir opens one: it never blocks
    and never opens anything but a directory."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK | os.O_CLOEXEC)


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


def not_regular(mode: int) -> str:
    """Why an entry that is neither a directory nor a regular file is not read."""
    kind = SPECIAL.get(stat.S_IFMT(mode), "not a regular file")
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
