"""The export loop every exporter shares: plan the staged items, send them, report.

Content is driven by the file metadata and is always sent; the chosen metadata types follow.
The plan is columns (a row per staged file), sent in chunks of rows through a
`mapper(func, items) -> list`, so callers choose the parallelism and an item exists only while
its chunk is sent.
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
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from hidebound_dagster.core.layout import CONTENT, METADATA, METADATA_TYPES
from hidebound_dagster.core.parallel import Mapper, map_chunked, thread_mapper
from hidebound_dagster.core.progress import Progress
from hidebound_dagster.core.redaction import scrub
from hidebound_dagster.exporters.errors import ExportError

DEFAULT_CONCURRENCY = 8
#: File metadata JSON is read in this many chunks to plan the content.
PLAN_CHUNKS = 64
#: Items are sent in at least this many tasks when there are as many (so any number of workers
#: stays busy to the end), each of at most CHUNK_ROWS items.
SEND_TASKS = 512
CHUNK_ROWS = 256
#: The plan's columns: `kind` (KINDS), and as text (Arrow-backed str) `relative`, where the file
#: is under staging; `sha256`, what its file metadata records ("" for metadata items); `record`,
#: the staging-relative path of a content file's metadata JSON ("" for metadata items).
KINDS = pd.CategoricalDtype([CONTENT, *METADATA_TYPES])
TEXT = "str"

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


def read_json(path: str | os.PathLike) -> Any:
    """The parsed content of a JSON file."""
    with open(path, "rb") as handle:  # noqa: PTH123
        return json.loads(handle.read())


@dataclass
class ExportItem:
    """One staging file to send, made from a row of the plan only while its chunk is sent."""

    source: str  # absolute path of the file in staging
    relative: str  # its POSIX path under staging: "content/<filepath_relative>", "metadata/..."
    sha256: str  # what its file metadata records for content; "" when unknown (metadata)
    record: str  # absolute path of a content file's metadata JSON; "" for metadata items
    _size: int | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        """Bytes of the staged file, read from disk once."""
        if self._size is None:
            self._size = os.stat(self.source).st_size  # noqa: PTH116
        return self._size

    def metadata(self) -> Any:
        """The parsed metadata that describes the item: a content file's, or the item itself."""
        return read_json(self.record or self.source)


@dataclass(frozen=True)
class ExportPlan:
    """What one export sends, as plan tables: content first, then the chosen metadata."""

    content: pd.DataFrame
    metadata: pd.DataFrame


@dataclass(frozen=True)
class ExportReport:
    """What one export did."""

    exporter: str  # short exporter name: "disk", "s3" or "girder"
    target: str  # where the data went, without secrets
    sent: int  # files or objects written
    skipped: int  # already present and verified, so not sent again
    bytes_sent: int
    seconds: float


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


def plan_rows(
    kind: str,
    relative: list[str] | pd.Series,
    sha256: list[str] | None = None,
    record: list[str] | None = None,
) -> pd.DataFrame:
    """Plan rows of one kind; sha256 and record are "" on every row unless given."""
    index = pd.RangeIndex(len(relative))
    code = KINDS.categories.get_loc(kind)
    return pd.DataFrame(
        {
            "kind": pd.Categorical.from_codes(np.full(len(index), code, np.int8), dtype=KINDS),
            "relative": pd.Series(relative, index, dtype=TEXT),
            "sha256": pd.Series("" if sha256 is None else sha256, index, dtype=TEXT),
            "record": pd.Series("" if record is None else record, index, dtype=TEXT),
        }
    )


