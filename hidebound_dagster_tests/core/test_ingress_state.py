"""The ingress fingerprint: it changes with any entry's path, size or mtime and with entries
added or removed, and with nothing else (not the order the OS lists entries in)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hidebound_dagster.core import scan
from hidebound_dagster.core.ingress_state import ingress_state
from hidebound_dagster_tests.core.listing_order import list_in_name_order

TIME = 1_700_000_000_123_456_789


def write(path: Path, data: bytes, mtime_ns: int = TIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


@pytest.fixture
def ingress(tmp_path: Path) -> Path:
    root = tmp_path / "ingress"
    write(root / "a.png", b"1")
    write(root / "b.png", b"22", TIME + 1)
    write(root / "d" / "c.png", b"333", TIME + 2)
    write(root / "d" / "e" / "f.png", b"4444", TIME - 5)
    return root


def digest(root: Path) -> str:
    return ingress_state(root).digest


def test_counts_bytes_and_newest_time(ingress: Path) -> None:
    state = ingress_state(ingress)
    assert (state.files, state.bytes, state.newest_mtime_ns) == (4, 1 + 2 + 3 + 4, TIME + 2)


def test_the_same_tree_gives_the_same_digest(ingress: Path) -> None:
    assert digest(ingress) == digest(ingress)


def test_content_and_access_time_are_not_part_of_the_digest(ingress: Path) -> None:
    """Only path, size and mtime are fingerprinted: same-size bytes written with the mtime
    put back, or a read, change nothing."""
    before = digest(ingress)
    write(ingress / "b.png", b"xy", TIME + 1)
    os.utime(ingress / "a.png", ns=(TIME + 999, TIME))
    assert digest(ingress) == before


def rename(root: Path) -> None:
    (root / "a.png").rename(root / "a2.png")


def move_between_directories(root: Path) -> None:
    (root / "a.png").rename(root / "d" / "a.png")


def grow(root: Path) -> None:
    write(root / "a.png", b"11")  # mtime put back


def touch(root: Path) -> None:
    os.utime(root / "a.png", ns=(TIME + 1, TIME + 1))


def add(root: Path) -> None:
    write(root / "d" / "new.png", b"")


def remove(root: Path) -> None:
    (root / "d" / "e" / "f.png").unlink()


def add_empty_directory(root: Path) -> None:
    (root / "empty").mkdir()


def replace_by_link(root: Path) -> None:
    (root / "a.png").unlink()
    (root / "a.png").symlink_to(root / "b.png")


@pytest.mark.parametrize(
    ("change", "changes_digest"),
    [
        (rename, True),
        (move_between_directories, True),
        (grow, True),
        (touch, True),
        (add, True),
        (remove, True),
        (replace_by_link, True),
        (add_empty_directory, False),  # directories are not rows
    ],
)
def test_digest_changes_with_path_size_mtime_and_membership(
    ingress: Path, change: Callable[[Path], None], changes_digest: bool
) -> None:
    before = digest(ingress)
    change(ingress)
    assert (digest(ingress) != before) is changes_digest


def test_swapping_two_entries_sizes_changes_the_digest(ingress: Path) -> None:
    """The same sizes and times overall, on other paths: a digest that hashed paths, sizes and
    times apart and summed them would miss it."""
    before = digest(ingress)
    write(ingress / "a.png", b"22")
    write(ingress / "b.png", b"1", TIME + 1)
    assert digest(ingress) != before


def test_swapping_two_entries_mtimes_changes_the_digest(ingress: Path) -> None:
    before = digest(ingress)
    os.utime(ingress / "a.png", ns=(TIME + 1, TIME + 1))
    os.utime(ingress / "b.png", ns=(TIME, TIME))
    assert digest(ingress) != before


def test_digest_does_not_depend_on_listing_order_or_batches(
    ingress: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever order the OS lists entries in, and however the rows are batched, the same
    tree gives the same digest."""
    for index in range(20):
        write(ingress / "d" / f"more{index:02d}.png", bytes(index), TIME + index)
    expected = digest(ingress)
    for reverse in (False, True):
        list_in_name_order(monkeypatch, reverse)
        for batch in (3, 7, scan.BATCH):
            monkeypatch.setattr(scan, "BATCH", batch)
            assert digest(ingress) == expected, (reverse, batch)


def test_include_and_exclude_choose_what_is_fingerprinted(ingress: Path) -> None:
    state = ingress_state(ingress, include_regex=r"^d/", exclude_regex=r"f\.png$")
    assert (state.files, state.bytes, state.newest_mtime_ns) == (1, 3, TIME + 2)
    write(ingress / "a.png", b"changed size")  # not selected
    assert ingress_state(ingress, r"^d/", r"f\.png$").digest == state.digest
    write(ingress / "d" / "c.png", b"changed size")
    assert ingress_state(ingress, r"^d/", r"f\.png$").digest != state.digest


def test_an_ingress_of_links_only_has_no_newest_time(tmp_path: Path) -> None:
    """Rows without a status (links are not followed) count as files but have no time."""
    root = tmp_path / "ingress"
    root.mkdir()
    (root / "link.png").symlink_to(tmp_path)
    state = ingress_state(root)
    assert (state.files, state.bytes, state.newest_mtime_ns) == (1, 0, 0)
    assert state.settling_seconds(TIME, 30) == 0


def test_empty_ingress(tmp_path: Path) -> None:
    state = ingress_state(tmp_path)
    assert (state.files, state.bytes, state.newest_mtime_ns) == (0, 0, 0)
    (tmp_path / "x.png").write_bytes(b"")
    assert digest(tmp_path) != state.digest
