"""Exporter resources: each builds its exporter from a config entry, taking secrets from the
resource (configured with dagster.EnvVar) when the entry does not hold them."""

import os
from collections.abc import Iterable

import dagster as dg
from pydantic import SecretStr

from hidebound_dagster.core.config import DiskExporterConfig, GirderExporterConfig
from hidebound_dagster.core.redaction import secret_values
from hidebound_dagster.exporters.base import Exporter
from hidebound_dagster.exporters.disk import DiskExporter
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


class GirderExporterResource(dg.ConfigurableResource):
    """Builds Girder exporters; api_key comes from EnvVar (HIDEBOUND_GIRDER_API_KEY) unless
    the config entry holds it."""

    api_key: str | None = None

    def exporter(self, entry: GirderExporterConfig) -> Exporter:
        from hidebound_dagster.exporters.girder import GirderExporter

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


def exporter_resources(kinds: Iterable[str]) -> dict[str, dg.ConfigurableResource]:
    """The resources of the exporter kinds the config names (disk, s3, girder), their secrets
    read through EnvVar when the run starts. dagster-aws is imported only for s3 (it is the
    largest import of a code location), girder-client only when a run exports to Girder."""
    resources: dict[str, dg.ConfigurableResource] = {}
    for kind in sorted(set(kinds)):
        if kind == "disk":
            resources["disk_exporter"] = DiskExporterResource()
        elif kind == "girder":
            resources["girder_exporter"] = GirderExporterResource(
                api_key=env_var(SECRET_VARIABLES[2])
            )
        elif kind == "s3":
            from hidebound_dagster.s3_exporter_resource import S3ExporterResource

            resources["s3_exporter"] = S3ExporterResource(
                aws_access_key_id=env_var(SECRET_VARIABLES[0]),
                aws_secret_access_key=env_var(SECRET_VARIABLES[1]),
            )
    return resources
