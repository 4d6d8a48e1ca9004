"""Exporter resources: each builds its exporter from a config entry, taking secrets from the
resource (configured with dagster.EnvVar) when the entry does not hold them."""

import os

import dagster as dg
from pydantic import SecretStr

from hidebound_dagster.core.config import (
    DiskExporterConfig,
    GirderExporterConfig,
    S3ExporterConfig,
)
from hidebound_dagster.exporters.base import Exporter
from hidebound_dagster.exporters.disk import DiskExporter
from hidebound_dagster.exporters.girder import GirderExporter
from hidebound_dagster.exporters.s3 import S3Exporter


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


class S3ExporterResource(dg.ConfigurableResource):
    """Builds S3 exporters; access_key and secret_key come from EnvVar
    (HIDEBOUND_S3_ACCESS_KEY, HIDEBOUND_S3_SECRET_KEY) unless the config entry holds them."""

    access_key: str | None = None
    secret_key: str | None = None

    def exporter(self, entry: S3ExporterConfig) -> Exporter:
        return S3Exporter(
            bucket=entry.bucket,
            region=entry.region,
            access_key=secret(
                entry.access_key, self.access_key, "s3 access_key", "HIDEBOUND_S3_ACCESS_KEY"
            ),
            secret_key=secret(
                entry.secret_key, self.secret_key, "s3 secret_key", "HIDEBOUND_S3_SECRET_KEY"
            ),
            endpoint_url=entry.endpoint_url,
            metadata_types=entry.metadata_types,
        )


class GirderExporterResource(dg.ConfigurableResource):
    """Builds Girder exporters; api_key comes from EnvVar (HIDEBOUND_GIRDER_API_KEY) unless
    the config entry holds it."""

    api_key: str | None = None

    def exporter(self, entry: GirderExporterConfig) -> Exporter:
        return GirderExporter(
            api_key=secret(
                entry.api_key, self.api_key, "girder api_key", "HIDEBOUND_GIRDER_API_KEY"
            ),
            root_id=entry.root_id,
            root_type=entry.root_type,
            host=entry.host,
            port=entry.port,
            metadata_types=entry.metadata_types,
        )


def exporter_resources() -> dict[str, dg.ConfigurableResource]:
    """The exporter resources, their secrets read through EnvVar when the run starts."""
    return {
        "disk_exporter": DiskExporterResource(),
        "s3_exporter": S3ExporterResource(
            access_key=env_var("HIDEBOUND_S3_ACCESS_KEY"),
            secret_key=env_var("HIDEBOUND_S3_SECRET_KEY"),
        ),
        "girder_exporter": GirderExporterResource(api_key=env_var("HIDEBOUND_GIRDER_API_KEY")),
    }
