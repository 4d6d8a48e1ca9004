"""The console logger of the project's jobs: what a person reads in a terminal (`dagster job
execute`, a run worker's output). A failure raised for people (dagster.Failure: a bad config, a
busy staging directory, an export refused) shows its description without Dagster's stack
trace, the run's failure does not repeat it, and lines about steps skipped after a failure are
left out; the run's outcome is always shown, whatever the level.

Dagster hands loggers each record with its event under the record's `dagster_meta` attribute
(what its own JSON console logger prints); that attribute is read here and nowhere else."""

from __future__ import annotations

import logging
import sys
from typing import Any

import dagster as dg

FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"
EVENTS = dg.DagsterEventType
OUTCOMES = frozenset({EVENTS.RUN_SUCCESS, EVENTS.RUN_FAILURE, EVENTS.RUN_CANCELED})
SKIPPED = "Not executing."
#: The run config that turns this logger on (Dagster uses a job's loggers only when its run
#: config names them); a run's own config may still set another log_level.
CONSOLE_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _event(record: logging.LogRecord) -> Any:
    meta = getattr(record, "dagster_meta", None)
    return meta.get("dagster_event") if isinstance(meta, dict) else None


def _event_type(record: logging.LogRecord) -> dg.DagsterEventType | None:
    event = _event(record)
    return event.event_type if event is not None else None


def _user_failure(record: logging.LogRecord) -> str | None:
    """The description of a dagster.Failure a step raised, or None."""
    event = _event(record)
    if event is None or event.event_type != EVENTS.STEP_FAILURE:
        return None
    failure = getattr(event.step_failure_data, "user_failure_data", None)
    return failure.description if failure is not None and failure.description else None


class ConsoleFilter(logging.Filter):
    """Records at the chosen level or above, and every run outcome; no skipped-step lines
    unless the level is DEBUG."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if _event_type(record) in OUTCOMES:
            return True
        if record.levelno < self.level:
            return False
        return self.level <= logging.DEBUG or not record.getMessage().endswith(SKIPPED)


class ConsoleFormatter(logging.Formatter):
    """Dagster's console format, with a Failure's description in place of its stack trace
    and the run failure's error left to the step that raised it."""

    def __init__(self) -> None:
        super().__init__(FORMAT, DATE_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        description = _user_failure(record)
        if description is not None or _event_type(record) == EVENTS.RUN_FAILURE:
            head = record.message.split("\n\n", 1)[0]
            record = logging.makeLogRecord(
                {**record.__dict__, "message": head + (f"\n{description}" if description else "")}
            )
        return super().formatMessage(record)


@dg.logger(
    config_schema={
        "log_level": dg.Field(str, default_value="INFO", description="The lowest level shown.")
    },
    description="The console, for people: Failure descriptions without stack traces.",
)
def console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    level = logging.getLevelName(init_context.logger_config["log_level"].upper())
    logger = logging.Logger("dagster", logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ConsoleFilter(level if isinstance(level, int) else logging.INFO))
    handler.setFormatter(ConsoleFormatter())
    logger.addHandler(handler)
    return logger
