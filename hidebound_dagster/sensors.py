"""The ingress sensor: start the workflow when the ingress has changed and settled."""

import json
import time

import dagster as dg

from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core.ingress_state import IngressState, ingress_state
from hidebound_dagster.resources import HideboundResource

CURSOR_VERSION = 2


def previous(cursor: str | None) -> tuple[str | None, int]:
    """The digest and the count of runs kept by an earlier tick; (None, 0) for no cursor or
    one from another version."""
    try:
        data = json.loads(cursor or "")
    except ValueError:
        return None, 0
    if not isinstance(data, dict) or data.get("version") != CURSOR_VERSION:
        return None, 0
    runs = data.get("runs")
    return data.get("digest"), runs if isinstance(runs, int) else 0


def run_key(digest: str, run: int) -> str:
    """The digest of the state and the number of the run: an ingress that returns to an
    earlier state (a file moved out and back) is a new run, never a repeated key."""
    return f"{digest}-{run}"


def observation(key: dg.AssetKey, state: IngressState) -> dg.AssetObservation:
    """What the tick saw, recorded on the ingress asset."""
    return dg.AssetObservation(
        asset_key=key,
        metadata={
            "files": state.files,
            "bytes": state.bytes,
            "newest_mtime": dg.MetadataValue.timestamp(state.newest_mtime_ns / 1e9)
            if state.files
            else 0,
            "digest": state.digest,
        },
    )


def ingress_sensor_for(job_name: str, keys: Keys) -> dg.SensorDefinition:
    """A sensor that requests `job_name` once per settled ingress state."""

    @dg.sensor(
        name="ingress_sensor",
        job_name=job_name,
        minimum_interval_seconds=10,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Runs the workflow when the ingress has changed and no file was modified "
        "for settle_seconds.",
    )
    def ingress_sensor(
        context: dg.SensorEvaluationContext, hidebound: HideboundResource
    ) -> dg.SensorResult | dg.SkipReason:
        problem = hidebound.problem()
        if problem:
            return dg.SkipReason(f"config error, nothing scanned: {problem}")
        config = hidebound.location.require()
        state = ingress_state(
            config.ingress_directory,
            config.include_regex,
            config.exclude_regex,
            config.follow_symlinks,
        )
        seen = [observation(keys("ingress"), state)]
        digest, runs = previous(context.cursor)
        if state.digest == digest:
            return dg.SensorResult(skip_reason="unchanged", asset_events=seen)
        wait = state.settling_seconds(time.time_ns(), config.settle_seconds)
        if wait > 0:
            return dg.SensorResult(
                skip_reason=f"still settling for {wait:.0f} s", asset_events=seen
            )
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=run_key(state.digest, runs + 1),
                    tags={
                        "hidebound/ingress_files": str(state.files),
                    },
                )
            ],
            cursor=json.dumps(
                {"version": CURSOR_VERSION, "digest": state.digest, "runs": runs + 1}
            ),
            asset_events=seen,
        )

    return ingress_sensor
