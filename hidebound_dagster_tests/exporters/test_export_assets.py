"""The export stage as Dagster runs it: one asset per configured exporter against the real
servers, secrets through EnvVar, webhooks after the exports, and no secret anywhere in the
run's events, metadata or config."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml

from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.assets import export
from hidebound_dagster.core.config import load_config
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import unexported
from hidebound_dagster.definitions import build_defs
from hidebound_dagster.location import load_location
from hidebound_dagster_tests.services import GirderServer, RecordingServer, S3Server

REPO = Path(__file__).resolve().parents[2]
VALID_FILES = 28  # the files of the 10 valid example assets
ENV = ("HIDEBOUND_S3_ACCESS_KEY", "HIDEBOUND_S3_SECRET_KEY", "HIDEBOUND_GIRDER_API_KEY")


def project(
    root: Path, s3: S3Server, bucket: str, girder: GirderServer, girder_root: str, hook_url: str
) -> Path:
    """A copy of the example ingress and specs with all three exporters and a webhook."""
    shutil.copytree(REPO / "examples" / "ingress", root / "ingress")
    shutil.copytree(REPO / "specs", root / "specs", ignore=shutil.ignore_patterns("__pycache__"))
    config = {
        "ingress_directory": "ingress",
        "staging_directory": "hidebound",
        "specification_files": ["specs"],
        "exporters": [
            {"name": "disk", "target_directory": "exported"},
            {
                "name": "s3",
                "bucket": bucket,
                "region": "us-east-1",
                "endpoint_url": s3.endpoint_url,
            },
            {
                "name": "girder",
                "root_id": girder_root,
                "root_type": "folder",
                "host": "http://127.0.0.1",
                "port": girder.port,
            },
        ],
        "webhooks": [
            {
                "url": f"{hook_url}/done?token=hook-secret",
                "method": "post",
                "json": {"text": "export complete"},
            }
        ],
    }
    path = root / "hidebound.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_export(config_file: Path, instance_dir: Path) -> dg.ExecuteInProcessResult:
    """The workflow job of the config's code location (delete, update, create, every export
    asset), with secrets from the environment."""
    job = build_defs(load_location(config_file)).resolve_job_def("workflow")
    instance_dir.mkdir(exist_ok=True)
    with dg.instance_for_test(temp_dir=str(instance_dir)) as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def everything_said(result: dg.ExecuteInProcessResult) -> str:
    """Every event message, error, metadata value and the run config of a run, as text."""
    parts = [json.dumps(result.dagster_run.run_config, default=str)]
    for event in result.all_events:
        parts.append(event.message or "")
        parts.append(repr(event.event_specific_data))
    return "\n".join(parts)


@pytest.fixture
def servers(
    s3_server: S3Server,
    girder_server: GirderServer,
    girder_root: dict,
    webhook_receiver: RecordingServer,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("HIDEBOUND_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("HIDEBOUND_S3_SECRET_KEY", s3_server.secret_key)
    monkeypatch.setenv("HIDEBOUND_GIRDER_API_KEY", girder_server.api_key)
    return s3_server, girder_server, girder_root["_id"], webhook_receiver, bucket


def test_every_exporter_runs_as_an_asset_and_a_rerun_sends_nothing_new(
    tmp_path: Path, servers: tuple
) -> None:
    s3, girder, root_id, hooks, bucket = servers
    config_file = project(tmp_path, s3, bucket, girder, root_id, hooks.url)
    before = len(hooks.requests)
    result = run_export(config_file, tmp_path / "instance")
    assert result.success

    sent = {
        key.path[-1]: event.materialization.metadata
        for key, event in (
            (e.asset_key, e.event_specific_data) for e in result.get_asset_materialization_events()
        )
    }
    for name in ("export_disk", "export_s3", "export_girder"):
        assert sent[name]["sent"].value > 0, name
        assert sent[name]["skipped"].value == 0, name
    assert f"s3://{bucket}" in sent["export_s3"]["target"].value
    assert "| 200 |" in sent["export_complete"]["webhooks"].value
    assert len(hooks.requests) == before + 1
    assert hooks.requests[-1].json() == {"text": "export complete"}

    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
    )
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len([k for k in keys if k.startswith("hidebound/content/")]) == VALID_FILES
    disk = tmp_path / "exported" / "content"
    assert len([p for p in disk.rglob("*") if p.is_file()]) == VALID_FILES
    items = [
        item
        for folder in girder.client().listFolder(root_id)
        for item in walk_items(girder, folder["_id"])
    ]
    assert len(items) == VALID_FILES
    identities = load_config(config_file).exporter_identities
    assert len(identities) == 3
    assert unexported(Staging(tmp_path / "hidebound"), identities) == []  # move may delete

    text = everything_said(result)
    for secret in (s3.secret_key, s3.access_key, girder.api_key, "hook-secret"):
        assert secret not in text

    again = run_export(config_file, tmp_path / "instance")
    assert again.success
    resent = {
        e.asset_key.path[-1]: e.event_specific_data.materialization.metadata
        for e in again.get_asset_materialization_events()
    }
    for name in ("export_disk", "export_s3", "export_girder"):
        assert resent[name]["sent"].value == 0, name
    keys_again = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys_again) == sorted(keys)


def walk_items(girder: GirderServer, folder_id: str) -> list[dict]:
    """Every item under a Girder folder, recursively."""
    client = girder.client()
    items = list(client.listItem(folder_id))
    for child in client.listFolder(folder_id):
        items += walk_items(girder, child["_id"])
    return items


def test_wrong_credentials_fail_the_export_asset_fast_without_the_secret(
    tmp_path: Path, servers: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, girder, root_id, hooks, bucket = servers
    wrong = "Wrong-Secret-Key-0000000000000000"
    monkeypatch.setenv("HIDEBOUND_S3_SECRET_KEY", wrong)
    config_file = project(tmp_path, s3, bucket, girder, root_id, hooks.url)
    result = run_export(config_file, tmp_path / "instance")
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert [e.step_key for e in failures] == ["export_s3"]
    message = failures[0].step_failure_data.error.message
    assert "S3Exporter export to s3://" in message and bucket in message
    assert wrong not in everything_said(result)


def test_each_configured_exporter_gets_its_own_asset_name(tmp_path: Path) -> None:
    """Repeated exporters are numbered, so two disk targets are two assets."""
    (tmp_path / "ingress").mkdir()
    config = load_config(
        None,
        {},
        {
            "ingress_directory": str(tmp_path / "ingress"),
            "staging_directory": str(tmp_path / "hidebound"),
            "exporters": [
                {"name": "disk", "target_directory": str(tmp_path / "a")},
                {"name": "s3", "bucket": "bkt", "region": "us-west-2"},
                {"name": "disk", "target_directory": str(tmp_path / "b")},
            ],
        },
    )
    assert export.export_names(config.exporters) == ["export_disk", "export_s3", "export_disk_2"]
    assets = export.export_assets(config.exporters, Keys([]))
    keys = [key.path[-1] for asset in assets for key in asset.keys]
    assert keys == ["export_disk", "export_s3", "export_disk_2", "export_complete"]
