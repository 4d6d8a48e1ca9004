"""A small fingerprint of the ingress directory, so a sensor can tell change from no change
without keeping a listing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hidebound_dagster.core.scan import LinkPolicy, listing, select

HASH_KEY = "hidebound-ingres"  # the 16-character key of pandas' SipHash
NO_SIZE = -1  # the size hashed for an entry without one (a link, an unreadable entry)


@dataclass(frozen=True)
class IngressState:
    """What the ingress holds now: a digest of every (path, size, mtime), and the counts a
    user watches."""

    digest: str
    files: int
    bytes: int
    newest_mtime_ns: int

    def settling_seconds(self, now_ns: int, settle_seconds: float) -> float:
        """How long until no file has been modified for settle_seconds (0 when settled)."""
        age = (now_ns - self.newest_mtime_ns) / 1e9
        return max(0.0, settle_seconds - age) if self.files else 0.0


def ingress_state(
    root: Path,
    include_regex: str = "",
    exclude_regex: str = "",
    follow_symlinks: LinkPolicy = "never",
) -> IngressState:
    """Fingerprint the selected files under root, one batch of the listing at a time: the
    digest is a sum of per-entry hashes, so it needs neither the whole listing nor its order."""
    files = total = size = 0
    newest: list[int] = []
    for batch in listing(root, follow_symlinks):
        selected = select(batch, include_regex, exclude_regex)
        files += len(selected)
        total += int(entry_hashes(selected).sum(dtype=np.uint64))  # wraps around, as meant
        size += int(selected["size"].sum())
        newest += selected["mtime_ns"].dropna().nlargest(1).tolist()
    summary = f"{files} {total % 2**64:016x}"
    return IngressState(
        digest=hashlib.sha256(summary.encode()).hexdigest(),
        files=files,
        bytes=size,
        newest_mtime_ns=max(newest, default=0),
    )


def entry_hashes(files: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's (path, size, mtime): any change to one of them changes
    it, except with chance 2**-64 (a change detector, not a defence against crafted names)."""
    return pd.util.hash_pandas_object(
        pd.DataFrame(
            {
                "path": files["filepath_relative"],
                "size": files["size"].to_numpy(dtype=np.int64, na_value=NO_SIZE),
                "mtime_ns": files["mtime_ns"].to_numpy(dtype=np.int64, na_value=0),
            }
        ),
        index=False,
        hash_key=HASH_KEY,
        categorize=False,
    ).to_numpy()
