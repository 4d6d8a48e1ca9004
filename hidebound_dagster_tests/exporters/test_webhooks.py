"""call_webhooks against a loopback HTTP receiver."""

from __future__ import annotations

import json
import logging
import pickle

import pytest

from hidebound_dagster.exporters.webhooks import WebhookError, call_webhooks, request_arguments
from hidebound_dagster_tests.services import RecordingServer, free_port


@pytest.fixture
def receiver(webhook_receiver: RecordingServer) -> RecordingServer:
    webhook_receiver.requests.clear()
    return webhook_receiver


def test_methods_and_payload_placement(receiver: RecordingServer):
    url = receiver.url
    hooks = [
        {
            "url": f"{url}/get",
            "method": "get",
            "params": {"id": "123"},
            "json": {"no": 1},
            "headers": {"X-Token": "abc"},
        },
        {"url": f"{url}/post-json", "method": "post", "json": {"asset": "pizza"}},
        {"url": f"{url}/post-data", "method": "POST", "data": {"frames": [1, 2]}, "timeout": 5},
        {"url": f"{url}/put", "method": "put", "data": {"a": None}, "params": {"ignored": 1}},
        {"url": f"{url}/patch", "method": "patch", "data": "text"},
        {"url": f"{url}/delete", "method": "delete", "data": {"ignored": True}},
    ]
    results = call_webhooks(hooks)
    seen = {request.path: request for request in receiver.requests}
    assert [r.method for r in receiver.requests] == [
        "GET",
        "POST",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
    ]
    assert seen["/get"].query == {"id": ["123"]} and seen["/get"].body == b""
    assert seen["/get"].headers["X-Token"] == "abc"
    assert seen["/post-json"].json() == {"asset": "pizza"}
    assert seen["/post-data"].body == json.dumps({"frames": [1, 2]}).encode()
    assert seen["/put"].body == b'{"a": null}' and seen["/put"].query == {}
    assert seen["/patch"].body == b'"text"'
    assert seen["/delete"].body == b""
    assert [(r.index, r.status, r.attempts, r.ok) for r in results] == [
        (i, 200, 1, True) for i in range(6)
    ]
    assert all(r.seconds >= 0 and r.host == f"127.0.0.1:{receiver.port}" for r in results)


def test_failures_raise_after_every_hook_without_urls(receiver: RecordingServer, caplog):
    secret = "tok3n-Sh0uldN0tLeak"
    refused = f"http://127.0.0.1:{free_port()}/hooks/{secret}?key={secret}"
    hooks = [
        {"url": f"{receiver.url}/first", "method": "post", "json": {}},
        {"url": f"{receiver.url}/status/500/{secret}?key={secret}", "method": "put", "data": {}},
        {"url": refused, "method": "get"},
        {"url": f"{receiver.url}/last", "method": "get"},
    ]
    with caplog.at_level(logging.INFO), pytest.raises(WebhookError) as raised:
        call_webhooks(hooks, attempts=2, retry_delay=0.01)
    message = str(raised.value)
    assert "2 of 4 webhooks failed" in message
    assert f"webhook #1 (PUT 127.0.0.1:{receiver.port}): HTTP 500" in message
    assert "webhook #2 (GET 127.0.0.1:" in message and "ConnectionError" in message
    assert secret not in message and "/hooks" not in message and secret not in caplog.text
    assert [r.path for r in receiver.requests] == ["/first", f"/status/500/{secret}", "/last"]
    results = raised.value.results
    assert str(pickle.loads(pickle.dumps(raised.value))) == message  # crosses processes intact
    assert [r.status for r in results] == [200, 500, None, 200]
    assert [r.attempts for r in results] == [1, 1, 2, 1]  # only connection errors are retried


def test_malformed_hook_is_refused_before_any_call(receiver: RecordingServer):
    with pytest.raises(ValueError, match="webhook 1 needs a url and a method"):
        call_webhooks(
            [{"url": receiver.url, "method": "get"}, {"url": receiver.url, "method": "fetch"}]
        )
    assert receiver.requests == []


def test_timeout_defaults_when_missing():
    assert request_arguments({"url": "u", "method": "get"})["timeout"] == 30.0
    assert request_arguments({"url": "u", "method": "get", "timeout": 2})["timeout"] == 2
