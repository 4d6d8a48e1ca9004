"""Asset checks shown in the UI: how many assets failed their specification (overall and per
specification), and whether the staging is intact before anything is exported."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from hidebound_dagster import markdown
from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core import summary
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import verify_staging
from hidebound_dagster.resources import DaskResource, HideboundResource

STAGING_INTACT = "staging_is_intact"


SEVERITIES = {"warn": dg.AssetCheckSeverity.WARN, "error": dg.AssetCheckSeverity.ERROR}


def invalid_assets_result(
    assets: pd.DataFrame, label: str, examples: int, severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    """The count of invalid assets and a few examples, at the config's severity."""
    invalid = assets[~assets["asset_valid"]]
    per_spec = invalid["specification"].value_counts().to_dict()
    return dg.AssetCheckResult(
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
    their own. At severity "error" they block: a run stages nothing while an asset is
    invalid."""
    level = SEVERITIES[severity]

    @dg.asset_check(
        asset=keys("asset_table"),
        name="assets_pass_specification",
        description="Every asset passes its specification.",
        blocking=level == dg.AssetCheckSeverity.ERROR,
    )
    def every_asset(asset_table: pd.DataFrame) -> dg.AssetCheckResult:
        return invalid_assets_result(asset_table, "assets", 10, level)

    return [every_asset, *(specification_check(keys, token, level) for token in tokens)]


def specification_check(
    keys: Keys, token: str, level: dg.AssetCheckSeverity
) -> dg.AssetChecksDefinition:
    """A check of one specification's assets."""

    @dg.asset_check(
        asset=keys("asset_table"),
        name=f"{token}_assets_pass",
        description=f"Every {token} asset passes the {token} specification.",
        blocking=level == dg.AssetCheckSeverity.ERROR,
    )
    def check(asset_table: pd.DataFrame) -> dg.AssetCheckResult:
        assets = asset_table[asset_table["specification"] == token]
        return invalid_assets_result(assets, f"{token} assets", 5, level)

    return check


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
