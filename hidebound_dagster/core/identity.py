"""Identity: deterministic ids (uuid5 of a path relative to ingress, so re-runs overwrite, never
duplicate), the sha256 that says two files hold the same bytes, and the device, inode, size
and modification time that say a file is still the one the scan saw."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from pathlib import Path

import pandas as pd

ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "hidebound-dagster")


def path_id(relative_path: str) -> str:
    """The id of one relative path."""
    return str(uuid.uuid5(ID_NAMESPACE, relative_path))


def ids(paths: pd.Series) -> pd.Series:
    """The ids of a column of relative paths, each distinct path hashed once; None stays None."""
    distinct = paths.dropna().unique()
    lookup = dict(zip(distinct, map(path_id, distinct), strict=True))
    # na_value=None is valid pandas; the pandas-stubs overloads leave None out
    values = paths.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    return pd.Series([lookup.get(p) for p in values], index=paths.index, dtype=object)


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes."""
    with open(path, "rb") as handle:  # noqa: PTH123 (str paths keep the per-file cost low)
        return hashlib.file_digest(handle, "sha256").hexdigest()


#: What makes a file the one the scan saw: device, inode, size, modification time.
Identity = tuple[int, int, int, int]
IDENTITY_COLUMNS = ["device", "inode", "size", "mtime_ns"]


def identity_of(status: os.stat_result) -> Identity:
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def identities(files: pd.DataFrame) -> list[Identity]:
    """The identity update recorded for each file."""
    columns = [files[name].astype("int64").tolist() for name in IDENTITY_COLUMNS]
    return list(zip(*columns, strict=True))


def is_the_file(status: os.stat_result, expected: Identity) -> bool:
    """Whether a status is that of the regular file with this identity."""
    return stat.S_ISREG(status.st_mode) and identity_of(status) == expected


def change(path: str, expected: Identity, what: str) -> str | None:
    """Why the file at `path` is not the regular file the scan saw (`what` cannot be done),
    None when it is. Never follows a link at the path itself."""
    return checked_status(path, expected, what)[1]


def checked_status(
    path: str, expected: Identity, what: str
) -> tuple[os.stat_result | None, str | None]:
    """The file's status when it is still the regular file the scan saw, else None and why
    `what` cannot be done. Never follows a link at the path itself."""
    try:
        status = os.lstat(path)
    except OSError as error:
        return None, f"{what}: {error.strerror} since the scan"
    if not is_the_file(status, expected):
        return None, f"{what}: it is no longer the file the scan saw (replaced or modified)"
    return status, None


#: A tree entry's status as tree_status gives it; ctime cannot be set back by any user.
TREE_STATUS = ["device", "inode", "size", "mtime_ns", "ctime_ns"]


def tree_status(root: Path) -> pd.DataFrame:
    """Every entry under `root` that is not a directory (links are not followed): its path
    relative to root, device, inode, size, mtime_ns, ctime_ns, and whether it is a regular
    file. Empty when root is not a directory."""
    paths: list[str] = []
    status: list[os.stat_result] = []
    directories = [(str(root), "")] if root.is_dir() else []
    while directories:
        directory, prefix = directories.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    directories.append((entry.path, f"{prefix}{entry.name}/"))
                else:
                    paths.append(prefix + entry.name)
                    status.append(entry.stat(follow_symlinks=False))
    fields = ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns")
    columns = {
        name: pd.array([getattr(s, field) for s in status], dtype="Int64")
        for name, field in zip(TREE_STATUS, fields, strict=True)
    }
    regular = pd.Series([stat.S_ISREG(s.st_mode) for s in status], dtype=bool)
    return pd.DataFrame({"path": pd.Series(paths, dtype=object), **columns, "regular": regular})
