"""The one Definitions object of the code location."""

from __future__ import annotations

import dagster as dg
from dagster_dask import dask_executor

from hidebound_dagster.assets import create, delete, export, search, update
from hidebound_dagster.checks import assets_pass_specification, specification_check
from hidebound_dagster.core.config import WORKFLOW_STEPS
from hidebound_dagster.exporter_resources import EXPORTER_RESOURCES
from hidebound_dagster.io_manager import ParquetIOManager
from hidebound_dagster.jobs import ordered, search_job, stage_job, workflow_job
from hidebound_dagster.resources import DaskResource, HideboundResource, configured
from hidebound_dagster.schedules import workflow_schedule
from hidebound_dagster.sensors import ingress_sensor_for

# The config in effect at load time shapes the workflow job, the checks and the schedule.
LOADED = configured()
WORKFLOW = list(LOADED.workflow) if LOADED else list(WORKFLOW_STEPS)
SPEC_TOKENS = sorted(LOADED.specifications()) if LOADED else []
SCHEDULE = (LOADED.schedule_cron, LOADED.schedule_timezone) if LOADED else ("0 * * * *", "UTC")

STAGES = {
    "delete": lambda after: [delete.staging_cleared_asset(after)],
    "update": lambda after: [
        update.file_table_asset(after), update.asset_table, update.validated_assets,
    ],
    "create": lambda after: [create.staged_content_asset(after), create.metadata],
    "export": lambda after: export.export_assets(LOADED, after),
}
defs = dg.Definitions(
    assets=[update.INGRESS, *ordered(STAGES, WORKFLOW), *dg.load_assets_from_modules([search])],
    asset_checks=[
        assets_pass_specification,
        *(specification_check(token) for token in SPEC_TOKENS),
    ],
    jobs=[
        workflow_job(WORKFLOW),
        workflow_job(WORKFLOW, "workflow_on_dask", dask_executor),
        stage_job("delete", "Clear `staging/content` and `staging/metadata`."),
        stage_job("update", "Scan the ingress, validate every asset, keep the valid ones."),
        stage_job("create", "Stage the valid assets and write their metadata."),
        stage_job("export", "Export the staging to every configured exporter, then webhooks."),
        search_job,
    ],
    sensors=[ingress_sensor_for("workflow")],
    schedules=[workflow_schedule("workflow", *SCHEDULE)],
    executor=dg.in_process_executor,
    resources={
        "hidebound": HideboundResource(),
        "dask": DaskResource(),
        "io_manager": ParquetIOManager(),
        **EXPORTER_RESOURCES,
    },
)
