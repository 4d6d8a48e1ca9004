"""Dagster resources: the hidebound config of this code location and the Dask cluster that
does parallel work."""

import json
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import yaml
from pydantic import PrivateAttr

from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core.cluster import dask_mapper
from hidebound_dagster.core.config import ConfigError, DaskConfig, HideboundConfig
from hidebound_dagster.core.layout import Staging, table_path, tables_directory
from hidebound_dagster.core.parallel import Mapper
from hidebound_dagster.core.redaction import redacted
from hidebound_dagster.core.staging_lease import StagingBusyError, hold
from hidebound_dagster.jobs import READ_ONLY_JOBS, SPREAD_TAG
from hidebound_dagster.location import CONFIG_TAG, Location, run_problem
from hidebound_dagster.run_summary import failed_steps, materialized, summary


# No `from __future__ import annotations` here: Dagster reads the ResourceDependency annotation
# at runtime.
class HideboundResource(dg.ConfigurableResource):
    """The config this code location loaded. Run config may repeat it (`config_file` naming the
    same file, or keys with the same values) but never change it: a run that asks for another
    config fails before any file is touched, saying which keys differ."""

    location: dg.ResourceDependency[Location]
    config_file: str | None = None
    ingress_directory: str | None = None
    staging_directory: str | None = None
    include_regex: str | None = None
    exclude_regex: str | None = None
    write_mode: str | None = None
    specification_files: list[str] | None = None
    workflow: list[str] | None = None

    _problem: str | None = PrivateAttr(default=None)
    _checked: bool = PrivateAttr(default=False)  # _problem holds the answer for this run

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Check once per run that it runs the loaded config; a problem fails the first step
        that needs the config, with the problem as the step's error."""
        run = context.run
        self._problem = self.problem(run.tags.get(CONFIG_TAG) if run else None)
        self._checked = True
        # Dagster re-opens resources after a run ends (`dagster job execute` does): log once.
        if self._problem or run is None or run.is_finished:
            return
        if context.log is not None:
            shown = json.dumps(redacted(self.config), default=str)  # one line: the log is read
            context.log.info(f"hidebound config (redacted): {shown}")
            for note in self.location.notes:
                context.log.warning(note)
        if run.job_name not in READ_ONLY_JOBS:
            self._problem = self.hold_staging(context, run)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """End a run whose steps share this process with its summary (run_summary)."""
        run, instance, log = context.run, context.instance, context.log
        if self._problem or run is None or instance is None or log is None or run.is_finished:
            return
        if SPREAD_TAG in run.tags or run.job_name in READ_ONLY_JOBS:
            return  # its steps each tear down in their own process: no end to speak for
        config = self.location.require()
        tables = tables_directory(instance.storage_directory())
        asset_table = table_path(tables, Keys.of(config.key_prefix)("asset_table").path)
        try:
            text = summary(
                materialized(instance, run.run_id), failed_steps(instance, run.run_id), asset_table
            )
        except Exception as error:  # a summary must never fail the run it describes
            log.warning(f"no run summary: {type(error).__name__}: {error}")
            return
        log.info(text)

    def hold_staging(self, context: dg.InitResourceContext, run: dg.DagsterRun) -> str | None:
        """Wait until this run holds the staging directory; why it cannot, or None."""
        config = self.location.require()
        instance = context.instance

        def run_finished(run_id: str) -> bool | None:
            holder = instance.get_run_by_id(run_id) if instance else None
            return None if holder is None else holder.is_finished

        try:
            hold(
                Staging(config.staging_directory),
                run.run_id,
                run.job_name,
                one_process=SPREAD_TAG not in run.tags,
                run_finished=run_finished,
                timeout=config.staging_lock_timeout,
                on_wait=context.log.info if context.log else lambda message: None,
            )
        except (StagingBusyError, OSError) as error:
            return f"This run cannot use the staging directory: {error}"
        return None

    def problem(self, tag: str | None = None) -> str | None:
        """Why this run cannot use the config, or None."""
        overrides = self.model_dump(exclude={"location", "config_file"}, exclude_none=True)
        try:
            return run_problem(self.location, self.config_file, overrides, tag)
        except ConfigError as error:
            return str(error)

    def shown(self) -> str:
        """The effective config as YAML, secrets redacted: safe for logs and the UI."""
        return yaml.safe_dump(redacted(self.config), sort_keys=False)

    @property
    def config(self) -> HideboundConfig:
        """The config of this run; a Failure naming every problem if it may not be used."""
        if not self._checked:  # used outside a run (a sensor, a test): check once now
            self._problem, self._checked = self.problem(), True
        if self._problem:
            raise dg.Failure(description=self._problem, allow_retries=False)
        return self.location.require()


class DaskResource(dg.ConfigurableResource):
    """Where parallel work runs; the hidebound config's `dask` section chooses the cluster, and
    `scheduler_address` here points every stage at an existing scheduler instead."""

    scheduler_address: str | None = None

    @contextmanager
    def mapper(self, config: DaskConfig) -> Iterator[Mapper]:
        """A mapper onto the cluster, open for the duration of the block."""
        if self.scheduler_address:
            config = config.model_copy(
                update={
                    "cluster_type": "distributed",
                    "scheduler_address": self.scheduler_address,
                }
            )
        with dask_mapper(config) as mapper:
            yield mapper
