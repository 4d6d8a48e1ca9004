"""S3Exporter against a real S3 server (`rclone serve s3`) on loopback."""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from hidebound_dagster.core.config import S3ExporterConfig
from hidebound_dagster.core.layout import METADATA_TYPES
from hidebound_dagster.core.parallel import thread_mapper
from hidebound_dagster.exporters.errors import ExportError
from hidebound_dagster.exporters.s3 import S3Exporter, is_transient
from hidebound_dagster.s3_exporter_resource import S3ExporterResource
from hidebound_dagster_tests.exporters.staging_fixture import Staging, build_staging
from hidebound_dagster_tests.services import FailingProxy, S3Server

MiB = 1024 * 1024


def exporter(
    server: S3Server | None,
    bucket: str,
    region: str = "us-east-1",
    max_attempts: int = 5,
    metadata_types: Sequence[str] = METADATA_TYPES,
    **options: Any,
) -> S3Exporter:
    """An exporter built the way runs build it: a config entry through the S3 resource."""
    settings = {
        "endpoint_url": server.endpoint_url if server else None,
        "access_key": server.access_key if server else "ak",
        "secret_key": server.secret_key if server else "sk",
    }
    keys = {key: options.pop(key) for key in list(settings) if key in options}
    entry = S3ExporterConfig.model_validate(
        {
            "name": "s3",
            "bucket": bucket,
            "region": region,
            "metadata_types": list(metadata_types),
            **settings,
            **keys,
        }
    )
    made = S3ExporterResource(max_attempts=max_attempts).exporter(entry, **options)
    assert isinstance(made, S3Exporter)
    return made


def client(server: S3Server):
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(s3={"addressing_style": "path"}),
    )


def read_bucket(server: S3Server, bucket: str) -> dict[str, bytes]:
    """key -> bytes of every object in the bucket, read back through the S3 API."""
    s3 = client(server)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def as_keys(expected: dict[str, bytes]) -> dict[str, bytes]:
    return {f"hidebound/{relative}": data for relative, data in expected.items()}


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_export_reads_back_identical(s3_server: S3Server, bucket: str, tmp_path: Path, region):
    staging = build_staging(tmp_path / "staging", large=6 * MiB)
    report = exporter(s3_server, bucket, region, multipart_threshold=5 * MiB).export(staging.root)
    expected = as_keys(staging.expected())
    assert read_bucket(s3_server, bucket) == expected
    assert (report.sent, report.skipped) == (len(expected), 0)
    assert report.bytes_sent == sum(map(len, expected.values()))
    assert bucket in report.target and s3_server.endpoint_url in report.target
    assert s3_server.secret_key not in repr(report) and s3_server.access_key not in repr(report)
    for key, data in expected.items():  # sha256 in object metadata, bytes really on disk
        head = client(s3_server).head_object(Bucket=bucket, Key=key)
        assert (
            head["Metadata"].get("sha256", head["Metadata"].get("Sha256"))
            == hashlib.sha256(data).hexdigest()
        )
        assert (s3_server.data / bucket / key).read_bytes() == data


@pytest.mark.parametrize(("region", "constraint"), [("us-east-1", False), ("eu-west-1", True)])
def test_bucket_location_constraint_except_in_us_east_1(
    s3_server: S3Server, bucket: str, empty_staging: Staging, region, constraint
):
    with FailingProxy(s3_server.port) as proxy:
        exporter(s3_server, bucket, region, endpoint_url=proxy.url).export(empty_staging.root)
    [create] = [
        body
        for method, path, body in proxy.requests
        if method == "PUT" and path.rstrip("/") == f"/{bucket}"
    ]
    assert (b"<LocationConstraint>eu-west-1</LocationConstraint>" in create) is constraint
    assert constraint or create == b""


@pytest.mark.parametrize("types", [[], ["asset"], ["file", "asset-chunk"]])
def test_metadata_types_choose_what_is_sent(
    s3_server: S3Server, bucket: str, staging: Staging, types
):
    exporter(s3_server, bucket, metadata_types=types).export(staging.root)
    assert read_bucket(s3_server, bucket) == as_keys(staging.expected(types))


def test_zero_valid_assets_is_nothing_to_do(
    s3_server: S3Server, bucket: str, empty_staging: Staging
):
    report = exporter(s3_server, bucket).export(empty_staging.root)
    assert (report.sent, report.skipped, report.bytes_sent) == (0, 0, 0)
    assert read_bucket(s3_server, bucket) == {}


def test_reexport_skips_everything_and_keeps_one_copy(
    s3_server: S3Server, bucket: str, staging: Staging
):
    first = exporter(s3_server, bucket).export(staging.root)
    second = exporter(s3_server, bucket).export(staging.root)
    assert read_bucket(s3_server, bucket) == as_keys(staging.expected())
    assert (second.sent, second.skipped, second.bytes_sent) == (0, first.sent, 0)


def test_process_based_mapper(s3_server: S3Server, bucket: str, staging: Staging, process_mapper):
    first = exporter(s3_server, bucket).export(staging.root, mapper=process_mapper)
    second = exporter(s3_server, bucket).export(staging.root, mapper=process_mapper)
    assert read_bucket(s3_server, bucket) == as_keys(staging.expected())
    assert (first.sent, second.skipped) == (len(staging.expected()), len(staging.expected()))


