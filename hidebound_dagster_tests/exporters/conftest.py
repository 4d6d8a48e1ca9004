"""Real servers for the exporter tests, started once per session on 127.0.0.1."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from hidebound_dagster_tests.exporters.staging_fixture import (
    Staging,
    build_empty_staging,
    build_staging,
)
from hidebound_dagster_tests.services import GirderServer, RecordingServer, S3Server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """`rclone serve s3`: a real, disk-backed S3 server that checks SigV4 signatures."""
    server = S3Server(tmp_path_factory.mktemp("s3")).start()
    yield server
    server.stop()


@pytest.fixture
def bucket() -> str:
    """A fresh bucket name, so tests never see each other's objects."""
    return f"hb-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def girder_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GirderServer]:
    """Girder 5 on SecantusDB with an admin, an API key, an assetstore and a collection."""
    server = GirderServer(tmp_path_factory.mktemp("girder")).start()
    yield server
    server.stop()


@pytest.fixture
def girder_root(girder_server: GirderServer) -> dict:
    """A fresh folder under the test collection, used as the export root of one test."""
    client = girder_server.client()
    return client.createFolder(
        girder_server.collection_id, f"root-{uuid.uuid4().hex[:8]}", parentType="collection"
    )


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[RecordingServer]:
    """A loopback HTTP server recording every request; `/status/<code>` answers that code."""
    with RecordingServer() as server:
        yield server


@pytest.fixture
def staging(tmp_path: Path) -> Staging:
    """Two sequence assets, a file asset and a file at the ingress root."""
    return build_staging(tmp_path / "staging")


@pytest.fixture
def empty_staging(tmp_path: Path) -> Staging:
    """Staging after a create that found zero valid assets."""
    return build_empty_staging(tmp_path / "empty staging")


@pytest.fixture(scope="session")
def process_mapper():
    """A mapper running items in two spawned worker processes, like a Dask cluster of processes:
    the exporter and its items travel pickled."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield lambda func, items: list(pool.map(func, items, chunksize=8))
