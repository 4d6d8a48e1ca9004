"""DiskExporter against real directories, plus the shared base behaviour (plan, log, errors)."""

from __future__ import annotations

import json
import logging
import pickle
import re
import tracemalloc
from pathlib import Path

import pytest

from hidebound_dagster.core import progress as progress_module
from hidebound_dagster.core.parallel import thread_mapper
from hidebound_dagster.exporters.disk import DiskExporter
from hidebound_dagster.exporters.errors import ExportError
from hidebound_dagster_tests.exporters.staging_fixture import Staging, build_staging, read_tree


def serial_mapper(func, items):
    return [func(item) for item in items]


def test_mirrors_content_and_metadata_into_any_legal_path(staging: Staging, tmp_path: Path):
    target = tmp_path / "exports" / "my target.v1.2" / "with space"
    report = DiskExporter(target).export(staging.root)
    expected = staging.expected()
    assert read_tree(target) == expected
    assert "content/p-proj003_s-raw001_d-taco_v001.txt" in expected  # file at the ingress root
    assert (report.exporter, report.sent, report.skipped) == ("disk", len(expected), 0)
    assert report.bytes_sent == sum(len(data) for data in expected.values())
    assert str(target) in report.target and report.seconds >= 0


@pytest.mark.parametrize("types", [[], ["asset"], ["file-chunk", "file"], ["asset-chunk"]])
def test_metadata_types_choose_what_is_mirrored(staging: Staging, tmp_path: Path, types):
    report = DiskExporter(tmp_path / "out", metadata_types=types).export(staging.root)
    assert read_tree(tmp_path / "out") == staging.expected(types)
    assert report.sent == len(staging.expected(types))


def test_zero_valid_assets_is_nothing_to_do(empty_staging: Staging, tmp_path: Path):
    report = DiskExporter(tmp_path / "out").export(empty_staging.root)
    assert (report.sent, report.skipped, report.bytes_sent) == (0, 0, 0)
    assert (tmp_path / "out").is_dir() and read_tree(tmp_path / "out") == {}


def test_staging_without_metadata_directories_is_nothing_to_do(tmp_path: Path):
    (tmp_path / "bare").mkdir()
    report = DiskExporter(tmp_path / "out").export(tmp_path / "bare")
    assert (report.sent, report.skipped) == (0, 0)


def test_reexport_skips_everything_and_keeps_one_copy(staging: Staging, tmp_path: Path):
    exporter = DiskExporter(tmp_path / "out")
    first = exporter.export(staging.root)
    second = exporter.export(staging.root)
    assert read_tree(tmp_path / "out") == staging.expected()  # no temp files, no duplicates
    assert (second.sent, second.skipped, second.bytes_sent) == (0, first.sent, 0)


def test_changed_target_file_is_rewritten(staging: Staging, tmp_path: Path):
    exporter = DiskExporter(tmp_path / "out")
    exporter.export(staging.root)
    victim = tmp_path / "out" / "content" / staging.files[0]["filepath_relative"]
    victim.write_bytes(bytes(len(victim.read_bytes())))  # same size, other bytes
    report = exporter.export(staging.root, mapper=serial_mapper)
    assert (report.sent, report.skipped) == (1, len(staging.expected()) - 1)
    assert read_tree(tmp_path / "out") == staging.expected()


def test_progress_is_logged_by_tenths_never_twice(tmp_path: Path, caplog, monkeypatch):
    monkeypatch.setattr(progress_module, "QUIET_SECONDS", 0)  # a quick export says its tenths too
    staging = build_staging(tmp_path / "staging", sequences=4, frames=9)
    log = logging.getLogger("test.progress")
    with caplog.at_level(logging.INFO, logger="test.progress"):
        DiskExporter(tmp_path / "out").export(staging.root, mapper=thread_mapper(4), log=log)
    lines = [record.getMessage() for record in caplog.records]
    progress = [line for line in lines if re.search(r"\d+% \(\d+ of \d+\)", line)]
    assert len(lines) == len(set(lines))
    assert [int(line.split(": ")[1].split("%")[0]) for line in progress] == list(range(10, 101, 10))
    assert lines[0].startswith("disk export: from") and "38 content files" in lines[1]
    assert lines[-1].startswith("disk export: complete:")


