"""A small fingerprint of the ingress directory, so a sensor can tell change from no change
without keeping a listing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from hidebound_dagster.core.scan import LinkPolicy, scan_directory, select


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
    """Fingerprint the selected files under root."""
    files = select(scan_directory(root, follow_symlinks), include_regex, exclude_regex)
    lines = (
        files["filepath_relative"]
        + "\0"
        + files["size"].astype("string").fillna("-")
        + "\0"
        + files["mtime_ns"].astype("string").fillna("-")
    )
    digest = hashlib.sha256(lines.str.cat(sep="\n").encode()).hexdigest()
    return IngressState(
        digest=digest,
        files=len(files),
        bytes=int(files["size"].fillna(0).sum()),
        newest_mtime_ns=int(files["mtime_ns"].max()) if len(files) else 0,
    )
