"""Identity: deterministic ids (uuid5 of a path relative to ingress, so re-runs overwrite, never
duplicate) and the sha256 that says two files hold the same bytes."""

from __future__ import annotations

import hashlib
import os
import uuid

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
