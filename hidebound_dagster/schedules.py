"""A cron schedule for the workflow, off until turned on in the UI or with the CLI, and the rules
Dagster applies to its cron string and time zone, so config validation rejects what Dagster
would later refuse to load. Dagster is imported inside the functions: `hidebound-dagster config`
validates with these rules and, for a config that sets no schedule, starts without Dagster."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg


def cron_problem(cron: str) -> str | None:
    """Why Dagster would refuse this cron string, or None."""
    # Dagster's own rules are private; they are read here only and pinned by test_schedules.py.
    from dagster._utils.schedules import is_valid_cron_string

    try:
        valid = is_valid_cron_string(cron)
    except Exception:  # the cron parser raises for some malformed strings instead of False
        valid = False
    return (
        None
        if valid
        else (f"{cron!r} is not a cron string Dagster accepts (minute hour day month weekday)")
    )


def timezone_problem(timezone: str) -> str | None:
    """Why Dagster would refuse this execution time zone, or None."""
    from dagster._time import get_timezone

    try:
        get_timezone(timezone)
    except Exception:
        return f"{timezone} is not a known time zone"
    return None


SCHEDULE_RULES = {"cron_rule": cron_problem, "timezone_rule": timezone_problem}


def workflow_schedule(job_name: str, cron: str, timezone: str) -> dg.ScheduleDefinition:
    """Run the workflow on the configured cron string and time zone."""
    import dagster as dg

    return dg.ScheduleDefinition(
        name="workflow_schedule",
        job_name=job_name,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"The workflow at '{cron}' ({timezone}).",
    )
