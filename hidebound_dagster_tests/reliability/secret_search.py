"""Search bytes, files and trees for secret values, through the encodings a secret can hide in.

Raw bytes are not enough: Dagster's SQLite storages keep snapshots zlib-compressed and split long
values over overflow pages (a raw search could miss a secret cut by a page boundary), Parquet
tables are compressed, and logs may be gzipped. So every file is searched raw, and also decoded:
a SQLite database cell by cell (its WAL included, through a copy; each blob also inflated), a
gzip file inflated, a Parquet table read row by row. A hit names the file, the decoding and a
short excerpt, so whoever fixes the leak can find it.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import sqlite3
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

SQLITE_MAGIC = b"SQLite format 3\x00"
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
EXCERPT = 70  # characters shown on each side of a hit
#: Columns that name a row of Dagster's SQLite tables, shown with a hit in that row.
LABEL_COLUMNS = ("dagster_event_type", "step_key", "asset_key")


@dataclass(frozen=True)
class Hit:
    """One occurrence of a secret: which secret, in what form, where, and what surrounds it."""

    secret: str  # the secret's name (never its value: the report is shown too)
    form: str  # "raw", "url-quoted", "basic-auth base64", ...
    where: str  # a file path (and the decoding that found it) or a stream's name
    excerpt: str

    def __str__(self) -> str:
        return f"{self.secret} ({self.form}) in {self.where}: {self.excerpt}"


def forms_of(value: str, basic_auth_user: str | None = None) -> dict[str, bytes]:
    """The byte strings that would show `value`: itself, URL-quoted both ways, and, for a URL
    password, the base64 of `user:password` an HTTP client sends as Basic auth."""
    forms = {"raw": value, "url-quoted": quote(value, safe=""), "form-quoted": quote_plus(value)}
    if basic_auth_user is not None:
        pair = f"{basic_auth_user}:{value}".encode()
        forms["basic-auth base64"] = base64.b64encode(pair).decode()
    quoted = forms["url-quoted"]
    same = next(
        (i for i, (a, b) in enumerate(zip(value, quoted, strict=False)) if a != b), len(value)
    )
    if same < len(value) and same >= 12:  # the part every form shares: catches any other escape
        forms["prefix"] = value[:same]
    found: dict[str, bytes] = {}
    for form, text in forms.items():
        data = text.encode()
        if data not in found.values():
            found[form] = data
    return found


def needles(secrets: Mapping[str, str | tuple[str, str]]) -> list[tuple[str, str, bytes]]:
    """(name, form, bytes) of every form of every secret; a secret given as (user, password) is
    a URL password (its Basic auth form searched too)."""
    found = []
    for name, value in secrets.items():
        user, password = value if isinstance(value, tuple) else (None, value)
        found += [(name, form, data) for form, data in forms_of(password, user).items()]
    return found


def _excerpt(data: bytes, start: int, length: int) -> str:
    left = max(0, start - EXCERPT)
    text = data[left : start + length + EXCERPT].decode("utf-8", errors="replace")
    return repr(("..." if left else "") + text + "...")


def search_bytes(data: bytes, where: str, wanted: list[tuple[str, str, bytes]]) -> list[Hit]:
    """Every occurrence of every secret in `data`, each position once, by its first form that
    matches there (a prefix form only reports what no fuller form did)."""
    hits = []
    seen: set[tuple[str, int]] = set()
    for name, form, needle in wanted:
        start = data.find(needle)
        while start != -1:
            if (name, start) not in seen:
                seen.add((name, start))
                hits.append(Hit(name, form, where, _excerpt(data, start, len(needle))))
            start = data.find(needle, start + 1)
    return hits


def _inflate(data: bytes) -> bytes | None:
    for decode in (zlib.decompress, gzip.decompress):
        try:
            return decode(data)
        except (zlib.error, OSError, EOFError):
            continue
    return None


def _cell_bytes(value: object) -> Iterator[tuple[str, bytes]]:
    """The bytes of one SQLite cell: as stored, and inflated when it is a compressed blob."""
    if isinstance(value, str):
        yield "", value.encode("utf-8", errors="surrogateescape")
    elif isinstance(value, bytes):
        yield "", value
        inflated = _inflate(value)
        if inflated is not None:
            yield " (inflated)", inflated


def _sqlite_cells(path: Path) -> Iterator[tuple[str, bytes]]:
    """(location, bytes) of every cell of every table, read from a copy (with its -wal and
    -journal) so the original is never opened or checkpointed."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / path.name
        shutil.copyfile(path, copy)
        for suffix in ("-wal", "-journal"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                shutil.copyfile(side, copy.with_name(copy.name + suffix))
        connection = sqlite3.connect(copy)
        connection.text_factory = bytes
        try:
            tables = [
                row[0].decode()
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                try:
                    cursor = connection.execute(f'SELECT rowid, * FROM "{table}"')
                except sqlite3.OperationalError:  # a WITHOUT ROWID table
                    cursor = connection.execute(f'SELECT NULL, * FROM "{table}"')
                columns = [column[0] for column in cursor.description][1:]
                for number, (rowid, *row) in enumerate(cursor):
                    cells = dict(zip(columns, row, strict=True))
                    where = f"table {table} rowid {rowid if rowid is not None else number}"
                    where += "".join(  # what Dagster's tables say the row is
                        f" {name}={cells[name].decode(errors='replace')}"
                        for name in LABEL_COLUMNS
                        if isinstance(cells.get(name), bytes)
                    )
                    for column, value in cells.items():
                        for how, data in _cell_bytes(value):
                            yield f"{where} column {column}{how}", data
        finally:
            connection.close()


def _parquet_text(path: Path) -> bytes:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    metadata = {
        k.decode(errors="replace"): v.decode(errors="replace")
        for k, v in (table.schema.metadata or {}).items()
    }
    rows = json.dumps(table.to_pylist(), default=str, ensure_ascii=False)
    return (json.dumps(metadata, ensure_ascii=False) + "\n" + rows).encode()


def search_file(
    path: Path, wanted: list[tuple[str, str, bytes]], label: str | None = None
) -> list[Hit]:
    """A file's raw bytes, then what its format decodes to (SQLite, gzip, Parquet)."""
    where = label or str(path)
    try:
        data = path.read_bytes()
    except OSError as error:  # unreadable: say so rather than pass silently
        return [Hit("(unreadable file)", "", where, repr(error))]
    is_sqlite = data.startswith(SQLITE_MAGIC)
    hits = search_bytes(data, f"{where} [raw bytes]" if is_sqlite else where, wanted)
    if is_sqlite:
        try:
            for location, cell in _sqlite_cells(path):
                hits += search_bytes(cell, f"{where} [sqlite {location}]", wanted)
        except sqlite3.DatabaseError as error:
            hits.append(Hit("(unreadable sqlite)", "", where, repr(error)))
    elif data.startswith(GZIP_MAGIC):
        inflated = _inflate(data)
        if inflated is not None:
            hits += search_bytes(inflated, f"{where} [gunzipped]", wanted)
    elif data.startswith(PARQUET_MAGIC) and data.endswith(PARQUET_MAGIC):
        hits += search_bytes(_parquet_text(path), f"{where} [parquet rows]", wanted)
    return hits


def files_under(root: Path) -> Iterator[Path]:
    """Every regular file under root, links not followed (sqlite side files included)."""
    if not root.exists():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def search_tree(root: Path, wanted: list[tuple[str, str, bytes]], label: str = "") -> list[Hit]:
    """Every file under root; a sqlite side file (-wal, -journal) is also searched with its
    database, through the copy, and on its own as raw bytes."""
    hits = []
    for path in files_under(root):
        shown = f"{label}/{path.relative_to(root)}" if label else str(path)
        hits += search_file(path, wanted, shown)
    return hits


def search_texts(
    texts: Iterable[tuple[str, str | bytes]], wanted: list[tuple[str, str, bytes]]
) -> list[Hit]:
    """Named streams (captured stdout, stderr, API answers)."""
    hits = []
    for where, text in texts:
        data = text.encode("utf-8", errors="surrogateescape") if isinstance(text, str) else text
        hits += search_bytes(data, where, wanted)
    return hits


def report(hits: Iterable[Hit], limit: int = 200) -> str:
    """The hits one per line, grouped by secret, at most `limit` lines."""
    ordered = sorted(set(hits), key=lambda hit: (hit.secret, hit.where, hit.form, hit.excerpt))
    lines = [str(hit) for hit in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"... and {len(ordered) - limit} more")
    return "\n".join(lines)
