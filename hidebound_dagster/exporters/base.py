"""The export loop every exporter shares: plan the staged items, send them, report.

Content is driven by the file metadata and is always sent; the chosen metadata types follow.
Per-item work runs through a `mapper(func, items) -> list`, so callers choose the parallelism.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from hidebound_dagster.core.layout import CONTENT, METADATA, METADATA_TYPES
from hidebound_dagster.core.parallel import Mapper, thread_mapper
from hidebound_dagster.core.progress import Progress
from hidebound_dagster.core.redaction import scrub
from hidebound_dagster.exporters.errors import ExportError

DEFAULT_CONCURRENCY = 8

LOGGER = logging.getLogger(__name__)


def validate_metadata_types(types: Iterable[str]) -> tuple[str, ...]:
    """The chosen metadata types, de-duplicated in order; unknown names raise ValueError."""
    if isinstance(types, str):
        raise ValueError(f"metadata_types must be a list of names, not the string {types!r}")
    chosen = tuple(dict.fromkeys(types))
    unknown = [name for name in chosen if name not in METADATA_TYPES]
    if unknown:
        raise ValueError(f"unknown metadata types {unknown}; choose from {list(METADATA_TYPES)}")
    return chosen


@dataclass
class ExportItem:
    """One staging file to send: content (`data` = its file metadata) or a metadata JSON."""

    kind: str  # CONTENT or one of METADATA_TYPES
    source: str  # absolute path of the file in staging (a str: cheap to build for 10^5 files)
    relative: str  # its POSIX path under staging: "content/<filepath_relative>", "metadata/..."
    data: Any = None  # parsed JSON for content, asset and file items; None for chunks
    _size: int | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        """Bytes of the staged file, read from disk once."""
        if self._size is None:
            self._size = os.stat(self.source).st_size  # noqa: PTH116
        return self._size


@dataclass(frozen=True)
class ExportReport:
    """What one export did."""

    exporter: str  # short exporter name: "disk", "s3" or "girder"
    target: str  # where the data went, without secrets
    sent: int  # files or objects written
    skipped: int  # already present and verified, so not sent again
    bytes_sent: int
    seconds: float


def read_json(path: str | os.PathLike) -> Any:
    """The parsed content of a JSON file."""
    with open(path, "rb") as handle:  # noqa: PTH123
        return json.loads(handle.read())


def _metadata_names(staging: str, kind: str) -> list[str]:
    """Sorted names of the JSON files of one metadata type; none when the directory is absent."""
    try:
        with os.scandir(f"{staging}/{METADATA}/{kind}") as entries:
            return sorted(e.name for e in entries if e.name.endswith(".json") and e.is_file())
    except FileNotFoundError:
        return []


def relative_path(value: str) -> str:
    """A staging-relative POSIX path from metadata, refused when it could escape its directory."""
    if not value or value.startswith("/") or ".." in value.split("/"):
        raise ValueError(f"illegal relative path {value!r} in staging metadata")
    return value


def content_path(file_metadata: dict) -> str:
    """Where a file lives under `<staging>/content`: its `filepath_relative`."""
    return relative_path(file_metadata.get("filepath_relative", ""))


def plan_content(staging: str, mapper: Mapper) -> list[ExportItem]:
    """One content item per file metadata JSON, located under `<staging>/content`."""
    paths = [f"{staging}/{METADATA}/file/{name}" for name in _metadata_names(staging, "file")]
    records = mapper(read_json, paths)
    items = []
    for record in records:
        relative = content_path(record)
        items.append(
            ExportItem(CONTENT, f"{staging}/{CONTENT}/{relative}", f"{CONTENT}/{relative}", record)
        )
    return items


def plan_metadata(
    staging: str, kinds: Sequence[str], content: Sequence[ExportItem], mapper: Mapper
) -> list[ExportItem]:
    """One item per metadata JSON of the chosen kinds; asset and file items carry their data."""
    items = []
    for kind in kinds:
        names = _metadata_names(staging, kind)
        paths = [f"{staging}/{METADATA}/{kind}/{name}" for name in names]
        if kind == "file":
            data = [item.data for item in content]  # already read to plan the content
        elif kind == "asset":
            data = mapper(read_json, paths)
        else:
            data = [None] * len(paths)
        items += [
            ExportItem(kind, path, f"{METADATA}/{kind}/{name}", value)
            for path, name, value in zip(paths, names, data, strict=True)
        ]
    return items


class _Progress:
    """Logs each new tenth of the items done, once, from any thread of this process."""

    def __init__(self, log: logging.Logger, label: str, total: int) -> None:
        self.done = 0
        self.report = Progress(log.info, label, total)
        self.first_error: ExportError | None = None
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.done += 1
            self.report(self.done)

    def fail(self, error: ExportError) -> None:
        with self._lock:
            self.first_error = self.first_error or error


class _Task:
    """Sends one item, returning (sent, bytes sent). Picklable for process-based mappers; their
    workers run without this process's progress log and early stop."""

    def __init__(
        self, exporter: Exporter, send: Callable[[ExportItem], bool], progress: _Progress | None
    ) -> None:
        self.exporter = exporter
        self.send = send
        self.progress = progress

    def __getstate__(self) -> dict:
        return {**self.__dict__, "progress": None}

    def __call__(self, item: ExportItem) -> tuple[bool, int]:
        progress = self.progress
        if progress is not None and progress.first_error is not None:
            raise RuntimeError("export aborted after an earlier failure")
        exporter = self.exporter
        try:
            sent = self.send(item)
        except Exception as error:
            failure = exporter._as_export_error(error, item.relative)
            if progress is not None:
                progress.fail(failure)
            raise failure from exporter._safe_cause(error)
        if progress is not None:
            progress.add()
        return sent, item.size if sent else 0


