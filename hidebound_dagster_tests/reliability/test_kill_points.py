"""Kill points: the process doing a copy-mode create, a metadata write, a delete (copy mode, and
move mode after a recorded export) or a disk export is SIGKILLed at chosen moments, and then

- nothing is lost: ingress is untouched in copy mode; in move mode every file is intact in
  staging or in the export target, whichever of them still holds it;
- nothing half-done is visible: content, metadata and the manifest are absent, old or whole,
  never a mix, and every file in an export target is whole;
- a re-run to completion (for create the whole pipeline update -> create -> metadata) leaves
  exactly the trees an uninterrupted run leaves (path -> sha256 of every file, and every
  directory), with no work directory, partial or temporary file anywhere.

Kill points are placed three ways: at a progress line (every tenth of a create or an export), at
a fraction of the time an uninterrupted run took, and exactly before the n-th file system call of
the operation (the child kills itself there, so the one-rename windows of a swap are hit every
time). Every expected tree comes from an uninterrupted run in the `world` fixture, never from the
run being checked. The children are forked by one `kill_worker.py --serve` process, so a run
starts in milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from hidebound_dagster_tests.reliability.signals import kill, pidfd

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WORKER = "hidebound_dagster_tests.reliability.kill_worker"
SEQUENCES = ("kill0", "kill1", "kill2")
FRAMES = 100  # 300 tiny PNGs
OLD_SEQUENCES = ("old0",)  # an earlier ingress, whose staging a create replaces
OLD_FRAMES = 40
KILLED = -signal.SIGKILL
DIRECTORY = "<directory>"
MINIMUM_KILL_POINTS = 50
OPERATIONS = ("create", "metadata", "delete-copy", "delete-move", "export")
#: operation -> kill point -> survived: the process was killed there and every check held
#: (after every re-run tried from there, when there are several)
SURVIVED: dict[str, dict[str, bool]] = {}

Tree = dict[str, str]  # relative POSIX path -> sha256 of a file, or DIRECTORY
Snapshot = dict[str, Tree]  # root name -> its tree


def tree(root: Path) -> Tree:
    """Every file (by sha256) and every directory under root, hidden ones included."""
    entries: Tree = {}
    if not root.exists():
        return entries
    for directory, names, files in os.walk(root):
        base = Path(directory).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        entries.update({prefix + name: DIRECTORY for name in names})
        for name in files:
            path = Path(directory, name)
            entries[prefix + name] = (
                f"-> {path.readlink()}"
                if path.is_symlink()
                else hashlib.sha256(path.read_bytes()).hexdigest()
            )
    return entries


def subtree(entries: Tree, top: str) -> Tree | None:
    """The tree under one top-level directory; None when it is absent."""
    if entries.get(top) != DIRECTORY:
        return None
    cut = len(top) + 1
    return {path[cut:]: value for path, value in entries.items() if path.startswith(top + "/")}


def differences(where: str, actual: Tree, expected: Tree, limit: int = 4) -> list[str]:
    """What differs between two trees, in a few words per kind of difference."""
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(p for p in expected.keys() & actual.keys() if actual[p] != expected[p])
    return [
        f"{where}: {len(paths)} {label}: {paths[:limit]}"
        for label, paths in (("missing", missing), ("unexpected", extra), ("different", changed))
        if paths
    ]


def is_leftover(path: str) -> bool:
    """A work directory, partial copy or temporary file of some operation."""
    return (
        any(
            part.startswith((".content-", ".metadata-")) or part.endswith((".partial", ".tmp"))
            for part in path.split("/")
        )
        or path.split("/")[0] == ".hidebound-partial"
    )


def leftovers(snapshot: Snapshot) -> list[str]:
    """Everything some operation left behind, in any of the roots."""
    found = sorted(
        f"{root}/{path}"
        for root, entries in snapshot.items()
        for path in entries
        if is_leftover(path)
    )
    return [f"left behind: {found[:6]}"] if found else []


def write_sequences(root: Path, descriptors: tuple[str, ...], frames: int) -> None:
    """Valid raw001 sequences of 2x2 PNG frames, each frame's bytes its own (the colour encodes
    the sequence and the frame), so a file at another file's path is caught."""
    for index, descriptor in enumerate(descriptors):
        name = f"p-cat001_s-raw001_d-{descriptor}_v001"
        directory = root / "cat001" / "raw001" / name
        directory.mkdir(parents=True)
        for frame in range(1, frames + 1):
            colour = (frame % 256, frame // 256, index)
            Image.new("RGB", (2, 2), colour).save(directory / f"{name}_f{frame:04d}.png")


@dataclass
class Run:
    """What a child printed, and how it ended."""

    code: int
    lines: list[str]

    def words(self, kind: str) -> list[str]:
        return next((line.split() for line in self.lines if line.startswith(kind + " ")), [])

    @property
    def error(self) -> str:
        return next((line for line in self.lines if line.startswith("error")), "")

    @property
    def seconds(self) -> float:
        return float(self.words("done")[1]) - float(self.words("start")[1])

    @property
    def calls(self) -> int:
        return int(self.words("done")[2])

    def marks(self, name: str) -> list[int]:
        """The call numbers of each rename or replace the counted run made."""
        marks = self.words("done")[3]
        return [int(m.split(":")[1]) for m in marks.split(",") if m.startswith(name + ":")]


@dataclass(frozen=True)
class KillPoint:
    """Where a run is killed: `call` just before its n-th file system call (the child kills
    itself), `line` at its n-th progress line, `time` that fraction of an uninterrupted run's
    time after it started."""

    start: str  # the state the operation starts from
    kind: str
    at: float

    def __str__(self) -> str:
        at = f"{self.at:g}" if self.kind == "time" else str(int(self.at))
        return f"{self.start}/{self.kind}={at}"


class Worker:
    """`kill_worker.py --serve`, spoken to line by line."""

    def __init__(self, log: Path) -> None:
        self.stderr = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", WORKER, "--serve"],
            cwd=REPO,
            text=True,
            bufsize=1,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._until([], lambda line: line == "ready", timeout=120)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.queue.put(line.rstrip("\n"))

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def _until(self, lines: list[str], stop: Callable[[str], bool], timeout: float = 120) -> str:
        """Read lines into `lines` up to and including the first that `stop` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=1.0)
            except queue.Empty:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"worker ended or silent (exit {self.process.poll()}, stderr in "
                        f"{self.stderr.name}) after {lines[-5:]}"
                    ) from None
                continue
            if line.startswith("failed"):
                raise AssertionError(f"worker refused a command: {line}")
            lines.append(line)
            if stop(line):
                return line

    def prepare(self, ingress: Path, staging: Path) -> int:
        self.send(f"prepare {ingress} {staging}")
        return int(self._until([], lambda line: line.startswith("prepared ")).split()[1])

    def _begin(self, kill_at: str, args: tuple[str | Path, ...]) -> tuple[int, list[str]]:
        """Start a run: the child's pid, and the child's own lines that came before the
        parent's `child <pid>` (the child may print `start` first)."""
        self.send(" ".join(["run", kill_at, *map(str, args)]))
        lines: list[str] = []
        announced = self._until(lines, lambda line: line.startswith("child "))
        lines.remove(announced)
        return int(announced.split()[1]), lines

    def _finish(self, lines: list[str]) -> Run:
        if not lines or not lines[-1].startswith("exit "):
            self._until(lines, lambda line: line.startswith("exit "))
        return Run(int(lines[-1].split()[2]), lines)

    def run(self, kill_at: str, *args: str | Path) -> Run:
        """One run of an operation; kill_at as kill_worker.py takes it."""
        _, lines = self._begin(kill_at, args)
        return self._finish(lines)

    def killed(self, point: KillPoint, args: tuple[str | Path, ...], seconds: float) -> Run:
        """One run killed at `point`; `seconds`: how long an uninterrupted one took."""
        if point.kind == "call":
            return self.run(str(int(point.at)), *args)
        pid, lines = self._begin("-", args)
        handle = pidfd(pid)
        prefix, count = ("start", 1) if point.kind == "time" else ("progress", int(point.at))
        seen = sum(line.startswith(prefix + " ") for line in lines)

        def reached(line: str) -> bool:
            nonlocal seen
            seen += line.startswith(prefix + " ")
            return seen == count or line.startswith("exit ")

        if seen >= count or not self._until(lines, reached).startswith("exit "):
            time.sleep(point.at * seconds if point.kind == "time" else 0.0)
        kill(handle)
        return self._finish(lines)

    def close(self) -> None:
        if self.process.poll() is None:
            self.send("quit")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()


def ok(run: Run) -> Run:
    """An uninterrupted run, which must have succeeded."""
    assert run.code == 0, run.lines[-3:]
    return run


class States:
    """Named states of some directories, kept as hard links and restored as hard links: fast,
    modification times kept (so the manifest's stat digest holds), and safe because no operation
    here writes into an existing file (each writes new files and renames or unlinks); `survive`
    checks every restored state against the tree saved with it all the same."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.saved: dict[str, dict[Path, Path | None]] = {}
        self.trees: dict[str, dict[Path, Tree]] = {}

    def save(self, name: str, *places: Path) -> None:
        copies: dict[Path, Path | None] = {}
        for index, place in enumerate(places):
            copy = self.root / name / str(index)
            copies[place] = copy if place.exists() else None
            if place.exists():
                shutil.copytree(place, copy, symlinks=True, copy_function=os.link)
        self.saved[name] = copies
        self.trees[name] = {place: tree(place) for place in places}

    def restore(self, name: str) -> None:
        for place, copy in self.saved[name].items():
            shutil.rmtree(place, ignore_errors=True)
            if copy is not None:
                shutil.copytree(copy, place, symlinks=True, copy_function=os.link)

    def changed(self, name: str) -> list[str]:
        """Where the places differ from the state saved as `name`."""
        return [
            problem
            for place, saved in self.trees[name].items()
            for problem in differences(f"start state {name} {place.name}", tree(place), saved)
        ]


@dataclass
class World:
    """The directories, their named states, and what uninterrupted runs left and took."""

    ingress: Path
    staging: Path
    target: Path
    move_ingress: Path
    move_staging: Path
    move_target: Path
    states: States
    trees: dict[str, Tree] = field(default_factory=dict)
    #: (operation, start) -> an uninterrupted run, and the same run with its calls counted
    timed: dict[tuple[str, str], Run] = field(default_factory=dict)
    counted: dict[tuple[str, str], Run] = field(default_factory=dict)

    def measure(self, worker: Worker, group: str, start: str, *args: str | Path) -> Run:
        """Time and count one uninterrupted run from `start`; the timed run's own result stays
        on disk."""
        self.states.restore(start)
        self.counted[(group, start)] = ok(worker.run("count", *args))
        self.states.restore(start)
        self.timed[(group, start)] = ok(worker.run("-", *args))
        return self.timed[(group, start)]


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    server = Worker(tmp_path_factory.mktemp("kill-worker") / "stderr.log")
    yield server
    server.close()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where it all happens: on /dev/shm (a tmpfs) when there is one. The module creates and
    removes some 10^5 small files, which takes about a minute longer on a disk mounted with
    online discard (as this machine's is); a kill is a kill on either (SIGKILL, not a power
    cut)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("kill-points")
        return
    root = Path(tempfile.mkdtemp(prefix="hidebound-kill-points-", dir=shm))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def world(worker: Worker, base: Path) -> World:
    """Every start state and every expected tree, from uninterrupted runs."""
    w = World(
        ingress=base / "ingress",
        staging=base / "hidebound",
        target=base / "exported",
        move_ingress=base / "move" / "ingress",
        move_staging=base / "move" / "hidebound",
        move_target=base / "move" / "exported",
        states=States(base / "states"),
    )
    old_ingress = base / "old-ingress"
    write_sequences(w.ingress, SEQUENCES, FRAMES)
    write_sequences(old_ingress, OLD_SEQUENCES, OLD_FRAMES)
    w.trees["pristine"] = pristine = tree(w.ingress)
    files = {path: digest for path, digest in pristine.items() if digest != DIRECTORY}
    assert len(set(files.values())) == len(SEQUENCES) * FRAMES  # every file its own bytes
    assert worker.prepare(w.ingress, w.staging) == len(files)

    # The whole pipeline into an empty staging: what every copy-mode group converges to.
    w.states.save("empty", w.staging, w.target)
    ok(worker.run("-", "pipeline", w.ingress, w.staging, "copy"))
    w.trees["complete"] = complete = tree(w.staging)
    assert {f"content/{path}": digest for path, digest in files.items()}.items() <= complete.items()
    assert len(subtree(complete, "metadata/file") or {}) == len(files)
    assert ".manifest.json" in complete
    w.states.save("complete", w.staging, w.target)
    # A staging of an earlier, other ingress, for a create to replace.
    w.states.restore("empty")
    ok(worker.run("-", "pipeline", old_ingress, w.staging, "copy"))
    w.trees["old"] = tree(w.staging)
    w.states.save("old", w.staging, w.target)

    # create (stage_content alone): from nothing, and over the old staging.
    for start in ("empty", "old"):
        w.measure(worker, "create", start, "create", w.ingress, w.staging)
        staged = tree(w.staging)
        assert subtree(staged, "content") == subtree(complete, "content")
        assert {path.split("/")[0] for path in staged} == {"content"}  # nothing else, yet
    w.states.save("staged", w.staging, w.target)

    # metadata (write_batches + write_manifest): over staged content, and over a whole staging.
    for start in ("staged", "complete"):
        w.measure(worker, "metadata", start, "metadata", w.ingress, w.staging)
        assert tree(w.staging) == complete  # the metadata step alone writes what the pipeline did

    # export: the whole staging into an empty target.
    w.measure(worker, "export", "complete", "export", w.staging, w.target)
    w.trees["exported"] = exported = tree(w.target)
    expected = {path: digest for path, digest in complete.items() if path.startswith("content")}
    assert expected.items() <= exported.items()
    assert subtree(exported, "metadata") == subtree(complete, "metadata")

    # delete, copy mode: a user's own file in staging stays.
    w.states.restore("complete")
    (w.staging / "notes.txt").write_text("mine: delete leaves it alone\n")
    w.states.save("complete+notes", w.staging, w.target)
    w.measure(worker, "delete-copy", "complete+notes", "delete", w.ingress, w.staging, "copy")
    w.trees["deleted"] = tree(w.staging)
    assert w.trees["deleted"] == {
        "notes.txt": tree(w.states.root / "complete+notes")["0/notes.txt"]
    }

    # delete, move mode: staged by moving, exported to disk, the export recorded.
    shutil.copytree(w.ingress, w.move_ingress)
    ok(worker.run("-", "pipeline", w.move_ingress, w.move_staging, "move"))
    ok(worker.run("-", "export", w.move_staging, w.move_target))
    ok(worker.run("-", "mark", w.move_staging))
    places = (w.move_ingress, w.move_staging, w.move_target)
    w.states.save("exported-move", *places)
    moved = tree(w.move_staging)
    assert {f"content/{path}": digest for path, digest in files.items()}.items() <= moved.items()
    assert not [v for v in tree(w.move_ingress).values() if v != DIRECTORY]
    w.trees["move-target"] = tree(w.move_target)
    w.trees["move-ingress"] = tree(w.move_ingress)
    args = ("delete", w.move_ingress, w.move_staging, "move")
    w.measure(worker, "delete-move", "exported-move", *args)
    w.trees["move-deleted"] = tree(w.move_staging)
    assert subtree(w.trees["move-deleted"], "content") is None
    assert tree(w.move_target) == w.trees["move-target"]
    assert tree(w.move_ingress) == w.trees["move-ingress"]

    for name, entries in w.trees.items():
        assert not leftovers({name: entries}), name
    return w


@dataclass
class Group:
    """One operation under kill points: how to run it, re-run it, and check it."""

    operation: str  # one of OPERATIONS
    name: str  # the operation, and the re-run when there are several
    op: tuple[str | Path, ...]
    rerun: tuple[str | Path, ...]
    roots: dict[str, Path]
    final: Snapshot  # after the re-run, from an uninterrupted run
    check_killed: Callable[[KillPoint, Snapshot], list[str]]  # right after the kill


@dataclass
class Outcome:
    """What one kill point showed."""

    point: KillPoint
    code: int
    landed: bool  # the kill left a state that is neither the start nor the end
    problems: list[str]


def snapshot(roots: dict[str, Path]) -> Snapshot:
    """The trees of all the roots an operation may touch."""
    return {name: tree(path) for name, path in roots.items()}


def survive(worker: Worker, world: World, group: Group, points: list[KillPoint]) -> None:
    """Kill the operation at each point, check what the kill left, re-run it to completion and
    compare with the uninterrupted run; then assert every point was survived."""
    assert len(set(points)) == len(points), "kill points must be distinct"
    outcomes = []
    for point in points:
        world.states.restore(point.start)
        corrupted = world.states.changed(point.start)  # the saved state itself is intact
        assert not corrupted, corrupted
        before = snapshot(group.roots)
        run = worker.killed(point, group.op, world.timed[(group.operation, point.start)].seconds)
        after = snapshot(group.roots)
        problems = []
        if run.code not in (KILLED, 0) or (point.kind == "call" and run.code != KILLED):
            problems.append(f"not killed: exit {run.code} {run.error}")
        problems += group.check_killed(point, after)
        rerun = worker.run("-", *group.rerun)
        if rerun.code != 0:
            problems.append(f"re-run failed: {rerun.error or rerun.code}")
        final = snapshot(group.roots)
        for name, expected in group.final.items():
            problems += differences(f"{name} after the re-run", final[name], expected)
        problems += leftovers(final)
        landed = run.code == KILLED and after not in (before, group.final)
        outcomes.append(Outcome(point, run.code, landed, problems))

    killed = [o for o in outcomes if o.code == KILLED]
    landed = [o for o in outcomes if o.landed]
    failed = [o for o in outcomes if o.problems]
    survived = SURVIVED.setdefault(group.operation, {})
    for o in outcomes:
        held = o.code == KILLED and not o.problems
        survived[str(o.point)] = survived.get(str(o.point), True) and held
    print(
        f"\n{group.name}: {len(points)} kill points, {len(killed)} killed, {len(landed)} "
        f"mid-operation, {sum(not o.problems for o in killed)} survived"
    )
    assert not failed, f"{len(failed)} of {len(points)} kill points not survived:\n" + "\n".join(
        f"  {o.point} (exit {o.code}): " + "; ".join(o.problems) for o in failed
    )
    assert len(landed) >= len(points) // 2, f"too few kills landed mid-operation: {outcomes}"


def spread(calls: int, parts: int) -> list[int]:
    """`parts` call numbers spread evenly over a run of `calls` file system calls."""
    return [max(1, calls * index // (parts + 1)) for index in range(1, parts + 1)]


def unchanged(where: str, actual: Tree, expected: Tree) -> list[str]:
    """What a kill changed in a tree it must not change."""
    return differences(f"{where} after the kill", actual, expected)


def test_copy_create_survives_kill_points(worker: Worker, world: World) -> None:
    """stage_content, copy mode: ingress is never touched, content is old or new (swapped in
    whole), and update -> create -> metadata afterwards gives the uninterrupted staging."""
    complete, old = world.trees["complete"], world.trees["old"]
    wholes = (subtree(complete, "content"), subtree(old, "content"))

    def check(point: KillPoint, after: Snapshot) -> list[str]:
        staging = after["staging"]
        problems = unchanged("ingress", after["ingress"], world.trees["pristine"])
        content = subtree(staging, "content")
        if content is not None and content not in wholes:
            problems.append(f"content is neither the old tree nor the new: {len(content)} entries")
        # metadata or a manifest that is left must still describe the content beside it
        described = (subtree(staging, "metadata"), staging.get(".manifest.json"))
        if described != (None, None) and (*described, content) != (
            subtree(old, "metadata"),
            old[".manifest.json"],
            subtree(old, "content"),
        ):
            problems.append("metadata or manifest left beside content they do not describe")
        return problems

    points = [KillPoint("empty" if k % 2 else "old", "line", k) for k in range(1, 10)]
    points += [KillPoint("empty", "time", 0.0), KillPoint("old", "time", 0.5)]
    for start in ("empty", "old"):
        counted = world.counted[("create", start)]
        renames = counted.marks("rename")  # old -> aside (from "old"), new -> content
        assert len(renames) == (2 if start == "old" else 1), counted.lines[-2:]
        # before, between and after the renames of the swap (from "empty" the rename is last)
        windows = {renames[0], renames[-1], renames[-1] + 1} - {counted.calls + 1}
        calls = sorted({*spread(counted.calls, 4), *windows})
        points += [KillPoint(start, "call", n) for n in calls]
    group = Group(
        "create",
        "create, re-run: update -> create -> metadata",
        op=("create", world.ingress, world.staging),
        rerun=("pipeline", world.ingress, world.staging, "copy"),
        roots={"staging": world.staging, "ingress": world.ingress},
        final={"staging": complete, "ingress": world.trees["pristine"]},
        check_killed=check,
    )
    survive(worker, world, group, points)


@pytest.mark.parametrize("rerun", ["metadata", "create"])
def test_metadata_write_survives_kill_points(worker: Worker, world: World, rerun: str) -> None:
    """write_batches + write_manifest: metadata and manifest are absent, old or whole, content
    is untouched, and a re-run gives the uninterrupted staging, whether it is the metadata step
    alone (Dagster's re-execution of the failed `metadata` step) or the whole create."""
    complete = world.trees["complete"]

    def check(point: KillPoint, after: Snapshot) -> list[str]:
        staging = after["staging"]
        problems = unchanged("ingress", after["ingress"], world.trees["pristine"])
        problems += unchanged(
            "content", subtree(staging, "content") or {}, subtree(complete, "content") or {}
        )
        metadata = subtree(staging, "metadata")
        if metadata is not None and metadata != subtree(complete, "metadata"):
            problems.append(f"metadata is half-written: {len(metadata)} entries")
        if staging.get(".manifest.json", complete[".manifest.json"]) != complete[".manifest.json"]:
            problems.append(".manifest.json is not the whole manifest")
        return problems

    points = [KillPoint("staged", "time", f) for f in (0.3, 0.7)]
    for start in ("staged", "complete"):
        counted = world.counted[("metadata", start)]
        renames, (replace,) = counted.marks("rename"), counted.marks("replace")
        assert len(renames) == (2 if start == "complete" else 1), counted.lines[-2:]
        # each side of every rename of the swap, then the manifest's temporary file: before it
        # is opened, before its fsync, before it replaces the manifest
        windows = {*renames, renames[-1] + 1, replace - 2, replace - 1, replace}
        parts = 5 if start == "staged" else 3
        points += [
            KillPoint(start, "call", n) for n in sorted({*spread(counted.calls, parts), *windows})
        ]
    group = Group(
        "metadata",
        f"metadata, re-run: {rerun}",
        op=("metadata", world.ingress, world.staging),
        rerun=("metadata", world.ingress, world.staging)
        if rerun == "metadata"
        else ("pipeline", world.ingress, world.staging, "copy"),
        roots={"staging": world.staging, "ingress": world.ingress},
        final={"staging": complete, "ingress": world.trees["pristine"]},
        check_killed=check,
    )
    survive(worker, world, group, points)


@pytest.mark.parametrize("mode", ["copy", "move"])
def test_delete_survives_kill_points(worker: Worker, world: World, mode: str) -> None:
    """core.staging.delete: copy mode never touches ingress; move mode (after a recorded export)
    loses no file: each is in staging or in the export target; a re-run of delete finishes
    and leaves what an uninterrupted delete leaves."""
    name = f"delete-{mode}"
    if mode == "copy":
        start = "complete+notes"
        roots = {"staging": world.staging, "ingress": world.ingress}
        final = {"staging": world.trees["deleted"], "ingress": world.trees["pristine"]}
        args: tuple[str | Path, ...] = ("delete", world.ingress, world.staging, "copy")
    else:
        start = "exported-move"
        roots = {
            "staging": world.move_staging,
            "ingress": world.move_ingress,
            "target": world.move_target,
        }
        final = {
            "staging": world.trees["move-deleted"],
            "ingress": world.trees["move-ingress"],
            "target": world.trees["move-target"],
        }
        args = ("delete", world.move_ingress, world.move_staging, "move")
    files = {p: d for p, d in world.trees["pristine"].items() if d != DIRECTORY}

    def check(point: KillPoint, after: Snapshot) -> list[str]:
        if mode == "copy":
            problems = unchanged("ingress", after["ingress"], world.trees["pristine"])
            if after["staging"].get("notes.txt") != world.trees["deleted"]["notes.txt"]:
                problems.append("the user's notes.txt in staging is gone")
            return problems
        staged, exported = after["staging"], after["target"]
        lost = sorted(
            path
            for path, digest in files.items()
            if digest not in (staged.get(f"content/{path}"), exported.get(f"content/{path}"))
        )
        problems = [f"lost (in neither staging nor the export): {lost[:4]}"] if lost else []
        return problems + unchanged("export target", exported, world.trees["move-target"])

    counted = world.counted[(name, start)]
    points = [KillPoint(start, "call", n) for n in spread(counted.calls, 10)]
    points += [KillPoint(start, "time", f) for f in (0.25, 0.75)]
    group = Group(name, name, op=args, rerun=args, roots=roots, final=final, check_killed=check)
    survive(worker, world, group, points)


def test_disk_export_survives_kill_points(worker: Worker, world: World) -> None:
    """DiskExporter.export: staging is only read, every file in the target is whole (copies go
    through .hidebound-partial and are renamed into place), and a re-run of the export gives
    the uninterrupted target with nothing of the partial directory left."""
    exported, complete = world.trees["exported"], world.trees["complete"]

    def check(point: KillPoint, after: Snapshot) -> list[str]:
        problems = unchanged("staging", after["staging"], complete)
        problems += unchanged("ingress", after["ingress"], world.trees["pristine"])
        torn = sorted(
            path
            for path, digest in after["target"].items()
            if path.split("/")[0] != ".hidebound-partial" and exported.get(path) != digest
        )
        if torn:
            problems.append(f"target files that are not whole copies: {torn[:4]}")
        return problems

    counted = world.counted[("export", "complete")]
    points = [KillPoint("complete", "line", k) for k in range(1, 10)]
    points += [KillPoint("complete", "time", f) for f in (0.0, 0.5)]
    points += [KillPoint("complete", "call", n) for n in spread(counted.calls, 5)]
    group = Group(
        "export",
        "export",
        op=("export", world.staging, world.target),
        rerun=("export", world.staging, world.target),
        roots={"staging": world.staging, "ingress": world.ingress, "target": world.target},
        final={"staging": complete, "ingress": world.trees["pristine"], "target": exported},
        check_killed=check,
    )
    survive(worker, world, group, points)


def test_kill_point_summary() -> None:
    """At least MINIMUM_KILL_POINTS distinct kill points over the four operations were
    survived, counted only where the process was really killed."""
    if set(SURVIVED) != set(OPERATIONS):
        pytest.skip(f"run the whole module: only {sorted(SURVIVED)} ran")
    survived = sum(sum(points.values()) for points in SURVIVED.values())
    tried = sum(len(points) for points in SURVIVED.values())
    lines = [f"{op}: {sum(SURVIVED[op].values())} of {len(SURVIVED[op])}" for op in OPERATIONS]
    print(f"\nkill points survived: {survived} of {tried} ({', '.join(lines)})")
    assert tried >= MINIMUM_KILL_POINTS, lines
    assert survived >= MINIMUM_KILL_POINTS, lines