def test_process_based_mapper(staging: Staging, tmp_path: Path, process_mapper):
    report = DiskExporter(tmp_path / "out").export(staging.root, mapper=process_mapper)
    assert read_tree(tmp_path / "out") == staging.expected()
    assert (report.sent, report.skipped) == (len(staging.expected()), 0)


def test_unknown_metadata_type_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown metadata types"):
        DiskExporter(tmp_path, metadata_types=["asset", "thumbnail"])
    with pytest.raises(ValueError, match="list of names"):
        DiskExporter(tmp_path, metadata_types="asset")


def test_missing_staging_fails_with_a_message(tmp_path: Path):
    with pytest.raises(
        ExportError, match=r"DiskExporter export to directory .* does not exist"
    ) as raised:
        DiskExporter(tmp_path / "out").export(tmp_path / "nope")
    copy = pickle.loads(pickle.dumps(raised.value))  # crosses processes intact
    assert (str(copy), copy.exporter, copy.problem) == (
        str(raised.value),
        "DiskExporter",
        raised.value.problem,
    )


def test_missing_content_file_names_the_file(staging: Staging, tmp_path: Path):
    missing = staging.files[-1]["filepath_relative"]
    (staging.root / "content" / missing).unlink()
    with pytest.raises(ExportError, match=re.escape(f"content/{missing}: FileNotFoundError")):
        DiskExporter(tmp_path / "out").export(staging.root)


def test_path_escaping_staging_is_refused(staging: Staging, tmp_path: Path):
    record = staging.files[0]
    record["filepath_relative"] = "../../outside.png"
    path = staging.root / "metadata" / "file" / f"{record['file_id']}.json"
    path.write_text(json.dumps(record))
    with pytest.raises(ExportError, match="illegal relative path"):
        DiskExporter(tmp_path / "out").export(staging.root)


def test_target_inside_staging_is_refused(staging: Staging):
    with pytest.raises(ExportError, match="inside staging"):
        DiskExporter(staging.root / "export").export(staging.root)


def test_first_failure_stops_the_remaining_items(staging: Staging, tmp_path: Path):
    first = min(staging.files, key=lambda f: f["file_id"])["filepath_relative"]  # planned first
    (staging.root / "content" / first).unlink()
    with pytest.raises(ExportError, match=re.escape(first)):
        DiskExporter(tmp_path / "out").export(staging.root, mapper=serial_mapper)
    assert read_tree(tmp_path / "out") == {}  # nothing after the failure ran


def traced_peak_of_export(staging: Staging, target: Path) -> int:
    """Peak bytes of Python objects allocated while one export runs in one worker thread (each
    thread copying holds a 1 MiB read buffer, which would blur the peak)."""
    tracemalloc.start()
    try:
        DiskExporter(target).export(staging.root, mapper=thread_mapper(1))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_holds_no_python_object_per_file(tmp_path: Path):
    """The plan is columns and items live only while their chunk is sent: 5,000 more files cost
    less than 1 KiB of Python objects each at the peak (a parsed record, an item and a future
    per file cost about 8 KiB)."""
    small = build_staging(tmp_path / "small", sequences=50, frames=10, size=16)
    large = build_staging(tmp_path / "large", sequences=50, frames=110, size=16)
    DiskExporter(tmp_path / "warm").export(small.root)  # lazy imports and caches
    added = len(large.files) - len(small.files)
    growth = traced_peak_of_export(large, tmp_path / "l") - traced_peak_of_export(
        small, tmp_path / "s"
    )
    assert added == 5000 and growth < 1024 * added, f"{growth / added:.0f} B per added file"
