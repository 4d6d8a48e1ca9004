"""The file table: one row per ingress file with its parsed name fields, traits and errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, overload

import numpy as np
import pandas as pd

from hidebound_dagster.core import naming
from hidebound_dagster.core.file_index import FileIndex, indexed_positions
from hidebound_dagster.core.identity import IDENTITY_COLUMNS, Identity, checked_status, ids
from hidebound_dagster.core.parallel import Mapper, map_chunks, serial_map
from hidebound_dagster.core.progress import Progress
from hidebound_dagster.core.scan import LinkPolicy, scan_directory, select
from hidebound_dagster.core.schemas import FILE_ERRORS, FILE_TABLE, conform, trait_error_columns
from hidebound_dagster.core.specification import Specification, asset_path_errors
from hidebound_dagster.core.traits import known_status

NAME_FIELDS = [field for field in naming.FIELDS if field != "extension"]


def read_traits(
    traits: Mapping[str, Callable[[str], Any]], files: list[tuple[str, Identity]]
) -> list[dict]:
    """Every trait of every file in a chunk; a failing trait becomes `<trait>_error`. A file
    that is no longer the regular file the scan saw (swapped for a link, say) is not read."""
    rows = []
    for path, expected in files:
        row: dict[str, Any] = {}
        status, changed = checked_status(path, expected, "not read")
        if status is None:
            rows.append({f"{name}_error": changed for name in traits})
            continue
        with known_status(path, status):  # the header traits need not stat the file again
            for name, func in traits.items():
                try:
                    row[name] = func(path)
                except Exception as error:  # a trait is user code: any failure is data
                    row[f"{name}_error"] = str(error) or type(error).__name__
        rows.append(row)
    return rows


def read_trait_columns(
    traits: Mapping[str, Callable[[str], Any]], files: list[tuple[str, Identity]]
) -> pd.DataFrame:
    """read_traits of a chunk as columns: what travels back from a worker and is kept."""
    return pd.DataFrame.from_records(read_traits(traits, files), index=range(len(files)))


class TraitItems(Sequence[tuple[str, Identity]]):
    """The path and identity of each file to read, built only for the slice asked for."""

    def __init__(self, files: pd.DataFrame) -> None:
        self.paths = files["filepath"]
        self.identity = files[IDENTITY_COLUMNS].astype("int64")

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> tuple[str, Identity]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, Identity]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, Identity] | list[tuple[str, Identity]]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        columns = [self.identity[name].iloc[index].tolist() for name in IDENTITY_COLUMNS]
        paths = self.paths.iloc[index].tolist()
        return list(zip(paths, zip(*columns, strict=True), strict=True))


def specification_errors(tokens: pd.Series, known: Mapping[str, Any]) -> pd.Series:
    """Why a file has no usable specification, None where it has one."""
    errors = pd.Series(None, index=tokens.index, dtype=object)
    errors[tokens.isna()] = "no specification: the file name has no s-<spec> field"
    unknown = tokens.notna() & ~tokens.isin(list(known))
    errors[unknown] = (
        "unknown specification '" + tokens[unknown].astype(str) + f"' (known: {sorted(known)})"
    )
    return errors


def parse_spec_rows(spec: type[Specification], rows: pd.DataFrame) -> pd.DataFrame:
    """Parsed fields, asset name, asset path and naming errors for the rows of one spec."""
    parsed = naming.parse_names(rows["filename"], spec.filename_fields)
    parsed["asset_name"] = naming.render_names(parsed, spec.asset_name_fields)
    parsed["filepath_relative"] = rows["filepath_relative"]
    parsed["asset_path"] = spec.asset_paths(parsed)
    parsed["asset_type"] = spec.asset_type
    if spec.asset_type != "file":
        parsed["path_error"] = asset_path_errors(parsed)
    return parsed.drop(columns=["filepath_relative", "extension"], errors="ignore")


def trait_table(
    spec: type[Specification],
    files: pd.DataFrame,
    mapper: Mapper,
    chunks: int,
    log: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """The spec's traits for each readable file, read in parallel chunks through the mapper."""
    if not spec.file_traits:
        return pd.DataFrame(index=files.index)
    if files.empty:
        return pd.DataFrame(columns=list(spec.file_traits), index=files.index)
    progress = Progress(log, f"update: traits of {spec.token()}", len(files)) if log else None
    read = partial(read_trait_columns, spec.file_traits)
    parts = map_chunks(mapper, read, TraitItems(files), chunks, progress)
    table = pd.concat(parts, ignore_index=True).set_axis(files.index).convert_dtypes()
    missing: dict[str, Any] = dict.fromkeys(
        (name for name in spec.file_traits if name not in table), pd.NA
    )
    return table.assign(**missing)  # every declared trait is a column


