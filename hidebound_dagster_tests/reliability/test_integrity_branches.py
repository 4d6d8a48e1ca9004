"""The failure branch of every integrity check.

Each test shows one check exactly what it exists to catch: a cross-filesystem copy that does not
verify, an S3 object or a disk target replaced by other bytes of the same size, a disk that fills
up in the middle of a copy, damaged staging, and an ingress file replaced, modified, or swapped
for a FIFO or a link after update validated it. Deleting or weakening the check fails the test.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import random
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image

from hidebound_dagster.core import staging as staging_module
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import write_manifest
from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.staging import StagingError, move_file, stage_content, stageable
from hidebound_dagster.core.verification import verify_staging
from hidebound_dagster.exporters import disk as disk_module
from hidebound_dagster.exporters.disk import DiskExporter, copy_atomically
from hidebound_dagster.exporters.errors import ExportError
from hidebound_dagster.exporters.girder import GirderExporter, PooledGirderClient
from hidebound_dagster.exporters.s3 import S3Exporter
from hidebound_dagster_tests.core.move_worker import SPECS, update
from hidebound_dagster_tests.exporters.staging_fixture import Staging as BuiltStaging
from hidebound_dagster_tests.exporters.staging_fixture import build_staging, read_tree
from hidebound_dagster_tests.exporters.test_s3 import as_keys, exporter, read_bucket
from hidebound_dagster_tests.exporters.test_s3 import client as s3_client
from hidebound_dagster_tests.images import write_png
from hidebound_dagster_tests.services import GirderServer, S3Server

ENOSPC = os.strerror(errno.ENOSPC)
JUMP = "cat001/raw001/p-cat001_s-raw001_d-jump_v001"
FRAMES = [f"{JUMP}/p-cat001_s-raw001_d-jump_v001_f{frame:04d}.png" for frame in (1, 2, 3)]
PORTRAIT = "cat001/img001/p-cat001_s-img001_d-portrait_v001.png"
HANG_SECONDS = 10.0  # a create that takes longer than this on four files is stuck


# shared helpers -----------------------------------------------------------------------------


def tree(root: Path) -> dict[str, bytes]:
    """Relative POSIX path -> bytes of every regular file under root (nothing when absent)."""
    return read_tree(root) if root.is_dir() else {}


def other_bytes(data: bytes) -> bytes:
    """Bytes of the same length, every one of them different."""
    return bytes(255 - byte for byte in data)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serial(func: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """A mapper in this thread, so an injected fault hits a known item first."""
    return [func(item) for item in items]


def rewrite_record(built: BuiltStaging, index: int, **changes: Any) -> dict:
    """Change fields of one file metadata record on disk (and in `built`); returns it."""
    record = built.files[index]
    record.update(changes)
    path = built.root / "metadata" / "file" / f"{record['file_id']}.json"
    path.write_text(json.dumps(record))
    return record


@pytest.fixture(scope="module")
def specs() -> dict[str, type[Specification]]:
    """The bundled specifications, loaded the way users load them."""
    return load_specifications([SPECS])


def make_ingress(root: Path) -> Path:
    """A valid sequence of three frames and a valid file asset, every file with its own bytes
    (frames of one size, each of another colour)."""
    for frame, colour in zip(FRAMES, [(200, 0, 0), (0, 200, 0), (0, 0, 200)], strict=True):
        (root / frame).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (3, 2), colour).save(root / frame)
    write_png(root / PORTRAIT, "RGB", (4, 3))
    assert len({(root / path).read_bytes() for path in [*FRAMES, PORTRAIT]}) == 4
    return root


@pytest.fixture
def ingress(tmp_path: Path) -> Path:
    return make_ingress(tmp_path / "ingress")


# 1. a cross-filesystem move whose copy does not verify ---------------------------------------


def damage(data: bytes, how: str) -> bytes:
    """`flip`: the same size, one byte different; `short`: the last byte missing."""
    if how == "flip":
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
    return data[:-1]


def damaging_copy2(monkeypatch: pytest.MonkeyPatch, how: str, victim: str = "") -> list[str]:
    """Make shutil.copy2 (the copy step of a cross-filesystem move) leave a damaged copy of the
    file named `victim` (of every file when empty); returns the sources it damaged."""
    real = shutil.copy2
    damaged: list[str] = []

    def copy2(source: Any, destination: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(source, destination, *args, **kwargs)
        if not victim or Path(source).name == victim:
            copy = Path(destination)
            copy.write_bytes(damage(copy.read_bytes(), how))
            damaged.append(str(source))
        return result

    monkeypatch.setattr(shutil, "copy2", copy2)
    return damaged


@pytest.mark.parametrize("how", ["flip", "short"])
def test_move_across_filesystems_whose_copy_does_not_verify_keeps_the_source(
    shm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The source may only be removed once its copy holds the same bytes: a copy that differs
    (same size, or a byte short) must fail the move and leave the source and nothing else."""
    source = shm / "ingress" / "frame.bin"
    source.parent.mkdir()
    data = random.Random(1).randbytes(64 * 1024)
    source.write_bytes(data)
    destination = tmp_path / "content" / "frame.bin"
    destination.parent.mkdir()
    assert source.stat().st_dev != destination.parent.stat().st_dev
    damaged = damaging_copy2(monkeypatch, how)

    with pytest.raises(StagingError) as raised:
        move_file(source, destination)

    assert damaged == [str(source)]  # the copy really ran, and really was damaged
    assert str(source) in str(raised.value)
    assert "did not verify" in str(raised.value)
    assert source.read_bytes() == data
    assert list(destination.parent.iterdir()) == []  # neither the file nor a partial copy


