"""A cron schedule for the workflow, off until turned on in the UI or with the CLI."""

import dagster as dg


def workflow_schedule(job_name: str, cron: str, timezone: str) -> dg.ScheduleDefinition:
    """Run the workflow on the configured cron string and time zone."""
    return dg.ScheduleDefinition(
        name="workflow_schedule",
        job_name=job_name,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"The workflow at '{cron}' ({timezone}).",
    )
