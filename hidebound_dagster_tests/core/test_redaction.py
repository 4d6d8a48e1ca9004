"""secret_values: every value of a config that must never be shown, and nothing else."""

from __future__ import annotations

from pathlib import Path

from hidebound_dagster.core.config import validate_config
from hidebound_dagster.core.redaction import MIN_SECRET_LENGTH, secret_values
from hidebound_dagster_tests.core.test_config import SECRETS, dirs, with_secrets

__all__ = ["dirs"]


def test_secret_values_of_a_config(dirs: dict[str, Path]) -> None:
    data = with_secrets(dirs)
    data["exporters"][0]["endpoint_url"] = "http://hb:url%2Fpass-0007@127.0.0.1:9000"
    data["webhooks"].append(
        {
            "url": "https://hooks.example.com/x",
            "method": "post",
            "headers": {"Authorization": "Bearer header-0008", "X-Api-Key": "key-0009"},
            "json": {"note": "body-0010", "n": 1},
            "params": {"token": "param-0011"},
        }
    )
    found = secret_values(validate_config(data), ["env-secret-0012", None])
    expected = {
        SECRETS["access_key"],
        SECRETS["secret_key"],
        SECRETS["api_key"],
        SECRETS["gateway_api_token"],
        SECRETS["url"],
        "url%2Fpass-0007",  # as written in the URL, and decoded
        "url/pass-0007",
        "https://hooks.example.com/x",  # webhook URLs are secrets whole
        "Bearer header-0008",
        "key-0009",
        "body-0010",
        "param-0011",
        "env-secret-0012",
    }
    assert found == expected
    assert "my-bucket" not in found and SECRETS["root_id"] not in found  # names, not secrets


def test_short_values_are_not_scrubbed(dirs: dict[str, Path]) -> None:
    data = with_secrets(dirs)
    data["webhooks"][0]["headers"] = {"X-Flag": "on", "X-Key": "k" * MIN_SECRET_LENGTH}
    found = secret_values(validate_config(data))
    assert "on" not in found and "k" * MIN_SECRET_LENGTH in found
