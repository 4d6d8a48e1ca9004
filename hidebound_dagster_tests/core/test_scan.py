"""Listing the ingress: one row per file, problems recorded on the row, paths matched as paths."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from hidebound_dagster.core import scan
from hidebound_dagster.core.scan import SCAN_COLUMNS, scan_directory, select
from hidebound_dagster_tests.core.listing_order import list_in_name_order

WEIRD_INGRESS = "in (1)+[x]"


def write(path: Path, data: bytes = b"data") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def rows(table: pd.DataFrame) -> dict[str, dict]:
    """The table keyed by relative path."""
    return {row["filepath_relative"]: row for row in table.to_dict("records")}


def error_of(table: pd.DataFrame, relative: str) -> str | None:
    value = rows(table)[relative]["scan_error"]
    return None if pd.isna(value) else value


@pytest.fixture
def ingress(tmp_path: Path) -> Path:
    """An ingress whose own path contains spaces and regex special characters."""
    root = tmp_path / "tmp" / WEIRD_INGRESS
    write(root / "a" / "b" / "f.png", b"12345")
    write(root / "a" / "g.jpg", b"1")
    write(root / "c.txt", b"")
    write(root / ".DS_Store", b"x")
    write(root / "a" / ".DS_Store", b"x")
    return root


# --- listing -------------------------------------------------------------------------------


def test_nested_files_sorted_with_sizes_and_mtimes(ingress: Path) -> None:
    os.utime(ingress / "a" / "b" / "f.png", ns=(1_600_000_000_123_456_789,) * 2)
    table = scan_directory(ingress)
    assert list(table.columns) == SCAN_COLUMNS
    assert table["filepath_relative"].tolist() == [
        ".DS_Store",
        "a/.DS_Store",
        "a/b/f.png",
        "a/g.jpg",
        "c.txt",
    ]
    found = rows(table)
    assert found["a/b/f.png"]["filename"] == "f.png"
    assert found["a/b/f.png"]["size"] == 5
    assert found["a/b/f.png"]["mtime_ns"] == 1_600_000_000_123_456_789
    assert found["c.txt"]["size"] == 0
    assert found["a/g.jpg"]["mtime_ns"] == (ingress / "a" / "g.jpg").stat().st_mtime_ns
    assert table["scan_error"].isna().all()
    assert str(table["size"].dtype) == "Int64"
    assert str(table["mtime_ns"].dtype) == "Int64"


def test_directories_are_not_rows(ingress: Path) -> None:
    (ingress / "empty").mkdir()
    table = scan_directory(ingress)
    assert "a" not in set(table["filepath_relative"])
    assert "empty" not in set(table["filepath_relative"])
    assert not table["filepath_relative"].str.endswith("/").any()


def test_empty_ingress_gives_empty_table_with_columns(tmp_path: Path) -> None:
    table = scan_directory(tmp_path)
    assert table.empty
    assert list(table.columns) == SCAN_COLUMNS
    assert select(table, "x", "y").empty
    assert list(select(table, "x", "y").columns) == SCAN_COLUMNS


# --- include / exclude ---------------------------------------------------------------------

ALL = [".DS_Store", "a/.DS_Store", "a/b/f.png", "a/g.jpg", "c.txt"]


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ("", "", ALL),  # an empty exclude excludes nothing
        ("", r"\.DS_Store", ["a/b/f.png", "a/g.jpg", "c.txt"]),
        (r"\.png$", "", ["a/b/f.png"]),
        (r"^a/", "", ["a/.DS_Store", "a/b/f.png", "a/g.jpg"]),  # anchored at the relative path
        (r"^a/", r"\.DS_Store", ["a/b/f.png", "a/g.jpg"]),
        ("", r"^a/", [".DS_Store", "c.txt"]),
        (r"^c\.txt$", "", ["c.txt"]),
        # The ingress path itself is never matched: it is not part of the relative path.
        (r"in \(1\)\+\[x\]", "", []),
        (r"tmp/", "", []),
        ("", r"in \(1\)\+\[x\]", ALL),
        ("", "tmp", ALL),
    ],
)
def test_select_matches_relative_path(
    ingress: Path, include: str, exclude: str, expected: list[str]
) -> None:
    selected = select(scan_directory(ingress), include, exclude)
    assert selected["filepath_relative"].tolist() == expected
    assert list(selected.index) == list(range(len(expected)))


def test_default_exclude_of_the_file_table_drops_ds_store(ingress: Path) -> None:
    from hidebound_dagster.core.file_table import build_file_table

    table = build_file_table(ingress, {})
    assert table["filepath_relative"].tolist() == ["a/b/f.png", "a/g.jpg", "c.txt"]
    assert table["filepath"].tolist() == [str(ingress / p) for p in table["filepath_relative"]]
    everything = build_file_table(ingress, {}, exclude_regex="")
    assert len(everything) == len(ALL)


# --- links and names that cannot be read ---------------------------------------------------


def test_links_are_rows_and_never_followed_by_default(tmp_path: Path, ingress: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "o.png", b"abc")
    (ingress / "linked").symlink_to(outside, target_is_directory=True)
    (ingress / "root").symlink_to("/", target_is_directory=True)
    (ingress / "a" / "up").symlink_to(ingress, target_is_directory=True)
    (ingress / "a" / "f-link.png").symlink_to(ingress / "a" / "b" / "f.png")
    (ingress / "self.png").symlink_to("self.png")
    (ingress / "broken.png").symlink_to(ingress / "nowhere.png")
    table = scan_directory(ingress)
    links = ["linked", "root", "a/up", "a/f-link.png", "self.png", "broken.png"]
    assert len(table) == len(ALL) + len(links)
    for link in links:
        assert error_of(table, link) == scan.LINK_NOT_FOLLOWED, link
        assert pd.isna(rows(table)[link]["size"])
    assert (
        not table["filepath_relative"]
        .str.contains("/", regex=False)
        .where(table["filepath_relative"].str.startswith(("linked", "root", "a/up/")), False)
        .any()
    )


def test_within_follows_links_inside_ingress_once(tmp_path: Path, ingress: Path) -> None:
    (ingress / "a" / "b" / "up").symlink_to(ingress, target_is_directory=True)
    (ingress / "a" / "here").symlink_to(".", target_is_directory=True)
    (ingress / "alias").symlink_to(ingress / "a" / "b", target_is_directory=True)
    (ingress / "f-link.png").symlink_to(ingress / "a" / "b" / "f.png")
    table = scan_directory(ingress, "within")
    for link in ["a/b/up", "a/here", "alias"]:  # directories already scanned: no double visit
        assert "already scanned" in error_of(table, link), link
    assert error_of(table, "f-link.png") is None
    assert rows(table)["f-link.png"]["size"] == rows(table)["a/b/f.png"]["size"]
    assert not table["filepath_relative"].str.startswith(("a/b/up/", "alias/")).any()


def test_within_refuses_links_that_leave_ingress(tmp_path: Path, ingress: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "o.png", b"abc")
    (ingress / "linked").symlink_to(outside, target_is_directory=True)
    (ingress / "o.png").symlink_to(outside / "o.png")
    (ingress / "root").symlink_to("/", target_is_directory=True)
    (ingress / "dotdot").symlink_to("../outside", target_is_directory=True)
    table = scan_directory(ingress, "within")
    for link in ["linked", "o.png", "root", "dotdot"]:
        assert error_of(table, link) == scan.LINK_OUTSIDE, link
    assert not table["filepath_relative"].str.startswith(("linked/", "root/", "dotdot/")).any()


def test_within_broken_and_looping_file_links_are_rows(ingress: Path) -> None:
    (ingress / "self.png").symlink_to("self.png")
    (ingress / "a" / "broken.png").symlink_to(ingress / "nowhere.png")
    table = scan_directory(ingress, "within")
    assert "symbolic links" in error_of(table, "self.png")  # too many levels of ...
    assert "No such file" in error_of(table, "a/broken.png")
    assert pd.isna(rows(table)["a/broken.png"]["size"])
    assert error_of(table, "a/b/f.png") is None


def test_special_files_are_rows_and_never_opened(ingress: Path) -> None:
    import socket

    os.mkfifo(ingress / "p-cat001_s-img001_d-fifo_v001.png")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(ingress / "sock.png"))
    try:
        table = scan_directory(ingress)  # would block forever if it opened the FIFO
    finally:
        server.close()
    assert error_of(table, "p-cat001_s-img001_d-fifo_v001.png") == (
        "a FIFO, not a regular file: never opened"
    )
    assert error_of(table, "sock.png") == "a socket, not a regular file: never opened"


def test_integer_columns_are_exact_whatever_other_rows_hold(ingress: Path) -> None:
    """A row without a size or time (a link) must not turn the others into floats: a
    nanosecond time above 2**53 would be rounded."""
    path = ingress / "a" / "b" / "f.png"
    os.utime(path, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    (ingress / "link").symlink_to(path)
    table = scan_directory(ingress)
    assert str(table["mtime_ns"].dtype) == "Int64"
    assert rows(table)["a/b/f.png"]["mtime_ns"] == 1_700_000_000_123_456_789
    assert rows(table)["a/b/f.png"]["inode"] == path.stat().st_ino


def test_non_utf8_file_name_is_a_row_with_an_error(ingress: Path) -> None:
    descriptor = os.open(os.fsencode(str(ingress)) + b"/bad\xff.png", os.O_CREAT | os.O_WRONLY)
    os.close(descriptor)
    table = scan_directory(ingress)
    assert "bad\\xff.png" in set(table["filepath_relative"])
    assert "UTF-8" in error_of(table, "bad\\xff.png")
    assert rows(table)["bad\\xff.png"]["filename"] == "bad\\xff.png"
    # Every text in the table is valid UTF-8, so it can be written to Parquet.
    for column in ["filepath_relative", "filename"]:
        table[column].map(lambda text: text.encode("utf-8"))


def test_files_under_a_non_utf8_directory_have_an_error(ingress: Path) -> None:
    """The file's own name is fine but its path cannot be written as text: the row's
    filepath would point nowhere, so the row must carry a scan error."""
    directory = os.fsencode(str(ingress)) + b"/dir\xff"
    Path(os.fsdecode(directory)).mkdir()
    name = directory + b"/p-proj001_s-img001_d-x_v001.png"
    descriptor = os.open(name, os.O_CREAT | os.O_WRONLY)
    os.close(descriptor)
    table = scan_directory(ingress)
    relative = "dir\\xff/p-proj001_s-img001_d-x_v001.png"
    assert relative in set(table["filepath_relative"])
    assert error_of(table, relative) is not None


def test_unreadable_directory(ingress: Path) -> None:
    """As root the directory may still be readable; either way the scan goes on and no file
    of the readable directories is lost."""
    locked = ingress / "locked"
    write(locked / "z.png")
    locked.chmod(0)
    try:
        table = scan_directory(ingress)
        readable = os.access(locked, os.R_OK | os.X_OK)
    finally:
        locked.chmod(0o755)
    assert {"a/b/f.png", "a/g.jpg", "c.txt"} <= set(table["filepath_relative"])
    if readable:
        assert error_of(table, "locked/z.png") is None
    else:
        assert "Permission denied" in error_of(table, "locked")


@pytest.fixture
def refuse_to_list(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Opening a directory named in the yielded list raises PermissionError."""
    refused: list[str] = []
    real = scan.open_directory

    def open_directory(path: str) -> int:
        if Path(path).name in refused:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path)

    monkeypatch.setattr(scan, "open_directory", open_directory)
    yield refused


