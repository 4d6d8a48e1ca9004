"""The integrity check remembers what it proved: a second check over an unchanged staging
reads no byte of content and no metadata record again, and any change since (bytes flipped
with the old size and mtime, a rewritten record, a replaced file) is still found."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from hidebound_dagster.core import verification
from hidebound_dagster.core.layout import Staging
from hidebound_dagster.core.manifest import clear_records, write_manifest
from hidebound_dagster.core.verification import read_verified, verify_staging
from hidebound_dagster_tests.exporters.staging_fixture import Staging as BuiltStaging
from hidebound_dagster_tests.exporters.staging_fixture import build_staging

RACY_SECONDS = 0.2  # far above the coarsest tick of the clocks Linux file systems use


class Counted:
    """How many staged files were hashed and records read, by patching the two readers."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashed: list[str] = []
        self.read: list[str] = []
        hash_file, read_records = verification.sha256_file, verification.read_records

        def counted_hash(path: str) -> str:
            self.hashed.append(path)
            return hash_file(path)

        def counted_read(directory: Path, jsons: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
            self.read += list(jsons["json"])
            return read_records(directory, jsons)

        monkeypatch.setattr(verification, "sha256_file", counted_hash)
        monkeypatch.setattr(verification, "read_records", counted_read)

    def reset(self) -> None:
        self.hashed.clear()
        self.read.clear()


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BuiltStaging:
    """A staging as create leaves it, old enough (past the racy window) to be remembered."""
    monkeypatch.setattr(verification, "RACY_NS", int(RACY_SECONDS * 1e9))
    built = build_staging(tmp_path / "hidebound")
    rows = [(f["filepath_relative"], f["sha256"]) for f in built.files]
    write_manifest(Staging(built.root), pd.DataFrame(rows, columns=["filepath_relative", "sha256"]))
    time.sleep(RACY_SECONDS * 1.5)
    return built


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counted:
    return Counted(monkeypatch)


def proved_once(built: BuiltStaging, counted: Counted) -> None:
    """The first check, which reads everything, then counting starts afresh."""
    assert verify_staging(Staging(built.root)) == []
    assert len(counted.hashed) == len(counted.read) == len(built.files) == 8
    counted.reset()


def test_a_second_check_reads_nothing_of_an_unchanged_staging(
    built: BuiltStaging, counted: Counted
) -> None:
    proved_once(built, counted)
    remembered = Staging(built.root).verified.stat().st_mtime_ns

    assert verify_staging(Staging(built.root)) == []

    assert (counted.hashed, counted.read) == ([], [])
    assert Staging(built.root).verified.stat().st_mtime_ns == remembered  # not rewritten


def test_bytes_flipped_with_the_old_size_and_mtime_are_found_after_a_remembered_check(
    built: BuiltStaging, counted: Counted
) -> None:
    proved_once(built, counted)
    record = built.files[2]
    victim = built.root / "content" / record["filepath_relative"]
    before = victim.stat()
    data = victim.read_bytes()
    victim.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:])
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))

    problems = verify_staging(Staging(built.root))

    assert problems == [f"content/{record['filepath_relative']}: sha256 differs from its metadata"]
    assert counted.hashed == [str(victim)] and counted.read == []


def test_a_rewritten_record_is_read_again_and_its_file_not_hashed_again(
    built: BuiltStaging, counted: Counted
) -> None:
    proved_once(built, counted)
    record = built.files[0]
    path = built.root / "metadata" / "file" / f"{record['file_id']}.json"
    path.write_text(json.dumps({**record, "sha256": hashlib.sha256(b"other").hexdigest()}))

    problems = verify_staging(Staging(built.root))

    assert problems == [f"content/{record['filepath_relative']}: sha256 differs from its metadata"]
    assert counted.read == [path.name] and counted.hashed == []


def test_a_file_replaced_by_another_of_the_same_bytes_is_hashed_again_and_passes(
    built: BuiltStaging, counted: Counted
) -> None:
    proved_once(built, counted)
    victim = built.root / "content" / built.files[4]["filepath_relative"]
    data = victim.read_bytes()
    victim.unlink()
    victim.write_bytes(data)

    assert verify_staging(Staging(built.root)) == []
    assert counted.hashed == [str(victim)] and counted.read == []


def test_files_changed_within_the_racy_window_are_not_remembered(
    built: BuiltStaging, counted: Counted
) -> None:
    """Written just before the check, a file's times could still hide a change made in the
    same clock tick: it is proved again next time, however often it is checked."""
    victim = built.root / "content" / built.files[1]["filepath_relative"]
    victim.write_bytes(victim.read_bytes())  # the same bytes, new times
    proved_once(built, counted)

    assert verify_staging(Staging(built.root)) == []

    assert counted.hashed == [str(victim)]
    remembered = set(read_verified(Staging(built.root))["filepath_relative"])
    assert built.files[1]["filepath_relative"] not in remembered
    assert len(remembered) == len(built.files) - 1


def test_a_damaged_memory_costs_a_full_check_never_a_wrong_verdict(
    built: BuiltStaging, counted: Counted
) -> None:
    proved_once(built, counted)
    Staging(built.root).verified.write_bytes(b"not parquet")
    victim = built.root / "content" / built.files[3]["filepath_relative"]
    victim.write_bytes(b"x" * victim.stat().st_size)

    problems = verify_staging(Staging(built.root))

    assert problems == [
        f"content/{built.files[3]['filepath_relative']}: sha256 differs from its metadata"
    ]
    assert len(counted.hashed) == len(counted.read) == 8


def test_clearing_the_records_forgets_what_was_proved(
    built: BuiltStaging, counted: Counted
) -> None:
    proved_once(built, counted)
    clear_records(Staging(built.root))
    assert not Staging(built.root).verified.exists()
    assert Staging(built.root).verified in Staging(built.root).owned()  # delete removes it
