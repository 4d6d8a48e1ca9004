"""Export: one asset per configured exporter, then webhooks once all of them succeeded."""

from collections import Counter
from collections.abc import Sequence
from typing import Any

import dagster as dg

from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core.config import ExporterConfig, HideboundConfig
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import read_manifest, record_export, unexported
from hidebound_dagster.exporters.errors import ExportError
from hidebound_dagster.exporters.webhooks import WebhookError, call_webhooks

EXPORT: dict[str, Any] = {"group_name": "export", "owners": ["team:pipeline"]}


def export_names(exporters: Sequence[ExporterConfig]) -> list[str]:
    """The export asset name of each configured exporter: export_<name>, numbered on repeats."""
    names: list[str] = []
    seen: Counter[str] = Counter()
    for entry in exporters:
        seen[entry.name] += 1
        repeat = seen[entry.name]
        names.append(f"export_{entry.name}" + (f"_{repeat}" if repeat > 1 else ""))
    return names


def export_asset(
    name: str, index: int, kind: str, keys: Keys, after: Sequence[dg.AssetKey]
) -> dg.AssetsDefinition:
    """The asset that runs exporter `index` of the config over the staging directory and
    records, per exporter, which manifest it exported."""

    @dg.asset(
        name=name,
        key_prefix=keys.prefix,
        deps=list(dict.fromkeys([keys("metadata"), *after])),
        kinds={kind},
        **EXPORT,
        required_resource_keys={"hidebound", "dask", f"{kind}_exporter"},
        description=f"The staged content and metadata exported by the {kind} exporter "
        f"(exporter {index} of the config).",
    )
    def export(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        config: HideboundConfig = context.resources.hidebound.config
        entry = config.exporters[index]
        layout = Staging(config.staging_directory)
        manifest = read_manifest(layout)
        if manifest is None:
            raise dg.Failure(
                description=f"{name}: {layout.root} holds no finished create (no "
                "manifest); run create first"
            )
        exporter = getattr(context.resources, f"{kind}_exporter").exporter(entry)
        try:
            if entry.dask is None and config.dask.cluster_type == "threads":
                report = exporter.export(config.staging_directory, log=context.log)
            else:
                with context.resources.dask.mapper(entry.dask or config.dask) as mapper:
                    report = exporter.export(config.staging_directory, mapper, context.log)
        except ExportError as error:
            raise dg.Failure(description=str(error)) from None
        if read_manifest(layout) != manifest:
            raise dg.Failure(
                description=f"{name}: the staging changed during the export; export again"
            )
        record_export(layout, entry.identity, manifest)
        return dg.MaterializeResult(
            metadata={
                "exporter": entry.identity,
                "content_digest": manifest.content_digest,
                "target": report.target,
                "sent": report.sent,
                "skipped": report.skipped,
                "bytes_sent": report.bytes_sent,
                "seconds": report.seconds,
            }
        )

    return export


def export_complete_asset(keys: Keys, after: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """Once every exporter has recorded this staging as exported, calls the webhooks."""

    @dg.asset(
        name="export_complete",
        key_prefix=keys.prefix,
        deps=list(dict.fromkeys(after)),
        kinds={"webhook"},
        **EXPORT,
        required_resource_keys={"hidebound"},
    )
    def export_complete(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Every exporter took exactly this staging (so move mode may delete it); webhooks
        called."""
        config: HideboundConfig = context.resources.hidebound.config
        if config.exporters:
            missing = unexported(Staging(config.staging_directory), config.exporter_identities)
            if missing:
                raise dg.Failure(
                    description="not every exporter took this staging: " + "; ".join(missing)
                )
        hooks = [hook.model_dump(by_alias=True, exclude_none=True) for hook in config.webhooks]
        for hook in hooks:
            hook["url"] = hook["url"].get_secret_value()
        try:
            results = call_webhooks(hooks, log=context.log) if hooks else []
        except WebhookError as error:
            raise dg.Failure(
                description=f"exports kept; {error}",
                metadata={
                    "webhooks": dg.MetadataValue.md(webhook_table(error.results)),
                },
            ) from None
        return dg.MaterializeResult(
            metadata={
                "exporters": len(config.exporters),
                "webhooks": dg.MetadataValue.md(webhook_table(results)),
            }
        )

    return export_complete


def webhook_table(results: Sequence) -> str:
    """Each webhook's outcome and time, never its URL path."""
    if not results:
        return "_no webhooks_"
    rows = [
        f"| {r.index} | {r.method.upper()} | {r.host} | {r.status} | {r.seconds} |" for r in results
    ]
    return "\n".join(["| # | method | host | status | seconds |", "|---|---|---|---|---|", *rows])


def export_assets(
    exporters: Sequence[ExporterConfig], keys: Keys, after: Sequence[dg.AssetKey] = ()
) -> list[dg.AssetsDefinition]:
    """The export stage: one asset per exporter of the location's config, then webhooks."""
    exports = [
        export_asset(name, index, entry.name, keys, after)
        for index, (name, entry) in enumerate(zip(export_names(exporters), exporters, strict=True))
    ]
    upstream = [keys("metadata"), *after, *(key for asset in exports for key in asset.keys)]
    return [*exports, export_complete_asset(keys, upstream)]