def test_directory_that_cannot_be_listed_is_one_row(
    ingress: Path, refuse_to_list: list[str]
) -> None:
    write(ingress / "a" / "locked" / "z.png")
    refuse_to_list.append("locked")
    table = scan_directory(ingress)
    assert {"a/b/f.png", "a/g.jpg", "c.txt"} <= set(table["filepath_relative"])
    assert not table["filepath_relative"].str.startswith("a/locked/z").any()
    found = rows(table)
    # The row names the directory like any other path: no trailing slash, its own name.
    assert "a/locked" in found, sorted(found)
    assert found["a/locked"]["filename"] == "locked"
    assert "cannot list directory: Permission denied" in found["a/locked"]["scan_error"]
    assert pd.isna(found["a/locked"]["size"])


def test_scan_does_not_depend_on_listing_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real directory and a symlink to it: whatever order the OS lists them in, the real
    directory's files keep their real paths and the symlink is the row with the error."""
    root = tmp_path / "ingress"
    write(root / "b_real" / "f.png")
    (root / "a_link").symlink_to("b_real", target_is_directory=True)
    (root / "z_link").symlink_to("b_real", target_is_directory=True)
    results = []
    for reverse in (False, True):
        list_in_name_order(monkeypatch, reverse)
        table = scan_directory(root)
        results.append(table.astype(str).to_dict("records"))
        assert "b_real/f.png" in set(table["filepath_relative"]), reverse
        assert error_of(table, "b_real/f.png") is None
        assert error_of(table, "a_link") is not None
        assert error_of(table, "z_link") is not None
    assert [[row["filepath_relative"] for row in result] for result in results] == [
        ["a_link", "b_real/f.png", "z_link"]
    ] * 2


