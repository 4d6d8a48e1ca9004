"""Dagster resources: the hidebound config and the Dask cluster that does parallel work."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import yaml
from pydantic import PrivateAttr

from hidebound_dagster.core.cluster import dask_mapper
from hidebound_dagster.core.config import (
    ENV_PREFIX,
    ConfigError,
    DaskConfig,
    HideboundConfig,
    config_from_env,
    load_config,
    redacted,
)
from hidebound_dagster.core.parallel import Mapper

#: Used when neither run config nor HIDEBOUND_* variables say otherwise: the bundled example.
DEFAULT_CONFIG_FILE = Path(__file__).resolve().parents[1] / "hidebound.yaml"


def default_config_file() -> str | None:
    """The example config, unless HIDEBOUND_* variables configure hidebound themselves
    (exporter secrets such as HIDEBOUND_S3_SECRET_KEY do not count)."""
    return None if config_from_env(os.environ) else str(DEFAULT_CONFIG_FILE)


class HideboundResource(dg.ConfigurableResource):
    """The effective hidebound config: a YAML/JSON file (run config `config_file`, else
    HIDEBOUND_CONFIG_FILEPATH, else HIDEBOUND_* variables), with any key set here on top.
    It is validated once when the run starts, before any file is touched."""

    config_file: str | None = None
    ingress_directory: str | None = None
    staging_directory: str | None = None
    include_regex: str | None = None
    exclude_regex: str | None = None
    write_mode: str | None = None
    specification_files: list[str] | None = None
    workflow: list[str] | None = None

    _config: HideboundConfig | None = PrivateAttr(default=None)
    _error: ConfigError | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Validate once per run; a bad config fails the first step that needs it, with the
        list of problems as the step's error, before any file is touched."""
        self._validate()
        run = context.dagster_run
        # Dagster re-opens resources after a run ends (`dagster job execute` does): log once.
        if self._config and context.log is not None and not (run and run.is_finished):
            context.log.info("hidebound config (redacted):\n" + self.shown())

    def _validate(self) -> None:
        """Load and validate the config once, keeping a ConfigError to raise where it is used."""
        try:
            self._config = self.load_config()
        except ConfigError as error:
            self._error = error

    def shown(self) -> str:
        """The effective config as YAML, secrets redacted: safe for logs and the UI."""
        return yaml.safe_dump(redacted(self.config), sort_keys=False)

    def load_config(self) -> HideboundConfig:
        """Validate the config, raising ConfigError that lists every problem."""
        overrides = self.model_dump(exclude={"config_file"}, exclude_none=True)
        config_file = (
            self.config_file
            or os.environ.get(ENV_PREFIX + "CONFIG_FILEPATH")
            or default_config_file()
        )
        return load_config(config_file=config_file, overrides=overrides)

    @property
    def config(self) -> HideboundConfig:
        """The validated config of this run; a Failure listing every problem if invalid."""
        if self._config is None and self._error is None:
            self._validate()
        if self._error is not None:
            raise dg.Failure(description=str(self._error), allow_retries=False)
        return self._config


class DaskResource(dg.ConfigurableResource):
    """Where parallel work runs; the hidebound config's `dask` section chooses the cluster, and
    `scheduler_address` here points every stage at an existing scheduler instead."""

    scheduler_address: str | None = None

    @contextmanager
    def mapper(self, config: DaskConfig) -> Iterator[Mapper]:
        """A mapper onto the cluster, open for the duration of the block."""
        if self.scheduler_address:
            config = config.model_copy(update={
                "cluster_type": "distributed", "scheduler_address": self.scheduler_address,
            })
        with dask_mapper(config) as mapper:
            yield mapper


def configured() -> HideboundConfig | None:
    """The config in effect when the code location loads (it shapes the workflow job and the
    schedule); None when it cannot be read, in which case runs fail on it, listing why."""
    try:
        return HideboundResource().load_config()
    except ConfigError:
        return None
