"""The one Definitions object of the code location."""

from __future__ import annotations

import dagster as dg

from hidebound_dagster.assets import update
from hidebound_dagster.checks import assets_pass_specification
from hidebound_dagster.io_manager import ParquetIOManager
from hidebound_dagster.jobs import update_job, workflow_job
from hidebound_dagster.resources import DaskResource, HideboundResource

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([update]),
    asset_checks=[assets_pass_specification],
    jobs=[update_job, workflow_job],
    executor=dg.in_process_executor,
    resources={
        "hidebound": HideboundResource(),
        "dask": DaskResource(),
        "io_manager": ParquetIOManager(),
    },
)
