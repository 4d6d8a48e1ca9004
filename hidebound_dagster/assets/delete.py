"""Delete: empty the staging area (content and metadata only), making the database ephemeral."""

from collections.abc import Sequence

import dagster as dg

from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core.staging import StagingError, delete
from hidebound_dagster.resources import HideboundResource


def clear(context: dg.AssetExecutionContext, hidebound: HideboundResource) -> dg.MaterializeResult:
    """`staging/content` and `staging/metadata` removed, and the records about them (so an
    incremental create after it stages everything afresh); ingress untouched. In move mode,
    content that not every configured exporter exported is kept (it is the only copy)."""
    config = hidebound.config
    try:
        delete(
            config.ingress_directory,
            config.staging_directory,
            config.write_mode,
            config.exporter_identities,
        )
    except (StagingError, OSError) as error:
        raise dg.Failure(description=f"delete refused: {error}") from None
    context.log.info(f"delete: cleared {config.staging_directory}")
    return dg.MaterializeResult(
        metadata={
            "staging": dg.MetadataValue.path(str(config.staging_directory)),
        }
    )


def delete_assets(keys: Keys, after: Sequence[dg.AssetKey] = ()) -> list[dg.AssetsDefinition]:
    """The delete stage, ordered after `after` (the previous workflow step)."""
    return [
        dg.asset(
            name="staging_cleared",
            key_prefix=keys.prefix,
            deps=list(after),
            group_name="delete",
            kinds={"filesystem"},
            owners=["team:pipeline"],
        )(clear)
    ]