def trait_errors(table: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Each row's failed traits as 'width, height: message', traits that failed alike together."""
    failed = table[columns].rename(columns=lambda column: column.removesuffix("_error")).stack()
    assert isinstance(failed, pd.Series)  # single-level columns stack to a Series
    if failed.empty:
        return pd.Series(pd.NA, index=table.index, dtype="string")
    frame = failed.rename("message").rename_axis(["row", "trait"]).reset_index()
    alike = frame.groupby(["row", "message"], sort=False)["trait"].agg(", ".join).reset_index()
    lines = alike["trait"] + ": " + alike["message"].astype(str)
    return lines.groupby(alike["row"]).agg("; ".join).reindex(table.index).astype("string")


def join_errors(parts: list[pd.Series]) -> pd.Series:
    """The non-null messages of each row joined by '; '; None when a row has none."""
    joined = pd.Series(pd.NA, index=parts[0].index, dtype="string")
    for part in parts:
        part = part.astype("string")
        joined = (joined + "; " + part).fillna(joined).fillna(part)
    return joined.astype(object).where(joined.notna(), None)


class Reads(NamedTuple):
    """How an update came by its rows: files parsed and read now, files taken from the index."""

    read: int
    reused: int


def build_file_table(
    ingress: Path,
    specs: Mapping[str, type[Specification]],
    include_regex: str = "",
    exclude_regex: str = r"\.DS_Store",
    mapper: Mapper = serial_map,
    chunks: int = 16,
    log: Callable[[str], None] | None = None,
    follow_symlinks: LinkPolicy = "never",
) -> pd.DataFrame:
    """Scan ingress and return one row per selected entry: name fields, traits, asset path,
    and a `file_error` that says everything wrong with it (None when nothing is)."""
    return update_file_table(
        ingress, specs, include_regex, exclude_regex, mapper, chunks, log, follow_symlinks
    )[0]


def update_file_table(
    ingress: Path,
    specs: Mapping[str, type[Specification]],
    include_regex: str = "",
    exclude_regex: str = r"\.DS_Store",
    mapper: Mapper = serial_map,
    chunks: int = 16,
    log: Callable[[str], None] | None = None,
    follow_symlinks: LinkPolicy = "never",
    index: FileIndex | None = None,
) -> tuple[pd.DataFrame, Reads]:
    """The file table, taking the rows of files the index holds unchanged from it instead of
    parsing and reading them again (the index is used up); and how many files were read and
    reused."""
    scanned = select(scan_directory(ingress, follow_symlinks), include_regex, exclude_regex)
    files = identify(scanned, ingress, specs)
    found = indexed_positions(files, index) if index is not None else np.full(len(files), -1)
    reuse = found >= 0
    fresh = by_specification(files[~reuse], specs)
    parts = [
        parse_spec_rows(spec, rows).join(trait_table(spec, readable(rows), mapper, chunks, log))
        for spec, rows in fresh
    ]
    if index is not None:
        at = pd.Series(found[reuse], index=files.index[reuse])
        parts += indexed_parts(files[reuse], index.take(), at, specs)
    read = sum(len(readable(rows)) for _, rows in fresh)
    traits = sorted({name for spec in specs.values() for name in spec.file_traits})
    return assemble(files, parts, traits), Reads(read=read, reused=int(reuse.sum()))


def derived_columns(spec: type[Specification]) -> list[str]:
    """What an indexed row gives a file of this specification: the columns parse_spec_rows
    and trait_table derive, and its ids."""
    fields = [f for f in spec.filename_fields if f not in ("specification", "extension")]
    path_error = ["path_error"] if spec.asset_type != "file" else []
    traits = [*spec.file_traits, *(f"{name}_error" for name in spec.file_traits)]
    named = ["filename_error", "asset_name", "asset_path", "asset_type", *path_error]
    return [*fields, *named, *traits, "file_id", "asset_id"]


def indexed_parts(
    files: pd.DataFrame,
    indexed: pd.DataFrame,
    at: pd.Series,
    specs: Mapping[str, type[Specification]],
) -> list[pd.DataFrame]:
    """The derived columns of unchanged files, taken from their indexed rows (at the position
    `at` gives each file). A trait error column comes along only where one of these rows has
    such an error, as a fresh read gives."""
    parts = []
    for spec, group in by_specification(files, specs):
        errors = [f"{name}_error" for name in spec.file_traits]
        columns = [c for c in derived_columns(spec) if c in indexed or c not in errors]
        part = indexed[columns].take(at[group.index].to_numpy()).set_axis(group.index)
        parts.append(part.drop(columns=[c for c in errors if c in part and part[c].isna().all()]))
    return parts


def identify(
    files: pd.DataFrame, ingress: Path, specs: Mapping[str, type[Specification]]
) -> pd.DataFrame:
    """The scanned files with absolute path, extension, specification token and spec error."""
    # a followed link is read through the file it resolves to (inside ingress)
    files["filepath"] = files["link_target"].fillna(str(ingress) + "/" + files["filepath_relative"])
    files["extension"] = naming.extensions(files["filename"])
    files["specification"] = naming.find_specifications(files["filename"])
    files["spec_error"] = specification_errors(files["specification"], specs)
    return files


def by_specification(
    files: pd.DataFrame, specs: Mapping[str, type[Specification]]
) -> list[tuple[type[Specification], pd.DataFrame]]:
    """The rows of each known specification."""
    known = files[files["spec_error"].isna()]
    return [(specs[str(token)], rows) for token, rows in known.groupby("specification")]


def readable(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows whose file the scan found readable (a regular file inside ingress)."""
    return rows[rows["scan_error"].isna()]


def assemble(files: pd.DataFrame, parts: list[pd.DataFrame], traits: list[str]) -> pd.DataFrame:
    """Join the per-specification columns onto the files, then errors and ids. Each trait
    column's dtype follows all its values, whichever rows were read now or taken from the index."""
    extra = pd.concat(parts) if parts else pd.DataFrame(index=files.index[:0])
    values = [column for column in traits if column in extra]
    extra[values] = extra[values].convert_dtypes()
    table = files.join(extra.drop(columns=["specification"], errors="ignore"))
    for column in ["asset_name", "asset_path", "asset_type", *FILE_ERRORS]:
        if column not in table:
            table[column] = None
    failed = trait_error_columns(table.columns)
    table["file_error"] = join_errors(
        [table[column] for column in FILE_ERRORS] + [trait_errors(table, failed)]
    )
    table["file_id"] = ids_where_missing(table, "file_id", "filepath_relative")
    table["asset_id"] = ids_where_missing(table, "asset_id", "asset_path")
    return conform(order_columns(table), FILE_TABLE, "file_table")


def ids_where_missing(table: pd.DataFrame, column: str, paths: str) -> pd.Series:
    """The id column, computed from `paths` only where rows taken from the index lack it."""
    if column not in table:
        return ids(table[paths])
    known = table[column].astype(object)
    known = known.where(known.notna(), None)
    missing = known.isna() & table[paths].notna()
    known[missing] = ids(table.loc[missing, paths])
    return known


LEADING = [
    "filepath_relative",
    "filename",
    "specification",
    "asset_type",
    "asset_name",
    "asset_path",
    *NAME_FIELDS[:1],
    *NAME_FIELDS[2:],
    "extension",
]
TRAILING = [
    "file_error",
    "size",
    "mtime_ns",
    "device",
    "inode",
    "filepath",
    "file_id",
    "asset_id",
]


def order_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Identity and name fields first, traits in the middle, errors and file facts last."""
    leading = [c for c in LEADING if c in table]
    trailing = [c for c in TRAILING if c in table]
    middle = sorted(set(table.columns) - set(leading) - set(trailing))
    return table[leading + middle + trailing]