def _plan(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Plan rows joined in order; no rows at all still have the plan's columns and dtypes."""
    return pd.concat([plan_rows(CONTENT, []), *parts], ignore_index=True)


def _content_rows(staging: str, names: list[str]) -> list[pd.DataFrame]:
    """The content rows of some file metadata JSON, as a one-table list (a chunk's result):
    each record is dropped once its path and sha256 are kept."""
    records = [f"{METADATA}/file/{name}" for name in names]
    relative, sha256 = [], []
    for record in records:
        metadata = read_json(f"{staging}/{record}")
        relative.append(f"{CONTENT}/{content_path(metadata)}")
        sha256.append(metadata.get("sha256") or "")
    return [plan_rows(CONTENT, relative, sha256, records)]


def plan_content(staging: str, mapper: Mapper) -> pd.DataFrame:
    """One row per file metadata JSON, located under `<staging>/content`, in name order."""
    names = _metadata_names(staging, "file")
    parts = map_chunked(mapper, partial(_content_rows, staging), names, PLAN_CHUNKS)
    return _plan(parts)


def plan_metadata(staging: str, kinds: Sequence[str], content: pd.DataFrame) -> pd.DataFrame:
    """One row per metadata JSON of the chosen kinds, in kind then name order."""
    parts = []
    for kind in kinds:
        if kind == "file":  # already listed to plan the content
            parts.append(plan_rows(kind, content["record"]))
        else:
            names = _metadata_names(staging, kind)
            parts.append(plan_rows(kind, [f"{METADATA}/{kind}/{name}" for name in names]))
    return _plan(parts)


def row_chunks(rows: pd.DataFrame) -> list[pd.DataFrame]:
    """Consecutive slices of the rows (views), one per send task."""
    size = min(CHUNK_ROWS, max(1, -(-len(rows) // SEND_TASKS)))
    return [rows.iloc[start : start + size] for start in range(0, len(rows), size)]


def export_items(staging: str, rows: pd.DataFrame) -> Iterator[ExportItem]:
    """The items of some plan rows, one at a time."""
    for relative, sha256, record in zip(
        rows["relative"].tolist(), rows["sha256"].tolist(), rows["record"].tolist(), strict=True
    ):
        yield ExportItem(
            f"{staging}/{relative}", relative, sha256, f"{staging}/{record}" if record else ""
        )


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
    """Sends one chunk of plan rows, returning (sent, skipped, bytes sent). Picklable for
    process-based mappers; their workers run without this process's progress log and early
    stop across chunks."""

    def __init__(
        self,
        exporter: Exporter,
        send: Callable[[ExportItem], bool],
        staging: str,
        progress: _Progress | None,
    ) -> None:
        self.exporter = exporter
        self.send = send
        self.staging = staging
        self.progress = progress

    def __getstate__(self) -> dict:
        return {**self.__dict__, "progress": None}

    def __call__(self, rows: pd.DataFrame) -> tuple[int, int, int]:
        sent = skipped = nbytes = 0
        for item in export_items(self.staging, rows):
            if self._send(item):
                sent, nbytes = sent + 1, nbytes + item.size
            else:
                skipped += 1
        return sent, skipped, nbytes

    def _send(self, item: ExportItem) -> bool:
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
        return sent


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
    def _session(self, staging: Path, plan: ExportPlan) -> Iterator[None]:
        """Connect and prepare around the sends; code after `yield` runs only on success."""
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
        staging: str,
        rows: pd.DataFrame,
        progress: _Progress,
    ) -> list[tuple[int, int, int]]:
        """(sent, skipped, bytes) per chunk of rows; the first failure is raised, whatever the
        mapper raised."""
        try:
            totals = mapper(_Task(self, send, staging, progress), row_chunks(rows))
        except Exception:
            if progress.first_error is None:
                raise
        if progress.first_error is not None:
            raise progress.first_error
        return list(totals)

    def _export(
        self, staging: Path, mapper: Mapper, log: logging.Logger, label: str, started: float
    ) -> ExportReport:
        if not staging.is_dir():
            raise self.error(f"staging directory {staging} does not exist")
        log.info("%s: from %s to %s", label, staging, self.target)
        root = os.fspath(staging.absolute())
        content = plan_content(root, mapper)
        kinds = [kind for kind in self.metadata_types if kind in self.sent_metadata_types]
        metadata = plan_metadata(root, kinds, content)
        counts = metadata["kind"].value_counts()
        described = ", ".join(f"{counts[kind]} {kind}" for kind in kinds)
        log.info("%s: %d content files; metadata: %s", label, len(content), described or "none")
        progress = _Progress(log, label, len(content) + len(metadata))
        with self._session(staging, ExportPlan(content, metadata)):
            totals = self._send_all(mapper, self._export_content, root, content, progress)
            totals += self._send_all(mapper, self._export_metadata, root, metadata, progress)
        sent, skipped, nbytes = np.array(totals, np.int64).reshape(-1, 3).sum(axis=0).tolist()
        return ExportReport(
            self.name, self.target, sent, skipped, nbytes, round(time.monotonic() - started, 3)
        )
