"""A hostile ingress tree: every kind of entry that must not be read, followed, opened or staged,
mixed with valid assets of the three example specifications (specs/), plus a sentinel tree
outside ingress that links point into.

`make_hostile_tree` lays it all out and returns a description of every entry: its relative
path, its category and whether it must end up staged (and with which bytes). Every expectation
here comes from what is planted and from the example specifications' documented rules, never
from the code under test.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import os
import random
import select
import socket
import stat
import struct
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, PngImagePlugin

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TWO_GIB = 2 << 30
IMG = "cat001/img001"
RAW = "cat001/raw001"
TEX = "cat001/tex001"
GRID = [(0, 0), (0, 1), (1, 0), (1, 1)]

# Categories that do not depend on what the machine allows.
VALID_FILE = "valid file asset (Img001)"
VALID_SEQUENCE = "valid sequence asset (Raw001)"
VALID_COMPLEX = "valid complex asset (Tex001)"
LINK_INSIDE_FILE = "link to a file inside ingress"
LINK_INSIDE_DIR = "link to a directory inside ingress"
LINK_SECOND = "second link to an already-scanned directory"
LINK_OUTSIDE_FILE = "link to a file outside ingress"
LINK_OUTSIDE_DIR = "link to a directory outside ingress (/, .., sentinel)"
LINK_DANGLING = "dangling link"
LINK_LOOP = "link loop or self-link"
FIFO = "FIFO"
SOCKET = "Unix socket"
NON_UTF8 = "non-UTF-8 name"
CONTROL = "name with control characters"
SPACES = "name with spaces"
METACHARS = "name with shell, glob or format metacharacters"
LONG = "255-byte name"
TWINS = "NFC/NFD Unicode twins and look-alikes"
DEEP = "100-deep directory tree"
ZERO = "0-byte file named like a valid one"
TRUNCATED = "PNG truncated after its header"
LYING = "lying image (content is not what the name says)"
BOMB = "decompression bomb"
SPARSE = "2 GiB sparse file named like a valid one"
CHANGING = "file changing during the run"
HARD_LINK = "hard link inside ingress"
# Categories the machine may refuse (mknod; dropping root's permission overrides).
DEVICE = "character device"
UNLISTABLE = "directory that cannot be listed or searched"


@dataclass(frozen=True)
class Entry:
    """One planted entry. `path` is relative to ingress as planted (undecodable bytes as
    surrogate escapes); `shown` is how a table must show it."""

    path: str
    category: str
    kind: str  # file, link, fifo, socket, device, directory
    staged: bool = False  # must be staged with follow_symlinks: never
    staged_within: bool = False  # must be staged with follow_symlinks: within
    data: bytes | None = None  # the bytes a staged copy must hold
    asset: str | None = None  # the asset it belongs to (whose row may carry the error)
    holder: str | None = None  # the unlistable directory whose row stands for it
    link: str | None = None  # what a link points to, as written
    # links: inside-file, inside-dir, inside-dir-unseen (a directory the real walk cannot
    # list), outside, dangling, loop
    scope: str | None = None
    target: str | None = None  # inside links: the target's path relative to ingress
    changing: bool = False

    @property
    def shown(self) -> str:
        return shown(self.path)

    def must_stage(self, mode: str) -> bool:
        return self.staged_within if mode == "within" else self.staged


@dataclass
class Changing:
    """A frame of a valid asset that a thread rewrites in place while the workflow runs."""

    path: Path
    asset: str
    versions: list[bytes]
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    rewrites: int = 0

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            data = self.versions[self.rewrites % len(self.versions)]
            with self.path.open("r+b") as handle:  # in place: same inode, torn for a moment
                handle.truncate(0)
                handle.write(data)
            self.rewrites += 1
            self.stop.wait(0.004)

    def finish(self) -> None:
        """Stop rewriting and leave the first version in place."""
        self.stop.set()
        if self.thread:
            self.thread.join()
        self.path.write_bytes(self.versions[0])


IN_OPEN = 0x20  # inotify: a file or directory was opened


@dataclass
class Swapper:
    """A tile of a valid asset replaced by a link to a sentinel image just after the scan has
    listed (and lstat-ed) its directory, and before its traits are read: whatever follows
    that link reads outside ingress. The scan's listing is seen with inotify (the directory
    is opened); the link stays until `finish`."""

    path: Path
    asset: str
    target: Path  # the sentinel image the link points to
    data: bytes
    delay: float = 0.03
    swapped: bool = False
    problem: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        watch = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if watch < 0:
            self.problem = f"inotify refused: {os.strerror(ctypes.get_errno())}"
            return
        if libc.inotify_add_watch(watch, os.fsencode(self.path.parent), IN_OPEN) < 0:
            self.problem = f"inotify refused: {os.strerror(ctypes.get_errno())}"
            os.close(watch)
            return
        self.thread = threading.Thread(target=self._run, args=(watch,), daemon=True)
        self.thread.start()

    def _run(self, watch: int) -> None:
        try:
            while not self.stop.is_set():
                ready, _, _ = select.select([watch], [], [], 0.1)
                if ready:
                    break
            else:
                return
        finally:
            os.close(watch)
        time.sleep(self.delay)  # the scan lists and lstats a directory in microseconds
        temporary = self.path.with_name(".swap-link")
        temporary.symlink_to(self.target)
        temporary.replace(self.path)
        self.swapped = True

    def finish(self) -> None:
        """Stop waiting and put the tile back (same bytes, a new inode)."""
        self.stop.set()
        if self.thread:
            self.thread.join()
        if self.path.is_symlink():
            self.path.unlink()
            self.path.write_bytes(self.data)


@dataclass
class HostileTree:
    root: Path
    ingress: Path
    sentinel: Path
    entries: list[Entry]
    followed: list[Entry]  # rows only a followed link makes (follow_symlinks: within)
    tokens: list[bytes]  # bytes found only in the sentinel's files
    sentinel_fifos: list[Path]
    changing: Changing
    swapper: Swapper
    sockets: list[socket.socket]
    skipped: list[str]

    def close(self) -> None:
        for server in self.sockets:
            server.close()
        self.sockets = []

    @property
    def categories(self) -> set[str]:
        return {entry.category for entry in self.entries}

    def expected_staged(self, mode: str) -> dict[str, str]:
        """path -> sha256 of every file staging must hold (the changing asset aside)."""
        candidates = [*self.entries, *(self.followed if mode == "within" else [])]
        return {
            e.shown: hashlib.sha256(e.data or b"").hexdigest()
            for e in candidates
            if e.must_stage(mode) and not e.changing
        }


def shown(path: str) -> str:
    """A planted path as text: undecodable bytes as \\xNN (how a UTF-8 table must show it)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


