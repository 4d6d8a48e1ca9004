"""Create: stage the files of valid assets and write their metadata."""

from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
import pandas as pd

from hidebound_dagster import markdown
from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core.incremental import stage_incremental
from hidebound_dagster.core.incremental_metadata import describe_incremental
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.metadata import describe_rebuild
from hidebound_dagster.core.staging import Spread, StagingError, stage_rebuild
from hidebound_dagster.resources import DaskResource, HideboundResource

EVERY_VALID_ASSET_STAGED = "every_valid_asset_staged"
CREATE: dict[str, Any] = {"group_name": "create", "owners": ["team:pipeline"]}


def stage(
    context: dg.AssetExecutionContext,
    hidebound: HideboundResource,
    dask: DaskResource,
    validated_assets: pd.DataFrame,
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    """Every file of every valid asset, copied or moved into `staging/content` under its path
    relative to ingress; an asset with a file gone or changed since update is left out whole,
    and said so (a warning check on the asset). With `staging: incremental`, assets staged
    before and unchanged are left untouched, and the table holds what is staged now."""
    config = hidebound.config
    content = Staging(config.staging_directory).content
    context.log.info(
        f"create: {config.staging} {config.write_mode} of "
        f"{validated_assets['asset_path'].nunique()} valid assets into {content}"
    )
    run = stage_incremental if config.staging == "incremental" else stage_rebuild
    try:
        with dask.mapper(config.dask) as mapper:
            staged = run(
                validated_assets,
                config.ingress_directory,
                config.staging_directory,
                config.write_mode,
                Spread(mapper, config.dask.num_partitions, context.log.info),
                config.exporter_identities,
            )
    except (StagingError, OSError) as error:
        raise dg.Failure(description=f"create failed, nothing half-written: {error}") from None
    files, skipped = staged.files, staged.skipped
    for line in skipped.itertuples():
        context.log.warning(f"create: not staged: {line.asset_path}: {line.error}")
    counts = {
        "assets_unchanged": staged.assets_unchanged,
        "assets_staged": staged.assets_staged,
        "assets_removed": staged.assets_removed,
        "files_copied": staged.files_copied,
        "files_removed": staged.files_removed,
    }
    context.log.info(
        f"create: staged {len(files)} files"
        + (
            f"; {staged.assets_unchanged} assets unchanged (not copied, not hashed), "
            f"{staged.assets_staged} staged ({staged.files_copied} files), "
            f"{staged.assets_removed} removed ({staged.files_removed} files)"
            if config.staging == "incremental"
            else ""
        )
    )
    yield dg.Output(
        files,
        metadata={
            "assets": int(files["asset_path"].nunique()),
            "files": len(files),
            "bytes": int(files["size"].sum()),
            "write_mode": config.write_mode,
            "staging": config.staging,
            **(counts if config.staging == "incremental" else {}),
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
    then the staging manifest that exports are recorded against. With `staging: incremental`,
    only the JSON that differs from what was written is rewritten."""
    config = hidebound.config
    layout = Staging(config.staging_directory)
    write = describe_incremental if config.staging == "incremental" else describe_rebuild
    try:
        described = write(config.staging_directory, staged_content, config.specifications())
    except (OSError, ValueError) as error:
        raise dg.Failure(description=f"cannot write metadata: {error}") from None
    context.log.info(
        f"create: wrote metadata of {described.assets} assets and {described.files} files "
        f"(JSON rewritten: {described.assets_rewritten} assets, {described.files_rewritten} "
        "files)"
    )
    return dg.MaterializeResult(
        metadata={
            "assets": described.assets,
            "files": described.files,
            "assets_rewritten": described.assets_rewritten,
            "files_rewritten": described.files_rewritten,
            "metadata": dg.MetadataValue.path(str(layout.metadata)),
            "content_digest": described.content_digest,
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
