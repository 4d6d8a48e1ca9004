"""The S3 exporter resource: dagster-aws's S3 resource, building S3 exporters that share one
client per process. Imported only by locations whose config names an S3 exporter."""

import threading
from functools import partial
from typing import Any

import boto3
from botocore.config import Config
from dagster_aws.s3 import S3Resource
from dagster_aws.utils import construct_boto_client_retry_config

from hidebound_dagster.core.config import S3ExporterConfig
from hidebound_dagster.exporter_resources import SECRET_VARIABLES, secret
from hidebound_dagster.exporters.base import Exporter
from hidebound_dagster.exporters.s3 import S3Exporter

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
