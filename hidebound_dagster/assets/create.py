"""Create: stage the files of valid assets and write their metadata."""

from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
import pandas as pd

from hidebound_dagster import markdown
from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import write_manifest
from hidebound_dagster.core.metadata import (
    asset_records,
    data_time,
    file_records,
    file_table_for_metadata,
    write_metadata,
)
from hidebound_dagster.core.staging import StagingError, stage_content, stageable
from hidebound_dagster.resources import DaskResource, HideboundResource

EVERY_VALID_ASSET_STAGED = "every_valid_asset_staged"
CHANGED_WHILE_STAGED = "left out: a file changed while it was being copied"
CREATE: dict[str, Any] = {"group_name": "create", "owners": ["team:pipeline"]}


def stage(
    context: dg.AssetExecutionContext,
    hidebound: HideboundResource,
    dask: DaskResource,
    validated_assets: pd.DataFrame,
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """Every file of every valid asset, copied or moved into `staging/content` under its path
    relative to ingress; an asset with a file gone or changed since update is left out whole,
    and said so (a warning check on the asset)."""
    config = hidebound.config
    content = Staging(config.staging_directory).content
    files, skipped = stageable(validated_assets)
    context.log.info(
        f"create: {config.write_mode} {len(files)} files of "
        f"{files['asset_path'].nunique()} assets into {content}"
    )
    try:
        with dask.mapper(config.dask) as mapper:
            digests = stage_content(
                files,
                config.ingress_directory,
                config.staging_directory,
                config.write_mode,
                mapper=mapper,
                chunks=config.dask.num_partitions,
                log=context.log.info,
                exporters=config.exporter_identities,
            )
    except (StagingError, OSError) as error:
        raise dg.Failure(description=f"create failed, nothing half-written: {error}") from None
    changed = files.loc[digests.isna(), ["asset_path"]].drop_duplicates()
    skipped = pd.concat([skipped, changed.assign(error=CHANGED_WHILE_STAGED)], ignore_index=True)
    files = files[digests.notna()].assign(sha256=digests.dropna()).reset_index(drop=True)
    for line in skipped.itertuples():
        context.log.warning(f"create: not staged: {line.asset_path}: {line.error}")
    context.log.info(f"create: staged {len(files)} files")
    yield dg.Output(
        files,
        metadata={
            "assets": int(files["asset_path"].nunique()),
            "files": len(files),
            "bytes": int(files["size"].sum()),
            "write_mode": config.write_mode,
            "content": dg.MetadataValue.path(str(content)),
            "not_staged": len(skipped),
            "not_staged_assets": dg.MetadataValue.md(markdown.table(skipped)),
        },
    )
    yield dg.AssetCheckResult(
        check_name=EVERY_VALID_ASSET_STAGED,
        passed=skipped.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(skipped)} valid assets not staged: their files changed since update"
        if len(skipped)
        else "every valid asset was staged",
        metadata={
            "not_staged": len(skipped),
            "assets": dg.MetadataValue.md(markdown.table(skipped)),
        },
    )


def describe(
    context: dg.AssetExecutionContext, hidebound: HideboundResource, staged_content: pd.DataFrame
) -> dg.MaterializeResult:
    """Per-asset and per-file JSON, and the asset and file chunks, under `staging/metadata`,
    then the staging manifest that exports are recorded against."""
    config = hidebound.config
    layout = Staging(config.staging_directory)
    table = file_table_for_metadata(
        staged_content, config.specifications(), config.staging_directory
    )
    files = file_records(table)
    assets = asset_records(files)
    try:
        write_metadata(config.staging_directory, files, assets, data_time(staged_content))
        manifest = write_manifest(layout, staged_content)
    except (OSError, ValueError) as error:
        raise dg.Failure(description=f"cannot write metadata: {error}") from None
    context.log.info(f"create: wrote metadata of {len(assets)} assets and {len(files)} files")
    return dg.MaterializeResult(
        metadata={
            "assets": len(assets),
            "files": len(files),
            "metadata": dg.MetadataValue.path(str(layout.metadata)),
            "content_digest": manifest.content_digest,
        }
    )


def create_assets(keys: Keys, after: Sequence[dg.AssetKey] = ()) -> list[dg.AssetsDefinition]:
    """The create stage; staged_content is ordered after `after` (the previous workflow step)."""
    return [
        dg.asset(
            name="staged_content",
            key_prefix=keys.prefix,
            check_specs=[dg.AssetCheckSpec(EVERY_VALID_ASSET_STAGED, asset=keys("staged_content"))],
            deps=list(after),
            ins=keys.ins("validated_assets"),
            kinds={"pandas", "parquet", "filesystem"},
            **CREATE,
        )(stage),
        dg.asset(
            name="metadata",
            key_prefix=keys.prefix,
            ins=keys.ins("staged_content"),
            kinds={"json", "filesystem"},
            **CREATE,
        )(describe),
    ]
