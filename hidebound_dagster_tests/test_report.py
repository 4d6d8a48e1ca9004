"""The ingest report's data and page: counts, verdicts per asset and per file, thumbnails, the
config, and a page whose embedded data no asset name or error can break out of."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from hidebound_dagster.core.asset_table import build_asset_table
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.report import render, report_data, write_report
from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS, EXAMPLE_SPECS


def embedded(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))


def example_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    specs = load_specifications([EXAMPLE_SPECS])
    files = build_file_table(EXAMPLE_INGRESS, specs)
    return files, build_asset_table(files, specs)


def test_the_bundled_example(tmp_path: Path) -> None:
    files, assets = example_tables()
    page = write_report(tmp_path / "report", files, assets, {"write_mode": "copy"})
    data = embedded(page.read_text())
    assert data["counts"] == {
        "assets": 19,
        "valid": 10,
        "invalid": 9,
        "files": 48,
        "files_outside_assets": 2,
    }
    shown = dict(zip(data["assets"]["asset_path"], data["assets"]["verdict"], strict=True))
    assert shown["cat001/raw001/p-cat001_s-raw001_d-gap_v001"] == "invalid"
    assert shown["cat001/tex001/p-cat001_s-tex001_d-fur_v001"] == "valid"
    by_file = dict(zip(data["files"]["filepath_relative"], data["files"]["verdict"], strict=True))
    assert by_file["cat001/notes.txt"] == "no asset"
    assert data["config"] == {"write_mode": "copy"}
    thumbs = dict(zip(data["assets"]["asset_path"], data["assets"]["thumbnail"], strict=True))
    portrait = thumbs["cat001/img001/p-cat001_s-img001_d-calico-portrait_v001.png"]
    assert portrait and (page.parent / portrait).is_file()
    notes = dict(zip(data["assets"]["asset_path"], data["assets"]["thumbnail_note"], strict=True))
    assert thumbs["cat001/img001/p-cat001_s-img001_d-corrupt_v001.png"] is None
    assert "not an image" in notes["cat001/img001/p-cat001_s-img001_d-corrupt_v001.png"]
    assert not list((tmp_path / "report").glob(".*.tmp"))


def test_no_value_breaks_out_of_the_page() -> None:
    hostile = "</script><script>alert(1)</script> <!--<script>"
    assets = pd.DataFrame(
        {
            "asset_path": ["a"],
            "specification": ["x"],
            "asset_valid": [False],
            "asset_error": [hostile],
            "file_count": [1],
        }
    )
    files = pd.DataFrame(
        {
            "filepath_relative": ["a/f.png"],
            "asset_path": ["a"],
            "file_error": [None],
        }
    )
    thumbnails = pd.DataFrame(columns=["asset_path", "thumbnail", "thumbnail_note"])
    page = render(report_data(files, assets, thumbnails, {"note": hostile}))
    assert hostile not in page
    assert page.count("</script>") == 2  # the data block's and the program's
    assert page.count("<script") == 2 and "<!--" not in page
    data = embedded(page)
    assert data["assets"]["error"] == [hostile] and data["config"] == {"note": hostile}
    assert data["files"]["error"] == [hostile]  # a file of an invalid asset shows its error
