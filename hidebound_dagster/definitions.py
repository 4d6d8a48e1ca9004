"""The code location: one validated config builds the whole Definitions object.

`defs` is what `dagster dev`, `dagster job execute -m hidebound_dagster.definitions` and `dg`
load; it reads the config the environment names (HIDEBOUND_CONFIG_FILEPATH, else HIDEBOUND_*
variables, else the bundled example) when it is loaded, never at import. Tests and other code
locations call `build_defs` with a config of their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import dagster as dg

from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.assets.create import create_assets
from hidebound_dagster.assets.delete import delete_assets
from hidebound_dagster.assets.export import export_assets
from hidebound_dagster.assets.search import search_assets
from hidebound_dagster.assets.update import ingress_spec, update_assets
from hidebound_dagster.checks import specification_checks, staging_check
from hidebound_dagster.console import console_logger
from hidebound_dagster.core.config import WORKFLOW_STEPS
from hidebound_dagster.exporter_resources import (
    SECRET_VARIABLES,
    exporter_resources,
    location_secrets,
)
from hidebound_dagster.io_manager import ParquetIOManager
from hidebound_dagster.jobs import DaskExecutor, ordered, stage_jobs, workflow_job
from hidebound_dagster.location import CONFIG_TAG, Location, load_location
from hidebound_dagster.log_scrubbing import scrub_logs
from hidebound_dagster.resources import DaskResource, HideboundResource
from hidebound_dagster.schedules import workflow_schedule
from hidebound_dagster.sensors import ingress_sensor_for

#: The shape of a location whose config is invalid: every run fails first, listing why.
FALLBACK_SCHEDULE = ("0 * * * *", "UTC")


def build_defs(location: Location) -> dg.Definitions:
    """Every asset, check, job, sensor and schedule of one config, and the resources that hold
    it. An invalid config still builds (the default workflow, no exporters): each run then fails
    before touching a file, with the list of problems."""
    config = location.config
    scrub_logs(location_secrets(location))
    keys = Keys.of(config.key_prefix if config else None)
    steps = list(config.workflow) if config else list(WORKFLOW_STEPS)
    tags = {CONFIG_TAG: location.digest}
    stages = {
        "delete": lambda after: delete_assets(keys, after),
        "update": lambda after: update_assets(keys, after),
        "create": lambda after: create_assets(keys, after),
        "export": lambda after: export_assets(config.exporters if config else [], keys, after),
    }
    staging = staging_check(keys)
    cron, timezone = (
        (config.schedule_cron, config.schedule_timezone) if config else FALLBACK_SCHEDULE
    )
    return dg.Definitions(
        assets=[ingress_spec(keys), *ordered(stages, steps), *search_assets(keys)],
        asset_checks=[
            *specification_checks(
                keys,
                sorted(config.specifications()) if config else [],
                config.invalid_asset_severity if config else "warn",
            ),
            staging,
        ],
        jobs=[
            workflow_job(steps, tags, staging),
            workflow_job(steps, tags, staging, "workflow_on_dask", DaskExecutor()),
            *stage_jobs(tags, staging),
        ],
        sensors=[ingress_sensor_for("workflow", keys)],
        schedules=[workflow_schedule("workflow", cron, timezone)],
        executor=dg.in_process_executor,
        loggers={"console": console_logger},
        resources={
            "hidebound": HideboundResource(location=location),
            "dask": DaskResource(),
            "io_manager": ParquetIOManager(),
            **exporter_resources(entry.name for entry in (config.exporters if config else [])),
        },
    )


#: Per config source, the Definitions last built and what they were built from.
_BUILT: dict[str, tuple[object, dg.Definitions]] = {}


def built_defs(location: Location) -> dg.Definitions:
    """build_defs(location), built again only when the config, a specification file or the
    exporter secrets in the environment changed: Dagster loads a code location five times in
    one `dagster job execute` process, and the same Definitions object also keeps Dagster's own
    resolution of them."""
    inputs = (
        location,
        location.config.specifications() if location.config else None,
        [os.environ.get(name) for name in SECRET_VARIABLES],
    )
    last = _BUILT.get(location.source)
    if last is None or last[0] != inputs:
        last = _BUILT[location.source] = (inputs, build_defs(location))
    return last[1]


@dg.definitions
def defs() -> dg.Definitions:
    """The code location of the config the environment names."""
    return built_defs(load_location())


def definitions_for(config_file: str) -> Callable[..., dg.Definitions]:
    """A code location of its own for another config file: a module holding
    `defs = definitions_for("/data/studio/hidebound.yaml")` is loaded like this one (see
    workspace.yaml). Give each such config its own `key_prefix`."""
    return dg.definitions(lambda: built_defs(load_location(config_file)))
