"""Ingress you can trust: the real `workflow` job (`dagster job execute` in a subprocess) over a
hostile ingress tree (hostile.py), once with links never followed and once with
`follow_symlinks: within`.

Every entry must have a row in the file table, every entry that is not a valid planted asset
must carry an error, staging must hold exactly the planted valid files (by sha256 of the bytes
planted), the export must equal staging, nothing outside ingress may be read, staged or
exported, and no file may be lost. Both runs go in parallel, each under a timeout, so a hang
(a FIFO opened, a link loop walked) fails instead of blocking the suite.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from hidebound_dagster_tests.conftest import REPO
from hidebound_dagster_tests.reliability.hostile import (
    DEVICE,
    LINK_INSIDE_FILE,
    TRUNCATED,
    UNLISTABLE,
    Entry,
    HostileTree,
    close_quietly,
    make_hostile_tree,
    shown,
)

MODES = ("never", "within")
TIMEOUT = 240  # seconds per run: a hang fails the test
#: Categories the machine may refuse (mknod, dropping root's permission overrides).
OPTIONAL = {DEVICE, UNLISTABLE}
#: Drops root's permission overrides, so a mode-000 directory cannot be listed.
SETPRIV = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


@dataclass
class Run:
    """What one workflow run over one hostile tree left behind."""

    mode: str
    tree: HostileTree
    returncode: int | None
    log: str
    seconds: float
    files: pd.DataFrame
    assets: pd.DataFrame
    staging: Path
    exported: Path
    ingress_before: dict
    ingress_after: dict
    sentinel_before: dict
    sentinel_after: dict
    sentinel_atimes: dict[str, int]
    sentinel_atimes_after: dict[str, int]

    @property
    def rows(self) -> dict[str, dict]:
        return {row["filepath_relative"]: row for row in self.files.to_dict("records")}

    def asset_error(self, asset: str | None) -> str | None:
        if asset is None:
            return None
        found = self.assets.loc[self.assets["asset_path"] == shown(asset), "asset_error"]
        return found.iloc[0] if len(found) else None


# --- helpers -------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Every entry under root (directories included, links not followed), by shown path."""
    for directory, names, files in os.walk(root):
        for name in [*names, *files]:
            path = Path(directory) / name
            yield shown(path.relative_to(root).as_posix()), path


def tree_files(root: Path) -> dict[str, bytes]:
    """Every non-directory under root by shown relative path: a regular file's bytes, a link's
    text, or the type of anything else."""
    found: dict[str, bytes] = {}
    for relative, path in walk(root):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            found[relative] = b"LINK -> " + os.fsencode(path.readlink())
        elif stat.S_ISREG(mode):
            found[relative] = path.read_bytes()
        elif not stat.S_ISDIR(mode):  # never opened: a FIFO would block
            found[relative] = f"SPECIAL {stat.S_IFMT(mode):o}".encode()
    return found


def snapshot(
    root: Path, skip: frozenset[Path] = frozenset(), digests: bool = True
) -> dict[str, tuple]:
    """Type, permissions, size, times, link text and (with `digests`) a digest of every entry
    under root, read without opening anything but small regular files."""
    shot: dict[str, tuple] = {}
    for relative, path in walk(root):
        if path in skip:
            continue
        status = path.lstat()
        extra: object = None
        if stat.S_ISLNK(status.st_mode):
            extra = str(path.readlink())
        elif digests and stat.S_ISREG(status.st_mode) and status.st_size < (1 << 24):
            extra = sha256(path.read_bytes())
        shot[relative] = (
            status.st_mode,
            status.st_size,
            status.st_mtime_ns,
            status.st_ctime_ns,
            status.st_ino,
            extra,
        )
    return shot


def atime_is_kept(directory: Path) -> bool:
    """Whether reading a file whose access time is older than its modification time updates
    the access time here (relatime or strictatime), so a read of the sentinel is visible."""
    probe = directory / "atime-probe"
    probe.write_bytes(b"probe")
    status = probe.stat()
    os.utime(probe, ns=(status.st_mtime_ns - 10**9, status.st_mtime_ns))
    before = probe.stat().st_atime_ns
    probe.read_bytes()
    changed = probe.stat().st_atime_ns != before
    probe.unlink()
    return changed


