"""Fixtures the core tests share."""

from pathlib import Path

import pytest


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    """Where a test stages: named as a staging directory must be, not created yet."""
    return tmp_path / "hidebound"
