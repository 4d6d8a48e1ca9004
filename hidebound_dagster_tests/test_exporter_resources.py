"""Exporter resources build their exporter from a config entry and the resource's secret."""

from __future__ import annotations

import dagster as dg
import pytest

from hidebound_dagster.core.config import GirderExporterConfig
from hidebound_dagster.exporter_resources import GirderExporterResource
from hidebound_dagster.exporters.girder import GirderExporter


def test_girder_resource_builds_the_entrys_exporter() -> None:
    entry = GirderExporterConfig(
        name="girder", root_id="root-0001", root_type="folder", host="http://girder", port=8181
    )
    exporter = GirderExporterResource(api_key="resource-key-0001").exporter(entry)
    assert isinstance(exporter, GirderExporter)
    assert (exporter.api_url, exporter.root_id, exporter.root_type) == (
        "http://girder:8181/api/v1",
        "root-0001",
        "folder",
    )


def test_girder_resource_without_a_key_fails_naming_the_variable() -> None:
    entry = GirderExporterConfig(name="girder", root_id="root-0001")
    with pytest.raises(dg.Failure, match="HIDEBOUND_GIRDER_API_KEY"):
        GirderExporterResource().exporter(entry)
