"""The ingest report's data and page: counts, verdicts per asset and per file, thumbnails, the
config, and a page whose embedded data no asset name or error can break out of."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hidebound_dagster.core.asset_table import build_asset_table
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.parallel import serial_map
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.report import (
    TEMPLATE,
    make_thumbnails,
    report_data,
    write_page,
    write_report,
)
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


def test_no_value_breaks_out_of_the_page(tmp_path: Path) -> None:
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
    data = report_data(files, assets, thumbnails, {"note": hostile})
    page = write_page(tmp_path / "index.html", data).read_text()
    assert hostile not in page
    assert page.count("</script>") == 2  # the data block's and the program's
    assert page.count("<script") == 2 and "<!--" not in page
    data = embedded(page)
    assert data["assets"]["error"] == [hostile] and data["config"] == {"note": hostile}
    assert data["files"]["error"] == [hostile]  # a file of an invalid asset shows its error


def one_string_page(data: Mapping[str, Any]) -> str:
    """The page as it was written before it was streamed: the tables as Python lists, one
    json.dumps of all the data, escaped as a whole, put into the template."""
    listed = {
        key: {
            name: value[name].astype(object).where(value[name].notna(), None).tolist()
            for name in value.columns
        }
        if isinstance(value, pd.DataFrame)
        else value
        for key, value in data.items()
    }
    payload = json.dumps(listed, default=str, separators=(",", ":"))
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return TEMPLATE.replace("__DATA__", payload)


#: What copy c of the example puts in place of 'cat001' in its text (with c + 1, so the first
#: copy is the example itself): markup, '&', non-ASCII (a line separator, an astral character)
#: and a fresh number, so no path repeats.
HOSTILE = ["cat{:03d}", "cat{:03d}-<é>", "cat{:03d}&\u2028\U0001f63a", "</script><!--{:03d}"]


def grown(table: pd.DataFrame, copies: int) -> pd.DataFrame:
    """The table repeated `copies` times, copy c naming its project by HOSTILE[c % 4]; the
    text columns the page shows or the thumbnails choose by are renamed, `filepath` is kept
    (every copy's thumbnail is the example file's)."""
    text = [
        c
        for c in ("filepath_relative", "filename", "asset_path", "file_error", "asset_error")
        if c in table.columns
    ]
    return pd.concat(
        [
            table.assign(
                **{c: table[c].str.replace("cat001", HOSTILE[k % 4].format(k + 1)) for c in text}
            )
            for k in range(copies)
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize("copies", [1, 1_100])
def test_the_streamed_page_is_the_one_string_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copies: int
) -> None:
    """The page written piece by piece is, byte for byte, the one-string page of the same data:
    for the bundled example, and for 1,100 copies of it (52,800 files and 20,900 assets, more
    than ROWS: both tables go in several pieces) with markup, '&' and non-ASCII text."""
    monkeypatch.setattr(time, "strftime", lambda *_: "2026-12-03 10:00:00 +0000")
    example_files, example_assets = example_tables()
    files, assets = grown(example_files, copies), grown(example_assets, copies)
    config = {"write_mode": "copy", "note": "</script> & <!-- é"}
    # one at a time: the copies share their image files, so their thumbnails too
    page = write_report(tmp_path / "report", files, assets, config, serial_map)
    thumbnails = make_thumbnails(files, tmp_path / "report", serial_map)  # cached: the same
    assert thumbnails["thumbnail"].notna().sum() == 15 * copies
    previous = one_string_page(report_data(files, assets, thumbnails, config))
    assert len(files) == 48 * copies
    assert page.read_bytes() == previous.encode("utf-8")


def test_each_file_shows_its_assets_verdict_and_its_own_error_first(tmp_path: Path) -> None:
    assets = pd.DataFrame(
        {
            "asset_path": ["good", "bad"],
            "specification": ["x", "x"],
            "asset_valid": [True, False],
            "asset_error": [None, "bad: frame 2 missing"],
            "file_count": pd.array([1, 2], dtype="Int64"),
        }
    )
    files = pd.DataFrame(
        {
            "filepath_relative": ["good/1", "bad/1", "bad/2", "notes.txt", "gone/1"],
            "asset_path": ["good", "bad", "bad", None, "gone"],
            "file_error": [None, None, "bad/2: width 3 fails", "no specification", None],
        }
    )
    thumbnails = pd.DataFrame(columns=["asset_path", "thumbnail", "thumbnail_note"])
    data = report_data(files, assets, thumbnails, {})
    shown = embedded(write_page(tmp_path / "index.html", data).read_text())["files"]
    assert shown == {
        "filepath_relative": ["good/1", "bad/1", "bad/2", "notes.txt", "gone/1"],
        "asset_path": ["good", "bad", "bad", None, "gone"],
        "verdict": ["valid", "invalid", "invalid", "no asset", "invalid"],
        "error": [None, "bad: frame 2 missing", "bad/2: width 3 fails", "no specification", None],
    }
