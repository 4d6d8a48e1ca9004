"""The persisted file index: the last file table with the code version of the specification
that derived each row, so an update re-parses and re-reads only files that are new or changed.

A row is reused when its file is the same (path, size, mtime_ns, device, inode, link target,
path read) and the specification that would read it now has the version that read it then;
rows whose traits failed are never reused.
A specification's version digests its own source (its class and any user base classes, its
trait functions) with the source of the product's core and the versions of the libraries that
read files, so a change to any of them invalidates exactly the rows it could change.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from hidebound_dagster.core.lookup import positions, same_values
from hidebound_dagster.core.schemas import (
    FILE_TABLE,
    SchemaError,
    arrow_fields,
    conform,
    trait_error_columns,
)
from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.tables import read_table, write_table

INDEX_TABLE = "file_index"  # stored beside the tables of its location
VERSION_COLUMN = "spec_version"
#: What makes a scanned entry the same file as an indexed one.
SAME_FILE = ["filepath", "size", "mtime_ns", "device", "inode", "link_target", "specification"]
#: Libraries whose results land in the table (readers, parsing, Arrow round trips).
LIBRARIES = ("pandas", "pyarrow", "pandera", "pillow", "openimageio", "av", "numpy")
CORE = Path(__file__).parent
CORE_PACKAGE = "hidebound_dagster.core"
#: Modules of a specification's base classes that are not the user's own code.
NOT_USER_CODE = {"hidebound_dagster", "pandera", "builtins", "typing", "pydantic", "abc"}


@dataclass
class FileIndex:
    """The indexed rows (by relative path) and the specification versions in force now."""

    rows: pd.DataFrame
    versions: Mapping[str, str]

    def take(self) -> pd.DataFrame:
        """The rows, handed over once: the index holds none afterwards, so a million indexed
        rows can be freed as soon as the ones still true are copied out."""
        rows, self.rows = self.rows, self.rows.iloc[:0]
        return rows


@cache
def code_version() -> str:
    """A digest of the sources of the core modules the file table is built with (its imports,
    transitively) and of the reading libraries' versions."""
    hasher = hashlib.sha256()
    for name in sorted(imported_core_modules("file_table")):
        hasher.update(name.encode() + b"\0" + (CORE / f"{name}.py").read_bytes())
    for name in LIBRARIES:
        try:
            hasher.update(f"{name}=={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            hasher.update(f"{name} absent".encode())
    return hasher.hexdigest()


def imported_core_modules(name: str, found: set[str] | None = None) -> set[str]:
    """The core module `name` and every core module it imports, transitively."""
    found = found if found is not None else set()
    found.add(name)
    for node in ast.walk(ast.parse((CORE / f"{name}.py").read_bytes())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(CORE_PACKAGE):
            module = (node.module or "").removeprefix(CORE_PACKAGE).lstrip(".")
            for imported in [module] if module else [alias.name for alias in node.names]:
                if imported not in found:
                    imported_core_modules(imported, found)
    return found


def source(thing: Callable[..., Any] | type) -> str:
    """The source of a class or function, or its qualified name where there is none."""
    name = f"{getattr(thing, '__module__', '')}.{getattr(thing, '__qualname__', repr(thing))}"
    if name.startswith("hidebound_dagster."):  # covered by code_version
        return name
    try:
        return name + "\n" + inspect.getsource(thing)
    except (OSError, TypeError):
        return name


def spec_version(spec: type[Specification]) -> str:
    """The code version of one specification: everything that decides the rows it derives."""
    return versioned(spec, code_version())


@cache  # both update steps ask; a class is built once per version of its file
def versioned(spec: type[Specification], code: str) -> str:
    own = [cls for cls in spec.__mro__ if cls.__module__.split(".")[0] not in NOT_USER_CODE]
    parts = [code, *map(source, own)]
    parts += [f"{name}={source(trait)}" for name, trait in spec.file_traits.items()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def spec_versions(specs: Mapping[str, type[Specification]]) -> dict[str, str]:
    return {token: spec_version(spec) for token, spec in specs.items()}


def indexed_positions(files: pd.DataFrame, index: FileIndex) -> np.ndarray:
    """For each scanned file, the position of the indexed row that may stand for it; -1 where
    none may (a new or changed file, another spec version, an error to be read again)."""
    indexed = index.rows
    if indexed.empty or files.empty:
        return np.full(len(files), -1, dtype=np.int64)
    found = positions(files["filepath_relative"], indexed["filepath_relative"])
    same = (
        (found >= 0) & files["scan_error"].isna().to_numpy() & files["spec_error"].isna().to_numpy()
    )
    taken = indexed[[*SAME_FILE, VERSION_COLUMN]].take(np.where(same, found, 0))
    for column in SAME_FILE:
        same &= same_values(files[column], taken[column])
    current = files["specification"].map(dict(index.versions))
    same &= same_values(current.astype(object), taken[VERSION_COLUMN].astype(object))
    same &= current.notna().to_numpy()
    return np.where(same, found, -1)


def read_index(path: Path, versions: Mapping[str, str]) -> tuple[FileIndex, str | None]:
    """The index stored at `path` (empty when there is none yet) and, when one was there but
    cannot be used, why: an unusable index costs a full update, never a wrong row."""
    empty = FileIndex(pd.DataFrame(columns=[*FILE_TABLE, VERSION_COLUMN]), versions)
    if not path.exists():
        return empty, None
    try:
        rows = conform(read_table(path), {**FILE_TABLE, VERSION_COLUMN: "text"}, "file index")
    except (OSError, SchemaError, pa.ArrowException) as error:
        return empty, f"file index {path} not used ({error}): every file is read again"
    return FileIndex(rows, versions), None


def write_index(path: Path, table: pd.DataFrame, versions: Mapping[str, str]) -> None:
    """Store the file table as the index, each row with the version of the spec that read it.
    A row whose traits failed gets no version, so its file is read again next time: the cause
    (a permission, a file system hiccup) may be gone without the file changing."""
    failed = table[trait_error_columns(table.columns)].notna().any(axis=1)
    known = table["spec_error"].isna() & ~failed
    version = table["specification"].map(dict(versions)).where(known, None).astype(object)
    indexed = table.assign(**{VERSION_COLUMN: version})
    schema = {**FILE_TABLE, VERSION_COLUMN: "text"}
    write_table(indexed, path, arrow_fields(indexed, schema))
