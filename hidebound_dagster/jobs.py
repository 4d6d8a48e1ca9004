"""Jobs: each CRUDES stage on its own, search, and the workflow that runs the configured steps
in their configured order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import dagster as dg

STAGE_GROUPS = {"delete": "delete", "update": "update", "create": "create", "export": "export"}


def stage_job(step: str, description: str) -> dg.UnresolvedAssetJobDefinition:
    """A job that materializes one CRUDES stage."""
    return dg.define_asset_job(
        step, selection=dg.AssetSelection.groups(STAGE_GROUPS[step]), description=description
    )


def workflow_job(
    steps: Sequence[str], name: str = "workflow", executor: dg.ExecutorDefinition | None = None
) -> dg.UnresolvedAssetJobDefinition:
    """The configured steps as one run; their order is carried by the asset dependencies."""
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.groups(*(STAGE_GROUPS[step] for step in steps)),
        description=f"The configured workflow: {', '.join(steps)}"
        + (" (each step a task on a Dask cluster)." if executor else "."),
        executor_def=executor,
    )


search_job = dg.define_asset_job(
    "search",
    selection=dg.AssetSelection.groups("search"),
    description="Run a SQL query (run config: ops.search_results.config.query) over the tables.",
)


StageBuilder = Callable[[Sequence[dg.AssetKey]], list[dg.AssetsDefinition]]


def ordered(stages: Mapping[str, StageBuilder], steps: Sequence[str]) -> list[dg.AssetsDefinition]:
    """All stage assets, each configured step built to depend on the previous step's assets,
    so a workflow run executes the steps in the configured order."""
    result = [asset for step, build in stages.items() if step not in steps for asset in build(())]
    previous: list[dg.AssetKey] = []
    for step in steps:
        assets = stages[step](previous)
        result += assets
        previous = [key for asset in assets for key in asset.keys] or previous
    return result
