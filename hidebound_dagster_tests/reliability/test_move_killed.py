"""write_mode: move never loses a file, even when the process doing it is killed (SIGKILL) at
any instant: every original file stays byte-identical in ingress, in <staging>/content, or in
both; restore_interrupted puts an interrupted move back; a run to completion afterwards stages
everything. Done on one filesystem and across filesystems (ingress on /dev/shm, a tmpfs).

The killed processes are children forked by one `move_worker.py --serve` process, so each run
starts in milliseconds instead of paying the imports again.
"""

from __future__ import annotations

import hashlib
import json
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hidebound_dagster.core.staging import complete, restore_interrupted
from hidebound_dagster_tests.conftest import write_frames
from hidebound_dagster_tests.reliability.signals import kill, pidfd

pytestmark = pytest.mark.slow

WORKER = Path(__file__).parents[1] / "core" / "move_worker.py"
REPO = Path(__file__).resolve().parents[2]
SEQUENCES = 3
FRAMES = 100  # 300 tiny PNGs


class Worker:
    """`move_worker.py --serve`, spoken to line by line."""

    def __init__(self, log: Path) -> None:
        self.stderr = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), "--serve"],
            cwd=REPO,
            text=True,
            bufsize=1,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.history: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.expect("ready", timeout=120)

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, prefix: str, timeout: float = 60) -> list[str]:
        """The words of the next line starting with prefix; other lines go to history."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no {prefix!r} line within {timeout} s; seen {self.history[-5:]}"
                ) from None
            if line.startswith("error"):
                raise AssertionError(f"worker failed: {line}")
            if line.startswith(prefix):
                return line.split()
            self.history.append(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.send("quit")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    server = Worker(tmp_path_factory.mktemp("worker") / "stderr.log")
    yield server
    server.close()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """300 tiny PNG frames in three valid sequences, and their manifest (path -> sha256)."""
    root = tmp_path_factory.mktemp("pristine") / "ingress"
    for index in range(SEQUENCES):
        write_frames(
            root,
            f"cat001/raw001/p-cat001_s-raw001_d-crash{index}_v001",
            range(1, FRAMES + 1),
            size=(2, 2),
        )
    manifest = {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
    assert len(manifest) == SEQUENCES * FRAMES
    return {"root": root, "manifest": manifest}


@pytest.fixture(params=["same-filesystem", "across-filesystems"])
def places(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(ingress, staging): both under tmp_path, or ingress on /dev/shm."""
    if request.param == "same-filesystem":
        yield tmp_path / "ingress", tmp_path / "hidebound"
        return
    shm = Path("/dev/shm") / f"hidebound-crash-{uuid.uuid4().hex[:8]}"
    shm.mkdir()
    assert shm.stat().st_dev != tmp_path.stat().st_dev
    try:
        yield shm / "ingress", tmp_path / "hidebound"
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def reset(pristine: dict, ingress: Path, staging: Path) -> None:
    """A fresh ingress (same bytes and mtimes as the prepared tables saw) and no staging."""
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(ingress, ignore_errors=True)
    shutil.copytree(pristine["root"], ingress)