class Exporter(ABC):
    """Base of the exporters: subclasses send one content item or one metadata item at a time."""

    name: ClassVar[str]  # short name used in logs and reports
    sent_metadata_types: ClassVar[tuple[str, ...]] = METADATA_TYPES  # kinds sent as own items

    def __init__(self, metadata_types: Iterable[str] = METADATA_TYPES) -> None:
        self.metadata_types = validate_metadata_types(metadata_types)

    @property
    @abstractmethod
    def target(self) -> str:
        """Where this exporter sends data, safe to show: never a secret."""

    @abstractmethod
    def _export_content(self, item: ExportItem) -> bool:
        """Send one content file; return False when it was already there and verified."""

    @abstractmethod
    def _export_metadata(self, item: ExportItem) -> bool:
        """Send one metadata item; return False when it was already there and verified."""

    @contextmanager
    def _session(self, staging: Path, items: Sequence[ExportItem]) -> Iterator[None]:
        """Connect and prepare around the items; code after `yield` runs only on success."""
        yield

    def _secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in a message."""
        return ()

    def _describe(self, error: BaseException) -> str:
        """A short description of a failure; subclasses classify their own errors."""
        return f"{type(error).__name__}: {error}"

    def error(self, problem: str) -> ExportError:
        """An ExportError naming this exporter and its target, with secrets redacted."""
        return ExportError(type(self).__name__, self.target, scrub(problem, self._secrets()))

    def _safe_cause(self, error: BaseException) -> BaseException | None:
        """`error` to chain as the cause, or None when its text would reveal a secret."""
        if isinstance(error, ExportError):
            return error.__cause__
        text = str(error)
        return None if scrub(text, self._secrets()) != text else error

    def _as_export_error(self, error: BaseException, where: str | None = None) -> ExportError:
        if isinstance(error, ExportError):
            return error
        problem = self._describe(error)
        return self.error(f"{where}: {problem}" if where else problem)

    def export(
        self,
        staging_dir: str | os.PathLike,
        mapper: Mapper | None = None,
        log: logging.Logger | None = None,
    ) -> ExportReport:
        """Send staged content and the chosen metadata types; raise ExportError on failure."""
        started = time.monotonic()
        mapper = mapper or thread_mapper(DEFAULT_CONCURRENCY)
        log = log or LOGGER
        label = f"{self.name} export"
        try:
            report = self._export(Path(staging_dir), mapper, log, label, started)
        except Exception as error:
            failure = self._as_export_error(error)
            log.error("%s failed: %s", label, failure)
            raise failure from self._safe_cause(error)
        log.info(
            "%s: complete: %d sent, %d skipped, %d bytes in %.2f s",
            label,
            report.sent,
            report.skipped,
            report.bytes_sent,
            report.seconds,
        )
        return report

    def _send_all(
        self,
        mapper: Mapper,
        send: Callable[[ExportItem], bool],
        items: Sequence[ExportItem],
        progress: _Progress,
    ) -> list[tuple[bool, int]]:
        """(sent, bytes) per item; the first failure is raised, whatever the mapper raised."""
        try:
            results = mapper(_Task(self, send, progress), items)
        except Exception:
            if progress.first_error is None:
                raise
        if progress.first_error is not None:
            raise progress.first_error
        return list(results)

    def _export(
        self, staging: Path, mapper: Mapper, log: logging.Logger, label: str, started: float
    ) -> ExportReport:
        if not staging.is_dir():
            raise self.error(f"staging directory {staging} does not exist")
        log.info("%s: from %s to %s", label, staging, self.target)
        root = os.fspath(staging.absolute())
        content = plan_content(root, mapper)
        kinds = [kind for kind in self.metadata_types if kind in self.sent_metadata_types]
        metadata = plan_metadata(root, kinds, content, mapper)
        counts = ", ".join(f"{sum(i.kind == kind for i in metadata)} {kind}" for kind in kinds)
        log.info("%s: %d content files; metadata: %s", label, len(content), counts or "none")
        progress = _Progress(log, label, len(content) + len(metadata))
        with self._session(staging, [*content, *metadata]):
            results = self._send_all(mapper, self._export_content, content, progress)
            results += self._send_all(mapper, self._export_metadata, metadata, progress)
        sent = sum(was_sent for was_sent, _ in results)
        return ExportReport(
            self.name,
            self.target,
            sent,
            len(results) - sent,
            sum(nbytes for _, nbytes in results),
            round(time.monotonic() - started, 3),
        )