def test_file_names_under_directories_with_newlines_and_bad_bytes(tmp_path: Path) -> None:
    """The file name is what follows the last slash, whatever the directories hold."""
    root = tmp_path / "ingress"
    odd = root / "two\nlines" / os.fsdecode(b"bad\xffbyte")
    odd.mkdir(parents=True)
    (odd / "a.png").write_bytes(b"x")
    table = scan_directory(root)
    assert table["filename"].tolist() == ["a.png"]
    assert table["filepath_relative"].tolist() == ["two\nlines/bad\\xffbyte/a.png"]
    assert table["scan_error"].tolist() == ["file path is not valid UTF-8"]


def test_a_listing_packed_in_batches_is_the_same_table(
    ingress: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows packed into arrays every few entries (a million-file walk holds no per-file
    objects) give the table one batch gives, non-UTF-8 names and errors included."""
    (ingress / os.fsdecode(b"bad\xffname.png")).write_bytes(b"x")
    (ingress / "link").symlink_to(tmp_path)
    whole = scan_directory(ingress)
    monkeypatch.setattr(scan, "BATCH", 2)
    pd.testing.assert_frame_equal(scan_directory(ingress), whole)
    assert len(whole) > 4
    assert whole["scan_error"].notna().sum() == 2


def test_a_file_gone_between_listing_and_lstat_is_a_row_and_its_neighbours_are_kept(
    ingress: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory's plain entries are lstat-ed in one go; when one of them fails, every
    entry of that directory is read on its own, so only the vanished one carries the error."""
    write(ingress / "a" / "b" / "gone.png", b"123")
    real = os.scandir

    def scandir(path: int) -> Iterator[os.DirEntry]:
        entries = list(real(path))
        if any(entry.name == "gone.png" for entry in entries):
            (ingress / "a" / "b" / "gone.png").unlink()  # after the listing, before the lstat
        return iter(entries)

    monkeypatch.setattr(scan.os, "scandir", scandir)
    table = scan_directory(ingress)
    assert error_of(table, "a/b/gone.png") == "cannot read: No such file or directory"
    assert pd.isna(rows(table)["a/b/gone.png"]["size"])
    assert error_of(table, "a/b/f.png") is None
    assert rows(table)["a/b/f.png"]["size"] == 5
    assert len(table) == len(ALL) + 1


def test_only_directories_are_opened_to_be_listed(tmp_path: Path) -> None:
    """A FIFO where a directory was (swapped in during the walk) is refused at once, never
    opened: opening it for reading would block until a writer came."""
    fifo = tmp_path / "was-a-directory"
    os.mkfifo(fifo)
    with pytest.raises(NotADirectoryError):
        scan.open_directory(str(fifo))
    write(tmp_path / "file.png")
    with pytest.raises(NotADirectoryError):
        scan.open_directory(str(tmp_path / "file.png"))
