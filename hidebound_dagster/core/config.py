"""The hidebound configuration: one validated model, loaded from a file, the environment or a
dict; every problem is reported at once, before any file is touched."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hidebound_dagster.core.layout import METADATA_TYPES, STAGING_NAME, MetadataType
from hidebound_dagster.core.redaction import url_without_secrets
from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.specification_files import SpecificationLoadError, load_specifications
from hidebound_dagster.core.staging import overlapping

WorkflowStep = Literal["delete", "update", "create", "export"]
WORKFLOW_STEPS: tuple[WorkflowStep, ...] = ("delete", "update", "create", "export")
CONFIG_EXTENSIONS = (".json", ".yml", ".yaml")
KEY_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

#: A rule for one value: the problem with it, or None. The Dagster layer supplies the schedule
#: rules Dagster itself applies (validation context "cron_rule" and "timezone_rule").
Rule = Callable[[str], str | None]


class ConfigError(ValueError):
    """Configuration that cannot run: the message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(
            f"Invalid hidebound config ({count}):\n"
            + "\n".join(f"- {problem}" for problem in problems)
        )


class Strict(BaseModel):
    """Unknown keys are errors, so a typo never silently falls back to a default."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


def resolve_path(value: Any, info: ValidationInfo) -> Any:
    """A path relative to the validation context's base_dir (the config file's directory); an
    empty one is an error, never the config file's directory by accident."""
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty")
    if not isinstance(value, str | Path):
        return value
    return (Path((info.context or {}).get("base_dir", ".")) / value).resolve()


class ClusterOption(Strict):
    field: str
    label: str
    default: Any
    options: list[Any] = []
    option_type: Literal["bool", "float", "int", "mapping", "select", "string"]


