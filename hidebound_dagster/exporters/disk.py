"""Mirror staged content and metadata into a directory on a local or mounted filesystem."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hidebound_dagster.core.identity import sha256_file
from hidebound_dagster.exporters.base import METADATA_TYPES, Exporter, ExportItem, ExportPlan

COPY_BUFFER = 1 << 20
#: Where copies are written before they are renamed into place: one directory at the target's
#: root (same filesystem), so what a killed export left is found and removed without a walk.
PARTIAL_DIR = ".hidebound-partial"
_PROCESS = uuid.uuid4().hex[:12]  # temporary names: unique per process, then per file
_COUNTER = itertools.count()


def copy_atomically(source: str, target: str, partial_dir: str) -> None:
    """Copy to a temporary name in `partial_dir`, then rename onto `target`: readers never see
    half a file, and a failed copy leaves the previous target file whole."""
    temporary = f"{partial_dir}/{_PROCESS}-{next(_COUNTER)}.tmp"
    try:
        with open(source, "rb") as reader, open(temporary, "xb") as writer:  # noqa: PTH123
            shutil.copyfileobj(reader, writer, COPY_BUFFER)
        os.replace(temporary, target)  # noqa: PTH105 - str paths keep the per-file cost low
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class DiskExporter(Exporter):
    """Writes `<target>/content/...` and `<target>/metadata/<type>/...` exactly as staged."""

    name = "disk"

    def __init__(
        self, target_directory: str | os.PathLike, metadata_types: Iterable[str] = METADATA_TYPES
    ) -> None:
        super().__init__(metadata_types)
        self.target_directory = Path(target_directory).expanduser().absolute()
        self._directories: set[str] = set()  # made during this export

    @property
    def target(self) -> str:
        return f"directory {self.target_directory}"

    @contextmanager
    def _session(self, staging: Path, plan: ExportPlan) -> Iterator[None]:
        staging, target = staging.resolve(), self.target_directory.resolve()
        if target == staging or staging in target.parents:
            raise self.error(f"the target directory must not be inside staging {staging}")
        self.target_directory.mkdir(parents=True, exist_ok=True)
        partial = self.target_directory / PARTIAL_DIR
        shutil.rmtree(partial, ignore_errors=True)  # what an interrupted export left
        partial.mkdir()
        self._directories = set()
        try:
            yield
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    def _export_content(self, item: ExportItem) -> bool:
        """Copy the item unless the target already holds the same size and sha256."""
        target = f"{self.target_directory}/{item.relative}"
        if self._is_current(item, target):
            return False
        directory = target.rpartition("/")[0]
        if directory not in self._directories:
            os.makedirs(directory, exist_ok=True)  # noqa: PTH103
            self._directories.add(directory)
        copy_atomically(item.source, target, f"{self.target_directory}/{PARTIAL_DIR}")
        return True

    _export_metadata = _export_content  # metadata JSON is mirrored as content is

    @staticmethod
    def _is_current(item: ExportItem, target: str) -> bool:
        try:
            if os.stat(target).st_size != item.size:  # noqa: PTH116
                return False
        except FileNotFoundError:
            return False
        return sha256_file(target) == (item.sha256 or sha256_file(item.source))
