"""The ingress sensor, evaluated tick by tick against a real ingress tree and config file."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core.ingress_state import ingress_state
from hidebound_dagster.location import load_location
from hidebound_dagster.resources import HideboundResource
from hidebound_dagster.sensors import ingress_sensor_for
from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS, EXAMPLE_SPECS

HOUR_AGO = time.time() - 3600
NEW_FILE = "cat001/img001/p-cat001_s-img001_d-new_v001.png"
SENSOR = ingress_sensor_for("workflow", Keys([]))


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def backdate(root: Path, when: float = HOUR_AGO) -> None:
    """Set the mtime of every file under root, so the tree has settled long ago."""
    for directory, _, names in os.walk(root):
        for name in names:
            os.utime(Path(directory) / name, (when, when))


@pytest.fixture
def ingress(tmp_path: Path) -> Path:
    """A copy of the example ingress, every file last modified an hour ago."""
    root = tmp_path / "ingress"
    shutil.copytree(EXAMPLE_INGRESS, root)
    backdate(root)
    return root


def write_config(tmp_path: Path, ingress: Path, **settings: object) -> Path:
    """A config file for `ingress`; settle_seconds defaults to 30."""
    path = tmp_path / "config" / "hidebound.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        yaml.safe_dump(
            {
                "ingress_directory": str(ingress),
                "staging_directory": str(tmp_path / "staging" / "hidebound"),
                "specification_files": [str(EXAMPLE_SPECS)],
                "settle_seconds": 30,
                **settings,
            }
        )
    )
    (tmp_path / "staging").mkdir(exist_ok=True)
    return path


@pytest.fixture
def config(tmp_path: Path, ingress: Path) -> Path:
    return write_config(tmp_path, ingress)


def tick(
    instance: dg.DagsterInstance, config: Path, cursor: str | None = None
) -> dg.SensorExecutionData:
    """One evaluation of the sensor, the way the daemon does it: resources built, cursor given."""
    with dg.build_sensor_context(
        cursor=cursor,
        resources={"hidebound": HideboundResource(location=load_location(config))},
        instance=instance,
    ) as context:
        return SENSOR.evaluate_tick(context)


def count(root: Path, pattern: str = "") -> int:
    """Files under root whose relative path matches pattern, counted independently."""
    return sum(
        1
        for directory, _, names in os.walk(root)
        for name in names
        if re.search(pattern, str((Path(directory) / name).relative_to(root)))
    )


def digest(ingress: Path, include: str = "", exclude: str = r"\.DS_Store") -> str:
    return ingress_state(ingress, include, exclude).digest


def requested(data: dg.SensorExecutionData) -> dg.RunRequest:
    assert data.skip_message is None, data.skip_message
    assert len(data.run_requests) == 1
    return data.run_requests[0]


def test_sensor_is_defined_stopped_and_targets_the_workflow() -> None:
    assert SENSOR.name == "ingress_sensor"
    assert SENSOR.job_name == "workflow"
    assert SENSOR.default_status == dg.DefaultSensorStatus.STOPPED
    assert SENSOR.minimum_interval_seconds == 10


def test_first_tick_requests_a_run_keyed_by_the_digest(
    instance: dg.DagsterInstance, ingress: Path, config: Path
) -> None:
    data = tick(instance, config)
    request = requested(data)
    expected = digest(ingress)
    assert re.fullmatch(r"[0-9a-f]{64}", expected)
    assert request.run_key == f"{expected}-1"
    assert request.tags["hidebound/ingress_files"] == str(count(ingress))
    cursor = json.loads(data.cursor)
    assert isinstance(cursor, dict)
    assert cursor["digest"] == expected
    assert len(data.cursor) < 200


def test_unchanged_tree_is_skipped(
    instance: dg.DagsterInstance, ingress: Path, config: Path
) -> None:
    first = tick(instance, config)
    second = tick(instance, config, first.cursor)
    assert second.run_requests == []
    assert second.skip_message == "unchanged"
    assert second.cursor in (None, first.cursor)


def test_settling_file_waits_then_runs(
    instance: dg.DagsterInstance, ingress: Path, config: Path
) -> None:
    first = tick(instance, config)
    new = ingress / NEW_FILE
    new.write_bytes(b"not really a png")  # mtime: now

    settling = tick(instance, config, first.cursor)
    assert settling.run_requests == []
    match = re.fullmatch(r"still settling for (\d+) s", settling.skip_message or "")
    assert match, settling.skip_message
    assert 25 <= int(match.group(1)) <= 30
    assert settling.cursor in (None, first.cursor)  # the cursor is not advanced

    # The sensor keeps reporting the change while it settles, never "unchanged".
    again = tick(instance, config, first.cursor)
    assert again.run_requests == [] and again.skip_message.startswith("still settling")

    os.utime(new, (time.time() - 60, time.time() - 60))
    settled = tick(instance, config, first.cursor)
    request = requested(settled)
    assert request.run_key == f"{digest(ingress)}-2" != requested(first).run_key
    assert json.loads(settled.cursor)["digest"] == digest(ingress)
    assert request.tags["hidebound/ingress_files"] == str(count(ingress))


def test_settle_seconds_zero_runs_at_once(
    instance: dg.DagsterInstance, tmp_path: Path, ingress: Path
) -> None:
    config = write_config(tmp_path, ingress, settle_seconds=0)
    first = tick(instance, config)
    (ingress / NEW_FILE).write_bytes(b"fresh")
    assert requested(tick(instance, config, first.cursor)).run_key == f"{digest(ingress)}-2"


def test_deleted_file_requests_a_run_with_a_new_digest(
    instance: dg.DagsterInstance, ingress: Path, config: Path
) -> None:
    first = tick(instance, config)
    (ingress / "cat001" / "notes.txt").unlink()
    second = tick(instance, config, first.cursor)
    request = requested(second)
    assert request.run_key != requested(first).run_key
    assert request.run_key == f"{digest(ingress)}-2"
    assert request.tags["hidebound/ingress_files"] == str(count(ingress))
    # and once the deletion is recorded, the tree is unchanged again
    assert tick(instance, config, second.cursor).skip_message == "unchanged"


def test_an_ingress_back_in_an_earlier_state_runs_again_under_a_new_key(
    instance: dg.DagsterInstance, ingress: Path, config: Path
) -> None:
    """A file moved out and back gives the first state's digest again, but staging changed in
    between: the daemon must not drop the run as a repeated key."""
    first = tick(instance, config)
    notes = ingress / "cat001" / "notes.txt"
    kept = notes.read_bytes(), notes.stat().st_mtime_ns
    notes.unlink()
    second = tick(instance, config, first.cursor)
    notes.write_bytes(kept[0])
    os.utime(notes, ns=(kept[1], kept[1]))
    third = tick(instance, config, second.cursor)
    keys = [requested(data).run_key for data in (first, second, third)]
    assert keys[0].split("-")[0] == keys[2].split("-")[0] == digest(ingress)  # the same state
    assert len(set(keys)) == 3  # and three runs
    assert len(third.cursor) < 200


def test_modified_file_changes_the_digest(
    instance: dg.DagsterInstance, ingress: Path, config: Path
) -> None:
    first = tick(instance, config)
    notes = ingress / "cat001" / "notes.txt"
    notes.write_text("a longer note than before")
    backdate(ingress)
    assert requested(tick(instance, config, first.cursor)).run_key != requested(first).run_key


@pytest.mark.parametrize(
    "cursor",
    [
        "not json at all",
        '{"version": 0, "digest": "%s"}',
        '["version", 1]',
        "null",
        '"text"',
        '{"digest": "%s"}',
    ],
    ids=["garbage", "version-0", "json-list", "json-null", "json-string", "no-version"],
)
def test_cursor_of_another_version_counts_as_no_cursor(
    instance: dg.DagsterInstance, ingress: Path, config: Path, cursor: str
) -> None:
    if "%s" in cursor:  # even with the right digest inside, an old cursor is not trusted
        cursor = cursor % digest(ingress)
    data = tick(instance, config, cursor)
    request = requested(data)
    assert request.run_key == f"{digest(ingress)}-1"
    assert json.loads(data.cursor)["digest"] == digest(ingress)


def test_observation_records_files_and_bytes(
    instance: dg.DagsterInstance, ingress: Path, config: Path
) -> None:
    files = [Path(d) / n for d, _, names in os.walk(ingress) for n in names]
    size = sum(path.stat().st_size for path in files)
    assert size > 0
    for data in (first := tick(instance, config), tick(instance, config, first.cursor)):
        [event] = data.asset_events
        assert isinstance(event, dg.AssetObservation)
        assert event.asset_key == dg.AssetKey("ingress")
        assert event.metadata["files"].value == len(files) == count(ingress)
        assert event.metadata["bytes"].value == size
        assert event.metadata["digest"].value == digest(ingress)
        assert event.metadata["newest_mtime"].value == pytest.approx(HOUR_AGO, abs=1)


def test_cursor_stays_small_for_a_large_tree(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    root = tmp_path / "big"
    for index in range(5000):
        path = root / f"dir{index // 100:03d}" / f"p-big001_s-raw001_d-x_v001_f{index:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    backdate(root)
    config = write_config(tmp_path, root)
    data = tick(instance, config)
    assert requested(data).tags["hidebound/ingress_files"] == "5000"
    assert data.asset_events[0].metadata["files"].value == 5000
    assert len(data.cursor) < 200
    assert tick(instance, config, data.cursor).skip_message == "unchanged"


def test_bad_config_is_a_skip_reason_not_an_exception(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    config = write_config(tmp_path, tmp_path / "missing-ingress", settle_seconds=-1)
    data = tick(instance, config)
    assert data.run_requests == []
    assert "config error" in data.skip_message
    assert "ingress_directory" in data.skip_message
    assert "settle_seconds" in data.skip_message


def test_unreadable_config_file_is_a_skip_reason(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    data = tick(instance, tmp_path / "no-such-config.yaml")
    assert data.run_requests == []
    assert "no-such-config.yaml" in data.skip_message


def test_exclude_regex_is_respected(
    instance: dg.DagsterInstance, tmp_path: Path, ingress: Path
) -> None:
    config = write_config(tmp_path, ingress, exclude_regex=r"\.DS_Store|\.tmp$")
    first = tick(instance, config)
    excluded = ingress / "cat001" / "upload.tmp"
    excluded.write_bytes(b"partial upload")  # fresh, but excluded: neither change nor settling
    second = tick(instance, config, first.cursor)
    assert second.skip_message == "unchanged"
    assert second.asset_events[0].metadata["files"].value == count(ingress) - 1
    expected = digest(ingress, exclude=r"\.DS_Store|\.tmp$")
    assert f"{expected}-1" == requested(first).run_key
    (ingress / "cat001" / ".DS_Store").write_bytes(b"finder")
    assert tick(instance, config, first.cursor).skip_message == "unchanged"


def test_include_regex_is_respected(
    instance: dg.DagsterInstance, tmp_path: Path, ingress: Path
) -> None:
    config = write_config(tmp_path, ingress, include_regex=r"\.png$")
    first = tick(instance, config)
    pngs = count(ingress, r"\.png$")
    assert 0 < pngs < count(ingress)
    assert requested(first).tags["hidebound/ingress_files"] == str(pngs)
    (ingress / "cat001" / "more-notes.txt").write_text("not a png")
    assert tick(instance, config, first.cursor).skip_message == "unchanged"
    new = ingress / NEW_FILE
    new.write_bytes(b"png-named")
    os.utime(new, (HOUR_AGO, HOUR_AGO))
    expected = digest(ingress, include=r"\.png$")
    assert requested(tick(instance, config, first.cursor)).run_key == f"{expected}-2"
