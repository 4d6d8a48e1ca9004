"""Jobs: each CRUDES stage on its own, and the workflow that runs them in order."""

from __future__ import annotations

import dagster as dg

update_job = dg.define_asset_job(
    "update",
    selection=dg.AssetSelection.groups("update"),
    description="Scan the ingress, validate every asset, keep the valid ones.",
)

workflow_job = dg.define_asset_job(
    "workflow",
    selection=dg.AssetSelection.all(),
    description="The configured workflow over the ingress directory.",
)
