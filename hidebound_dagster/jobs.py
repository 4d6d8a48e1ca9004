"""Jobs: each CRUDES stage on its own, search, and the workflow that runs the configured steps
in their configured order. Every job carries the digest of its location's config as a tag."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import dagster as dg

from hidebound_dagster.console import CONSOLE_RUN_CONFIG

if TYPE_CHECKING:
    from dagster._core.definitions.definition_config_schema import IDefinitionConfigSchema

STAGE_DESCRIPTIONS = {
    "delete": "Clear `staging/content` and `staging/metadata`.",
    "update": "Scan the ingress, validate every asset, keep the valid ones.",
    "create": "Stage the valid assets and write their metadata.",
    "export": "Check the staging, export it to every configured exporter, then call webhooks.",
}


def selection(steps: Sequence[str], staging_check: dg.AssetChecksDefinition) -> dg.AssetSelection:
    """The assets of the steps; with export, the staging check that gates it, even when the
    staging was created by an earlier run."""
    chosen = dg.AssetSelection.groups(*steps)
    return chosen | dg.AssetSelection.checks(staging_check) if "export" in steps else chosen


def stage_jobs(
    tags: Mapping[str, str], staging_check: dg.AssetChecksDefinition
) -> list[dg.UnresolvedAssetJobDefinition]:
    """A job per CRUDES stage, and search (run config: ops.search_results.config.query)."""
    return [
        *(
            dg.define_asset_job(
                step,
                selection=selection([step], staging_check),
                description=description,
                tags=tags,
                config=CONSOLE_RUN_CONFIG,
            )
            for step, description in STAGE_DESCRIPTIONS.items()
        ),
        dg.define_asset_job(
            "search",
            selection=dg.AssetSelection.groups("search"),
            tags=tags,
            config=CONSOLE_RUN_CONFIG,
            description="Run a SQL query (run config: ops.search_results.config.query) over "
            "the tables.",
        ),
    ]


#: Tags a job whose steps run in processes of their own (on a cluster), not in the run's one.
SPREAD_TAG = "hidebound/steps_spread"
#: Jobs that only read: they never wait for the run holding the staging directory.
READ_ONLY_JOBS = frozenset({"search"})


def workflow_job(
    steps: Sequence[str],
    tags: Mapping[str, str],
    staging_check: dg.AssetChecksDefinition,
    name: str = "workflow",
    executor: dg.ExecutorDefinition | None = None,
) -> dg.UnresolvedAssetJobDefinition:
    """The configured steps as one run; their order is carried by the asset dependencies."""
    return dg.define_asset_job(
        name,
        selection=selection(steps, staging_check),
        description=f"The configured workflow: {', '.join(steps)}"
        + (" (each step a task on a Dask cluster)." if executor else "."),
        executor_def=executor,
        # a default run config must be whole, and the Dask executor's has no default
        config=None if executor else CONSOLE_RUN_CONFIG,
        tags={**tags, SPREAD_TAG: "true"} if executor else tags,
    )


class DaskExecutor(dg.ExecutorDefinition):
    """dagster-dask's executor, imported on first use: dagster-dask imports dask.dataframe and
    distributed (about 0.7 s), which a location pays only when a run or the UI needs the
    executor's config or starts it, never for the other jobs."""

    def __init__(self) -> None:
        super().__init__(name="dask")

    @cached_property
    def _loaded(self) -> dg.ExecutorDefinition:
        from dagster_dask import dask_executor

        return dask_executor

    @property
    def description(self) -> str | None:
        return self._loaded.description

    @property
    def config_schema(self) -> IDefinitionConfigSchema:
        return self._loaded.config_schema

    @property
    def executor_creation_fn(self) -> Callable[[dg.InitExecutorContext], dg.Executor] | None:
        return self._loaded.executor_creation_fn

    def get_requirements(
        self, executor_config: Mapping[str, object]
    ) -> Sequence[dg.ExecutorRequirement]:
        return self._loaded.get_requirements(executor_config)


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
