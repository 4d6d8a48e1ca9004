"""Export: one asset per configured exporter, then webhooks once all of them succeeded."""

from collections import Counter
from collections.abc import Sequence

import dagster as dg

from hidebound_dagster.core.config import HideboundConfig
from hidebound_dagster.core.staging import mark_exported
from hidebound_dagster.exporters.errors import ExportError
from hidebound_dagster.exporters.webhooks import WebhookError, call_webhooks

EXPORT = {"group_name": "export", "owners": ["team:pipeline"]}


def export_names(config: HideboundConfig | None) -> list[str]:
    """The export asset name of each configured exporter: export_<name>, numbered on repeats."""
    names: list[str] = []
    seen: Counter[str] = Counter()
    for entry in config.exporters if config else []:
        seen[entry.name] += 1
        repeat = seen[entry.name]
        names.append(f"export_{entry.name}" + (f"_{repeat}" if repeat > 1 else ""))
    return names


def export_asset(
    name: str, index: int, kind: str, after: Sequence[dg.AssetKey]
) -> dg.AssetsDefinition:
    """The asset that runs exporter `index` of the config over the staging directory."""

    @dg.asset(
        name=name, deps=list(dict.fromkeys([dg.AssetKey("metadata"), *after])), kinds={kind},
        **EXPORT,
        required_resource_keys={"hidebound", "dask", f"{kind}_exporter"},
        description=f"The staged content and metadata exported by the {kind} exporter "
        f"(exporter {index} of the config).",
    )
    def export(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        config: HideboundConfig = context.resources.hidebound.config
        if index >= len(config.exporters) or config.exporters[index].name != kind:
            raise dg.Failure(description=f"{name}: the exporters in the config changed since the "
                                         "code location loaded; reload it")
        entry = config.exporters[index]
        exporter = getattr(context.resources, f"{kind}_exporter").exporter(entry)
        try:
            if entry.dask is None and config.dask.cluster_type == "threads":
                report = exporter.export(config.staging_directory, log=context.log)
            else:
                with context.resources.dask.mapper(entry.dask or config.dask) as mapper:
                    report = exporter.export(config.staging_directory, mapper, context.log)
        except ExportError as error:
            raise dg.Failure(description=str(error)) from None
        return dg.MaterializeResult(metadata={
            "target": report.target,
            "sent": report.sent,
            "skipped": report.skipped,
            "bytes_sent": report.bytes_sent,
            "seconds": report.seconds,
        })

    return export


def export_complete_asset(after: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """Marks the staging as exported once every exporter succeeded, then calls the webhooks."""

    @dg.asset(name="export_complete", deps=list(dict.fromkeys(after)), kinds={"webhook"}, **EXPORT,
              required_resource_keys={"hidebound"})
    def export_complete(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """All exports done: move-mode staging may now be deleted; webhooks called."""
        config: HideboundConfig = context.resources.hidebound.config
        if config.exporters:
            mark_exported(config.staging_directory)
        hooks = [hook.model_dump(by_alias=True, exclude_none=True) for hook in config.webhooks]
        for hook in hooks:
            hook["url"] = hook["url"].get_secret_value()
        try:
            results = call_webhooks(hooks, log=context.log) if hooks else []
        except WebhookError as error:
            raise dg.Failure(description=f"exports kept; {error}", metadata={
                "webhooks": dg.MetadataValue.md(webhook_table(error.results)),
            }) from None
        return dg.MaterializeResult(metadata={
            "exporters": len(config.exporters),
            "webhooks": dg.MetadataValue.md(webhook_table(results)),
        })

    return export_complete


def webhook_table(results: Sequence) -> str:
    """Each webhook's outcome and time, never its URL path."""
    if not results:
        return "_no webhooks_"
    rows = [f"| {r.index} | {r.method.upper()} | {r.host} | {r.status} | {r.seconds} |"
            for r in results]
    return "\n".join(["| # | method | host | status | seconds |", "|---|---|---|---|---|", *rows])


def export_assets(
    config: HideboundConfig | None, after: Sequence[dg.AssetKey]
) -> list[dg.AssetsDefinition]:
    """The export stage for the exporters configured when the code location loads."""
    entries = config.exporters if config else []
    exports = [
        export_asset(name, index, entry.name, after)
        for index, (name, entry) in enumerate(zip(export_names(config), entries, strict=True))
    ]
    keys = [dg.AssetKey("metadata"), *after, *(key for asset in exports for key in asset.keys)]
    return [*exports, export_complete_asset(keys)]
