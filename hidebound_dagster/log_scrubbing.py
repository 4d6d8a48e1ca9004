"""No log line of this process shows a secret of a config it loaded: a log record factory masks
them in each record's message, arguments and traceback, whichever library logs the record and
whichever handler (Dagster's event log, the console, a file) writes it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from hidebound_dagster.core.redaction import scrub

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_FORMATTER = logging.Formatter()
_wrapped: Callable[..., logging.LogRecord] | None = None  # the factory ours calls


def scrub_logs(secrets: Iterable[str]) -> None:
    """Mask these values, with those given before, in every later log record of the process."""
    global _wrapped
    with _LOCK:
        _SECRETS.update(secret for secret in secrets if secret)
        if _wrapped is None:
            _wrapped = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_scrubbed_record)


def _scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _wrapped is not None
    record = _wrapped(*args, **kwargs)
    secrets = tuple(_SECRETS)
    if secrets:
        scrub_record(record, secrets)
    return record


def scrub_record(record: logging.LogRecord, secrets: Iterable[str]) -> None:
    """Mask `secrets` in the record's message and in its traceback, formatted now."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: the handler reports it, with the scrubbed template
        message = str(record.msg)
    clean = scrub(message, secrets)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = _FORMATTER.formatException(record.exc_info)
        cleaned = scrub(text, secrets)
        if cleaned != text:
            record.exc_text = cleaned  # formatters print exc_text when it is set
