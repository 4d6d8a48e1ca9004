"""Asset checks shown in the UI: how many assets failed their specification."""


import dagster as dg
import pandas as pd

from hidebound_dagster.assets.update import asset_table
from hidebound_dagster.core import summary


@dg.asset_check(asset=asset_table, description="Every asset passes its specification.")
def assets_pass_specification(asset_table: pd.DataFrame) -> dg.AssetCheckResult:
    """Warn (the run still succeeds) with the count of invalid assets per specification."""
    invalid = asset_table[~asset_table["asset_valid"]]
    per_spec = invalid["specification"].value_counts().to_dict()
    return dg.AssetCheckResult(
        passed=invalid.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(invalid)} of {len(asset_table)} assets failed their specification",
        metadata={
            "invalid": len(invalid),
            "assets": len(asset_table),
            **{f"invalid_{spec}": int(count) for spec, count in per_spec.items()},
            "examples": dg.MetadataValue.md(
                summary.markdown_table(summary.invalid_assets(asset_table), limit=10)
            ),
        },
    )


def specification_check(token: str) -> dg.AssetChecksDefinition:
    """A check of one specification's assets, so each spec's failures show on their own."""

    @dg.asset_check(
        asset=asset_table,
        name=f"{token}_assets_pass",
        description=f"Every {token} asset passes the {token} specification.",
    )
    def check(asset_table: pd.DataFrame) -> dg.AssetCheckResult:
        assets = asset_table[asset_table["specification"] == token]
        invalid = assets[~assets["asset_valid"]]
        return dg.AssetCheckResult(
            passed=invalid.empty,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{len(invalid)} of {len(assets)} {token} assets failed",
            metadata={
                "invalid": len(invalid),
                "assets": len(assets),
                "examples": dg.MetadataValue.md(
                    summary.markdown_table(summary.invalid_assets(invalid), limit=5)
                ),
            },
        )

    return check
