"""GirderExporter against a real Girder 5 server (on SecantusDB) on loopback."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from pathlib import Path, PurePosixPath

import pytest

from hidebound_dagster.exporters.errors import ExportError
from hidebound_dagster.exporters.girder import GirderExporter
from hidebound_dagster_tests.exporters.staging_fixture import Staging, build_staging
from hidebound_dagster_tests.services import FailingProxy, GirderServer

MiB = 1024 * 1024


def exporter(
    server: GirderServer, root_id: str, root_type: str = "folder", **kwargs
) -> GirderExporter:
    options = {"host": "http://127.0.0.1", "port": server.port, "api_key": server.api_key, **kwargs}
    return GirderExporter(root_id=root_id, root_type=root_type, **options)


def read_girder(client, root_id: str, root_type: str = "folder") -> list[tuple[str, dict]]:
    """(path, node) for every folder and item below the root; a node holds meta and files."""
    nodes: list[tuple[str, dict]] = []

    def walk(parent_id: str, parent_type: str, prefix: str) -> None:
        for folder in client.listFolder(parent_id, parentFolderType=parent_type):
            nodes.append((prefix + folder["name"], {"meta": folder.get("meta", {})}))
            walk(folder["_id"], "folder", f"{prefix}{folder['name']}/")
        if parent_type == "folder":
            for item in client.listItem(parent_id):
                files = [
                    (f["name"], b"".join(client.downloadFileAsIterator(f["_id"])))
                    for f in client.listFile(item["_id"])
                ]
                nodes.append(
                    (prefix + item["name"], {"meta": item.get("meta", {}), "files": files})
                )

    walk(root_id, root_type, "")
    return nodes


def expected_girder(staging: Staging, types: tuple[str, ...] = ("asset", "file")) -> dict:
    """path -> node that an export of `staging` with these metadata types must produce."""
    tree: dict[str, dict] = {}
    for record in staging.files:
        path = PurePosixPath(record["filepath_relative"])
        for parent in path.parents:
            if parent != PurePosixPath("."):
                tree[parent.as_posix()] = {"meta": {}}
        data = (staging.root / "content" / path).read_bytes()
        meta = dict(record) if "file" in types else {}
        meta["hidebound_uploaded_sha256"] = hashlib.sha256(data).hexdigest()  # what was sent
        tree[path.as_posix()] = {"meta": meta, "files": [(path.name, data)]}
    if "asset" in types:
        for asset in staging.assets:
            tree[asset["asset_path_relative"]]["meta"].update(asset)
    return tree


def assert_exported(
    client, root_id: str, staging: Staging, types=("asset", "file"), root_type: str = "folder"
) -> None:
    nodes = read_girder(client, root_id, root_type)
    paths = [path for path, _ in nodes]
    assert len(paths) == len(set(paths)), "duplicate folders or items"
    assert dict(nodes) == expected_girder(staging, types)
    assert not any("." in PurePosixPath(path).parts for path in paths)


def test_export_reads_back_identical(
    girder_server: GirderServer, girder_root: dict, tmp_path: Path
):
    staging = build_staging(tmp_path / "staging", large=2 * MiB)  # chunked upload path
    report = exporter(girder_server, girder_root["_id"], single_request_limit=1 * MiB).export(
        staging.root
    )
    assert_exported(girder_server.client(), girder_root["_id"], staging)
    # content plus asset metadata; file metadata rides with the items
    assert (report.sent, report.skipped) == (len(staging.files) + len(staging.assets), 0)
    assert report.exporter == "girder" and girder_root["_id"] in report.target
    assert girder_server.api_key not in repr(report)


@pytest.mark.parametrize("types", [(), ("asset",), ("file",), ("asset-chunk", "file-chunk")])
def test_metadata_types_choose_what_is_set(
    girder_server: GirderServer, girder_root: dict, staging: Staging, types
):
    exporter(girder_server, girder_root["_id"], metadata_types=types).export(staging.root)
    assert_exported(girder_server.client(), girder_root["_id"], staging, types)


def test_collection_root(girder_server: GirderServer, tmp_path: Path):
    staging = build_staging(tmp_path / "staging", root_file=False)
    client = girder_server.client()
    collection = client.createCollection(f"coll-{uuid.uuid4().hex[:8]}")
    exporter(girder_server, collection["_id"], "collection").export(staging.root)
    assert_exported(client, collection["_id"], staging, root_type="collection")


def test_root_files_cannot_go_into_a_collection(girder_server: GirderServer, staging: Staging):
    client = girder_server.client()
    collection = client.createCollection(f"coll-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ExportError, match="ingress root cannot go into a collection"):
        exporter(girder_server, collection["_id"], "collection").export(staging.root)
    assert read_girder(client, collection["_id"], "collection") == []


def test_zero_valid_assets_is_nothing_to_do(
    girder_server: GirderServer, girder_root: dict, empty_staging: Staging
):
    report = exporter(girder_server, girder_root["_id"]).export(empty_staging.root)
    assert (report.sent, report.skipped) == (0, 0)
    assert read_girder(girder_server.client(), girder_root["_id"]) == []


def test_reexport_skips_everything_and_keeps_one_copy(
    girder_server: GirderServer, girder_root: dict, staging: Staging
):
    first = exporter(girder_server, girder_root["_id"]).export(staging.root)
    second = exporter(girder_server, girder_root["_id"]).export(staging.root)
    assert (second.sent, second.skipped) == (0, first.sent)
    assert_exported(girder_server.client(), girder_root["_id"], staging)


def test_file_of_another_size_is_replaced(
    girder_server: GirderServer, girder_root: dict, staging: Staging
):
    exporter(girder_server, girder_root["_id"]).export(staging.root)
    victim = staging.root / "content" / staging.files[0]["filepath_relative"]
    victim.write_bytes(b"a new version of different size")
    report = exporter(girder_server, girder_root["_id"]).export(staging.root)
    assert report.sent == 1
    assert_exported(girder_server.client(), girder_root["_id"], staging)


def test_file_changed_without_changing_size_is_sent_again(
    girder_server: GirderServer, girder_root: dict, staging: Staging
):
    """Size alone cannot tell: a re-created staging with other bytes of the same size (and
    metadata saying so) must replace the file in Girder."""
    exporter(girder_server, girder_root["_id"]).export(staging.root)
    record = staging.files[0]
    victim = staging.root / "content" / record["filepath_relative"]
    new = bytes(255 - b for b in victim.read_bytes())
    victim.write_bytes(new)
    record["sha256"] = hashlib.sha256(new).hexdigest()
    metadata = staging.root / "metadata" / "file" / f"{record['file_id']}.json"
    metadata.write_text(json.dumps(record))
    report = exporter(girder_server, girder_root["_id"]).export(staging.root)
    assert report.sent >= 1
    assert_exported(girder_server.client(), girder_root["_id"], staging)


def test_process_based_mapper(
    girder_server: GirderServer, girder_root: dict, staging: Staging, process_mapper
):
    report = exporter(girder_server, girder_root["_id"]).export(staging.root, mapper=process_mapper)
    assert report.sent == len(staging.files) + len(staging.assets)
    assert_exported(girder_server.client(), girder_root["_id"], staging)


def test_server_errors_are_retried(
    girder_server: GirderServer, girder_root: dict, staging: Staging
):
    def items_and_files(method: str, path: str) -> bool:
        return "/api/v1/item" in path or "/api/v1/file" in path

    with FailingProxy(girder_server.port, fail_first=8, should_fail=items_and_files) as proxy:
        report = exporter(
            girder_server, girder_root["_id"], port=proxy.port, attempts=6, retry_delay=0.05
        ).export(staging.root)
    assert proxy.failed == 8
    assert report.sent == len(staging.files) + len(staging.assets)
    assert_exported(girder_server.client(), girder_root["_id"], staging)


def test_wrong_api_key_fails_fast_without_leaking_it(
    girder_server: GirderServer, girder_root: dict, staging: Staging, caplog
):
    key = "WrongKey" + uuid.uuid4().hex
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(ExportError) as raised:
        exporter(girder_server, girder_root["_id"], api_key=key).export(staging.root)
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert "authentication refused" in message and f"127.0.0.1:{girder_server.port}" in message
    assert key not in message and key not in caplog.text
    assert key not in repr(raised.value.__cause__)


def test_missing_root_fails_fast(girder_server: GirderServer, staging: Staging):
    missing = "0123456789abcdef01234567"
    with pytest.raises(ExportError, match=f"root folder {missing} is not accessible"):
        exporter(girder_server, missing).export(staging.root)


def test_unreachable_server_names_exporter_and_target(staging: Staging):
    dead = GirderExporter(
        "key", "root", "folder", host="http://127.0.0.1", port=9, attempts=2, retry_delay=0.05
    )
    with pytest.raises(
        ExportError,
        match=r"GirderExporter export to girder "
        r"http://127.0.0.1:9/api/v1 .*cannot reach",
    ):
        dead.export(staging.root)


def test_bad_root_type_is_refused():
    with pytest.raises(ValueError, match="root_type"):
        GirderExporter("key", "root", "user")
