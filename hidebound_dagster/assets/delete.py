"""Delete: empty the staging area (content and metadata only), making the database ephemeral."""

from collections.abc import Sequence

import dagster as dg

from hidebound_dagster.core.staging import StagingError, delete
from hidebound_dagster.resources import HideboundResource


def clear(
    context: dg.AssetExecutionContext, hidebound: HideboundResource
) -> dg.MaterializeResult:
    """`staging/content` and `staging/metadata` removed; ingress untouched. In move mode,
    content that was never exported is kept (it is the only copy)."""
    config = hidebound.config
    try:
        delete(config.ingress_directory, config.staging_directory, config.write_mode)
    except (StagingError, OSError) as error:
        raise dg.Failure(description=f"delete refused: {error}") from None
    context.log.info(f"delete: cleared {config.staging_directory}")
    return dg.MaterializeResult(metadata={
        "staging": dg.MetadataValue.path(str(config.staging_directory)),
    })


def staging_cleared_asset(after: Sequence[dg.AssetKey] = ()) -> dg.AssetsDefinition:
    """staging_cleared, ordered after the given assets (the previous workflow step)."""
    return dg.asset(
        name="staging_cleared", deps=list(after), group_name="delete", kinds={"filesystem"},
        owners=["team:pipeline"],
    )(clear)


staging_cleared = staging_cleared_asset()
