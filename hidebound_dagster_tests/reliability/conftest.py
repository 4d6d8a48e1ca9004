"""Fixtures of the reliability tests, re-exported from where they are defined: the real S3 and
Girder servers of the exporter tests and the second filesystem of the staging tests."""

from __future__ import annotations

from hidebound_dagster_tests.core.test_staging import shm
from hidebound_dagster_tests.exporters.conftest import (
    bucket,
    girder_root,
    girder_server,
    s3_server,
)

__all__ = ["bucket", "girder_root", "girder_server", "s3_server", "shm"]
