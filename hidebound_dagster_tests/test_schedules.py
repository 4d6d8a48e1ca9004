"""The workflow schedule: off by default, cron and time zone from the config at load time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from hidebound_dagster.core.config import ConfigError, load_config, validate_config
from hidebound_dagster.schedules import workflow_schedule
from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS, EXAMPLE_SPECS, REPO

#: Prints what the code location defines, imported fresh in a clean environment.
SHOW_DEFS = textwrap.dedent("""
    import json
    from hidebound_dagster.definitions import defs
    loaded = defs()
    schedule = loaded.get_schedule_def("workflow_schedule")
    print(json.dumps({
        "names": [s.name for s in loaded.schedules],
        "cron": schedule.cron_schedule,
        "timezone": schedule.execution_timezone,
        "job": schedule.job_name,
        "status": schedule.default_status.value,
        "description": schedule.description,
    }))
""")


def fresh_json(script: str, env: dict[str, str], cwd: Path) -> Any:
    """The JSON `script` prints last, run in a fresh interpreter with `env` and no other
    HIDEBOUND_* variable."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HIDEBOUND_")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_defs(env: dict[str, str], cwd: Path) -> dict:
    """The schedule of the code location, loaded in a fresh interpreter with `env`."""
    return fresh_json(SHOW_DEFS, env, cwd)


def write_config(tmp_path: Path, **settings: object) -> Path:
    (tmp_path / "staging").mkdir(exist_ok=True)
    path = tmp_path / "hidebound.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "ingress_directory": str(EXAMPLE_INGRESS),
                "staging_directory": str(tmp_path / "staging" / "hidebound"),
                "specification_files": [str(EXAMPLE_SPECS)],
                **settings,
            }
        )
    )
    return path


def test_schedule_built_directly() -> None:
    schedule = workflow_schedule("workflow", "*/15 6-18 * * 1-5", "Europe/Berlin")
    assert isinstance(schedule, dg.ScheduleDefinition)
    assert schedule.name == "workflow_schedule"
    assert schedule.job_name == "workflow"
    assert schedule.cron_schedule == "*/15 6-18 * * 1-5"
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_schedule_requests_a_run_on_its_tick() -> None:
    schedule = workflow_schedule("workflow", "30 9 * * *", "America/New_York")
    assert schedule.execution_timezone == "America/New_York"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 7, 1, 13, 30, tzinfo=UTC)
    )
    data = schedule.evaluate_tick(context)
    assert len(data.run_requests) == 1
    assert data.run_requests[0].job_name in (None, "workflow")
    assert data.skip_message is None


def test_code_location_uses_the_example_config_defaults(tmp_path: Path) -> None:
    shown = load_defs({}, tmp_path)
    assert shown["names"] == ["workflow_schedule"]
    assert (shown["cron"], shown["timezone"]) == ("0 * * * *", "UTC")
    assert shown["job"] == "workflow"
    assert shown["status"] == "STOPPED"
    example = yaml.safe_load((REPO / "hidebound.yaml").read_text())
    assert "schedule_cron" not in example and "schedule_timezone" not in example


def test_code_location_uses_the_config_in_effect_at_load_time(tmp_path: Path) -> None:
    config = write_config(tmp_path, schedule_cron="*/5 * * * *", schedule_timezone="Asia/Tokyo")
    shown = load_defs({"HIDEBOUND_CONFIG_FILEPATH": str(config)}, tmp_path)
    assert (shown["cron"], shown["timezone"]) == ("*/5 * * * *", "Asia/Tokyo")
    assert shown["status"] == "STOPPED"
    assert shown["job"] == "workflow"

    # and from HIDEBOUND_* variables when no config file is named
    env = {
        "HIDEBOUND_INGRESS_DIRECTORY": str(EXAMPLE_INGRESS),
        "HIDEBOUND_STAGING_DIRECTORY": str(tmp_path / "staging" / "hidebound"),
        "HIDEBOUND_SCHEDULE_CRON": "0 3 * * *",
        "HIDEBOUND_SCHEDULE_TIMEZONE": "Australia/Sydney",
    }
    shown = load_defs(env, tmp_path)
    assert (shown["cron"], shown["timezone"]) == ("0 3 * * *", "Australia/Sydney")


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "UTC+25", ""])
def test_bad_timezone_is_a_config_error(tmp_path: Path, timezone: str) -> None:
    config = write_config(tmp_path, schedule_timezone=timezone)
    with pytest.raises(ConfigError) as raised:
        load_config(config_file=config)
    assert raised.value.problems == [f"schedule_timezone: {timezone} is not a known time zone"]


def test_bad_cron_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="schedule_cron"):
        validate_config(
            {
                "ingress_directory": str(EXAMPLE_INGRESS),
                "staging_directory": str(tmp_path / "hidebound"),
                "schedule_cron": "every hour",
            }
        )
