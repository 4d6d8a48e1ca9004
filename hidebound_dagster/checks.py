"""Asset checks shown in the UI: how many assets failed their specification, overall and for
each specification."""

import dagster as dg
import pandas as pd

from hidebound_dagster.assets.update import asset_table
from hidebound_dagster.core import summary


def invalid_assets_result(assets: pd.DataFrame, label: str, examples: int) -> dg.AssetCheckResult:
    """Warn (the run still succeeds) with the count of invalid assets and a few examples."""
    invalid = assets[~assets["asset_valid"]]
    per_spec = invalid["specification"].value_counts().to_dict()
    return dg.AssetCheckResult(
        passed=invalid.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(invalid)} of {len(assets)} {label} failed their specification",
        metadata={
            "invalid": len(invalid),
            "assets": len(assets),
            **{f"invalid_{spec}": int(count) for spec, count in per_spec.items()},
            "examples": dg.MetadataValue.md(
                summary.markdown_table(summary.invalid_assets(invalid), limit=examples)
            ),
        },
    )


@dg.asset_check(asset=asset_table, description="Every asset passes its specification.")
def assets_pass_specification(asset_table: pd.DataFrame) -> dg.AssetCheckResult:
    """All assets, with the invalid count per specification."""
    return invalid_assets_result(asset_table, "assets", examples=10)


def specification_check(token: str) -> dg.AssetChecksDefinition:
    """A check of one specification's assets, so each spec's failures show on their own."""

    @dg.asset_check(
        asset=asset_table,
        name=f"{token}_assets_pass",
        description=f"Every {token} asset passes the {token} specification.",
    )
    def check(asset_table: pd.DataFrame) -> dg.AssetCheckResult:
        assets = asset_table[asset_table["specification"] == token]
        return invalid_assets_result(assets, f"{token} assets", examples=5)

    return check
