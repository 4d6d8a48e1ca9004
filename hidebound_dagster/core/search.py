"""Search: SQL over the file table or the asset table, as a table named `data`.

DuckDB runs the query over the persisted tables in memory; its SQL is standard, and a bad
query comes back as the database's own message.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from hidebound_dagster.core.asset_table import with_verdict
from hidebound_dagster.core.layout import table_path
from hidebound_dagster.core.tables import read_table

GroupBy = Literal["file", "asset"]


class SearchError(ValueError):
    """A query the database rejected; the message is the database's."""


def searchable(files: pd.DataFrame, assets: pd.DataFrame, group_by: GroupBy) -> pd.DataFrame:
    """The table a query sees: assets, or files with their asset verdict and coordinates split
    into x/y/z columns (a copy: searching never changes the tables)."""
    if group_by == "asset":
        return assets.copy()
    table = with_verdict(files, assets)
    if "coordinate" in table:
        coordinates = table["coordinate"].map(padded)
        axes = pd.DataFrame(coordinates.tolist(), index=table.index, dtype="Int64")
        table[["coordinate_x", "coordinate_y", "coordinate_z"]] = axes
        table = table.drop(columns="coordinate")
    return table


def padded(coordinate: Any) -> list:
    """A coordinate as exactly three axes (None where absent), whatever the cell holds."""
    values = (
        list(coordinate)
        if isinstance(coordinate, list | tuple) or hasattr(coordinate, "tolist")
        else []
    )
    return [*values[:3], *[None] * (3 - len(values[:3]))]


DEFAULT_TIMEOUT = 30.0  # seconds a query may run


def search(
    query: str,
    files: pd.DataFrame,
    assets: pd.DataFrame,
    group_by: GroupBy = "file",
    timeout: float = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """Run a SQL query against `data`, interrupted after `timeout` seconds; raise SearchError
    with the database's message, or saying it ran out of time."""
    data = searchable(files, assets, group_by)
    with duckdb.connect(":memory:") as connection:
        connection.register("data", data)
        # only `data` is visible: no Python variables, no files, no extensions
        connection.execute("SET python_enable_replacements = false")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        timer = threading.Timer(timeout, connection.interrupt)
        timer.start()
        try:
            return connection.execute(query).df()
        except duckdb.InterruptException:
            raise SearchError(
                f"the query ran longer than its time limit of {timeout:g} s and was stopped"
            ) from None
        except duckdb.Error as error:
            raise SearchError(str(error)) from None
        finally:
            timer.cancel()


def search_tables(
    query: str,
    tables_dir: Path,
    group_by: GroupBy = "file",
    prefix: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> pd.DataFrame:
    """Search the file and asset tables persisted under tables_dir by the last update (of the
    config whose asset keys carry `prefix`)."""
    paths = [table_path(tables_dir, [*prefix, name]) for name in ("file_table", "asset_table")]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise SearchError(f"no tables to search: {', '.join(missing)} not found; run update first")
    return search(query, read_table(paths[0]), read_table(paths[1]), group_by, timeout)
