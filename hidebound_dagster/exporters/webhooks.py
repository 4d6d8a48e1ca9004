"""Call the configured webhooks after the exports, and report how each one answered.

Webhook URLs often carry tokens, so results, logs and errors name a hook only by its index,
method and host, never by its path or query.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from hidebound_dagster.exporters.errors import retry

METHODS = ("get", "put", "post", "delete", "patch")
DEFAULT_TIMEOUT = 30.0
LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookResult:
    """How one hook answered: HTTP status (None if no response came) and seconds taken."""

    index: int
    method: str
    host: str
    status: int | None
    seconds: float
    attempts: int
    error: str | None = None  # exception type when no response came; never the URL

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        outcome = f"HTTP {self.status}" if self.status is not None else self.error
        return f"webhook #{self.index} ({self.method.upper()} {self.host}): {outcome}"


class WebhookError(RuntimeError):
    """Some hooks failed; all hooks were tried first. The message never holds a URL path."""

    def __init__(self, results: Sequence[WebhookResult]) -> None:
        self.results = list(results)
        failed = [result.describe() for result in self.results if not result.ok]
        super().__init__(
            f"{len(failed)} of {len(self.results)} webhooks failed: " + "; ".join(failed)
        )

    def __reduce__(self):
        return type(self), (self.results,)


def _host(url: str) -> str:
    """host[:port] of a URL, without user info, path or query."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def request_arguments(hook: dict) -> dict[str, Any]:
    """requests keyword arguments: params for get, json for post, data for post/put/patch."""
    method = hook["method"].lower()
    arguments: dict[str, Any] = {
        "headers": hook.get("headers"),
        "timeout": hook.get("timeout") or DEFAULT_TIMEOUT,
    }
    if method == "get" and "params" in hook:
        arguments["params"] = hook["params"]
    if method == "post" and "json" in hook:
        arguments["json"] = hook["json"]
    if method in ("post", "put", "patch") and "data" in hook:
        arguments["data"] = json.dumps(hook["data"]).encode()
    return arguments


def _check(hooks: Sequence[dict]) -> None:
    """Refuse malformed hooks before calling any of them."""
    for index, hook in enumerate(hooks):
        method = str(hook.get("method", "")).lower()
        if method not in METHODS or not hook.get("url"):
            raise ValueError(f"webhook {index} needs a url and a method in {list(METHODS)}")


def _call(
    session: requests.Session, index: int, hook: dict, attempts: int, retry_delay: float
) -> WebhookResult:
    method = hook["method"].lower()
    tries = 0

    def send() -> requests.Response:
        nonlocal tries
        tries += 1
        return session.request(method, hook["url"], **request_arguments(hook))

    started = time.monotonic()
    status, error = None, None
    try:
        status = retry(
            send,
            lambda e: isinstance(e, requests.ConnectionError),
            attempts=attempts,
            base_delay=retry_delay,
        ).status_code
    except requests.RequestException as failure:
        error = type(failure).__name__
    return WebhookResult(
        index,
        method,
        _host(hook["url"]),
        status,
        round(time.monotonic() - started, 3),
        tries,
        error,
    )


def call_webhooks(
    hooks: list[dict],
    session: requests.Session | None = None,
    attempts: int = 3,
    retry_delay: float = 0.5,
    log: logging.Logger | None = None,
) -> list[WebhookResult]:
    """Call every hook in order; raise WebhookError afterwards if any was not answered 2xx.

    Connection errors are retried with backoff; a received response is never re-sent.
    """
    _check(hooks)
    log = log or LOGGER
    own = session is None
    session = session or requests.Session()
    results = []
    try:
        for index, hook in enumerate(hooks):
            result = _call(session, index, hook, attempts, retry_delay)
            log.info(
                "webhooks %d/%d: %s in %.2f s",
                index + 1,
                len(hooks),
                result.describe(),
                result.seconds,
            )
            results.append(result)
    finally:
        if own:
            session.close()
    if not all(result.ok for result in results):
        raise WebhookError(results)
    return results
