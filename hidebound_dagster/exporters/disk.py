"""Mirror staged content and metadata into a directory on a local or mounted filesystem."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from hidebound_dagster.exporters.base import METADATA_TYPES, Exporter, ExportItem


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def copy_atomically(source: Path, target: Path) -> None:
    """Copy to a temporary name beside `target`, then rename: readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".hidebound-{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(source, temporary)
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class DiskExporter(Exporter):
    """Writes `<target>/content/...` and `<target>/metadata/<type>/...` exactly as staged."""

    name = "disk"

    def __init__(self, target_directory: str | os.PathLike,
                 metadata_types: Iterable[str] = METADATA_TYPES) -> None:
        super().__init__(metadata_types)
        self.target_directory = Path(target_directory).expanduser().absolute()

    @property
    def target(self) -> str:
        return f"directory {self.target_directory}"

    @contextmanager
    def _session(self, staging: Path, content: Sequence[ExportItem]) -> Iterator[None]:
        staging, target = staging.resolve(), self.target_directory.resolve()
        if target == staging or staging in target.parents:
            raise self.error(f"the target directory must not be inside staging {staging}")
        self.target_directory.mkdir(parents=True, exist_ok=True)
        yield

    def _export_content(self, item: ExportItem) -> bool:
        return self._mirror(item, item.data.get("sha256"))

    def _export_metadata(self, item: ExportItem) -> bool:
        return self._mirror(item, None)

    def _mirror(self, item: ExportItem, sha256: str | None) -> bool:
        """Copy the item unless the target already holds the same size and sha256."""
        target = self.target_directory / item.relative
        if self._is_current(item.source, target, sha256):
            return False
        copy_atomically(item.source, target)
        return True

    @staticmethod
    def _is_current(source: Path, target: Path, sha256: str | None) -> bool:
        try:
            if target.stat().st_size != source.stat().st_size:
                return False
        except FileNotFoundError:
            return False
        return sha256_file(target) == (sha256 or sha256_file(source))