def age_sentinel(sentinel: Path) -> None:
    """Set every sentinel file's access time a second before its modification time, so any
    read updates it."""
    for _, path in walk(sentinel):
        status = path.lstat()
        if stat.S_ISREG(status.st_mode):
            os.utime(path, ns=(status.st_mtime_ns - 10**9, status.st_mtime_ns))


def access_times(sentinel: Path) -> dict[str, int]:
    """The access time of every regular file under root, read without reading the files."""
    return {
        relative: path.lstat().st_atime_ns
        for relative, path in walk(sentinel)
        if stat.S_ISREG(path.lstat().st_mode)
    }


def without_root_overrides(directory: Path) -> list[str] | None:
    """A command prefix under which a mode-000 directory cannot be listed, or None if the
    machine allows none (then the unlistable category is skipped)."""
    locked = directory / "probe-locked"
    locked.mkdir()
    locked.chmod(0)
    probe = [sys.executable, "-c", "import os, sys; os.listdir(sys.argv[1])", str(locked)]
    try:
        for prefix in ([], SETPRIV):
            if prefix and not shutil.which(prefix[0]):
                continue
            done = subprocess.run([*prefix, *probe], capture_output=True, timeout=60)
            if done.returncode != 0 and b"PermissionError" in done.stderr:
                return prefix
        return None
    finally:
        locked.chmod(0o700)
        locked.rmdir()


def moving(tree: HostileTree) -> frozenset[Path]:
    """The entries the run's threads change on purpose: left out of the ingress snapshots."""
    swapped = tree.swapper.path
    return frozenset({tree.changing.path, swapped, swapped.parent})


def write_config(root: Path, ingress: Path, mode: str) -> Path:
    """The run's config: JSON is YAML, so every path is quoted whatever it holds."""
    config = {
        "ingress_directory": str(ingress),
        "staging_directory": str(root / "hidebound"),
        "specification_files": [str(REPO / "specs")],
        "write_mode": "copy",
        "follow_symlinks": mode,
        "workflow": ["delete", "update", "create", "export"],
        "exporters": [{"name": "disk", "target_directory": str(root / "exported")}],
    }
    path = root / "hidebound.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def read_table(home: Path, name: str) -> pd.DataFrame:
    path = home / "storage" / "tables" / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


# --- the two runs --------------------------------------------------------------------------


@dataclass
class Started:
    """A run under way: its tree, its process, and what was recorded before it began."""

    root: Path
    tree: HostileTree
    process: subprocess.Popen
    ingress_before: dict
    sentinel_before: dict
    sentinel_atimes: dict[str, int]
    start: float


def start(base: Path, mode: str, prefix: list[str] | None) -> Started:
    """Lay out a tree, age and snapshot its sentinel without reading it, start the frame
    rewriter and the workflow (its output to a file: no pipe to fill)."""
    root = base / mode
    tree = make_hostile_tree(root, unlistable_dirs=prefix is not None)
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    config = write_config(root, tree.ingress, mode)
    ingress_before = snapshot(tree.ingress, moving(tree))
    age_sentinel(tree.sentinel)
    sentinel_before = snapshot(tree.sentinel, digests=False)
    atimes = access_times(tree.sentinel)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIDEBOUND_")}
    env |= {"DAGSTER_HOME": str(home), "HIDEBOUND_CONFIG_FILEPATH": str(config)}
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [*(prefix or []), dagster, "job", "execute", "-m"]
    command += ["hidebound_dagster.definitions", "-j", "workflow"]
    tree.changing.start()
    tree.swapper.start()
    with (root / "dagster.log").open("w") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=log)
    return Started(root, tree, process, ingress_before, sentinel_before, atimes, time.monotonic())


