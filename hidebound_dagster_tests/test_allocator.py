"""Freed table memory goes back to the system: mimalloc is told to purge freed pages at once,
before pyarrow loads, in the processes that run the steps."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import os, sys
import dagster, dagster._cli
assert "pyarrow" not in sys.modules, "something imported pyarrow before hidebound_dagster"
import hidebound_dagster.definitions
import pyarrow
print(os.environ.get("MIMALLOC_PURGE_DELAY"), pyarrow.default_memory_pool().backend_name)
"""


def probe(env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


def test_the_purge_delay_is_set_before_pyarrow_loads() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    assert probe(env) == ["0", "mimalloc"]


def test_a_value_the_user_set_wins() -> None:
    env = {**os.environ, "MIMALLOC_PURGE_DELAY": "250"}
    assert probe(env)[0] == "250"
