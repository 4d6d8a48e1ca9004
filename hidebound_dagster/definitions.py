"""The one Definitions object of the code location."""

from __future__ import annotations

import dagster as dg

from hidebound_dagster.assets import create, delete, search, update
from hidebound_dagster.checks import assets_pass_specification
from hidebound_dagster.core.config import WORKFLOW_STEPS, HideboundConfig
from hidebound_dagster.io_manager import ParquetIOManager
from hidebound_dagster.jobs import ordered, search_job, stage_job, workflow_job
from hidebound_dagster.resources import DaskResource, HideboundResource, configured
from hidebound_dagster.schedules import workflow_schedule
from hidebound_dagster.sensors import INGRESS, ingress_sensor_for

STAGES = {
    "delete": lambda after: [delete.staging_cleared_asset(after)],
    "update": lambda after: [
        update.file_table_asset(after), update.asset_table, update.validated_assets,
    ],
    "create": lambda after: [create.staged_content_asset(after), create.metadata],
    "export": lambda after: [],
}
CONFIG = configured() or HideboundConfig.model_construct(
    workflow=list(WORKFLOW_STEPS), schedule_cron="0 * * * *", schedule_timezone="UTC"
)
WORKFLOW = list(CONFIG.workflow)

defs = dg.Definitions(
    assets=[INGRESS, *ordered(STAGES, WORKFLOW), *dg.load_assets_from_modules([search])],
    asset_checks=[assets_pass_specification],
    jobs=[
        workflow_job(WORKFLOW),
        stage_job("delete", "Clear <staging>/content and <staging>/metadata."),
        stage_job("update", "Scan the ingress, validate every asset, keep the valid ones."),
        stage_job("create", "Stage the valid assets and write their metadata."),
        search_job,
    ],
    sensors=[ingress_sensor_for("workflow")],
    schedules=[workflow_schedule("workflow", CONFIG.schedule_cron, CONFIG.schedule_timezone)],
    executor=dg.in_process_executor,
    resources={
        "hidebound": HideboundResource(),
        "dask": DaskResource(),
        "io_manager": ParquetIOManager(),
    },
)
