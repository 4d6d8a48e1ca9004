"""Make the scan see each directory's entries in a chosen order, as another OS might list them."""

import os

import pytest

from hidebound_dagster.core import scan


def list_in_name_order(monkeypatch: pytest.MonkeyPatch, reverse: bool) -> None:
    """Every directory the scan lists gives its entries sorted by name (reversed if asked)."""
    real = os.scandir

    def ordered(path: int | str) -> object:
        return iter(sorted(real(path), key=lambda entry: entry.name, reverse=reverse))

    monkeypatch.setattr(scan.os, "scandir", ordered)
