"""The on-disk layout, in one place: what lives under a staging directory, and where the tables
between steps are stored. Everything that reads or writes these paths asks this module."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

STAGING_NAME = "hidebound"  # a staging directory must carry this name
CONTENT = "content"
METADATA = "metadata"
MetadataType = Literal["asset", "file", "asset-chunk", "file-chunk"]  # the dirs under metadata/
METADATA_TYPES: tuple[MetadataType, ...] = ("asset", "file", "asset-chunk", "file-chunk")
PARTIAL = ".partial"  # suffix of a cross-filesystem move still in flight
MANIFEST = ".manifest.json"  # what the last create staged, as digests
STAGED = ".staged.parquet"  # per staged file: its source identity, sha256, staged identity
VERIFIED = ".verified.parquet"  # what the integrity check proved, by file and record identity
EXPORTS = ".exports"  # one record per exporter: which manifest it took
LEASE = ".lease"  # the run that holds the staging directory
DELETING = ".deleting"  # content on its way out (already cleared to go)
TABLES = "tables"  # under the Dagster instance's storage directory
REPORTS = "reports"  # likewise: one ingest report per key prefix
TABLE_SUFFIX = ".parquet"


@dataclass(frozen=True)
class Staging:
    """The paths of one staging directory. Only `content/`, `metadata/`, the records and the
    lease are ever written or removed; anything else a user keeps there is left alone."""

    root: Path

    @property
    def content(self) -> Path:
        return self.root / CONTENT

    @property
    def metadata(self) -> Path:
        return self.root / METADATA

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def staged(self) -> Path:
        """The record of what is really staged, file by file (incremental staging reads it)."""
        return self.root / STAGED

    @property
    def verified(self) -> Path:
        """What the integrity check proved intact, so that it reads only what changed since."""
        return self.root / VERIFIED

    @property
    def exports(self) -> Path:
        return self.root / EXPORTS

    @property
    def lease(self) -> Path:
        return self.root / LEASE

    def export_record(self, exporter: str) -> Path:
        """The record of one exporter (by its identity) having exported this staging."""
        return self.exports / (hashlib.sha256(exporter.encode()).hexdigest()[:32] + ".json")

    def metadata_dir(self, kind: str) -> Path:
        """The directory of one metadata type (see METADATA_TYPES)."""
        return self.metadata / kind

    def metadata_file(self, kind: str, record_id: str) -> Path:
        """The JSON of one asset or file (kind "asset" or "file") by its id."""
        return self.metadata / kind / f"{record_id}.json"

    def work_dir(self, name: str) -> Path:
        """A fresh hidden directory beside `name`, built up and then swapped in whole."""
        return self.root / f".{name}-{uuid.uuid4().hex[:8]}"

    def trash(self) -> Path:
        """Where delete moves the content (one rename) before removing it, so a delete killed
        half-way never leaves part of the content beside the records of all of it."""
        return self.root / f"{DELETING}-{uuid.uuid4().hex[:8]}"

    def leftovers(self) -> list[Path]:
        """What a killed create, metadata write or delete left: work directories (and the old
        trees they replaced), content being deleted, a record's temporary file."""
        patterns = [f".{CONTENT}-*", f".{METADATA}-*", f"{DELETING}-*"]
        patterns += [f".{name}.*.tmp" for name in (MANIFEST, STAGED, VERIFIED)]
        return [path for pattern in patterns for path in self.root.glob(pattern)]

    def owned(self) -> list[Path]:
        """Everything delete removes: the content, the metadata and the records about them."""
        records = [self.manifest, self.exports, self.staged, self.verified]
        return [self.content, self.metadata, *records]


def tables_directory(storage_directory: str | Path) -> Path:
    """Where the tables of a Dagster instance live, given its storage directory."""
    return Path(storage_directory) / TABLES


def report_directory(storage_directory: str | Path, prefix: Sequence[str] = ()) -> Path:
    """Where the ingest report of a location (by its key prefix) and its thumbnails live."""
    return Path(storage_directory).joinpath(REPORTS, *prefix)


def table_path(tables: Path, key: Sequence[str]) -> Path:
    """The Parquet file of one table, by its asset key path (prefix first)."""
    return tables.joinpath(*key[:-1], key[-1] + TABLE_SUFFIX)