class DaskConfig(Strict):
    """Where parallel work runs: in-process threads (default), a local cluster, an existing
    scheduler, or a dask-gateway cluster."""

    cluster_type: Literal["threads", "local", "distributed", "gateway"] = "threads"
    num_partitions: int = Field(default=16, ge=1)
    scheduler_address: str | None = Field(default=None, validate_default=True)
    local_num_workers: int = Field(default=1, ge=1)
    local_threads_per_worker: int = Field(default=1, ge=1)
    local_multiprocessing: bool = True
    gateway_address: str = "http://proxy-public/services/dask-gateway"
    gateway_proxy_address: str | None = None
    gateway_public_address: str | None = None
    gateway_auth_type: Literal["basic", "jupyterhub"] = "basic"
    gateway_api_token: SecretStr | None = None
    gateway_api_user: str | None = None
    gateway_min_workers: int = Field(default=1, ge=1)
    gateway_max_workers: int = Field(default=8, ge=1, validate_default=True)
    gateway_shutdown_on_close: bool = True
    gateway_timeout: int = Field(default=30, ge=1)
    gateway_cluster_options: list[ClusterOption] = []

    @field_validator("scheduler_address")
    @classmethod
    def _address_given(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("cluster_type") == "distributed" and not value:
            raise ValueError("cluster_type 'distributed' needs a scheduler_address")
        return value

    @field_validator("gateway_max_workers")
    @classmethod
    def _workers_ordered(cls, value: int, info: ValidationInfo) -> int:
        if value < info.data.get("gateway_min_workers", 1):
            raise ValueError("gateway_min_workers must not exceed gateway_max_workers")
        return value


class ExporterConfig(Strict):
    name: str
    metadata_types: list[MetadataType] = list(METADATA_TYPES)
    dask: DaskConfig | None = None

    @property
    def identity(self) -> str:
        """Where this exporter writes, naming it in export records (never a secret)."""
        raise NotImplementedError


class DiskExporterConfig(ExporterConfig):
    """Any legal path; a relative one resolves against the config file's directory."""

    name: Literal["disk"]
    target_directory: Path

    @property
    def identity(self) -> str:
        """Where this exporter writes, naming it in export records (never a secret)."""
        return f"disk:{self.target_directory}"

    @field_validator("target_directory", mode="before")
    @classmethod
    def _resolve(cls, value: Any, info: ValidationInfo) -> Any:
        return resolve_path(value, info)


#: The shape of every AWS region name (new regions keep appearing: no fixed list).
AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3ExporterConfig(ExporterConfig):
    """Credentials may be left out here and given to the s3_exporter resource (EnvVar)."""

    name: Literal["s3"]
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    bucket: str
    endpoint_url: str | None = None
    region: str = Field(default="us-east-1", validate_default=True)

    @property
    def identity(self) -> str:
        """Where this exporter writes, naming it in export records (never a secret)."""
        return f"s3:{url_without_secrets(self.endpoint_url or 'aws')}/{self.bucket}"

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not BUCKET_NAME.match(value):
            raise ValueError(
                f"{value} is not a valid bucket name: 3 to 63 lowercase letters, digits, "
                "periods and hyphens, beginning and ending with a letter or digit"
            )
        return value

    @field_validator("region")
    @classmethod
    def _region_shape(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("endpoint_url") is None and not AWS_REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name (like eu-central-2)")
        return value


class GirderExporterConfig(ExporterConfig):
    """The API key may be left out here and given to the girder_exporter resource (EnvVar)."""

    name: Literal["girder"]
    api_key: SecretStr | None = None
    root_id: str
    root_type: Literal["collection", "folder"] = "collection"
    host: str = "http://0.0.0.0"
    port: int = Field(default=8180, gt=1023, lt=65536)
    metadata_types: list[MetadataType] = ["asset", "file"]

    @property
    def identity(self) -> str:
        """Where this exporter writes, naming it in export records (never a secret)."""
        host = url_without_secrets(self.host)
        return f"girder:{host}:{self.port}/{self.root_type}/{self.root_id}"


AnyExporterConfig = Annotated[
    DiskExporterConfig | S3ExporterConfig | GirderExporterConfig, Field(discriminator="name")
]


class WebhookConfig(Strict):
    url: SecretStr
    method: Literal["get", "put", "post", "delete", "patch"]
    headers: dict[str, str] | None = None
    data: dict[str, Any] | None = None
    json_: dict[str, Any] | None = Field(default=None, alias="json")
    params: dict[str, Any] | None = None
    timeout: float | None = Field(default=None, gt=0)

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, populate_by_name=True)


class HideboundConfig(Strict):
    """Every setting of a hidebound deployment; relative paths resolve against `base_dir` of the
    validation context (the config file's directory)."""

    ingress_directory: Path
    staging_directory: Path
    key_prefix: str | None = None
    include_regex: str = ""
    exclude_regex: str = r"\.DS_Store"
    follow_symlinks: Literal["never", "within"] = "never"
    write_mode: Literal["copy", "move"] = "copy"
    #: rebuild: create clears the staging and stages everything; incremental: create
    #: reconciles it with the new verdicts, copying only what is new or changed
    staging: Literal["rebuild", "incremental"] = "rebuild"
    dask: DaskConfig = DaskConfig()
    workflow: list[WorkflowStep] = list(WORKFLOW_STEPS)
    redact_regex: str = r"(_key|_id|_token|url)$"
    redact_hash: bool = True
    specification_files: list[Path] = []
    exporters: list[AnyExporterConfig] = []
    webhooks: list[WebhookConfig] = []
    settle_seconds: float = Field(default=10, ge=0, allow_inf_nan=False)
    search_timeout: float = Field(default=30, gt=0, allow_inf_nan=False)
    staging_lock_timeout: float = Field(default=600, ge=0, allow_inf_nan=False)
    invalid_asset_severity: Literal["warn", "error"] = "warn"
    schedule_cron: str = "0 * * * *"
    schedule_timezone: str = "UTC"

    @field_validator("schedule_timezone")
    @classmethod
    def _known_timezone(cls, value: str, info: ValidationInfo) -> str:
        rule = (info.context or {}).get("timezone_rule", known_timezone)
        problem = rule(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("schedule_cron")
    @classmethod
    def _cron_schedule(cls, value: str, info: ValidationInfo) -> str:
        rule = (info.context or {}).get("cron_rule", five_fields)
        problem = rule(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("key_prefix")
    @classmethod
    def _key_prefix(cls, value: str | None) -> str | None:
        if value is not None and not KEY_PREFIX.match(value):
            raise ValueError(f"{value!r} must be a letter followed by letters, digits or _")
        return value

    @model_validator(mode="after")
    def _move_is_exported_before_delete(self) -> HideboundConfig:
        if self.write_mode == "move" and "delete" in self.workflow and not self.exporters:
            raise ValueError(
                "write_mode: move with delete in the workflow needs at least one exporter: "
                "the staged files are the only copy, so delete would refuse on every run; add "
                "an exporter, or take delete out of the workflow"
            )
        return self

    @model_validator(mode="after")
    def _links_are_not_moved(self) -> HideboundConfig:
        if self.write_mode == "move" and self.follow_symlinks == "within":
            raise ValueError(
                "follow_symlinks: within cannot be used with write_mode: move (a move would "
                "move the link, not the file); use copy mode, or leave links unfollowed"
            )
        return self

    @model_validator(mode="after")
    def _exports_stay_apart(self) -> HideboundConfig:
        problems = [
            f"exporters.{index}.target_directory: {entry.target_directory} must not be equal "
            f"to, inside or contain the {name} directory {directory}"
            for index, entry in enumerate(self.exporters)
            if isinstance(entry, DiskExporterConfig)
            for name, directory in (
                ("ingress", self.ingress_directory),
                ("staging", self.staging_directory),
            )
            if overlapping(entry.target_directory, directory)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def exporter_identities(self) -> list[str]:
        """Every configured exporter by where it writes, in config order."""
        return [entry.identity for entry in self.exporters]

    @field_validator("ingress_directory", "staging_directory", "specification_files", mode="before")
    @classmethod
    def _resolve(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, list):
            return [resolve_path(item, info) for item in value]
        return resolve_path(value, info)

    @field_validator("ingress_directory")
    @classmethod
    def _ingress_exists(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory or does not exist")
        return value

    @field_validator("staging_directory")
    @classmethod
    def _staging_usable(cls, value: Path, info: ValidationInfo) -> Path:
        problems = []
        if value.name != STAGING_NAME:
            problems.append(f"{value} directory is not named {STAGING_NAME}")
        if not value.parent.is_dir():
            problems.append(f"{value.parent} (the staging directory's parent) does not exist")
        ingress = info.data.get("ingress_directory")
        if ingress and overlapping(ingress, value):
            problems.append(
                f"staging directory {value} and ingress directory {ingress} must "
                "not be equal or inside one another"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("include_regex", "exclude_regex", "redact_regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"{value!r} is not a valid regular expression: {error}") from None
        return value

    @field_validator("specification_files")
    @classmethod
    def _specifications_load(cls, value: list[Path]) -> list[Path]:
        try:
            load_specifications(value)
        except SpecificationLoadError as error:
            raise ValueError("; ".join(error.problems)) from None
        return value

    def specifications(self) -> dict[str, type[Specification]]:
        """The specification classes by token, loaded once per file version."""
        return load_specifications(self.specification_files)


def known_timezone(value: str) -> str | None:
    """The problem with a time zone name, if it is not in the IANA database."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value} is not a known time zone"
    return None


def five_fields(value: str) -> str | None:
    """The simplest cron rule, for use without Dagster: five fields."""
    return None if len(value.split()) == 5 else f"{value!r} is not a cron string of 5 fields"


def validate_config(
    data: Mapping[str, Any], base_dir: str | Path = ".", rules: Mapping[str, Rule] | None = None
) -> HideboundConfig:
    """Validate a config mapping, raising ConfigError with every problem; `rules` may replace
    the cron and time zone rules (cron_rule, timezone_rule)."""
    context = {"base_dir": str(base_dir), **(rules or {})}
    try:
        return HideboundConfig.model_validate(dict(data), context=context)
    except ValidationError as error:
        raise ConfigError([describe_error(item) for item in error.errors()]) from None


def describe_error(item: Mapping[str, Any]) -> str:
    """One pydantic error as `location: message`, never echoing the input value."""
    location = ".".join(str(part) for part in item["loc"]) or "config"
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        message = "unknown key" + did_you_mean(str(item["loc"][-1]), item["loc"])
    elif item["type"] == "missing":
        message = "required key is missing"
    return f"{location}: {message}"


def did_you_mean(key: str, location: tuple) -> str:
    """A suggestion for a misspelt key, among the keys allowed where it stands."""
    model = known_keys(location[:-1])
    close = difflib.get_close_matches(key, model, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def known_keys(location: tuple) -> list[str]:
    """The keys allowed at a location of the config (top level, dask, an exporter, a hook)."""
    if not location:
        return list(HideboundConfig.model_fields)
    if location[0] == "dask":
        return list(DaskConfig.model_fields)
    if location[0] == "webhooks":
        return ["url", "method", "headers", "data", "json", "params", "timeout"]
    if location[0] == "exporters" and len(location) >= 3:
        models: dict[str, type[BaseModel]] = {
            "disk": DiskExporterConfig,
            "s3": S3ExporterConfig,
            "girder": GirderExporterConfig,
        }
        model = models.get(str(location[2]))
        return list(model.model_fields) if model else []
    return []


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON config file as a dict."""
    path = Path(path)
    if path.suffix.lower() not in CONFIG_EXTENSIONS:
        raise ConfigError([f"{path}: config files must end in one of {list(CONFIG_EXTENSIONS)}"])
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot be read: {error.strerror}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text (byte {error.start})"]) from None
    data = (
        parse_json(text, str(path))
        if path.suffix.lower() == ".json"
        else parse_yaml(text, str(path))
    )
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: must hold a mapping of config keys"])
    return data


def parse_yaml(text: str, source: str) -> Any:
    """YAML text as data; a syntax error says where, never quoting the text (it may hold a
    secret)."""
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise ConfigError([f"{source}: nested too deeply to be a config"]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{source}: not valid YAML{where}: {error.problem}"]) from None
    except yaml.YAMLError:
        raise ConfigError([f"{source}: not valid YAML"]) from None


def parse_json(text: str, source: str) -> Any:
    """JSON text as data; a syntax error says where, never quoting the text."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ConfigError([f"{source}: nested too deeply to be a config"]) from None
    except json.JSONDecodeError as error:
        raise ConfigError(
            [f"{source}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"]
        ) from None


ENV_PREFIX = "HIDEBOUND_"
ENV_YAML_KEYS = ("specification_files", "workflow", "exporters", "webhooks")
ENV_SCALAR_KEYS = (
    "ingress_directory",
    "staging_directory",
    "key_prefix",
    "follow_symlinks",
    "include_regex",
    "exclude_regex",
    "write_mode",
    "staging",
    "redact_regex",
    "redact_hash",
    "settle_seconds",
    "search_timeout",
    "staging_lock_timeout",
    "invalid_asset_severity",
    "schedule_cron",
    "schedule_timezone",
)


#: The original's variable names that still work, and the dask key each sets.
ENV_ALIASES = {ENV_PREFIX + "TIMEOUT": "gateway_timeout"}


def env_notes(environ: Mapping[str, str], from_file: bool) -> list[str]:
    """What to tell the user about the original's variable names found in the environment."""
    notes = []
    for old, key in ENV_ALIASES.items():
        if old not in environ:
            continue
        new = ENV_PREFIX + "DASK_" + key.upper()
        if from_file:
            notes.append(
                f"{old} is set but ignored: the config file is in charge (set dask.{key} in it)"
            )
        else:
            notes.append(f"{old} is deprecated: it still sets dask.{key}; use {new}")
    return notes


def config_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Config keys from HIDEBOUND_* variables; unset variables keep their defaults."""
    config: dict[str, Any] = {}
    for key in (*ENV_SCALAR_KEYS, *ENV_YAML_KEYS):
        value = environ.get(ENV_PREFIX + key.upper())
        if value is not None:
            name = ENV_PREFIX + key.upper()
            config[key] = parse_yaml(value, name) if key in ENV_YAML_KEYS else value
    dask_prefix = ENV_PREFIX + "DASK_"
    dask = {
        name.removeprefix(dask_prefix).lower(): value
        for name, value in environ.items()
        if name.startswith(dask_prefix)
    }
    for old, key in ENV_ALIASES.items():
        if old in environ and key not in dask:
            dask[key] = environ[old]
    if "gateway_cluster_options" in dask:
        dask["gateway_cluster_options"] = parse_yaml(
            dask["gateway_cluster_options"], dask_prefix + "GATEWAY_CLUSTER_OPTIONS"
        )
    if dask:
        config["dask"] = dask
    return config


def load_config(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    rules: Mapping[str, Rule] | None = None,
) -> HideboundConfig:
    """The effective config: a YAML/JSON file when one is named, else HIDEBOUND_* variables,
    then `overrides` on top; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    if config_file:
        data, base_dir = read_config_file(config_file), Path(config_file).resolve().parent
    else:
        data, base_dir = config_from_env(environ), Path.cwd()
    return validate_config({**data, **(overrides or {})}, base_dir, rules)


def config_digest(config: HideboundConfig) -> str:
    """A short, stable digest of everything in a config but its secrets: two configs that would
    build the same definitions and touch the same files have the same digest."""
    text = json.dumps(config.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def differing_keys(first: HideboundConfig, second: HideboundConfig) -> list[str]:
    """The top-level keys whose values differ between two configs (secrets compared too)."""

    def value(config: HideboundConfig, key: str) -> str:
        return json.dumps(revealed(getattr(config, key)), sort_keys=True, default=str)

    return [key for key in HideboundConfig.model_fields if value(first, key) != value(second, key)]


def revealed(value: Any) -> Any:
    """Plain data with secrets in clear, for comparison only: never shown."""
    if isinstance(value, BaseModel):
        return {key: revealed(getattr(value, key)) for key in type(value).model_fields}
    if isinstance(value, list | tuple):
        return [revealed(item) for item in value]
    if isinstance(value, dict):
        return {key: revealed(item) for key, item in value.items()}
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value
