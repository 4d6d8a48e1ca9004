"""Start and stop real servers on 127.0.0.1 for tests and benchmarks.

Every server binds loopback only and runs in its own process group, so stop() ends the whole
tree by its id. Loopback HTTP helpers (a recording receiver, a failing proxy) live here too.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

BIN = Path(sys.executable).parent  # console scripts of the active venv
LOOPBACK = "127.0.0.1"


def binary(name: str) -> Path:
    """Path of a venv console script; fail loudly (never skip) when it is missing."""
    path = BIN / name
    if not path.exists():
        raise RuntimeError(
            f"{name!r} is not installed in {BIN}; install the dev extras "
            "(`pip install -e '.[dev]'`) to get the test servers"
        )
    return path


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _check_alive(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is not None:
        raise RuntimeError(f"process exited early with {proc.returncode}: {proc.args}")


def wait_port(port: int, timeout: float = 60, proc: subprocess.Popen | None = None) -> float:
    """Wait until something listens on the loopback port; return the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        _check_alive(proc)
        with socket.socket() as sock:
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return time.monotonic() - start
        time.sleep(0.05)
    raise TimeoutError(f"port {port} not open after {timeout}s")


def wait_http(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> float:
    """Wait until the URL answers 2xx; return the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        _check_alive(proc)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
            return time.monotonic() - start
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} not answering after {timeout}s")


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _default_stop_signals() -> None:
    for number in _STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)


def _stop_signals_ignored() -> bool:
    """True when we run as a background job (SIGINT ignored): children would inherit that, and
    some servers (dagster) then ignore SIGTERM as well."""
    return any(signal.getsignal(number) == signal.SIG_IGN for number in _STOP_SIGNALS)


def start(cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """Start a server in its own process group, stdout and stderr into `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    restore = _default_stop_signals if _stop_signals_ignored() else None
    with log.open("ab") as handle:
        return subprocess.Popen(
            cmd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # own process group, so stop() reaches the whole tree
            preexec_fn=restore,  # only when needed: preexec_fn is risky with threads
        )


def stop(proc: subprocess.Popen, timeout: float = 15, sig: int = signal.SIGTERM) -> None:
    """Signal the process group we created (by its id), escalating to SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)  # pgid == pid because of setsid()
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def still_alive(pids: set[int], timeout: float = 20) -> set[int]:
    """The pids still alive (not zombies) after waiting up to `timeout` seconds for them."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        alive = set()
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.add(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@dataclass
class S3Server:
    """`rclone serve s3` on a fixed port and data directory, so it can be killed and restarted."""

    root: Path
    access_key: str = "hidebound-access"
    secret_key: str = "hidebound-secret-key-0123456789"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> S3Server:
        self.data.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(binary("rclone")),
            "serve",
            "s3",
            str(self.data),
            "--addr",
            f"{LOOPBACK}:{self.port}",
            "--auth-key",
            f"{self.access_key},{self.secret_key}",
            "--vfs-cache-mode",
            "off",
            "--config",
            "/dev/null",
        ]
        self.proc = start(cmd, self.root / "rclone.log")
        wait_port(self.port, 30, self.proc)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            stop(self.proc, sig=sig)


@dataclass
class GirderServer:
    """Girder 5 on SecantusDB, bootstrapped with an admin, an API key, an assetstore and a root."""

    root: Path
    port: int = field(default_factory=free_port)
    db_port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen] = field(default_factory=list)
    api_key: str = ""
    collection_id: str = ""

    @property
    def api_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/api/v1"

    @property
    def assetstore(self) -> Path:
        return self.root / "assetstore"

    def start(self) -> GirderServer:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        db_cmd = [
            str(binary("secantusd-py")),
            "--host",
            LOOPBACK,
            "--port",
            str(self.db_port),
            "--storage-path",
            str(self.root / "db"),
            "--log-level",
            "WARNING",
        ]
        self.procs.append(start(db_cmd, self.root / "secantus.log"))
        wait_port(self.db_port, 60, self.procs[-1])
        girder_cmd = [
            str(binary("girder")),
            "serve",
            "--mode",
            "production",
            "--database",
            f"mongodb://{LOOPBACK}:{self.db_port}/girder",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
        ]
        self.procs.append(start(girder_cmd, self.root / "girder.log"))
        wait_http(self.api_url + "/system/version", 120, self.procs[-1])
        self._bootstrap()

    def _bootstrap(self) -> None:
        import girder_client

        admin = girder_client.GirderClient(apiUrl=self.api_url)
        admin.post(
            "user",
            parameters={
                "login": "admin",
                "email": "admin@example.com",
                "firstName": "A",
                "lastName": "Dmin",
                "password": "adminpassword1",
            },
        )  # first user = site admin
        admin.authenticate("admin", "adminpassword1")
        self.api_key = admin.post("api_key", parameters={"name": "tests", "active": "true"})["key"]
        self.assetstore.mkdir(parents=True, exist_ok=True)
        admin.post("assetstore", parameters={"name": "fs", "type": 0, "root": str(self.assetstore)})
        collection = admin.post("collection", parameters={"name": "hidebound", "public": "false"})
        self.collection_id = collection["_id"]

    def client(self, api_url: str | None = None):
        """An authenticated girder_client for reading back what was exported."""
        import girder_client

        client = girder_client.GirderClient(apiUrl=api_url or self.api_url)
        client.authenticate(apiKey=self.api_key)
        return client

    def stop(self) -> None:
        for proc in reversed(self.procs):  # girder first, then its database
            stop(proc)


@dataclass(frozen=True)
class Recorded:
    """One request seen by the RecordingServer."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # silence stderr access lines
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.server.handle(self)  # type: ignore[attr-defined]

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET  # noqa: N815


class _LoopbackHTTP(ThreadingHTTPServer):
    """A threaded loopback HTTP server whose requests go to `handle(handler)`."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    def handle(self, handler: _Handler) -> None:
        raise NotImplementedError


class RecordingServer(_LoopbackHTTP):
    """Webhook receiver: records every request; `/status/<code>` answers that status."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()

    def handle(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        record = Recorded(
            handler.command,
            parts.path,
            parse_qs(parts.query),
            dict(handler.headers.items()),
            handler._body(),
        )
        with self._lock:
            self.requests.append(record)
        segments = parts.path.strip("/").split("/")
        status = int(segments[1]) if segments[0] == "status" else 200
        handler._reply(status, b'{"received": true}')


_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "expect"}


class FailingProxy(_LoopbackHTTP):
    """Reverse proxy to a loopback port that answers 500 to its first `fail_first` requests
    (of those `should_fail` picks) and records (method, path, body) of every request."""

    def __init__(
        self,
        target_port: int,
        fail_first: int = 0,
        should_fail: Callable[[str, str], bool] | None = None,
    ) -> None:
        super().__init__()
        self.target_port = target_port
        self.fail_first = fail_first
        self.should_fail = should_fail or (lambda method, path: True)
        self.failed = 0
        self.requests: list[tuple[str, str, bytes]] = []
        self._lock = threading.Lock()

    def _take_failure(self, method: str, path: str, body: bytes) -> bool:
        with self._lock:
            self.requests.append((method, path, body))
            if self.failed < self.fail_first and self.should_fail(method, path):
                self.failed += 1
                return True
            return False

    def handle(self, handler: _Handler) -> None:
        body = handler._body()
        if self._take_failure(handler.command, handler.path, body):
            handler._reply(500, b'{"message": "injected failure", "type": "internal"}')
            return
        upstream = http.client.HTTPConnection(LOOPBACK, self.target_port, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_HEADERS}
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS}
            handler._reply(response.status, payload, kept)
        finally:
            upstream.close()