# --- bytes ---------------------------------------------------------------------------------


def noise_png(seed: str, mode: str = "RGB", size: tuple[int, int] = (8, 8), **info: str) -> bytes:
    """A real PNG of random pixels (distinct bytes per seed); `info` adds tEXt chunks."""
    bands = len(Image.new(mode, (1, 1)).getbands())
    pixels = random.Random(seed).randbytes(size[0] * size[1] * bands)
    image = Image.frombytes(mode, size, pixels)
    text = PngImagePlugin.PngInfo()
    for key, value in info.items():
        text.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=text)
    return buffer.getvalue()


def noise_jpeg(seed: str, size: tuple[int, int] = (8, 8)) -> bytes:
    pixels = random.Random(seed).randbytes(size[0] * size[1] * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def claimed_png(width: int, height: int, color_type: int = 2) -> bytes:
    """A well-formed PNG header claiming width x height pixels, followed by almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def real_bomb(side: int) -> bytes:
    """A complete greyscale PNG of side x side zero pixels: tens of KB that decode to side**2
    bytes."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte + pixels
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def truncated_png(seed: str, keep: float) -> bytes:
    """A 32 x 32 RGB noise PNG cut inside its pixel data: the header reads, the decode fails
    (checked here with Pillow, so the planted file is what it claims to be)."""
    whole = noise_png(seed, size=(32, 32))
    idat = whole.index(b"IDAT")
    length = struct.unpack(">I", whole[idat - 4 : idat])[0]
    cut = whole[: idat + 4 + max(1, int(length * keep))]
    with Image.open(io.BytesIO(cut)) as image:
        assert image.size == (32, 32)
    try:
        with Image.open(io.BytesIO(cut)) as image:
            image.load()
    except OSError:
        return cut
    raise AssertionError("the truncated PNG decodes")


def frame_name(asset: str, frame: int) -> str:
    return f"{asset}_f{frame:04d}.png"


def tile_name(asset: str, x: int, y: int) -> str:
    return f"{asset}_c{x:04d}-{y:04d}.png"


# --- planting ------------------------------------------------------------------------------


class Planter:
    """Writes entries under ingress and records each one."""

    def __init__(self, ingress: Path) -> None:
        self.ingress = ingress
        self.entries: list[Entry] = []
        self.followed: list[Entry] = []
        self.sockets: list[socket.socket] = []
        self.skipped: list[str] = []

    def path(self, relative: str) -> Path:
        path = self.ingress / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def file(self, relative: str, data: bytes, category: str, **facts: object) -> Entry:
        self.path(relative).write_bytes(data)
        if facts.get("staged"):
            facts.setdefault("staged_within", True)
        if facts.get("staged") or facts.get("staged_within"):
            facts["data"] = data
        return self.add(Entry(relative, category, "file", **facts))  # type: ignore[arg-type]

    def sparse(self, relative: str, category: str, **facts: object) -> Entry:
        with self.path(relative).open("wb") as handle:
            handle.truncate(TWO_GIB)
        return self.add(Entry(relative, category, "file", **facts))  # type: ignore[arg-type]

    def link(
        self, relative: str, points_to: str, category: str, scope: str, **facts: object
    ) -> Entry:
        self.path(relative).symlink_to(points_to)
        entry = Entry(relative, category, "link", link=points_to, scope=scope, **facts)  # type: ignore[arg-type]
        return self.add(entry)

    def fifo(self, relative: str, category: str, **facts: object) -> Entry:
        os.mkfifo(self.path(relative))
        return self.add(Entry(relative, category, "fifo", **facts))  # type: ignore[arg-type]

    def unix_socket(self, relative: str, keep: bool, **facts: object) -> Entry:
        """Bind a socket at the path (through /proc/self/fd, so the path may be longer than
        sun_path allows); keep it bound while the workflow runs, or close it (the file stays)."""
        path = self.path(relative)
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        server = socket.socket(socket.AF_UNIX)
        try:
            server.bind(f"/proc/self/fd/{directory}/{path.name}")
        except OSError:  # no /proc: bind the short relative name from inside the directory
            with contextlib.chdir(path.parent):
                server.bind(path.name)
        finally:
            os.close(directory)
        if keep:
            server.listen()
            self.sockets.append(server)
        else:
            server.close()
        return self.add(Entry(relative, SOCKET, "socket", **facts))  # type: ignore[arg-type]

    def device(self, relative: str, major: int, minor: int, **facts: object) -> Entry | None:
        try:
            os.mknod(self.path(relative), stat.S_IFCHR | 0o600, os.makedev(major, minor))
        except OSError as error:
            self.skipped.append(f"{relative}: mknod refused ({error.strerror})")
            return None
        return self.add(Entry(relative, DEVICE, "device", **facts))  # type: ignore[arg-type]

    def add(self, entry: Entry) -> Entry:
        self.entries.append(entry)
        return entry

    def sequence(
        self,
        parent: str,
        asset: str,
        frames: dict[int, bytes | None],
        category: str,
        staged: bool = False,
    ) -> list[Entry]:
        """Frames named after their asset directory; None leaves a frame to the caller."""
        directory = f"{parent}/{asset}"
        return [
            self.file(
                f"{directory}/{frame_name(asset, frame)}",
                data,
                category,
                staged=staged,
                asset=directory,
            )
            for frame, data in frames.items()
            if data is not None
        ]

    def tiles(
        self,
        parent: str,
        asset: str,
        maps: list[str],
        category: str,
        staged: bool = False,
        special: dict[tuple[str, int, int], bytes | None] | None = None,
    ) -> list[Entry]:
        """A complex asset: 2 x 2 tiles of 4 x 4 pixels per map sub-directory."""
        directory = f"{parent}/{asset}"
        special = special or {}
        planted = []
        for name in maps:
            for x, y in GRID:
                relative = f"{directory}/{name}/{tile_name(asset, x, y)}"
                data = special.get((name, x, y), noise_png(relative, size=(4, 4)))
                if data is not None:
                    planted.append(
                        self.file(relative, data, category, staged=staged, asset=directory)
                    )
        return planted


def frames(asset: str, count: int, mode: str = "RGB", size: tuple[int, int] = (8, 8)) -> dict:
    return {n: noise_png(f"{asset}/{n}", mode, size) for n in range(1, count + 1)}


# --- the tree ------------------------------------------------------------------------------


def make_sentinel(sentinel: Path) -> tuple[list[bytes], list[Path]]:
    """Valid-looking assets outside ingress whose bytes carry unique tokens, and FIFOs (opening
    one blocks, so reading it would hang the run)."""
    tokens: list[bytes] = []

    def marked(relative: str, size: tuple[int, int] = (8, 8)) -> None:
        token = f"HIDEBOUND-SENTINEL-{uuid.uuid4().hex}"
        tokens.append(token.encode())
        path = sentinel / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(noise_png(token, size=size, sentinel=token))

    marked("p-cat001_s-img001_d-outside_v001.png")
    marked("swap/p-cat001_s-tex001_d-swapped_v001_c0000-0000.png", size=(4, 4))
    seq = "p-cat001_s-raw001_d-outside_v001"
    for frame in (1, 2, 3):
        marked(f"{RAW}/{seq}/{frame_name(seq, frame)}")
    tex = "p-cat001_s-tex001_d-outside_v001"
    for x, y in GRID:
        marked(f"{TEX}/{tex}/diffuse/{tile_name(tex, x, y)}", size=(4, 4))
    fifos = [
        sentinel / "p-cat001_s-img001_d-outside-fifo_v001.png",
        sentinel / RAW / "p-cat001_s-raw001_d-outside-fifo_v001" / "a.png",
    ]
    seq_fifo = "p-cat001_s-raw001_d-outside-fifo_v001"
    fifos += [sentinel / RAW / seq_fifo / frame_name(seq_fifo, n) for n in (1, 2)]
    for path in fifos:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
    return tokens, fifos


def valid_assets(p: Planter) -> dict[str, bytes]:
    """Valid assets of each example spec; returns the bytes of a few that links point at."""
    hero = p.file(
        f"{IMG}/p-cat001_s-img001_d-hero_v001.png",
        noise_png("hero", size=(6, 4)),
        VALID_FILE,
        staged=True,
    )
    p.file(
        f"{IMG}/p-cat001_s-img001_d-alpha_v001.png",
        noise_png("alpha", "RGBA"),
        VALID_FILE,
        staged=True,
    )
    p.file(
        f"{IMG}/p-cat001_s-img001_d-photo_v001.jpg", noise_jpeg("photo"), VALID_FILE, staged=True
    )
    p.file(
        "cat002/img001/p-cat002_s-img001_d-elsewhere_v003.png",
        noise_png("elsewhere", size=(3, 3)),
        VALID_FILE,
        staged=True,
    )
    p.sequence(RAW, "p-cat001_s-raw001_d-walk_v001", frames("walk", 3), VALID_SEQUENCE, True)
    p.sequence(RAW, "p-cat001_s-raw001_d-grey_v002", frames("grey", 4, "L"), VALID_SEQUENCE, True)
    p.sequence(
        "stash", "p-cat001_s-raw001_d-aliased_v001", frames("aliased", 3), VALID_SEQUENCE, True
    )
    p.tiles(TEX, "p-cat001_s-tex001_d-fur_v001", ["diffuse", "normal"], VALID_COMPLEX, True)
    p.tiles(TEX, "p-cat001_s-tex001_d-bark_v002", ["diffuse"], VALID_COMPLEX, True)
    # A hard link is a regular file inside ingress: it is its own valid asset.
    twin = p.path(f"{IMG}/p-cat001_s-img001_d-hardlink_v001.png")
    twin.hardlink_to(p.ingress / hero.path)
    p.add(
        Entry(
            f"{IMG}/p-cat001_s-img001_d-hardlink_v001.png",
            HARD_LINK,
            "file",
            staged=True,
            staged_within=True,
            data=hero.data,
        )
    )
    return {"hero": hero.data or b""}


def links(p: Planter, root: Path, targets: dict[str, bytes]) -> None:
    """Links inside, outside, dangling and looping; links are never followed by default, and
    with `within` only those whose target stays inside ingress are."""
    ingress, sentinel = str(p.ingress), str(root / "sentinel")
    hero = f"{IMG}/p-cat001_s-img001_d-hero_v001.png"
    # inside, to files: followed with `within`, and a valid name then stages the target's bytes
    for name, target in [
        ("p-cat001_s-img001_d-alias_v001.png", "p-cat001_s-img001_d-hero_v001.png"),
        ("p-cat001_s-img001_d-alias-abs_v001.png", f"{ingress}/{hero}"),
        ("p-cat001_s-img001_d-alias-chain_v001.png", "p-cat001_s-img001_d-alias_v001.png"),
    ]:
        p.link(
            f"{IMG}/{name}",
            target,
            LINK_INSIDE_FILE,
            "inside-file",
            staged_within=True,
            data=targets["hero"],
            target=hero,
        )
    p.link("alias.png", hero, LINK_INSIDE_FILE, "inside-file", target=hero)
    text = f"{IMG}/p-cat001_s-img001_d-text_v001.png"  # a lying image planted by lying_images
    p.link(
        f"{IMG}/p-cat001_s-img001_d-alias-text_v001.png",
        "p-cat001_s-img001_d-text_v001.png",
        LINK_INSIDE_FILE,
        "inside-file",
        target=text,
    )
    fifo = f"{IMG}/p-cat001_s-img001_d-fifo_v001.png"
    p.link(
        f"{IMG}/p-cat001_s-img001_d-alias-fifo_v001.png",
        "p-cat001_s-img001_d-fifo_v001.png",
        LINK_INSIDE_FILE,
        "inside-file",
        target=fifo,
    )
    # a sequence whose middle frame is a link to a frame of another valid sequence
    seq = "p-cat001_s-raw001_d-linkframe_v001"
    walk = "p-cat001_s-raw001_d-walk_v001"
    real = frames("walk", 3)
    asset = f"{RAW}/{seq}"
    for frame in (1, 3):
        p.file(
            f"{asset}/{frame_name(seq, frame)}",
            real[frame],
            LINK_INSIDE_FILE,
            staged=False,
            staged_within=True,
            asset=asset,
        )
    p.link(
        f"{asset}/{frame_name(seq, 2)}",
        f"../{walk}/{frame_name(walk, 2)}",
        LINK_INSIDE_FILE,
        "inside-file",
        staged_within=True,
        data=real[2],
        asset=asset,
        target=f"{RAW}/{walk}/{frame_name(walk, 2)}",
    )
    # inside, to directories: the directory is scanned once, under its real path
    aliased = "stash/p-cat001_s-raw001_d-aliased_v001"
    p.link(
        f"{RAW}/p-cat001_s-raw001_d-aliased_v001",
        f"../../{aliased}",
        LINK_INSIDE_DIR,
        "inside-dir",
        target=aliased,
    )
    p.link("here", ".", LINK_INSIDE_DIR, "inside-dir", target="")
    p.link("cat001/up", ingress, LINK_INSIDE_DIR, "inside-dir", target="")
    p.link(f"{RAW}/loop/inner", "..", LINK_INSIDE_DIR, "inside-dir", target=RAW)
    p.link("stash-again", aliased, LINK_SECOND, "inside-dir", target=aliased)
    p.link(
        f"{TEX}/fur-again",
        "p-cat001_s-tex001_d-fur_v001",
        LINK_SECOND,
        "inside-dir",
        target=f"{TEX}/p-cat001_s-tex001_d-fur_v001",
    )
    p.link("cat001-again", "cat001", LINK_SECOND, "inside-dir", target="cat001")
    # outside, to files: the sentinel's valid-looking assets and FIFOs, and the system's files
    out_img = f"{sentinel}/p-cat001_s-img001_d-outside_v001.png"
    for name, target in [
        ("p-cat001_s-img001_d-outlink_v001.png", out_img),
        ("p-cat001_s-img001_d-outlink-rel_v001.png", "../../../sentinel/" + Path(out_img).name),
        (
            "p-cat001_s-img001_d-outfifo_v001.png",
            f"{sentinel}/p-cat001_s-img001_d-outside-fifo_v001.png",
        ),
        ("p-cat001_s-img001_d-zero_v001.png", "/dev/zero"),
        ("p-cat001_s-img001_d-urandom_v001.png", "/dev/urandom"),
        ("p-cat001_s-img001_d-passwd_v001.png", "/etc/passwd"),
        ("p-cat001_s-img001_d-proc_v001.png", "/proc/self/mem"),
    ]:
        p.link(f"{IMG}/{name}", target, LINK_OUTSIDE_FILE, "outside")
    p.link(
        "in-and-out.png",
        "cat001/../../sentinel/p-cat001_s-img001_d-outside_v001.png",
        LINK_OUTSIDE_FILE,
        "outside",
    )
    p.link("chain-out-b.png", out_img, LINK_OUTSIDE_FILE, "outside")
    p.link("chain-out-a.png", "chain-out-b.png", LINK_OUTSIDE_FILE, "outside")
    # a sequence whose middle frame is a link to a sentinel frame
    mixed = "p-cat001_s-raw001_d-outframe_v001"
    own = frames("outframe", 3)
    for frame in (1, 3):
        p.file(
            f"{RAW}/{mixed}/{frame_name(mixed, frame)}",
            own[frame],
            LINK_OUTSIDE_FILE,
            asset=f"{RAW}/{mixed}",
        )
    out_seq = "p-cat001_s-raw001_d-outside_v001"
    p.link(
        f"{RAW}/{mixed}/{frame_name(mixed, 2)}",
        f"{sentinel}/{RAW}/{out_seq}/{frame_name(out_seq, 2)}",
        LINK_OUTSIDE_FILE,
        "outside",
        asset=f"{RAW}/{mixed}",
    )
    # outside, to directories
    for name, target in [
        ("root", "/"),
        ("up", ".."),
        ("escape", "../sentinel"),
        ("proc", "/proc/self"),
        ("dev", "/dev"),
        (f"{RAW}/{out_seq}", f"{sentinel}/{RAW}/{out_seq}"),
        (
            f"{RAW}/p-cat001_s-raw001_d-outside-fifo_v001",
            f"{sentinel}/{RAW}/p-cat001_s-raw001_d-outside-fifo_v001",
        ),
        (
            f"{TEX}/p-cat001_s-tex001_d-outside_v001",
            "../../../sentinel/cat001/tex001/p-cat001_s-tex001_d-outside_v001",
        ),
        ("stash/deeper/escape", "../../../sentinel/cat001"),
    ]:
        p.link(name, target, LINK_OUTSIDE_DIR, "outside")
    # dangling
    for name, target in [
        ("dangling.png", "nowhere.png"),
        (f"{IMG}/p-cat001_s-img001_d-dangling_v001.png", "p-cat001_s-img001_d-gone_v001.png"),
        ("dangling-abs.png", "/nonexistent/hidebound/x.png"),
        (f"{RAW}/p-cat001_s-raw001_d-dangling_v001", "missing-directory"),
        ("through-a-file.png", f"{hero}/child.png"),
        ("dangling-outside.png", f"{sentinel}/nothing-here.png"),
    ]:
        p.link(name, target, LINK_DANGLING, "dangling")
    # loops
    for name, target in [
        ("self.png", "self.png"),
        (f"{IMG}/p-cat001_s-img001_d-self_v001.png", "p-cat001_s-img001_d-self_v001.png"),
        ("loop-a.png", "loop-b.png"),
        ("loop-b.png", "loop-a.png"),
        ("loop-dir-a", "loop-dir-b/x"),
        ("loop-dir-b", "loop-dir-a/y"),
    ]:
        p.link(name, target, LINK_LOOP, "loop")


def special_files(p: Planter) -> None:
    """FIFOs, sockets and devices named like valid assets, alone and inside otherwise valid
    assets: each is a row with an error and is never opened."""
    p.fifo(f"{IMG}/p-cat001_s-img001_d-fifo_v001.png", FIFO)
    p.fifo("pipe", FIFO)
    seq = "p-cat001_s-raw001_d-fifo-frame_v001"
    p.sequence(RAW, seq, {1: noise_png("ff1"), 3: noise_png("ff3")}, FIFO)
    p.fifo(f"{RAW}/{seq}/{frame_name(seq, 2)}", FIFO, asset=f"{RAW}/{seq}")
    tex = "p-cat001_s-tex001_d-fifo_v001"
    p.tiles(TEX, tex, ["diffuse"], FIFO, special={("diffuse", 1, 1): None})
    p.fifo(f"{TEX}/{tex}/diffuse/{tile_name(tex, 1, 1)}", FIFO, asset=f"{TEX}/{tex}")
    p.unix_socket(f"{IMG}/p-cat001_s-img001_d-socket_v001.png", keep=True)
    p.unix_socket("sock", keep=True)
    seq = "p-cat001_s-raw001_d-socket-frame_v001"
    p.sequence(RAW, seq, {1: noise_png("sf1"), 3: noise_png("sf3")}, SOCKET)
    p.unix_socket(f"{RAW}/{seq}/{frame_name(seq, 2)}", keep=False, asset=f"{RAW}/{seq}")
    p.device(f"{IMG}/p-cat001_s-img001_d-device_v001.png", 1, 3)  # /dev/null
    seq = "p-cat001_s-raw001_d-device-frame_v001"
    if p.device(f"{RAW}/{seq}/{frame_name(seq, 1)}", 1, 5, asset=f"{RAW}/{seq}"):  # /dev/zero
        p.sequence(RAW, seq, {2: noise_png("df2")}, DEVICE)
    p.device("random", 1, 8)


def odd_names(p: Planter) -> None:
    """Names a naive program mangles: undecodable bytes, control characters, spaces,
    metacharacters, 255 bytes, Unicode twins; a few are valid assets and must be staged as
    they are named."""
    junk = b"not an image\n"
    for raw in [
        b"bad\xff.png",
        b"\xc3\x28.png",
        b"\xc0\xaf.png",
        b"\xed\xa0\x80.png",
        b"latin1-caf\xe9.png",
        b"\x80\x81\x82.png",
        b"\xf8\x88\x80\x80\x80.png",
    ]:
        p.file(os.fsdecode(raw), junk, NON_UTF8)
    p.file(
        os.fsdecode(b"%s/p-cat001_s-img001_d-bad\xfe_v001.png" % IMG.encode()),
        noise_png("bad-fe"),
        NON_UTF8,
    )
    # a valid-looking asset under a directory whose name is not UTF-8
    p.file(
        os.fsdecode(b"dir\xff/p-cat001_s-img001_d-in-bad-dir_v001.png"),
        noise_png("in-bad-dir"),
        NON_UTF8,
    )
    bad_seq = os.fsdecode(b"p-cat001_s-raw001_d-bad\xff_v001")
    p.sequence(RAW, bad_seq, frames("bad-seq", 3), NON_UTF8)
    # control characters: every C0 control but NUL and DEL, in a name of no asset
    for code in [*range(1, 32), 0x7F]:
        p.file(f"ctl/ctl-{code:02x}-{chr(code)}-.png", junk, CONTROL)
    p.file(f"{IMG}/p-cat001_s-img001_d-trailing_v001.png\n", noise_png("nl"), CONTROL)
    p.file(f"{IMG}/p-cat001_s-img001_d-tab\t_v001.png", noise_png("tab"), CONTROL)
    p.file(f"{IMG}/p-cat001_s-img001_d-ctl\x01_v001.png", noise_png("x01"), CONTROL)
    p.file("\x1b[31mred\x1b[0m.png", junk, CONTROL)
    nl_seq = "p-cat001_s-raw001_d-newline_v001"
    for n, data in frames("nl-seq", 2).items():
        p.file(
            f"{RAW}/{nl_seq}\n/{frame_name(nl_seq, n)}", data, CONTROL, asset=f"{RAW}/{nl_seq}\n"
        )
    p.file(
        "odd\tdir \x01\n/p-cat001_s-img001_d-odd-dir_v001.png",
        noise_png("odd-dir"),
        CONTROL,
        staged=True,
    )
    # spaces
    for name in [" lead.png", "trail .png", "   ", " .png", "two  spaces.png"]:
        p.file(f"spaces/{name}", junk, SPACES)
    p.file(f"{IMG}/p-cat001_s-img001_d-sp ace_v001.png", noise_png("space"), SPACES)
    p.file(f"{IMG}/p-cat001_s-img001_d-trail_v001.png ", noise_png("trail"), SPACES)
    p.file(f"{IMG}/ p-cat001_s-img001_d-lead_v001.png", noise_png("lead"), SPACES)
    p.file(
        "space dir/p-cat001_s-img001_d-in-space-dir_v001.png",
        noise_png("space-dir"),
        SPACES,
        staged=True,
    )
    # metacharacters
    for name in [
        "*.png",
        "?.png",
        "[a-z].png",
        "{a,b}.png",
        "$(touch pwned).png",
        "`id`.png",
        "back\\slash.png",
        "%s%n%x.png",
        "{0}{name}.png",
        "'quote\".png",
        "-rf",
        "--help",
        ";.png",
        "|pipe.png",
        "&amp.png",
        "~tilde",
        "#hash.png",
        "..png",
        "...",
        "..\\..\\escape.png",
        "x'); DROP TABLE data;--.png",
        "NUL",
        "CON.png",
    ]:
        p.file(f"meta/{name}", junk, METACHARS)
    # 255-byte names; a file, a complex and a file in a 255-byte directory are valid assets
    long_img = "p-cat001_s-img001_d-" + "a" * 226 + "_v001.png"
    assert len(long_img.encode()) == 255
    p.file(f"{IMG}/{long_img}", noise_png("long"), LONG, staged=True)
    long_tex = "p-cat001_s-tex001_d-" + "b" * 215 + "_v001"
    assert len(tile_name(long_tex, 0, 0).encode()) == 255
    p.tiles(TEX, long_tex, ["diffuse"], LONG, staged=True)
    p.file("long/" + "é" * 127 + "x", junk, LONG)
    p.file("long/" + "x" * 251 + ".png", junk, LONG)
    p.file(
        "long/" + "d" * 255 + "/p-cat001_s-img001_d-in-long-dir_v001.png",
        noise_png("long-dir"),
        LONG,
        staged=True,
    )
    # Unicode: twin directories holding valid assets, twin names in one directory, look-alikes
    p.file(
        "cat001/caf\u00e9/p-cat001_s-img001_d-twin-nfc_v001.png",
        noise_png("nfc"),
        TWINS,
        staged=True,
    )
    p.file(
        "cat001/cafe\u0301/p-cat001_s-img001_d-twin-nfd_v001.png",
        noise_png("nfd"),
        TWINS,
        staged=True,
    )
    for name in [
        "caf\u00e9.png",
        "cafe\u0301.png",
        "\u00c5.png",
        "A\u030a.png",
        "\u212b.png",
        "p-cat001_s-img001_d-caf\u00e9_v001.png",
        "p-cat001_s-img001_d-cafe\u0301_v001.png",
    ]:
        p.file(f"twins/{name}", noise_png(name), TWINS)
    for name in [
        "p-cat001_s-img001_d-digit_v00\u0661.png",  # ARABIC-INDIC DIGIT ONE
        "p-cat001_s-img001_d-full_v\uff10\uff10\uff11.png",  # fullwidth digits
        "p-cat001_s-img001_d-zw\u200bj_v001.png",  # zero-width space
        "p-cat001_s-img001_d-rtl_v001\u202egnp.png",  # right-to-left override
        "\u0440-cat001_s-img001_d-cyrillic_v001.png",  # Cyrillic er for p
        "p-cat001_s-img001_d-cat\U0001f408_v001.png",
    ]:
        p.file(f"{IMG}/{name}", noise_png(name), TWINS)


def deep_tree(p: Planter) -> None:
    """A 100-deep directory tree with valid assets at the bottom and junk half-way."""
    parts = ["deep", *(f"d{level:03d}" for level in range(100))]
    bottom = "/".join(parts)
    p.file(f"{bottom}/p-cat001_s-img001_d-deep_v001.png", noise_png("deep"), DEEP, staged=True)
    p.sequence(bottom, "p-cat001_s-raw001_d-deep_v001", frames("deep-seq", 2), DEEP, True)
    p.file("/".join(parts[:51]) + "/junk.txt", b"half-way down\n", DEEP)


def unlistable(p: Planter) -> None:
    """Directories that cannot be listed (mode 000), listed but not searched (r--), and
    searched but not listed (--x, reached through a link), for a process without root's
    permission overrides."""
    p.file(
        "locked/p-cat001_s-img001_d-locked_v001.png",
        noise_png("locked"),
        UNLISTABLE,
        holder="locked",
    )
    p.file("locked/sub/x.png", noise_png("locked-sub"), UNLISTABLE, holder="locked")
    p.add(Entry("locked", UNLISTABLE, "directory"))
    seq = "p-cat001_s-raw001_d-locked_v001"
    for n, data in frames("locked-seq", 3).items():
        p.file(
            f"{RAW}/{seq}/{frame_name(seq, n)}",
            data,
            UNLISTABLE,
            holder=f"{RAW}/{seq}",
            asset=f"{RAW}/{seq}",
        )
    p.add(Entry(f"{RAW}/{seq}", UNLISTABLE, "directory"))
    p.file(f"{IMG}/noexec/p-cat001_s-img001_d-noexec_v001.png", noise_png("noexec"), UNLISTABLE)
    p.file(f"{IMG}/noexec/notes.txt", b"notes\n", UNLISTABLE)
    # --x: the real walk cannot list it; a link inside ingress reaches the sequence in it
    hidden = "p-cat001_s-raw001_d-viaexec_v001"
    content = frames("viaexec", 3)
    for n, data in content.items():
        p.file(f"hidden/{hidden}/{frame_name(hidden, n)}", data, UNLISTABLE, holder="hidden")
        p.followed.append(
            Entry(
                f"{RAW}/{hidden}/{frame_name(hidden, n)}",
                UNLISTABLE,
                "file",
                staged_within=True,
                data=data,
                asset=f"{RAW}/{hidden}",
            )
        )
    p.add(Entry("hidden", UNLISTABLE, "directory"))
    p.link(
        f"{RAW}/{hidden}",
        f"../../hidden/{hidden}",
        UNLISTABLE,
        "inside-dir-unseen",
        target=f"hidden/{hidden}",
    )
    for relative, mode in [
        ("locked/sub", 0),
        ("locked", 0),
        (f"{RAW}/{seq}", 0),
        (f"{IMG}/noexec", 0o444),
        ("hidden", 0o111),
    ]:
        (p.ingress / relative).chmod(mode)


def broken_content(p: Planter) -> None:
    """Files named like valid ones that are empty, truncated, lying, bombs or sparse."""
    # 0 bytes
    p.file(f"{IMG}/p-cat001_s-img001_d-empty_v001.png", b"", ZERO)
    p.file("empty.png", b"", ZERO)
    seq = "p-cat001_s-raw001_d-empty-frame_v001"
    p.sequence(RAW, seq, {1: noise_png("ef1"), 2: b"", 3: noise_png("ef3")}, ZERO)
    p.sequence(RAW, "p-cat001_s-raw001_d-all-empty_v001", dict.fromkeys((1, 2, 3), b""), ZERO)
    p.tiles(
        TEX, "p-cat001_s-tex001_d-empty_v001", ["diffuse"], ZERO, special={("diffuse", 0, 1): b""}
    )
    # truncated inside the pixel data: the header reads, only a full decode fails
    for keep, descriptor in [(0.0, "cut-at-data"), (0.5, "cut-half"), (0.97, "cut-near-end")]:
        seq = f"p-cat001_s-raw001_d-{descriptor}_v001"
        whole = frames(seq, 3, size=(32, 32))
        whole[2] = truncated_png(seq, keep)
        p.sequence(RAW, seq, whole, TRUNCATED)
    # lying: text, HTML and garbage named .png; JPEG as .png and PNG as .jpg (Img001 takes both)
    p.file(f"{IMG}/p-cat001_s-img001_d-text_v001.png", b"just some text\n", LYING)
    p.file(f"{IMG}/p-cat001_s-img001_d-html_v001.png", b"<html><body>hi</body></html>", LYING)
    p.file(f"{IMG}/p-cat001_s-img001_d-garbage_v001.png", PNG_SIGNATURE + b"garbage" * 9, LYING)
    p.file(
        f"{IMG}/p-cat001_s-img001_d-jpeg-as-png_v001.png",
        noise_jpeg("jpeg-as-png"),
        LYING,
        staged=True,
    )
    p.file(
        f"{IMG}/p-cat001_s-img001_d-png-as-jpg_v001.jpg",
        noise_png("png-as-jpg"),
        LYING,
        staged=True,
    )
    seq = "p-cat001_s-raw001_d-lying_v001"
    p.sequence(
        RAW, seq, {1: noise_png("l1"), 2: b"%PDF-1.4 not a frame", 3: noise_png("l3")}, LYING
    )
    p.tiles(
        TEX,
        "p-cat001_s-tex001_d-lying_v001",
        ["diffuse"],
        LYING,
        special={("diffuse", 1, 0): b"GIF89a but not really"},
    )
    # decompression bombs: headers claiming huge sizes, and a real one
    p.file(f"{IMG}/p-cat001_s-img001_d-bomb_v001.png", claimed_png(100_000, 100_000), BOMB)
    seq = "p-cat001_s-raw001_d-bomb_v001"
    p.sequence(RAW, seq, {1: claimed_png(8000, 8000), 2: claimed_png(8000, 8000)}, BOMB)
    seq = "p-cat001_s-raw001_d-huge-bomb_v001"
    p.sequence(RAW, seq, {1: claimed_png(100_000, 100_000, 0)}, BOMB)
    p.sequence(RAW, "p-cat001_s-raw001_d-real-bomb_v001", {1: real_bomb(7200)}, BOMB)
    p.tiles(
        TEX,
        "p-cat001_s-tex001_d-bomb_v001",
        ["diffuse"],
        BOMB,
        special={("diffuse", 1, 1): claimed_png(100_000, 100_000)},
    )
    # 2 GiB sparse files: no data written, names right
    p.sparse(f"{IMG}/p-cat001_s-img001_d-sparse_v001.png", SPARSE)
    seq = "p-cat001_s-raw001_d-sparse_v001"
    p.sequence(RAW, seq, {1: noise_png("sp1"), 3: noise_png("sp3")}, SPARSE)
    p.sparse(f"{RAW}/{seq}/{frame_name(seq, 2)}", SPARSE, asset=f"{RAW}/{seq}")
    tex = "p-cat001_s-tex001_d-sparse_v001"
    p.tiles(TEX, tex, ["diffuse"], SPARSE, special={("diffuse", 0, 0): None})
    p.sparse(f"{TEX}/{tex}/diffuse/{tile_name(tex, 0, 0)}", SPARSE, asset=f"{TEX}/{tex}")


def changing(p: Planter) -> Changing:
    """A valid sequence whose middle frame is rewritten in place while the workflow runs."""
    seq = "p-cat001_s-raw001_d-changing_v001"
    asset = f"{RAW}/{seq}"
    planted = frames(seq, 3)
    versions = [planted[2], noise_png("changing-b"), noise_png("changing-c")]
    for n, data in planted.items():
        p.file(
            f"{asset}/{frame_name(seq, n)}", data, CHANGING, staged=True, asset=asset, changing=True
        )
    return Changing(p.ingress / asset / frame_name(seq, 2), asset, versions)


def swapped(p: Planter, sentinel: Path) -> Swapper:
    """A valid complex asset one of whose tiles becomes a link to the sentinel mid-run."""
    tex = "p-cat001_s-tex001_d-swapped_v001"
    planted = p.tiles(TEX, tex, ["diffuse"], CHANGING)
    tile = planted[0]
    assert tile.path.endswith(tile_name(tex, 0, 0))
    target = sentinel / "swap" / tile_name(tex, 0, 0)
    data = (p.ingress / tile.path).read_bytes()
    return Swapper(p.ingress / tile.path, f"{TEX}/{tex}", target, data)


def make_hostile_tree(root: Path, unlistable_dirs: bool = True) -> HostileTree:
    """Lay out `root/ingress` and `root/sentinel`. `unlistable_dirs` plants directories that a
    process without root's permission overrides cannot list (leave it out when the workflow
    runs with them)."""
    ingress, sentinel = root / "ingress", root / "sentinel"
    ingress.mkdir(parents=True)
    tokens, fifos = make_sentinel(sentinel)
    p = Planter(ingress)
    targets = valid_assets(p)
    special_files(p)
    broken_content(p)
    links(p, root, targets)
    odd_names(p)
    deep_tree(p)
    rewritten = changing(p)
    swapper = swapped(p, sentinel)
    if unlistable_dirs:
        unlistable(p)
    else:
        p.skipped.append(f"{UNLISTABLE}: root's permission overrides cannot be dropped")
    return HostileTree(
        root=root,
        ingress=ingress,
        sentinel=sentinel,
        entries=p.entries,
        followed=p.followed,
        tokens=tokens,
        sentinel_fifos=fifos,
        changing=rewritten,
        swapper=swapper,
        sockets=p.sockets,
        skipped=p.skipped,
    )


def close_quietly(tree: HostileTree) -> None:
    with contextlib.suppress(Exception):
        tree.changing.finish()
    with contextlib.suppress(Exception):
        tree.swapper.finish()
    tree.close()
