"""The log record factory masks the loaded configs' secrets in every record of the process,
whichever logger makes it, in the message, its arguments and its traceback."""

import logging

import dagster as dg
import pytest

from hidebound_dagster.core.redaction import MASK, scrub
from hidebound_dagster.log_scrubbing import scrub_logs

SECRET = "SECRET-scrub-test-5d1e"


@pytest.fixture(autouse=True)
def known_secret() -> None:
    scrub_logs([SECRET])


def test_a_library_logger_message_and_arguments(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("botocore.endpoint").debug("sending key=%s to %s", SECRET, "host")
        logging.getLogger("urllib3").warning(f"retrying https://u:{SECRET}@host/")
    assert SECRET not in caplog.text
    assert f"sending key={MASK} to host" in caplog.text
    assert f"https://u:{MASK}@host/" in caplog.text


def test_a_logged_traceback(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise ConnectionError(f"cannot reach http://h/?token={SECRET}")
    except ConnectionError:
        logging.getLogger("requests").exception("call failed")
    assert "ConnectionError: cannot reach http://h/?token=***" in caplog.text
    assert SECRET not in caplog.text


def test_a_record_without_secrets_keeps_its_arguments(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("any").info("%d files", 3)
    [record] = caplog.records
    assert (record.msg, record.args) == ("%d files", (3,))


def test_dagster_run_logs_and_event_log() -> None:
    @dg.asset
    def leaky(context: dg.AssetExecutionContext) -> None:
        context.log.info(f"connecting with {SECRET}")
        logging.getLogger("girder_client").error("header Authorization: Bearer %s", SECRET)

    with dg.instance_for_test() as instance:
        result = dg.materialize([leaky], instance=instance)
        assert result.success
        messages = [
            entry.user_message for entry in instance.all_logs(result.run_id) if entry.user_message
        ]
    assert "connecting with ***" in messages
    assert not [message for message in messages if SECRET in message]


def test_scrub_masks_the_longest_secret_whole() -> None:
    assert scrub("a-token-b and token", ["token", "a-token-b"]) == f"{MASK} and {MASK}"
