"""Update: scan the ingress into the file table, group and validate it into the asset table,
and keep the valid subset."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from hidebound_dagster import markdown
from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core import asset_index, file_index, summary
from hidebound_dagster.core.asset_table import valid_files
from hidebound_dagster.core.file_table import update_file_table
from hidebound_dagster.core.layout import report_directory, table_path, tables_directory
from hidebound_dagster.core.redaction import redacted
from hidebound_dagster.core.staging import restore_interrupted
from hidebound_dagster.report import write_report
from hidebound_dagster.resources import DaskResource, HideboundResource

UPDATE: dict[str, Any] = {
    "group_name": "update",
    "kinds": {"pandas", "parquet"},
    "owners": ["team:pipeline"],
}


def ingress_spec(keys: Keys) -> dg.AssetSpec:
    """The ingress directory itself: observed, never materialized."""
    return dg.AssetSpec(
        keys("ingress"),
        description="The ingress directory, observed by the ingress sensor on every tick.",
        group_name="update",
        kinds={"filesystem"},
    )


def scan(
    context: dg.AssetExecutionContext, hidebound: HideboundResource, dask: DaskResource
) -> dg.Output[pd.DataFrame]:
    """One row per file in the ingress directory: parsed name fields, file traits, asset path
    and everything wrong with the file."""
    config = hidebound.config
    if config.write_mode == "move":
        restored = restore_interrupted(config.ingress_directory, config.staging_directory)
        if restored:
            context.log.warning(f"update: put {restored} files of an interrupted move back")
    context.log.info(f"update: scanning {config.ingress_directory}")
    specs = config.specifications()
    place = index_path(context, file_index.INDEX_TABLE)
    index, unusable = file_index.read_index(place, file_index.spec_versions(specs))
    if unusable:
        context.log.warning(f"update: {unusable}")
    with dask.mapper(config.dask) as mapper:
        table, reads = update_file_table(
            config.ingress_directory,
            specs,
            config.include_regex,
            config.exclude_regex,
            mapper=mapper,
            chunks=config.dask.num_partitions,
            log=context.log.info,
            follow_symlinks=config.follow_symlinks,
            index=index,
        )
    file_index.write_index(place, table, index.versions)
    counts = summary.file_counts(table)
    context.log.info(
        f"update: file table done: {counts}; {reads.read} files read, "
        f"{reads.reused} unchanged taken from the file index"
    )
    return dg.Output(
        table,
        metadata={
            **counts,
            "files_read": reads.read,
            "files_reused": reads.reused,
            "config": dg.MetadataValue.md(f"```yaml\n{hidebound.shown()}```"),
            "problem_files": dg.MetadataValue.md(markdown.table(summary.problem_files(table))),
        },
    )


def index_path(context: dg.AssetExecutionContext, name: str) -> Path:
    """Where an index of this location is kept: beside its tables in the instance's storage."""
    tables = tables_directory(context.instance.storage_directory())
    return table_path(tables, [*context.asset_key.path[:-1], name])


def ingest_report(
    context: dg.AssetExecutionContext,
    hidebound: HideboundResource,
    dask: DaskResource,
    files: pd.DataFrame,
    assets: pd.DataFrame,
) -> dict[str, dg.MetadataValue]:
    """Write the ingest report; its location as metadata. Never fails the run: a report that
    cannot be written is a warning."""
    config = hidebound.config
    directory = report_directory(context.instance.storage_directory(), context.asset_key.path[:-1])
    try:
        with dask.mapper(config.dask) as mapper:
            page = write_report(
                directory, files, assets, redacted(config), mapper, config.dask.num_partitions
            )
    except Exception as error:
        context.log.warning(f"update: no ingest report: {type(error).__name__}: {error}")
        return {}
    context.log.info(f"update: ingest report: {page}")
    return {
        "report": dg.MetadataValue.path(str(page)),
        "report_url": dg.MetadataValue.url(page.as_uri()),
    }


def validate(
    context: dg.AssetExecutionContext,
    hidebound: HideboundResource,
    dask: DaskResource,
    file_table: pd.DataFrame,
) -> dg.Output[pd.DataFrame]:
    """One row per asset with its whole-asset verdict and an error naming each failing file and
    rule; and the ingest report."""
    specs = hidebound.config.specifications()
    place = index_path(context, asset_index.INDEX_TABLE)
    indexed, unusable = asset_index.read_index(place)
    if unusable:
        context.log.warning(f"update: {unusable}")
    digests = asset_index.files_digests(file_table, file_index.spec_versions(specs))
    table, kept = asset_index.update_asset_table(file_table, specs, digests, indexed)
    asset_index.write_index(place, table, digests)
    counts = summary.asset_counts(table)
    context.log.info(
        f"update: asset table done: {counts}; {len(table) - kept} assets validated, "
        f"{kept} unchanged taken from the asset index"
    )
    families = summary.error_families(table["asset_error"])
    return dg.Output(
        table,
        metadata={
            **counts,
            "assets_validated": len(table) - kept,
            "assets_reused": kept,
            **ingest_report(context, hidebound, dask, file_table, table),
            "invalid_assets": dg.MetadataValue.md(markdown.table(summary.invalid_assets(table))),
            "validity_tree": dg.MetadataValue.md(markdown.validity_tree(table)),
            "top_errors": dg.MetadataValue.md(
                markdown.table(families.rename_axis("error").reset_index())
            ),
        },
    )


def keep_valid(
    context: dg.AssetExecutionContext, file_table: pd.DataFrame, asset_table: pd.DataFrame
) -> dg.Output[pd.DataFrame]:
    """The files of valid assets only, one row per file: exactly what create stages."""
    table = valid_files(file_table, asset_table)
    context.log.info(f"update: {table['asset_path'].nunique()} valid assets, {len(table)} files")
    return dg.Output(
        table,
        metadata={
            "assets": int(table["asset_path"].nunique()),
            "files": len(table),
            "bytes": int(table["size"].sum()),
        },
    )


def update_assets(keys: Keys, after: Sequence[dg.AssetKey] = ()) -> list[dg.AssetsDefinition]:
    """The update stage; file_table is ordered after `after` (the previous workflow step)."""
    prefix: dict[str, Any] = {"key_prefix": keys.prefix, **UPDATE}
    return [
        dg.asset(name="file_table", deps=[keys("ingress"), *after], **prefix)(scan),
        dg.asset(name="asset_table", ins=keys.ins("file_table"), **prefix)(validate),
        dg.asset(name="validated_assets", ins=keys.ins("file_table", "asset_table"), **prefix)(
            keep_valid
        ),
    ]