def intact(path: Path, digest: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == digest
    except OSError:
        return False


def where(manifest: dict[str, str], ingress: Path, staging: Path) -> dict[str, set[str]]:
    """For each original file, where an intact copy is: {'ingress', 'content'} or a subset."""
    return {
        relative: {
            name
            for name, root in (("ingress", ingress), ("content", staging / "content"))
            if intact(root / relative, digest)
        }
        for relative, digest in manifest.items()
    }


def partial_files(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*.partial")]


def run_to_exit(worker: Worker, ingress: Path, staging: Path, mode: str) -> dict[str, float]:
    """One uninterrupted run; the monotonic times of its events."""
    worker.send(f"run {ingress} {staging} {mode}")
    worker.expect("child")
    start = len(worker.history)
    code = int(worker.expect("exit", timeout=120)[2])
    assert code == 0, worker.history[start:]
    return {
        line.split()[0]: float(line.split()[1])
        for line in worker.history[start:]
        if line.split()[0] in ("staging", "staged", "done")
    }


def killed_run(
    worker: Worker, ingress: Path, staging: Path, after: tuple[str, int], delay: float
) -> tuple[int, list[str]]:
    """Start a prepared run and SIGKILL it `delay` seconds after its n-th line of a kind
    (('child', 0): right after the fork; ('progress', 3): after three tenths of the files were
    moved; ('staged', 0): once every file is moved, while the metadata is written); return its
    exit code and the event lines it printed."""
    worker.send(f"run {ingress} {staging} prepared")
    handle = pidfd(int(worker.expect("child")[1]))
    start = len(worker.history)
    kind, count = after
    if kind != "child":
        worker.expect("staging")
    for _ in range(count if kind == "progress" else 0):
        worker.expect("progress")
    if kind == "staged":
        worker.expect("staged")
    time.sleep(delay)
    kill(handle)
    code = int(worker.expect("exit")[2])
    return code, [line.split()[0] for line in worker.history[start:]]


def test_move_killed_at_any_instant_loses_no_file(
    worker: Worker, pristine: dict, places: tuple[Path, Path]
) -> None:
    ingress, staging = places
    manifest = pristine["manifest"]

    # An uninterrupted run first, to see how long a tenth of the move and the metadata take.
    reset(pristine, ingress, staging)
    worker.send(f"prepare {ingress} {staging}")
    assert int(worker.expect("prepared", timeout=120)[1]) == len(manifest)
    times = run_to_exit(worker, ingress, staging, "prepared")
    tenth = (times["staged"] - times["staging"]) / 10
    meta = times["done"] - times["staged"]
    assert all(found == {"content"} for found in where(manifest, ingress, staging).values())

    kills = [(("child", 0), 0.0), (("child", 0), 0.002)]  # right after the start
    kills += [(("staged", 0), meta * f) for f in (0.0, 0.5)]  # writing the metadata
    kills += [(("progress", k), tenth * f) for k in range(10) for f in (0.0, 0.5)]  # moving
    kills.append(kills.pop(kills.index((("progress", 5), tenth * 0.5))))  # end mid-move, so
    # the final run starts from a restored interrupted move
    mid_move = 0
    outcomes = []
    for after, delay in kills:
        reset(pristine, ingress, staging)
        code, events = killed_run(worker, ingress, staging, after, delay)
        found = where(manifest, ingress, staging)
        lost = sorted(relative for relative, places_ in found.items() if not places_)
        assert lost == [], f"killed {delay:.4f} s after {after} ({events}): lost {lost[:5]}"
        moved = sum("content" in p for p in found.values())
        mid_move += 0 < moved < len(manifest)
        outcomes.append((after, round(delay, 4), code, moved, events[-1:]))

        restore_interrupted(ingress, staging)
        found = where(manifest, ingress, staging)
        assert ingress.is_dir()
        if complete(staging):  # the run finished before it was killed: all staged
            assert all("content" in p for p in found.values()), outcomes[-1]
        else:  # everything is back in ingress, nothing is left in content
            assert all(p == {"ingress"} for p in found.values()), outcomes[-1]
            assert not [p for p in (staging / "content").rglob("*") if p.is_file()]
        assert partial_files(ingress, staging) == []

    assert len(set(kills)) >= 20
    assert mid_move >= 6, f"too few kills landed inside the move: {outcomes}"

    # A whole new run (update and create) from the restored state finishes and stages all.
    if complete(staging):  # the last kill came too late to interrupt anything
        reset(pristine, ingress, staging)
    run_to_exit(worker, ingress, staging, "full")
    assert all(found == {"content"} for found in where(manifest, ingress, staging).values())
    records = [json.loads(p.read_text()) for p in (staging / "metadata" / "file").iterdir()]
    assert {r["filepath_relative"]: r["sha256"] for r in records} == manifest
    assert len(list((staging / "metadata" / "asset").iterdir())) == SEQUENCES
    (chunk,) = (staging / "metadata" / "file-chunk").iterdir()
    assert len(json.loads(chunk.read_text())) == len(manifest)
    assert ingress.is_dir() and not [p for p in ingress.rglob("*") if p.is_file()]