def test_wrong_secret_fails_fast_without_leaking_it(
    s3_server: S3Server, bucket: str, staging: Staging, caplog
):
    secret = "wrong-secret-Zq81pWx0"
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(ExportError) as raised:
        exporter(s3_server, bucket, secret_key=secret).export(staging.root)
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert "access denied" in message and bucket in message and s3_server.endpoint_url in message
    assert secret not in message and secret not in caplog.text
    assert secret not in repr(raised.value.__cause__)


def test_wrong_access_key_fails_fast_without_leaking_it(
    s3_server: S3Server, bucket: str, staging: Staging, caplog
):
    access = "AKIAWRONGACCESS42"
    with caplog.at_level(logging.INFO), pytest.raises(ExportError, match="access denied") as raised:
        exporter(s3_server, bucket, access_key=access).export(staging.root)
    assert access not in str(raised.value) and access not in caplog.text


def test_unreachable_endpoint_names_exporter_and_target(staging: Staging):
    dead = exporter(None, "hb-bucket", endpoint_url="http://127.0.0.1:9", max_attempts=2)
    with pytest.raises(
        ExportError,
        match=r"S3Exporter export to s3://hb-bucket at "
        r"http://127.0.0.1:9 .*cannot reach the endpoint",
    ):
        dead.export(staging.root)


def test_5xx_answers_are_retried(s3_server: S3Server, bucket: str, staging: Staging):
    def fail_puts(method: str, path: str) -> bool:
        return method == "PUT" and "/hidebound/" in path

    with FailingProxy(s3_server.port, fail_first=6, should_fail=fail_puts) as proxy:
        report = exporter(s3_server, bucket, endpoint_url=proxy.url).export(staging.root)
    assert proxy.failed == 6
    assert report.sent == len(staging.expected())
    assert read_bucket(s3_server, bucket) == as_keys(staging.expected())


def test_server_killed_mid_export_then_reexport_completes(tmp_path: Path, bucket: str):
    server = S3Server(tmp_path / "s3").start()
    try:
        staging = build_staging(tmp_path / "staging", sequences=10, frames=30, size=64)
        done, lock = [0], threading.Lock()

        def kill_after_50(func, items):
            def counted(item):
                result = func(item)
                with lock:
                    done[0] += 1
                    if done[0] == 50:
                        server.stop(sig=signal.SIGKILL)
                return result

            return thread_mapper(8)(counted, items)

        started = time.monotonic()
        with pytest.raises(ExportError, match="cannot reach the endpoint") as raised:
            exporter(server, bucket, max_attempts=2).export(staging.root, mapper=kill_after_50)
        assert time.monotonic() - started < 30
        assert bucket in str(raised.value) and server.endpoint_url in str(raised.value)

        server.start()  # same port, same data directory
        report = exporter(server, bucket).export(staging.root)
        expected = as_keys(staging.expected())
        assert read_bucket(server, bucket) == expected  # nothing missing, no duplicates
        assert report.sent + report.skipped == len(expected) and report.sent > 0
    finally:
        server.stop()


def test_changed_staging_content_is_refused(s3_server: S3Server, bucket: str, staging: Staging):
    victim = staging.root / "content" / staging.files[0]["filepath_relative"]
    victim.write_bytes(b"not what the metadata says")
    with pytest.raises(ExportError, match="does not match its metadata sha256"):
        exporter(s3_server, bucket).export(staging.root)


def _client_error(code: str, status: int) -> ClientError:
    body = {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(body, "PutObject")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_client_error("InternalError", 500), True),
        (_client_error("SlowDown", 503), True),
        (_client_error("SignatureDoesNotMatch", 403), False),
        (_client_error("NoSuchBucket", 404), False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), True),
        (ValueError("bad"), False),
    ],
)
def test_transient_classification(error: BaseException, transient: bool):
    assert is_transient(error) is transient


def test_a_dead_endpoint_costs_exactly_the_botocore_attempts(staging: Staging):
    """One retry layer: every request is tried `max_attempts` times by botocore's standard
    mode (dagster-aws counts the first call), never again by a retry loop around it."""
    with FailingProxy(9, fail_first=10**6) as proxy, pytest.raises(ExportError) as raised:
        exporter(None, "hb-bucket", endpoint_url=proxy.url, max_attempts=3).export(staging.root)
    assert "server error" in str(raised.value)
    assert [method for method, _, _ in proxy.requests] == ["HEAD"] * 4  # 1 call + 3 retries


def test_one_client_per_process_for_the_same_settings(s3_server: S3Server, bucket: str):
    first, second = exporter(s3_server, bucket), exporter(s3_server, bucket)
    other = exporter(s3_server, bucket, region="eu-west-1")
    assert first.client is second.client is first.client
    assert other.client is not first.client
    assert first.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}


def test_cluster_workers_build_one_client_each(s3_server: S3Server, bucket: str, tmp_path: Path):
    """On a cluster of processes each worker builds one client for the whole export, however
    many items it sends (it used to build one per item)."""
    from distributed import Client, LocalCluster

    from hidebound_dagster.core.cluster import client_mapper

    staging = build_staging(tmp_path / "staging", sequences=3, frames=10, size=64)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        report = exporter(s3_server, bucket).export(staging.root, mapper=client_mapper(client))
        clients = client.run(_clients_built)
    assert report.sent == len(staging.expected()) > 30
    assert sorted(clients.values()) == [1, 1], clients


def _clients_built() -> int:
    from hidebound_dagster import s3_exporter_resource

    return len(s3_exporter_resource._CLIENTS)
