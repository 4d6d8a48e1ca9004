"""The one config of a code location: read once when the location loads, validated with the
schedule rules Dagster applies, and the only config any run of that location may use."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hidebound_dagster.core.config import (
    ENV_PREFIX,
    ConfigError,
    HideboundConfig,
    config_digest,
    config_from_env,
    differing_keys,
    env_notes,
    load_config,
    validate_config,
)
from hidebound_dagster.schedules import SCHEDULE_RULES

#: The bundled example, used when neither HIDEBOUND_CONFIG_FILEPATH nor HIDEBOUND_* variables
#: configure hidebound (exporter secrets such as HIDEBOUND_S3_SECRET_KEY do not count).
DEFAULT_CONFIG_FILE = Path(__file__).resolve().parents[1] / "hidebound.yaml"
CONFIG_FILE_VARIABLE = ENV_PREFIX + "CONFIG_FILEPATH"
#: The run tag that carries the digest of the config a run was launched with.
CONFIG_TAG = "hidebound/config"
HOW_TO_SWITCH = (
    "A code location runs only the config it loaded. To run another config, load a code "
    "location with it: HIDEBOUND_CONFIG_FILEPATH=/path/hidebound.yaml dagster job execute -m "
    "hidebound_dagster.definitions -j workflow, or one workspace.yaml entry per config (README, "
    "'Another config')."
)


@dataclass(frozen=True)
class Location:
    """The validated config of a code location, or the problems that stop it from running."""

    source: str  # the config file, or "HIDEBOUND_* variables"
    config_file: Path | None
    config: HideboundConfig | None
    error: ConfigError | None
    base_dir: Path  # what relative paths resolve against
    notes: tuple[str, ...] = ()  # deprecations to log with every run

    @property
    def digest(self) -> str:
        """Tags every run of the location, so a process holding another config can tell."""
        return config_digest(self.config) if self.config else "invalid"

    def require(self) -> HideboundConfig:
        """The config; ConfigError listing every problem if it is invalid."""
        if self.config is None:
            assert self.error is not None
            raise self.error
        return self.config


def validated(
    config_file: str | Path | None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> HideboundConfig:
    """A config validated by every rule, Dagster's schedule rules included."""
    return load_config(config_file, environ, overrides, rules=SCHEDULE_RULES)


def config_file_from(environ: Mapping[str, str]) -> str | None:
    """The config file the environment names: HIDEBOUND_CONFIG_FILEPATH, else the bundled
    example unless HIDEBOUND_* variables configure hidebound themselves."""
    named = environ.get(CONFIG_FILE_VARIABLE)
    if named:
        return named
    return None if config_from_env(environ) else str(DEFAULT_CONFIG_FILE)


def load_location(
    config_file: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Location:
    """The location's config: `config_file` if given, else what the environment names."""
    environ = os.environ if environ is None else environ
    config_file = config_file or config_file_from(environ)
    path = Path(config_file).resolve() if config_file else None
    source = str(path) if path else f"{ENV_PREFIX}* variables"
    base_dir = path.parent if path else Path.cwd()
    notes = tuple(env_notes(environ, from_file=path is not None))
    try:
        return Location(source, path, validated(path, environ), None, base_dir, notes)
    except ConfigError as error:
        return Location(source, path, None, error, base_dir, notes)


def run_problem(
    location: Location, config_file: str | None, overrides: Mapping[str, Any], tag: str | None
) -> str | None:
    """Why a run may not go ahead with this location's config: run config that names another
    config, or a run launched by a process that loaded another config (`tag`)."""
    loaded = location.require()
    if tag is not None and tag != location.digest:
        return (
            f"This run was launched with another config (digest {tag}) than the one this "
            f"process loaded from {location.source} (digest {location.digest}): the config "
            "changed since the code location loaded. Reload the code location and launch the "
            "run again."
        )
    if not config_file and not overrides:
        return None
    try:
        if config_file and Path(config_file).resolve() != location.config_file:
            requested = validated(config_file, overrides=overrides)
        else:
            data = loaded.model_dump(by_alias=True, exclude_unset=True)
            requested = validate_config({**data, **overrides}, location.base_dir, SCHEDULE_RULES)
    except ConfigError as error:
        return f"This run's config is not valid.\n{error}\n{HOW_TO_SWITCH}"
    keys = differing_keys(loaded, requested)
    if not keys:
        return None
    return (
        f"This run's config differs from the one this code location loaded "
        f"({location.source}) in: {', '.join(keys)}. {HOW_TO_SWITCH}"
    )
