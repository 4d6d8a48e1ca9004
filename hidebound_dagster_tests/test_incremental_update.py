"""The file and asset indexes through `dagster job execute`: a second workflow over the same
ingress reads no file and validates no asset again, a changed file alone is read and its asset
alone validated, and the tables equal those of a fresh instance."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd

from hidebound_dagster.core.layout import table_path, tables_directory
from hidebound_dagster.core.tables import read_table
from hidebound_dagster_tests.conftest import REPO
from hidebound_dagster_tests.images import write_png
from hidebound_dagster_tests.projects import job_execute, make_project

FRAME = (
    "cat001/raw001/p-cat001_s-raw001_d-calico-jumping_v001/"
    "p-cat001_s-raw001_d-calico-jumping_v001_f0002.png"
)

COUNTS = {
    "file_table": ("files_read", "files_reused"),
    "asset_table": ("assets_validated", "assets_reused"),
}


def run_workflow(home: Path, config: Path) -> dict[str, int]:
    """One workflow run; the file and asset tables' read and reuse counts from the instance."""
    if not (home / "dagster.yaml").exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    result = job_execute("workflow", home, config, cwd=config.parent)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        counts = {}
        for asset, keys in COUNTS.items():
            event = instance.get_latest_materialization_event(dg.AssetKey(asset))
            assert event is not None and event.asset_materialization is not None
            metadata = event.asset_materialization.metadata
            counts |= {key: int(metadata[key].value) for key in keys}  # type: ignore[arg-type]
        return counts


def tables(home: Path) -> dict[str, pd.DataFrame]:
    directory = tables_directory(home / "storage")
    return {
        name: read_table(table_path(directory, [name])) for name in ("file_table", "asset_table")
    }


def test_a_second_run_reads_only_what_changed(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    home = tmp_path / "home"
    readable = 46  # the example's 48 files, less the two outside any known specification

    assets = 19
    damaged = 2  # a corrupt PNG and a truncated EXR: files whose traits failed are read again
    assert run_workflow(home, project["config"]) == {
        "files_read": readable,
        "files_reused": 0,
        "assets_validated": assets,
        "assets_reused": 0,
    }
    assert run_workflow(home, project["config"]) == {
        "files_read": damaged,
        "files_reused": readable - damaged,
        "assets_validated": 0,
        "assets_reused": assets,
    }
    write_png(project["ingress"] / FRAME, "RGB", (5, 5))  # a frame of another size: invalid
    assert run_workflow(home, project["config"]) == {
        "files_read": damaged + 1,
        "files_reused": readable - damaged - 1,
        "assets_validated": 1,
        "assets_reused": assets - 1,
    }

    fresh = tmp_path / "fresh"
    run_workflow(fresh, project["config"])
    incremental, full = tables(home), tables(fresh)
    for name in ("file_table", "asset_table"):
        pd.testing.assert_frame_equal(incremental[name], full[name])
    asset = FRAME.rpartition("/")[0]
    verdicts = full["asset_table"].set_index("asset_path")
    assert not verdicts.loc[asset, "asset_valid"]
    assert "width" in verdicts.loc[asset, "asset_error"]
