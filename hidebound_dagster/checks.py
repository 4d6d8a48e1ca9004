"""Asset checks shown in the UI: how many assets failed their specification (overall and per
specification), and whether the staging is intact before anything is exported."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from hidebound_dagster import markdown
from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core import summary
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.verification import verify_staging
from hidebound_dagster.resources import DaskResource, HideboundResource

STAGING_INTACT = "staging_is_intact"
EVERY_ASSET = "assets_pass_specification"


SEVERITIES = {"warn": dg.AssetCheckSeverity.WARN, "error": dg.AssetCheckSeverity.ERROR}


def invalid_assets_result(
    assets: pd.DataFrame, check: str, label: str, examples: int, severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    """The count of invalid assets and a few examples, at the config's severity."""
    invalid = assets[~assets["asset_valid"]]
    per_spec = invalid["specification"].value_counts().to_dict()
    return dg.AssetCheckResult(
        check_name=check,
        passed=invalid.empty,
        severity=severity,
        description=f"{len(invalid)} of {len(assets)} {label} failed their specification",
        metadata={
            "invalid": len(invalid),
            "assets": len(assets),
            **{f"invalid_{spec}": int(count) for spec, count in per_spec.items()},
            "examples": dg.MetadataValue.md(
                markdown.table(summary.invalid_assets(invalid), limit=examples)
            ),
        },
    )


def specification_checks(
    keys: Keys, tokens: list[str], severity: str = "warn"
) -> list[dg.AssetChecksDefinition]:
    """One check over all assets, and one per specification so each spec's failures show on
    their own, evaluated in one step that reads the asset table once (a step per check would
    read a million-row table ten times). At severity "error" they block: a run stages
    nothing while an asset is invalid."""
    level = SEVERITIES[severity]
    descriptions = {EVERY_ASSET: "Every asset passes its specification."}
    descriptions |= {
        f"{token}_assets_pass": f"Every {token} asset passes the {token} specification."
        for token in tokens
    }
    table = keys("asset_table")
    blocking = level == dg.AssetCheckSeverity.ERROR
    specs = [
        dg.AssetCheckSpec(name, asset=table, blocking=blocking, description=description)
        for name, description in descriptions.items()
    ]

    @dg.multi_asset_check(
        name="asset_table_checks",
        specs=specs,
        can_subset=True,
        ins=keys.ins("asset_table"),
    )
    def specification_results(
        context: dg.AssetCheckExecutionContext, asset_table: pd.DataFrame
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {key.name for key in context.selected_asset_check_keys}
        if EVERY_ASSET in selected:
            yield invalid_assets_result(asset_table, EVERY_ASSET, "assets", 10, level)
        by_spec = dict(iter(asset_table.groupby("specification")))
        for token in tokens:
            name = f"{token}_assets_pass"
            if name in selected:
                assets = by_spec.get(token, asset_table.iloc[:0])
                yield invalid_assets_result(assets, name, f"{token} assets", 5, level)

    return [specification_results]


def staging_check(keys: Keys) -> dg.AssetChecksDefinition:
    """Before any export: every staged file has its metadata, sizes and sha256 agree with it,
    nothing stray, and the manifest describes it all. Blocking: a failure stops the exports."""

    @dg.asset_check(
        asset=keys("metadata"),
        name=STAGING_INTACT,
        blocking=True,
        description="The staged content, its metadata and the manifest agree; nothing stray.",
    )
    def staging_is_intact(hidebound: HideboundResource, dask: DaskResource) -> dg.AssetCheckResult:
        config = hidebound.config
        layout = Staging(config.staging_directory)
        with dask.mapper(config.dask) as mapper:
            problems = verify_staging(layout, mapper, config.dask.num_partitions)
        return dg.AssetCheckResult(
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{len(problems)} problems in {layout.root}; nothing exported"
                if problems
                else f"{layout.root} is intact"
            ),
            metadata={
                "problems": len(problems),
                "details": dg.MetadataValue.md(markdown.table(pd.DataFrame({"problem": problems}))),
            },
        )

    return staging_is_intact