def test_create_in_move_mode_stops_on_a_copy_that_does_not_verify(
    shm: Path, tmp_path: Path, specs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the create: the frame whose copy is damaged stays in ingress byte for byte, the
    error names it, no partial copy is left anywhere, and every file is somewhere."""
    ingress = make_ingress(shm / "ingress")
    before = tree(ingress)
    staging = tmp_path / "hidebound"
    victim = ingress / FRAMES[1]
    valid = update(ingress, specs)["valid"]
    damaged = damaging_copy2(monkeypatch, "flip", victim.name)

    with pytest.raises(StagingError) as raised:
        stage_content(valid, ingress, staging, "move")

    assert damaged == [str(victim)]
    assert str(victim) in str(raised.value)
    assert victim.read_bytes() == before[FRAMES[1]]
    leftovers = [p for p in (*ingress.rglob("*"), *staging.rglob("*")) if "partial" in p.name]
    assert leftovers == []
    now_in_ingress, now_staged = tree(ingress), tree(staging / "content")
    for relative, data in before.items():
        assert data in (now_in_ingress.get(relative), now_staged.get(relative)), relative
    assert FRAMES[1] not in now_staged


# 2. S3: an object replaced out of band by other bytes of the same size ----------------------


def s3_exporter(server: S3Server, bucket: str, client: Any = None) -> S3Exporter:
    """The exporter of a run (one attempt per request), or one over a given client."""
    if client is not None:
        return S3Exporter(bucket, "us-east-1", lambda: client, server.endpoint_url)
    return exporter(server, bucket, max_attempts=1)


@pytest.mark.parametrize("metadata", ["dropped", "kept"])
def test_s3_object_replaced_by_other_bytes_of_the_same_size_is_sent_again(
    s3_server: S3Server, bucket: str, tmp_path: Path, metadata: str
) -> None:
    """Same key, same size, other bytes: only a content comparison tells. `dropped` is a plain
    PUT by another writer; `kept` is an editor that re-uploads an object with the metadata it
    had (as S3 browsers do when a file is edited in place)."""
    built = build_staging(tmp_path / "staging")
    s3_exporter(s3_server, bucket).export(built.root)
    relative = built.files[0]["filepath_relative"]
    key = f"hidebound/content/{relative}"
    staged = (built.root / "content" / relative).read_bytes()
    client = s3_client(s3_server)
    extra = {"Metadata": client.head_object(Bucket=bucket, Key=key)["Metadata"]}
    client.put_object(
        Bucket=bucket, Key=key, Body=other_bytes(staged), **(extra if metadata == "kept" else {})
    )
    assert read_bucket(s3_server, bucket)[key] != staged
    assert len(read_bucket(s3_server, bucket)[key]) == len(staged)

    report = s3_exporter(s3_server, bucket).export(built.root)

    assert report.sent == 1
    assert report.bytes_sent == len(staged)
    assert read_bucket(s3_server, bucket)[key] == staged
    assert read_bucket(s3_server, bucket) == as_keys(built.expected())


class TamperingClient:
    """A real boto3 client whose put_object hands the answer of the real upload to `tamper`,
    to play a server that stored other bytes or a writer racing the export."""

    def __init__(self, real: Any, tamper: Callable[[dict, dict], dict]) -> None:
        self._real = real
        self._tamper = tamper

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def put_object(self, **kwargs: Any) -> dict:
        return self._tamper(kwargs, self._real.put_object(**kwargs))


def test_s3_upload_whose_etag_is_not_the_md5_of_the_bytes_fails(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    """An ETag that is a plain MD5 other than ours means the server stored other bytes."""
    built = build_staging(tmp_path / "staging")
    key = f"hidebound/content/{built.files[0]['filepath_relative']}"
    wrong = hashlib.md5(b"other bytes", usedforsecurity=False).hexdigest()

    def tamper(request: dict, response: dict) -> dict:
        return {**response, "ETag": f'"{wrong}"'} if request["Key"] == key else response

    client = TamperingClient(s3_client(s3_server), tamper)
    with pytest.raises(ExportError) as raised:
        s3_exporter(s3_server, bucket, client).export(built.root, mapper=serial)
    assert key in str(raised.value)
    assert wrong in str(raised.value)


def test_s3_object_of_the_wrong_size_after_the_upload_fails_the_export(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    """A writer that replaces an object while the export runs: the listing after the upload
    must show every object at its staged size, or the export fails naming it."""
    built = build_staging(tmp_path / "staging")
    relative = f"content/{built.files[0]['filepath_relative']}"
    key = f"hidebound/{relative}"
    real = s3_client(s3_server)

    def tamper(request: dict, response: dict) -> dict:
        if request["Key"] == key:
            real.put_object(Bucket=bucket, Key=key, Body=request["Body"] + b"racing writer")
        return response

    with pytest.raises(ExportError) as raised:
        s3_exporter(s3_server, bucket, TamperingClient(real, tamper)).export(built.root)
    assert relative in str(raised.value)
    assert "wrong size" in str(raised.value)


def test_s3_staged_file_that_disagrees_with_its_metadata_is_not_uploaded(
    s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    """Staged bytes changed after create (same size) must not reach the bucket as if valid."""
    built = build_staging(tmp_path / "staging")
    relative = built.files[0]["filepath_relative"]
    victim = built.root / "content" / relative
    victim.write_bytes(other_bytes(victim.read_bytes()))
    with pytest.raises(ExportError) as raised:
        s3_exporter(s3_server, bucket).export(built.root, mapper=serial)
    assert relative in str(raised.value)
    assert f"hidebound/content/{relative}" not in read_bucket(s3_server, bucket)


# Girder: a file replaced out of band, and an upload the server did not complete -----------


def girder_exporter(server: GirderServer, root_id: str, client: Any = None) -> GirderExporter:
    return GirderExporter(
        api_key=server.api_key,
        root_id=root_id,
        root_type="folder",
        host="http://127.0.0.1",
        port=server.port,
        client=client,
        attempts=1,
    )


def girder_item(client: Any, root_id: str, relative: str) -> dict:
    """The item of a content file, found folder by folder from the export root."""
    *directories, name = relative.split("/")
    folder_id = root_id
    for directory in directories:
        (folder,) = client.listFolder(folder_id, name=directory)
        folder_id = folder["_id"]
    (item,) = client.listItem(folder_id, name=name)
    return item


def girder_files(client: Any, item_id: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of every file of an item, downloaded."""
    return [
        (file["name"], b"".join(client.downloadFileAsIterator(file["_id"])))
        for file in client.listFile(item_id)
    ]


def test_girder_file_replaced_out_of_band_by_one_of_another_size_is_sent_again(
    girder_server: GirderServer, girder_root: dict, tmp_path: Path
) -> None:
    """Someone swaps the file of an item in Girder; the item keeps the sha256 the exporter
    recorded, so only the size comparison can tell, and it must."""
    built = build_staging(tmp_path / "staging")
    girder_exporter(girder_server, girder_root["_id"]).export(built.root)
    relative = built.files[0]["filepath_relative"]
    staged = (built.root / "content" / relative).read_bytes()
    client = girder_server.client()
    item = girder_item(client, girder_root["_id"], relative)
    for file in client.listFile(item["_id"]):
        client.delete(f"file/{file['_id']}")
    replacement = tmp_path / "replacement" / Path(relative).name
    replacement.parent.mkdir()
    replacement.write_bytes(b"another writer's version")
    client.uploadFileToItem(item["_id"], str(replacement))
    assert girder_files(client, item["_id"]) == [(replacement.name, replacement.read_bytes())]

    report = girder_exporter(girder_server, girder_root["_id"]).export(built.root)

    assert report.sent == 1
    assert girder_files(client, item["_id"]) == [(Path(relative).name, staged)]


class ShortChangingGirder(PooledGirderClient):
    """A client to the real server that reports every stored file one byte short, as a server
    that did not complete an upload would; `names` are the files it reported so."""

    def __init__(self, api_url: str) -> None:
        super().__init__(api_url, timeout=30.0)
        self.names: list[str] = []

    def post(self, path: str, *args: Any, **kwargs: Any) -> Any:
        answer = super().post(path, *args, **kwargs)
        if path != "file":
            return answer
        self.names.append(kwargs["parameters"]["name"])
        return {**answer, "size": answer["size"] - 1}


def test_girder_upload_not_completed_by_the_server_fails_the_export(
    girder_server: GirderServer, girder_root: dict, tmp_path: Path
) -> None:
    """The size Girder says it stored is checked: a short file fails the export, named."""
    built = build_staging(tmp_path / "staging")
    client = ShortChangingGirder(f"http://127.0.0.1:{girder_server.port}/api/v1")
    with pytest.raises(ExportError) as raised:
        girder_exporter(girder_server, girder_root["_id"], client).export(built.root, mapper=serial)
    assert len(client.names) == 1  # the first short upload stopped the export
    assert client.names[0] in {Path(f["filepath_relative"]).name for f in built.files}
    assert client.names[0] in str(raised.value)
    assert "not completed" in str(raised.value)


# 3. disk: a re-export that runs out of space in the middle of a copy ------------------------


def enospc_mid_copy(monkeypatch: pytest.MonkeyPatch, victim: Path) -> list[tuple[str, int]]:
    """Make the copy of `victim` write half of its bytes to the temporary file, then fail with
    ENOSPC; returns (temporary path, bytes written) of each failed copy."""
    real = shutil.copyfileobj
    failed: list[tuple[str, int]] = []

    def copyfileobj(reader: Any, writer: Any, *args: Any, **kwargs: Any) -> None:
        if Path(reader.name) != victim:
            return real(reader, writer, *args, **kwargs)
        data = reader.read()
        writer.write(data[: len(data) // 2])
        writer.flush()
        failed.append((writer.name, os.fstat(writer.fileno()).st_size))
        raise OSError(errno.ENOSPC, ENOSPC, writer.name)

    monkeypatch.setattr(disk_module.shutil, "copyfileobj", copyfileobj)
    return failed


def test_copy_atomically_failing_mid_copy_keeps_the_target_and_removes_its_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the moment the copy fails, before any export-level cleanup: the old target is whole
    and the half-written temporary file is already gone."""
    source = tmp_path / "new.bin"
    new = random.Random(2).randbytes(100_000)
    source.write_bytes(new)
    target = tmp_path / "out" / "file.bin"
    target.parent.mkdir()
    old = random.Random(3).randbytes(50_000)
    target.write_bytes(old)
    partial = tmp_path / "out" / "partial"
    partial.mkdir()
    failed = enospc_mid_copy(monkeypatch, source)

    with pytest.raises(OSError) as raised:
        copy_atomically(str(source), str(target), str(partial))

    assert raised.value.errno == errno.ENOSPC
    assert [written for _, written in failed] == [len(new) // 2]
    assert Path(failed[0][0]).parent == partial  # the half file was written there ...
    assert list(partial.iterdir()) == []  # ... and is gone
    assert target.read_bytes() == old


def test_disk_reexport_out_of_space_mid_copy_keeps_the_previous_target_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new version of a staged file, re-exported onto a disk that fills up halfway through
    its copy: the export fails naming the file, the previous export of it is still there whole,
    no temporary file is left; the next export, with space again, completes."""
    built = build_staging(tmp_path / "staging")
    target = tmp_path / "exported"
    DiskExporter(target).export(built.root)
    first = read_tree(target)
    relative = built.files[2]["filepath_relative"]
    victim = built.root / "content" / relative
    new = random.Random(4).randbytes(200_000)
    victim.write_bytes(new)
    rewrite_record(built, 2, size=len(new), sha256=sha256(new))
    failed = enospc_mid_copy(monkeypatch, victim)

    with pytest.raises(ExportError) as raised:
        DiskExporter(target).export(built.root)

    assert f"content/{relative}" in str(raised.value)
    assert ENOSPC in str(raised.value)
    assert [written for _, written in failed] == [len(new) // 2]
    assert Path(failed[0][0]).is_relative_to(target)
    assert (target / "content" / relative).read_bytes() == first[f"content/{relative}"]
    now = read_tree(target)
    assert sorted(now) == sorted(first)  # no temporary file, no stray name
    assert not [p for p in target.rglob("*") if p.name.endswith(".tmp")]
    partial = target / ".hidebound-partial"
    assert not partial.exists() or list(partial.iterdir()) == []
    expected = built.expected()
    for path, data in now.items():  # every other file is one version or the other, whole
        assert data in (first[path], expected[path]), path

    monkeypatch.undo()
    report = DiskExporter(target).export(built.root)
    assert report.sent >= 1
    assert read_tree(target) == expected


def test_disk_export_removes_what_a_killed_export_left_in_the_partial_directory(
    tmp_path: Path,
) -> None:
    """A copy killed before its rename leaves a temporary file; the next export removes it."""
    built = build_staging(tmp_path / "staging")
    target = tmp_path / "exported"
    leftover = target / ".hidebound-partial" / "killed-0.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a file")
    DiskExporter(target).export(built.root)
    assert read_tree(target) == built.expected()


# 4. disk: a target replaced by other bytes of the same size ---------------------------------


def test_disk_target_replaced_by_other_bytes_of_the_same_size_is_copied_again(
    tmp_path: Path,
) -> None:
    """Size (and modification time) cannot tell these apart: a content file and a metadata
    file of the target, each replaced by other bytes of the same size with the old mtime."""
    built = build_staging(tmp_path / "staging")
    target = tmp_path / "exported"
    first = DiskExporter(target).export(built.root)
    content = target / "content" / built.files[0]["filepath_relative"]
    asset_json = target / "metadata" / "asset" / f"{built.assets[0]['asset_id']}.json"
    for victim in (content, asset_json):
        before = victim.stat()
        victim.write_bytes(other_bytes(victim.read_bytes()))
        os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert victim.stat().st_size == before.st_size

    report = DiskExporter(target).export(built.root, mapper=serial)

    assert (report.sent, report.skipped) == (2, first.sent - 2)
    assert read_tree(target) == built.expected()


# 5. staging integrity (verify_staging) ------------------------------------------------------


def only_problem(built: BuiltStaging) -> str:
    """The one problem verify_staging must report for a single damage."""
    problems = verify_staging(Staging(built.root))
    assert len(problems) == 1, problems
    return problems[0]


@pytest.fixture
def intact(tmp_path: Path) -> BuiltStaging:
    """A staging area as create leaves it (content, metadata, manifest), proven intact."""
    built = build_staging(tmp_path / "hidebound")
    rows = [(path, sha256(data)) for path, data in built.content().items()]
    write_manifest(Staging(built.root), pd.DataFrame(rows, columns=["filepath_relative", "sha256"]))
    assert verify_staging(Staging(built.root)) == []
    return built


def test_verify_staging_reports_a_staged_file_with_flipped_bytes_of_the_same_size(
    intact: BuiltStaging,
) -> None:
    relative = intact.files[1]["filepath_relative"]
    victim = intact.root / "content" / relative
    victim.write_bytes(damage(victim.read_bytes(), "flip"))
    problem = only_problem(intact)
    assert problem.startswith(f"content/{relative}:")
    assert "sha256" in problem


def test_verify_staging_reports_a_metadata_record_whose_size_disagrees(
    intact: BuiltStaging,
) -> None:
    record = intact.files[1]
    size = len((intact.root / "content" / record["filepath_relative"]).read_bytes())
    rewrite_record(intact, 1, size=size + 1)
    problem = only_problem(intact)
    assert problem.startswith(f"content/{record['filepath_relative']}:")
    assert str(size) in problem and str(size + 1) in problem


@pytest.mark.parametrize(
    "text",
    [
        b"{not json",
        b'{"filepath_relative": "a", "size": 1',
        b"[1, 2, 3]",
        b'"just a string"',
        b'{"filepath_relative": "a", "size": 1}',
        b"\xff\xfe\x00 not utf-8",
        b"",
    ],
    ids=["garbage", "truncated", "array", "string", "no-sha256", "not-utf8", "empty"],
)
def test_verify_staging_reports_an_unreadable_metadata_record_without_raising(
    intact: BuiltStaging, text: bytes
) -> None:
    record = intact.files[0]
    path = intact.root / "metadata" / "file" / f"{record['file_id']}.json"
    path.write_bytes(text)
    problems = verify_staging(Staging(intact.root))
    named = [p for p in problems if p.startswith(f"metadata/file/{path.name}:")]
    assert len(named) == 1
    undescribed = [p for p in problems if p.startswith(f"content/{record['filepath_relative']}:")]
    assert len(undescribed) == 1  # its file is now described by nothing


def test_verify_staging_reports_a_stray_content_file(intact: BuiltStaging) -> None:
    (intact.root / "content" / "stray.txt").write_bytes(b"nobody staged me")
    problem = only_problem(intact)
    assert problem.startswith("content/stray.txt:")


def test_verify_staging_reports_a_described_file_that_is_missing(intact: BuiltStaging) -> None:
    relative = intact.files[3]["filepath_relative"]
    (intact.root / "content" / relative).unlink()
    problems = verify_staging(Staging(intact.root))
    assert [p for p in problems if p.startswith(f"content/{relative}:")] != []


def test_verify_staging_reports_a_fifo_in_place_of_a_staged_file(intact: BuiltStaging) -> None:
    relative = intact.files[3]["filepath_relative"]
    victim = intact.root / "content" / relative
    victim.unlink()
    os.mkfifo(victim)
    problem = only_problem(intact)  # and reading it did not hang
    assert problem.startswith(f"content/{relative}:")


def padded_name(length: int) -> str:
    """A relative path of exactly `length` characters, in components a filesystem accepts."""
    count = -(-length // 201)  # names of at most 200 characters, and the slashes between
    size, rest = divmod(length - (count - 1), count)
    return "/".join("d" * (size + (index < rest)) for index in range(count))


def test_verify_staging_reports_a_symbolic_link_in_place_of_a_staged_file(
    intact: BuiltStaging, tmp_path: Path
) -> None:
    """A link to a file with the very same bytes, outside staging: what is exported could
    change without staging changing, so it is not a staged file. The link's own size (the
    length of the path it holds) is made to equal the file's, so only a check of the file type
    can see it."""
    relative = intact.files[0]["filepath_relative"]
    victim = intact.root / "content" / relative
    data = victim.read_bytes()
    outside = tmp_path / "outside"
    link_target = outside / padded_name(len(data) - len(f"{outside}/"))
    assert len(str(link_target)) == len(data)
    link_target.parent.mkdir(parents=True)
    link_target.write_bytes(data)
    victim.unlink()
    victim.symlink_to(link_target)
    assert victim.lstat().st_size == len(data)

    problems = verify_staging(Staging(intact.root))

    assert [p for p in problems if p.startswith(f"content/{relative}:")] != []


def test_verify_staging_reports_a_missing_manifest(intact: BuiltStaging) -> None:
    (intact.root / ".manifest.json").unlink()
    problem = only_problem(intact)
    assert problem.startswith(".manifest.json:")


def test_verify_staging_reports_a_manifest_that_does_not_describe_the_content(
    intact: BuiltStaging,
) -> None:
    """Content and metadata changed together (they agree), the manifest of the create not."""
    relative = intact.files[0]["filepath_relative"]
    new = b"a consistent but different version"
    (intact.root / "content" / relative).write_bytes(new)
    rewrite_record(intact, 0, size=len(new), sha256=sha256(new))
    problem = only_problem(intact)
    assert problem.startswith(".manifest.json:")


def test_verify_staging_reports_missing_metadata(intact: BuiltStaging) -> None:
    shutil.rmtree(intact.root / "metadata")
    problems = verify_staging(Staging(intact.root))
    assert [p for p in problems if p.startswith("metadata:")] != []
    assert len([p for p in problems if p.startswith("content/")]) == len(intact.files)


# 6. files replaced, modified or swapped between update and create ---------------------------


def replace_keeping_size_and_mtime(path: Path) -> bytes:
    """Put other bytes of the same size at `path` as a new file (another inode), with the old
    modification time: what a size and mtime comparison cannot tell apart. Returns them."""
    old = path.stat()
    data = other_bytes(path.read_bytes())
    fresh = path.with_name(path.name + ".new")  # made while the old inode is still in use
    fresh.write_bytes(data)
    os.utime(fresh, ns=(old.st_atime_ns, old.st_mtime_ns))
    fresh.replace(path)
    new = path.stat()
    assert (new.st_size, new.st_mtime_ns, new.st_dev) == (old.st_size, old.st_mtime_ns, old.st_dev)
    assert new.st_ino != old.st_ino
    return data


def assert_only_portrait_staged(staging: Path, before: dict[str, bytes]) -> None:
    """The sequence is left out whole; the untouched file asset is staged as it was."""
    assert tree(staging / "content") == {PORTRAIT: before[PORTRAIT]}


def test_file_replaced_by_one_of_the_same_size_and_mtime_is_left_out_before_the_copy(
    ingress: Path, tmp_path: Path, specs: dict
) -> None:
    before = tree(ingress)
    valid = update(ingress, specs)["valid"]
    replace_keeping_size_and_mtime(ingress / FRAMES[1])

    files, skipped = stageable(valid)

    assert sorted(files["filepath_relative"]) == [PORTRAIT]
    assert list(skipped["asset_path"]) == [JUMP]
    assert skipped["error"].iloc[0].startswith(Path(FRAMES[1]).name + ": ")
    stage_content(files, ingress, tmp_path / "hidebound", "copy")
    assert_only_portrait_staged(tmp_path / "hidebound", before)


def test_file_replaced_after_the_check_and_before_its_copy_is_left_out(
    ingress: Path, tmp_path: Path, specs: dict
) -> None:
    """The window between stageable and the copy: the copy checks the file it opened."""
    before = tree(ingress)
    files, _ = stageable(update(ingress, specs)["valid"])
    assert len(files) == 4
    replace_keeping_size_and_mtime(ingress / FRAMES[1])

    digests = stage_content(files, ingress, tmp_path / "hidebound", "copy")

    assert_only_portrait_staged(tmp_path / "hidebound", before)
    by_file = dict(zip(files["filepath_relative"], digests, strict=True))
    assert by_file == {**dict.fromkeys(FRAMES), PORTRAIT: sha256(before[PORTRAIT])}


def test_file_replaced_after_the_check_stops_a_move_and_is_not_moved(
    ingress: Path, tmp_path: Path, specs: dict
) -> None:
    files, _ = stageable(update(ingress, specs)["valid"])
    replacement = replace_keeping_size_and_mtime(ingress / FRAMES[1])

    with pytest.raises(StagingError) as raised:
        stage_content(files, ingress, tmp_path / "hidebound", "move")

    assert str(ingress / FRAMES[1]) in str(raised.value)
    assert (ingress / FRAMES[1]).read_bytes() == replacement
    assert FRAMES[1] not in tree(tmp_path / "hidebound" / "content")


def substitute_fifo(path: Path) -> None:
    """Swap a FIFO in for the file at `path` (nobody will ever write to it)."""
    fifo = path.with_name(path.name + ".fifo")
    os.mkfifo(fifo)
    fifo.replace(path)


def run_with_timeout(call: Callable[[], Any], unblock: Callable[[], None]) -> Any:
    """Run `call` in a thread; fail when it has not returned within HANG_SECONDS (after
    `unblock` let the thread finish)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_SECONDS)
    hung = thread.is_alive()
    if hung:
        unblock()
        thread.join(HANG_SECONDS)
    assert not hung, f"the create was still blocked after {HANG_SECONDS} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def release_fifo(path: Path) -> Callable[[], None]:
    """Open the FIFO for writing and close it, so a reader blocked opening it gets EOF."""

    def release() -> None:
        with contextlib.suppress(OSError):  # no reader blocked on it: nothing to release
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    return release


@pytest.mark.timeout(60)
@pytest.mark.parametrize("when", ["before the check", "after the check"])
def test_fifo_substituted_for_a_validated_file_is_never_opened_and_left_out(
    ingress: Path, tmp_path: Path, specs: dict, when: str
) -> None:
    """Opening a FIFO nobody writes to blocks forever: the create must neither hang on it nor
    stage its asset."""
    before = tree(ingress)
    valid = update(ingress, specs)["valid"]
    fifo = ingress / FRAMES[2]
    if when == "before the check":
        substitute_fifo(fifo)
    files, skipped = stageable(valid)
    if when == "after the check":
        assert len(files) == 4
        substitute_fifo(fifo)
    else:
        assert list(skipped["asset_path"]) == [JUMP]

    run_with_timeout(
        lambda: stage_content(files, ingress, tmp_path / "hidebound", "copy"), release_fifo(fifo)
    )

    assert_only_portrait_staged(tmp_path / "hidebound", before)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_link_to_the_validated_file_substituted_for_it_is_not_followed(
    ingress: Path, tmp_path: Path, specs: dict
) -> None:
    """The validated file moved out of ingress (same inode, size and mtime) and a link left in
    its place: staging follows no link, so the asset is left out."""
    before = tree(ingress)
    files, _ = stageable(update(ingress, specs)["valid"])
    moved = tmp_path / "elsewhere.png"
    (ingress / FRAMES[0]).rename(moved)
    (ingress / FRAMES[0]).symlink_to(moved)

    stage_content(files, ingress, tmp_path / "hidebound", "copy")

    assert_only_portrait_staged(tmp_path / "hidebound", before)


def test_file_modified_while_it_is_copied_is_left_out(
    ingress: Path, tmp_path: Path, specs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer appends to a frame while create copies it: the identity read after the copy
    differs, so the half-old, half-new copy is dropped with its whole asset."""
    before = tree(ingress)
    files, _ = stageable(update(ingress, specs)["valid"])
    victim = ingress / FRAMES[1]
    real = hashlib.sha256
    appended: list[int] = []

    class Digest:
        """sha256 of the copy, appending to the victim as its first chunk is hashed."""

        def __init__(self) -> None:
            self._digest = real()

        def update(self, chunk: bytes) -> None:
            if chunk == before[FRAMES[1]] and not appended:
                with victim.open("ab") as handle:
                    appended.append(handle.write(b"a concurrent writer"))
            self._digest.update(chunk)

        def hexdigest(self) -> str:
            return self._digest.hexdigest()

    class Hashlib:
        sha256 = Digest

    monkeypatch.setattr(staging_module, "hashlib", Hashlib)
    stage_content(files, ingress, tmp_path / "hidebound", "copy")
    monkeypatch.undo()

    assert appended == [len(b"a concurrent writer")]
    assert_only_portrait_staged(tmp_path / "hidebound", before)