def finish(started: Started, mode: str) -> Run:
    """Wait for the run (killing it at the timeout), stop the rewriter, close the sockets,
    record the sentinel's access times first, then read what the run left."""
    tree, root = started.tree, started.root
    try:
        returncode: int | None = started.process.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        started.process.kill()
        started.process.wait()
        returncode = None
    seconds = time.monotonic() - started.start
    atimes_after = access_times(tree.sentinel)
    tree.changing.finish()
    tree.swapper.finish()
    tree.close()
    home = root / "dagster_home"
    return Run(
        mode=mode,
        tree=tree,
        returncode=returncode,
        log=(root / "dagster.log").read_text(errors="replace"),
        seconds=seconds,
        files=read_table(home, "file_table"),
        assets=read_table(home, "asset_table"),
        staging=root / "hidebound",
        exported=root / "exported",
        ingress_before=started.ingress_before,
        ingress_after=snapshot(tree.ingress, moving(tree)),
        sentinel_before=started.sentinel_before,
        sentinel_after=snapshot(tree.sentinel, digests=False),
        sentinel_atimes=started.sentinel_atimes,
        sentinel_atimes_after=atimes_after,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Both hostile trees, both workflow runs at once (each its own DAGSTER_HOME, config and
    export target), each frame rewriter running while its workflow does."""
    base = tmp_path_factory.mktemp("hostile")
    prefix = without_root_overrides(base)
    started: dict[str, Started] = {}
    try:
        for mode in MODES:
            started[mode] = start(base, mode, prefix)
        yield {mode: finish(each, mode) for mode, each in started.items()}
    finally:
        for each in started.values():
            if each.process.poll() is None:
                each.process.kill()
                each.process.wait()
            close_quietly(each.tree)


@pytest.fixture(params=MODES)
def run(request: pytest.FixtureRequest, runs: dict[str, Run]) -> Run:
    return runs[request.param]


# --- every run -----------------------------------------------------------------------------


def test_the_workflow_finishes_within_its_timeout_and_succeeds(run: Run) -> None:
    """A hang (an opened FIFO, a walked loop) is a timeout; a crash is a non-zero code."""
    assert run.returncode is not None, (
        f"{run.mode}: no result after {TIMEOUT} s:\n{run.log[-3000:]}"
    )
    assert run.returncode == 0, run.log[-5000:]
    assert "RUN_SUCCESS" in run.log


def test_every_entry_has_a_row(run: Run) -> None:
    """Nothing the scan met is silently dropped: each entry is a row, or lies under a directory
    whose row says why it could not be listed (and then has no row of its own)."""
    rows = set(run.files["filepath_relative"])
    missing, leaked = [], []
    for entry in run.tree.entries:
        if entry.holder:
            if shown(entry.holder) not in rows:
                missing.append(f"{entry.holder!r} (holding {entry.path!r})")
            if entry.shown in rows:
                leaked.append(entry.path)
        elif run.mode == "within" and entry.scope == "inside-dir-unseen":
            continue  # followed: its files are the rows (checked below)
        elif entry.shown not in rows:
            missing.append(f"{entry.path!r} [{entry.category}]")
    if run.mode == "within":
        missing += [repr(e.path) for e in run.tree.followed if e.shown not in rows]
    assert not missing, f"{len(missing)} entries without a row:\n" + "\n".join(missing)
    assert not leaked, f"rows for entries of directories that cannot be listed: {leaked}"


def test_every_entry_not_staged_carries_an_error(run: Run) -> None:
    """An entry that is not part of a valid planted asset says why: on its own row, on the row
    of the directory that holds it, on its asset's row, or (an asset changed since update) in
    create's warning."""
    rows = run.rows
    silent = []
    for entry in run.tree.entries:
        if entry.must_stage(run.mode):
            continue
        if run.mode == "within" and entry.scope == "inside-dir-unseen":
            continue  # its followed files are a valid asset
        row = rows.get(shown(entry.holder or entry.path), {})
        left_out = entry.asset and f"not staged: {shown(entry.asset)}: " in run.log
        if not (row.get("file_error") or run.asset_error(entry.asset) or left_out):
            silent.append(f"{entry.path!r} [{entry.category}]: {row.get('file_error')!r}")
    assert not silent, f"{len(silent)} refused entries without an error:\n" + "\n".join(silent)


def staged_files(run: Run) -> dict[str, bytes]:
    return tree_files(run.staging / "content")


def is_changing(run: Run, path: str) -> bool:
    return path.startswith(run.tree.changing.asset + "/")


def test_staging_holds_exactly_the_planted_valid_files(run: Run) -> None:
    """Path -> sha256 of staging's content equals the manifest of the bytes planted for the
    valid assets: nothing extra (a link's target, a sparse file, a sentinel), nothing lost."""
    staged = {p: sha256(d) for p, d in staged_files(run).items() if not is_changing(run, p)}
    expected = run.tree.expected_staged(run.mode)
    extra = sorted(set(staged) - set(expected))
    missing = sorted(set(expected) - set(staged))
    differ = sorted(p for p in set(staged) & set(expected) if staged[p] != expected[p])
    assert (extra, missing, differ) == ([], [], []), (
        f"staged but not planted valid: {extra}\nplanted valid, not staged: {missing}\n"
        f"staged with other bytes: {differ}"
    )


def file_metadata(root: Path) -> dict[str, dict]:
    records = {}
    for path in sorted((root / "metadata" / "file").glob("*.json")):
        record = json.loads(path.read_text())
        records[record["filepath_relative"]] = record
    return records


def test_the_changing_asset_is_staged_whole_with_true_digests_or_left_out_with_a_message(
    run: Run,
) -> None:
    """A frame rewritten in place during the run: the asset is staged whole, each file's bytes
    one version planted and matching its sha256 in metadata, or it is left out and said so."""
    changing = run.tree.changing
    assert changing.rewrites > 0, "the rewriting thread never ran"
    staged = {p: d for p, d in staged_files(run).items() if is_changing(run, p)}
    planted = {e.shown: e.data for e in run.tree.entries if e.changing}
    if not staged:
        said = run.asset_error(changing.asset) or f"not staged: {changing.asset}" in run.log
        assert said, f"{changing.asset} left out without a message"
        return
    assert set(staged) == set(planted), "staged in part"
    records = file_metadata(run.staging)
    middle = shown(str(changing.path.relative_to(run.tree.ingress)))
    for path, data in staged.items():
        assert records[path]["sha256"] == sha256(data), f"{path}: bytes differ from metadata"
        allowed = changing.versions if path == middle else [planted[path]]
        assert data in allowed, f"{path}: staged bytes were never planted (a torn copy)"


def test_metadata_describes_exactly_the_staged_bytes(run: Run) -> None:
    """Each staged file has file metadata whose sha256 and size are its bytes', and whose
    ingress path resolves inside ingress."""
    staged = staged_files(run)
    records = file_metadata(run.staging)
    assert set(records) == set(staged)
    ingress = run.tree.ingress.resolve()
    for path, data in staged.items():
        record = records[path]
        assert (record["sha256"], record["size"]) == (sha256(data), len(data)), path
        source = Path(record["ingress_filepath"]).resolve()
        assert ingress in source.parents, f"{path} was staged from {source}"


def test_the_export_equals_staging(run: Run) -> None:
    """The disk export mirrors staging's content and metadata exactly."""
    assert staged_files(run), "nothing staged"
    assert tree_files(run.exported / "content") == staged_files(run)
    assert tree_files(run.exported / "metadata") == tree_files(run.staging / "metadata")


def test_nothing_outside_ingress_is_read_staged_or_exported(run: Run) -> None:
    """No sentinel byte, no link and no path leading outside appears in staging or the
    export: every entry there is a regular file or directory inside its own tree."""
    for root in (run.staging, run.exported):
        resolved = root.resolve()
        for relative, path in walk(root):
            mode = path.lstat().st_mode
            assert stat.S_ISREG(mode) or stat.S_ISDIR(mode), f"{root}/{relative} is not a file"
            assert resolved in path.resolve().parents, f"{relative} resolves outside {root}"
            assert "sentinel" not in relative and "outside" not in relative, relative
            if stat.S_ISREG(mode):
                data = path.read_bytes()
                for token in run.tree.tokens:
                    assert token not in data, f"sentinel bytes in {root}/{relative}"


def test_the_sentinel_is_never_touched(run: Run) -> None:
    """The sentinel is as planted: same entries, types, sizes, times and bytes; its FIFOs have
    no reader; and (where the filesystem keeps access times) none of its files was read."""
    assert run.sentinel_after == run.sentinel_before
    swap_target = run.tree.swapper.target.relative_to(run.tree.sentinel).as_posix()
    if atime_is_kept(run.tree.root):
        read = [
            relative
            for relative, atime in run.sentinel_atimes.items()
            if run.sentinel_atimes_after.get(relative) != atime and relative != swap_target
        ]
        assert not read, f"sentinel files read: {read}"
    for fifo in run.tree.sentinel_fifos:
        with pytest.raises(OSError) as raised:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        assert raised.value.errno == errno.ENXIO, f"{fifo} has a reader"
    found = b"".join(data for data in tree_files(run.tree.sentinel).values())
    assert all(token in found for token in run.tree.tokens)


def test_no_file_in_ingress_is_lost_or_changed(run: Run) -> None:
    """Copy mode leaves ingress as planted: every entry, its type, size, time and bytes."""
    lost = sorted(set(run.ingress_before) - set(run.ingress_after))
    changed = sorted(
        path
        for path in set(run.ingress_before) & set(run.ingress_after)
        if run.ingress_before[path] != run.ingress_after[path]
    )
    assert (lost, changed) == ([], []), f"lost: {lost}\nchanged: {changed}"
    assert run.tree.changing.path.read_bytes() == run.tree.changing.versions[0]


def test_truncated_frames_and_bombs_are_refused_by_the_full_decode(run: Run) -> None:
    """Raw001 requires `decodes`: a frame cut inside its pixel data (header read: 32 pixels
    wide) and a header claiming 8000 x 8000 pixels fail that trait, not the header."""
    rows = run.rows
    cut = [e for e in run.tree.entries if e.category == TRUNCATED and e.path.endswith("f0002.png")]
    assert len(cut) == 3
    bombs = [e for e in run.tree.entries if "/p-cat001_s-raw001_d-bomb_v001/" in e.path]
    assert len(bombs) == 2
    for entry, width in [*((e, 32) for e in cut), *((e, 8000) for e in bombs)]:
        row = rows[entry.shown]
        assert row["width"] == width, entry.path
        assert "decodes" in (row["file_error"] or ""), (entry.path, row["file_error"])


def test_a_tile_swapped_for_an_outside_link_after_the_scan_is_not_read_through_it(
    run: Run,
) -> None:
    """A regular file the scan listed, replaced by a link to a sentinel image before its traits
    are read: nothing may read through that link (the scan promises only regular files inside
    ingress are read), and the asset must not be staged."""
    swapper = run.tree.swapper
    if swapper.problem:
        pytest.skip(swapper.problem)
    assert swapper.swapped, "the scan never listed the tile's directory"
    row = run.rows[shown(swapper.path.relative_to(run.tree.ingress).as_posix())]
    if not pd.isna(row["scan_error"]):
        pytest.skip(f"race lost: the link was in place before the scan ({row['scan_error']})")
    assert not [p for p in staged_files(run) if p.startswith(swapper.asset + "/")]
    relative = swapper.target.relative_to(run.tree.sentinel).as_posix()
    if atime_is_kept(run.tree.root):
        assert run.sentinel_atimes_after[relative] == run.sentinel_atimes[relative], (
            f"the sentinel's {relative} was read through the link swapped in at "
            f"{swapper.path.relative_to(run.tree.ingress)} (traits: "
            f"{ {k: row.get(k) for k in ('width', 'height', 'file_error')} })"
        )


# --- links, by policy ----------------------------------------------------------------------


def links(run: Run) -> list[Entry]:
    return [e for e in run.tree.entries if e.kind == "link"]


def test_links_are_error_rows_and_never_followed_by_default(runs: dict[str, Run]) -> None:
    run = runs["never"]
    rows = run.rows
    paths = list(rows)
    for link in links(run):
        assert rows[link.shown]["file_error"], link.path
        assert not [p for p in paths if p.startswith(link.shown + "/")], f"{link.path} followed"


def test_within_follows_file_links_inside_ingress(runs: dict[str, Run]) -> None:
    """A link to a file inside ingress is a row under the link's own path, with the target's
    size; a link to a valid image with a valid name is staged with the target's bytes."""
    run = runs["within"]
    rows = run.rows
    followed = [e for e in links(run) if e.scope == "inside-file"]
    assert len(followed) >= 5
    for link in followed:
        target = run.tree.ingress / link.target  # type: ignore[operator]
        row = rows[link.shown]
        if stat.S_ISREG(target.lstat().st_mode):
            assert row["size"] == target.stat().st_size, link.path
            assert pd.isna(row["scan_error"]), (link.path, row["scan_error"])
        else:
            assert row["file_error"], link.path  # the FIFO behind it
    staged = staged_files(run)
    for link in followed:
        if link.staged_within:
            assert staged.get(link.shown) == link.data, f"{link.path} not staged as its target"


def test_within_scans_each_directory_once(runs: dict[str, Run]) -> None:
    """Links to directories already scanned are error rows with nothing under them; each
    planted file is a row once, plus once per file link to it; a directory reachable only
    through a link is listed under the link."""
    run = runs["within"]
    rows = run.rows
    paths = list(rows)
    for link in links(run):
        under = [p for p in paths if p.startswith(link.shown + "/")]
        if link.scope == "inside-dir-unseen":
            assert len(under) == len([e for e in run.tree.followed]), link.path
            continue
        assert rows[link.shown]["file_error"], link.path
        assert not under, f"{link.path} followed into {under[:3]}"
    expected: collections.Counter[tuple[int, int]] = collections.Counter()
    for entry in [*run.tree.entries, *run.tree.followed]:
        path = run.tree.ingress / entry.path
        if path == run.tree.swapper.path:
            continue  # put back after the run: a new inode
        listed = entry.category != UNLISTABLE or entry in run.tree.followed
        if entry.kind == "file" and listed and not entry.holder:
            status = path.stat()
        elif entry.kind == "link" and entry.scope == "inside-file":
            status = path.stat()
            if not stat.S_ISREG(status.st_mode):
                continue
        else:
            continue
        expected[(status.st_dev, status.st_ino)] += 1
    found = collections.Counter(
        (int(row["device"]), int(row["inode"]))
        for row in rows.values()
        if not pd.isna(row["inode"]) and (int(row["device"]), int(row["inode"])) in expected
    )
    assert found == expected


def test_within_still_refuses_links_that_leave_ingress(runs: dict[str, Run]) -> None:
    run = runs["within"]
    rows = run.rows
    paths = list(rows)
    outside = [e for e in links(run) if e.scope == "outside"]
    assert len(outside) >= 15
    for link in outside:
        assert rows[link.shown]["file_error"], link.path
        assert not [p for p in paths if p.startswith(link.shown + "/")], link.path


# --- the figures ---------------------------------------------------------------------------


def test_figures(runs: dict[str, Run], capsys: pytest.CaptureFixture[str]) -> None:
    """Print what the suite tried and what came of it; at least 250 entries in at least 15
    categories, the machine-dependent ones aside."""
    lines = []
    for mode, run in runs.items():
        entries = run.tree.entries
        staged = staged_files(run)
        refused = [e for e in entries if not e.must_stage(mode)]
        lost = len(set(run.ingress_before) - set(run.ingress_after))
        rewritten = "staged" if any(is_changing(run, p) for p in staged) else "left out"
        lines.append(
            f"hostile ingress [{mode}]: {len(entries)} entries tried in "
            f"{len(run.tree.categories)} categories; {len(staged)} files staged; "
            f"{len(refused)} entries refused; files lost: {lost}; "
            f"frame rewrites during the run: {run.tree.changing.rewrites} (asset {rewritten}); "
            f"run {run.seconds:.1f} s; skipped: {run.tree.skipped or 'nothing'}"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    for run in runs.values():
        assert len(run.tree.entries) >= 250
        assert len(run.tree.categories - OPTIONAL) >= 15
        assert any(e.category == LINK_INSIDE_FILE for e in run.tree.entries)
