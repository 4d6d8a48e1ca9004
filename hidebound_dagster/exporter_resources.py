"""Exporter resources: each builds its exporter from a config entry, taking secrets from the
resource (configured with dagster.EnvVar) when the entry does not hold them."""

import os
import threading
from functools import partial
from typing import Any

import boto3
import dagster as dg
from botocore.config import Config
from dagster_aws.s3 import S3Resource
from dagster_aws.utils import construct_boto_client_retry_config
from pydantic import SecretStr

from hidebound_dagster.core.config import (
    DiskExporterConfig,
    GirderExporterConfig,
    S3ExporterConfig,
)
from hidebound_dagster.core.redaction import secret_values
from hidebound_dagster.exporters.base import Exporter
from hidebound_dagster.exporters.disk import DiskExporter
from hidebound_dagster.exporters.girder import GirderExporter
from hidebound_dagster.exporters.s3 import S3Exporter
from hidebound_dagster.location import Location


def env_var(name: str) -> dg.EnvVar | None:
    """An EnvVar for a variable that is set, so an unset one is not an error until needed."""
    return dg.EnvVar(name) if name in os.environ else None


def secret(entry: SecretStr | None, resource: str | None, what: str, variable: str) -> str:
    """A secret from the config entry, else from the resource; a clear Failure if neither."""
    if entry is not None:
        return entry.get_secret_value()
    if resource:
        return resource
    raise dg.Failure(
        description=f"{what} is not set: put it in the exporter's config entry or set {variable}"
    )


class DiskExporterResource(dg.ConfigurableResource):
    """Builds disk exporters (no secrets)."""

    def exporter(self, entry: DiskExporterConfig) -> Exporter:
        return DiskExporter(entry.target_directory, entry.metadata_types)


#: Exporter secrets the environment may hold, read through dagster.EnvVar.
SECRET_VARIABLES = (
    "HIDEBOUND_S3_ACCESS_KEY",
    "HIDEBOUND_S3_SECRET_KEY",
    "HIDEBOUND_GIRDER_API_KEY",
)
#: What exports need beyond dagster-aws's client: a short connect timeout (a dead endpoint
#: fails in seconds, not minutes) and a pool as large as the threads sending at once.
TUNING = Config(connect_timeout=10, read_timeout=120, max_pool_connections=32)
_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


class S3ExporterResource(S3Resource):
    """dagster-aws's S3 resource: region, endpoint_url, credentials (EnvVar
    HIDEBOUND_S3_ACCESS_KEY, HIDEBOUND_S3_SECRET_KEY) and max_attempts, the botocore retries in
    standard mode that are the export's only retries. A config entry's own values win."""

    def get_client(self) -> Any:
        """A new client with dagster-aws's retry config and the export tuning."""
        session = boto3.session.Session(profile_name=self.profile_name)
        return session.client(
            "s3",
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            use_ssl=self.use_ssl,
            verify=self.verify,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            config=construct_boto_client_retry_config(self.max_attempts).merge(TUNING),
        )

    def get_object_to_set_on_execution_context(self) -> "S3ExporterResource":
        """Assets ask this resource for exporters, not for dagster-aws's bare client."""
        return self

    def for_entry(self, entry: S3ExporterConfig) -> "S3ExporterResource":
        """This resource with the entry's bucket region, endpoint and credentials."""
        return S3ExporterResource(
            region_name=entry.region,
            endpoint_url=entry.endpoint_url,
            aws_access_key_id=secret(
                entry.access_key, self.aws_access_key_id, "s3 access_key", SECRET_VARIABLES[0]
            ),
            aws_secret_access_key=secret(
                entry.secret_key, self.aws_secret_access_key, "s3 secret_key", SECRET_VARIABLES[1]
            ),
            aws_session_token=self.aws_session_token,
            max_attempts=self.max_attempts,
            profile_name=self.profile_name,
            use_ssl=self.use_ssl,
            verify=self.verify,
        )

    def exporter(self, entry: S3ExporterConfig, **options: Any) -> Exporter:
        """The entry's exporter; `options` go to S3Exporter (multipart_threshold)."""
        resource = self.for_entry(entry)
        settings = resource.model_dump(exclude_none=True)
        return S3Exporter(
            bucket=entry.bucket,
            region=entry.region,
            connect=partial(shared_s3_client, **settings),
            endpoint_url=entry.endpoint_url,
            metadata_types=entry.metadata_types,
            secrets=[resource.aws_access_key_id or "", resource.aws_secret_access_key or ""],
            **options,
        )


def shared_s3_client(**settings: Any) -> Any:
    """The client for these S3ExporterResource settings, built once per process: every item a
    thread or a cluster worker sends shares one client and its connection pool."""
    key = repr(sorted(settings.items()))
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = S3ExporterResource(**settings).get_client()
        return _CLIENTS[key]


class GirderExporterResource(dg.ConfigurableResource):
    """Builds Girder exporters; api_key comes from EnvVar (HIDEBOUND_GIRDER_API_KEY) unless
    the config entry holds it."""

    api_key: str | None = None

    def exporter(self, entry: GirderExporterConfig) -> Exporter:
        return GirderExporter(
            api_key=secret(entry.api_key, self.api_key, "girder api_key", SECRET_VARIABLES[2]),
            root_id=entry.root_id,
            root_type=entry.root_type,
            host=entry.host,
            port=entry.port,
            metadata_types=entry.metadata_types,
        )


def location_secrets(location: Location) -> frozenset[str]:
    """Every secret a run of the location may hold: its config's and the exporter variables'."""
    extra = [os.environ.get(name) for name in SECRET_VARIABLES]
    return (
        secret_values(location.config, extra) if location.config else frozenset(filter(None, extra))
    )


def exporter_resources() -> dict[str, dg.ConfigurableResource]:
    """The exporter resources, their secrets read through EnvVar when the run starts."""
    return {
        "disk_exporter": DiskExporterResource(),
        "s3_exporter": S3ExporterResource(
            aws_access_key_id=env_var(SECRET_VARIABLES[0]),
            aws_secret_access_key=env_var(SECRET_VARIABLES[1]),
        ),
        "girder_exporter": GirderExporterResource(api_key=env_var(SECRET_VARIABLES[2])),
    }
