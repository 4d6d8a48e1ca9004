"""The ingress sensor end to end: dagster-daemon (QueuedRunCoordinator) and dagster-webserver on
a tmp DAGSTER_HOME and a tmp copy of the example project; the sensor is turned on over GraphQL,
a new valid asset dropped into the ingress is staged by a run the sensor started, and a later
tick skips because nothing changed."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hidebound_dagster_tests.dagster_servers import LOCATION, REPOSITORY, Dagster, dagster_servers
from hidebound_dagster_tests.images import write_png

SENSOR = "ingress_sensor"
SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": SENSOR}
NEW_ASSET = "p-cat001_s-raw001_d-new-drop_v001"
NEW_DIRECTORY = Path("cat001", "raw001", NEW_ASSET)

START_SENSOR = """
mutation Start($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""
STOP_SENSOR = """
mutation Stop($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on PythonError { message }
  }
}
"""
TICKS = """
query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      id
      sensorState {
        status
        ticks(limit: 50) { id status timestamp skipReason runIds error { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""
OBSERVATIONS = """
{
  assetOrError(assetKey: {path: ["ingress"]}) {
    ... on Asset {
      assetObservations(limit: 1) {
        timestamp
        metadataEntries { label ... on IntMetadataEntry { intValue } }
      }
    }
  }
}
"""


def sensor(dagster: Dagster) -> dict:
    """The sensor: its id, status and ticks (newest first)."""
    found = dagster.query(TICKS, {"selector": SELECTOR})["sensorOrError"]
    assert found["__typename"] == "Sensor", found
    return found


def ticks(dagster: Dagster) -> list[dict]:
    """The sensor's ticks, newest first."""
    return sensor(dagster)["sensorState"]["ticks"]


def sensor_runs(dagster: Dagster) -> list[dict]:
    """The workflow runs the sensor started, newest first."""
    return [
        run
        for run in dagster.runs("workflow")
        if {"key": "dagster/sensor_name", "value": SENSOR} in run["tags"]
    ]


def tag(run: dict, key: str) -> str | None:
    return next((item["value"] for item in run["tags"] if item["key"] == key), None)


def wait_for(what: str, check, dagster: Dagster, timeout: float):
    """Poll `check` until it returns something truthy; fail with the ticks and logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(
        f"{what}: not after {timeout}s\nticks: {json.dumps(ticks(dagster)[:10], indent=1)}\n"
        f"runs: {json.dumps(dagster.runs(), indent=1)[:3000]}\n{dagster.logs()}"
    )


def finished(dagster: Dagster, run: dict, timeout: float = 90) -> dict:
    """The run, once it succeeded (a failure raises with its messages)."""
    return dagster.wait_run(run["runId"], timeout=timeout)


def test_sensor_stages_a_new_drop(tmp_path: Path) -> None:
    begin = time.monotonic()

    def phase(name: str) -> None:  # shown with -s: where the time goes
        print(f"{time.monotonic() - begin:6.1f} s  {name}")

    with dagster_servers(tmp_path, daemon=True, settle_seconds=1) as dagster:
        phase(f"servers up {json.dumps({k: round(v, 1) for k, v in dagster.timings.items()})}")
        ingress, staging = dagster.project.ingress, dagster.project.staging
        example_files = sum(1 for path in ingress.rglob("*") if path.is_file())

        started = dagster.query(START_SENSOR, {"selector": SELECTOR})["startSensor"]
        assert started["__typename"] == "Sensor", started
        assert started["sensorState"]["status"] == "RUNNING", started

        # The first tick sees an ingress it never saw: one run over the example.
        first = wait_for(
            "a sensor run over the example ingress",
            lambda: [
                r
                for r in sensor_runs(dagster)
                if tag(r, "hidebound/ingress_files") == str(example_files)
            ],
            dagster,
            timeout=60,
        )[0]
        phase("first sensor run started")
        finished(dagster, first)
        phase("first sensor run succeeded")
        assert not (staging / "content" / NEW_DIRECTORY).exists()

        # A new valid asset lands in the ingress, frame by frame.
        for frame in (1, 2, 3):
            write_png(ingress / NEW_DIRECTORY / f"{NEW_ASSET}_f{frame:04d}.png", "RGB", (8, 8))
        dropped_at = time.time()

        drop = wait_for(
            "a sensor run over the new drop",
            lambda: [
                r
                for r in sensor_runs(dagster)
                if tag(r, "hidebound/ingress_files") == str(example_files + 3)
            ],
            dagster,
            timeout=60,
        )[0]
        assert drop["runId"] != first["runId"]
        phase("sensor run over the drop started")
        finished(dagster, drop)
        phase("sensor run over the drop succeeded")
        assert len(sensor_runs(dagster)) == 2, sensor_runs(dagster)

        staged = staging / "content" / NEW_DIRECTORY
        frames = sorted(path.name for path in staged.iterdir())
        assert frames == [f"{NEW_ASSET}_f{frame:04d}.png" for frame in (1, 2, 3)], frames
        records = [
            json.loads(path.read_text()) for path in (staging / "metadata" / "asset").glob("*.json")
        ]
        new = [record for record in records if record["asset_name"] == NEW_ASSET]
        assert len(new) == 1, [record["asset_name"] for record in records]
        assert new[0]["asset_path_relative"] == NEW_DIRECTORY.as_posix()
        assert len(records) == 11  # the 10 valid example assets and the new one
        file_ids = set(new[0]["file_ids"])
        file_records = [
            json.loads((staging / "metadata" / "file" / f"{file_id}.json").read_text())
            for file_id in file_ids
        ]
        assert len(file_records) == 3

        # The tick that requested it, then a later tick that finds nothing changed and skips.
        requested = [t for t in ticks(dagster) if drop["runId"] in t["runIds"]]
        assert len(requested) == 1 and requested[0]["status"] == "SUCCESS", requested
        assert requested[0]["timestamp"] > dropped_at, (requested, dropped_at)

        def unchanged_after_drop() -> list[dict]:
            return [
                t
                for t in ticks(dagster)
                if t["status"] == "SKIPPED"
                and t["skipReason"] == "unchanged"
                and t["timestamp"] > requested[0]["timestamp"]
            ]

        wait_for("a later tick skipping as unchanged", unchanged_after_drop, dagster, timeout=40)
        phase("unchanged tick seen")
        assert len(sensor_runs(dagster)) == 2, "an unchanged ingress started another run"
        statuses = {t["status"] for t in ticks(dagster)}
        assert "FAILURE" not in statuses, ticks(dagster)

        # Every tick records what it saw on the ingress asset.
        observed = dagster.query(OBSERVATIONS)["assetOrError"]["assetObservations"]
        assert observed, "the sensor recorded no observation of the ingress asset"
        latest = {entry["label"]: entry.get("intValue") for entry in observed[0]["metadataEntries"]}
        assert latest["files"] == example_files + 3, latest

        stopped = dagster.query(STOP_SENSOR, {"id": sensor(dagster)["id"]})["stopSensor"]
        assert stopped["__typename"] == "StopSensorMutationResult", stopped
        assert stopped["instigationState"]["status"] == "STOPPED", stopped
    phase("servers stopped")
