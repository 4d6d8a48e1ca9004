"""Search: a SQL query over the file or asset table, its result shown as a table."""

from typing import Literal

import dagster as dg
import pandas as pd

from hidebound_dagster import markdown
from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core.search import SearchError, search
from hidebound_dagster.resources import HideboundResource


class SearchConfig(dg.Config):
    """The query, against a table named `data` (files, or assets with group_by: asset)."""

    query: str = "SELECT * FROM data"
    group_by: Literal["file", "asset"] = "file"


def find(
    context: dg.AssetExecutionContext,
    config: SearchConfig,
    hidebound: HideboundResource,
    file_table: pd.DataFrame,
    asset_table: pd.DataFrame,
) -> dg.Output[pd.DataFrame]:
    """The rows of the last update's tables that match the query."""
    context.log.info(f"search: {config.query} (by {config.group_by})")
    try:
        result = search(
            config.query,
            file_table,
            asset_table,
            config.group_by,
            hidebound.config.search_timeout,
        )
    except SearchError as error:
        raise dg.Failure(description=f"search failed: {error}") from None
    context.log.info(f"search: {len(result)} rows")
    return dg.Output(
        result,
        metadata={
            "query": config.query,
            "group_by": config.group_by,
            "rows": len(result),
            "result": dg.MetadataValue.md(markdown.table(result, limit=200)),
        },
    )


def search_assets(keys: Keys) -> list[dg.AssetsDefinition]:
    """The search stage: one asset whose run config holds the query."""
    return [
        dg.asset(
            name="search_results",
            key_prefix=keys.prefix,
            ins=keys.ins("file_table", "asset_table"),
            group_name="search",
            kinds={"duckdb", "pandas"},
            owners=["team:pipeline"],
        )(find)
    ]
