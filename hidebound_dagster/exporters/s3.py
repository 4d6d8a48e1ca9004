"""Upload staged content and metadata to an S3 bucket on AWS or any S3-compatible endpoint.

Keys mirror staging under `hidebound/`. Every object carries its sha256 in its metadata, so a
re-export skips what is already there; every upload is verified by MD5/ETag and by size. The
client comes from the caller (the Dagster layer builds it with dagster-aws); its botocore
retries are the only retries.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from hidebound_dagster.core.identity import sha256_file
from hidebound_dagster.core.redaction import url_secrets, url_without_secrets
from hidebound_dagster.exporters.base import METADATA_TYPES, Exporter, ExportItem, ExportPlan

PREFIX = "hidebound/"
MiB = 1024 * 1024
ACCESS_DENIED = {
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidToken",
    "ExpiredToken",
}
THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestLimitExceeded",
    "TooManyRequests",
    "RequestTimeout",
    "RequestTimeTooSkewed",
}
_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _root_cause(error: BaseException) -> BaseException:
    """The botocore error behind wrappers such as boto3's S3UploadFailedError."""
    while not isinstance(error, ClientError | BotoCoreError):
        inner = error.__cause__ or error.__context__
        if inner is None:
            return error
        error = inner
    return error


def is_transient(error: BaseException) -> bool:
    """Connection failures, timeouts, 5xx and throttling are worth retrying; the rest is not."""
    error = _root_cause(error)
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        return _status(error) >= 500 or _status(error) == 429 or _code(error) in THROTTLING
    return False


def _etag_matches(etag: str, md5: str) -> bool:
    """An ETag that is a plain MD5 must equal ours (stores with other ETags are not checked)."""
    etag = etag.strip('"')
    return not _PLAIN_MD5.fullmatch(etag) or etag == md5


class S3Exporter(Exporter):
    """Sends content to `hidebound/content/...` and metadata to `hidebound/metadata/<type>/...`."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        region: str,
        connect: Callable[[], Any],
        endpoint_url: str | None = None,
        metadata_types: Iterable[str] = METADATA_TYPES,
        *,
        secrets: Iterable[str] = (),
        multipart_threshold: int = 8 * MiB,
    ) -> None:
        """`connect` returns the boto3 S3 client; it must pickle, so that each worker of a
        process-based mapper calls it for a client of its own."""
        super().__init__(metadata_types)
        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url
        self.connect = connect
        self.multipart_threshold = multipart_threshold
        self._hidden = tuple(secrets)
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(5 * MiB, multipart_threshold),
            max_concurrency=4,
        )
        self._existing: dict[str, int] = {}  # key -> size, listed when the export starts

    @property
    def client(self) -> Any:
        return self.connect()

    @property
    def attempts(self) -> int:
        """How many times botocore tries each request."""
        retries = self.client.meta.config.retries or {}
        return int(retries.get("total_max_attempts") or retries.get("max_attempts", 0) + 1)

    @property
    def target(self) -> str:
        where = f" at {url_without_secrets(self.endpoint_url)}" if self.endpoint_url else ""
        return f"s3://{self.bucket}{where} (region {self.region})"

    def _secrets(self) -> tuple[str, ...]:
        return (*self._hidden, *url_secrets(self.endpoint_url or ""))

    @contextmanager
    def _session(self, staging: Path, plan: ExportPlan) -> Iterator[None]:
        self._ensure_bucket()
        self._existing = self._list()
        yield
        self._verify(self._list(), os.fspath(staging.absolute()), plan)

    def _ensure_bucket(self) -> None:
        """Create the bucket when missing; us-east-1 takes no LocationConstraint."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if _code(error) not in {"404", "NoSuchBucket", "NotFound"}:
                raise
        location = (
            {}
            if self.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        )
        try:
            self.client.create_bucket(Bucket=self.bucket, **location)
        except ClientError as error:
            if _code(error) != "BucketAlreadyOwnedByYou":
                raise

    def _list(self) -> dict[str, int]:
        """key -> size of every object under the prefix."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=PREFIX
        )
        return {obj["Key"]: obj["Size"] for page in pages for obj in page.get("Contents", [])}

    def _export_content(self, item: ExportItem) -> bool:
        """Upload one staged file unless an identical object is there; verify the upload."""
        key = PREFIX + item.relative
        size = item.size
        body = Path(item.source).read_bytes() if size < self.multipart_threshold else None
        sha256 = hashlib.sha256(body).hexdigest() if body is not None else sha256_file(item.source)
        if item.sha256 and sha256 != item.sha256:
            raise self.error(f"{item.relative}: staged content does not match its metadata sha256")
        digest = hashlib.md5(body, usedforsecurity=False) if body is not None else None
        if self._is_current(key, size, sha256, digest.hexdigest() if digest else None):
            return False
        metadata = {"sha256": sha256}
        if body is not None and digest is not None:  # small enough for one request
            md5 = digest.hexdigest()
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                Metadata=metadata,
                ContentMD5=base64.b64encode(digest.digest()).decode(),
            )
            if not _etag_matches(response.get("ETag", ""), md5):
                raise self.error(f"{key}: ETag {response.get('ETag')} does not match MD5 {md5}")
        else:
            self.client.upload_file(
                item.source,
                self.bucket,
                key,
                ExtraArgs={"Metadata": metadata},
                Config=self._transfer,
            )
        return True

    _export_metadata = _export_content  # metadata JSON is uploaded as content is

    def _is_current(self, key: str, size: int, sha256: str, md5: str | None) -> bool:
        """True when the object exists with this size and sha256 metadata and, where its ETag
        is a plain MD5 (single-part objects), that MD5 is the staged bytes': metadata alone
        can be kept by an out-of-band rewrite."""
        if self._existing.get(key) != size:
            return False
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _status(error) == 404:
                return False
            raise
        metadata = {name.lower(): value for name, value in head.get("Metadata", {}).items()}
        same_bytes = md5 is None or _etag_matches(head.get("ETag", ""), md5)
        return head.get("ContentLength") == size and metadata.get("sha256") == sha256 and same_bytes

    def _verify(self, listed: dict[str, int], staging: str, plan: ExportPlan) -> None:
        """Every item of this export must now be listed with its staged size (uploads checked
        MD5)."""
        bad = [
            relative
            for relative in itertools.chain(plan.content["relative"], plan.metadata["relative"])
            if listed.get(PREFIX + relative) != os.stat(f"{staging}/{relative}").st_size  # noqa: PTH116
        ]
        if bad:
            raise self.error(
                f"{len(bad)} objects are missing or of the wrong size after the "
                f"upload, e.g. {bad[:3]}"
            )

    def _describe(self, error: BaseException) -> str:
        cause = _root_cause(error)
        if isinstance(cause, ClientError):
            code, operation = _code(cause), cause.operation_name
            if code in ACCESS_DENIED:
                return (
                    f"{operation}: access denied ({code}); check the access key, the secret "
                    "key and the bucket permissions"
                )
            if is_transient(cause):
                return f"{operation}: server error {code} after {self.attempts} attempts"
            message = cause.response.get("Error", {}).get("Message", "")
            return f"{operation}: refused with {code} (HTTP {_status(cause)}): {message}"
        if is_transient(cause):
            return (
                f"cannot reach the endpoint after {self.attempts} attempts ({type(cause).__name__})"
            )
        return super()._describe(error)
