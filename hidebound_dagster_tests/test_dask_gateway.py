"""`cluster_type: gateway` really runs the work on a dask-gateway cluster: a real
`dask-gateway-server` on loopback (local-process backend, simple password auth, its Go
scheduler proxy) starts a scheduler and workers as its own child processes, and the traits of
the file table are read by those workers, with the cluster options the hidebound config chose.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import dask_gateway
import pandas as pd
import psutil
import pytest
import yaml

from hidebound_dagster.core.cluster import dask_mapper
from hidebound_dagster.core.config import DaskConfig, load_config
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS
from hidebound_dagster_tests.services import (
    LOOPBACK,
    binary,
    free_port,
    start,
    still_alive,
    stop,
    wait_http,
)
from hidebound_dagster_tests.where_specs import TAG_VARIABLE, WHERE_COLUMNS, WHERE_SPECS

pytestmark = [
    pytest.mark.timeout(300),  # a hang fails the module, it never stalls the suite
    # dask-gateway 2026.3.0 with distributed 2026.8: a closed Gateway closes itself again when
    # collected, and LoopRunner.loop then raises (harmless; the loop is already stopped)
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <function Gateway.__del__"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]

NUM_PARTITIONS = 16
USER = "alice"
#: The cluster's environment variable that the `tag` cluster option sets.
#: Seconds a failing gateway call may take beyond gateway_timeout.
MARGIN = 8

#: The server config. UnsafeLocalBackend runs every cluster as child processes of the server,
#: as the server's own user (no setuid, so running as root is fine; LocalBackend would switch
#: to a system user named like the gateway user). The in-memory database needs no encryption
#: keys and is dropped with the server, which stops every cluster it still runs on shutdown.
SERVER_CONFIG = """
from dask_gateway_server.options import Integer, Options, String

c.DaskGateway.address = "{loopback}:{api_port}"
c.Proxy.address = "{loopback}:{http_port}"
c.Proxy.tcp_address = "{loopback}:{tcp_port}"
c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.SimpleAuthenticator.password = "{password}"
c.DBBackendBase.db_url = "sqlite:///:memory:"
c.LocalBackend.clusters_directory = "{clusters}"
c.ClusterConfig.scheduler_cmd = ["{dask}", "scheduler"]
c.ClusterConfig.worker_cmd = ["{dask}", "worker", "--host", "{loopback}"]  # else all interfaces
c.ClusterConfig.worker_memory = "1 G"
c.ClusterConfig.cluster_max_workers = 2


def options_handler(options):
    return {{
        "worker_cores": options.worker_cores,
        "environment": {{"{tag_variable}": options.tag}},
    }}


c.Backend.cluster_options = Options(
    Integer("worker_cores", default=1, min=1, max=2, label="Worker cores"),
    String("tag", default="untagged", label="Cluster tag"),
    handler=options_handler,
)
"""


@dataclass(frozen=True)
class Proc:
    """A process as seen while the cluster ran."""

    ppid: int
    cmdline: tuple[str, ...]
    listening: frozenset[str] = frozenset()  # the IPs it accepts connections on


@dataclass
class GatewayServer:
    """`dask-gateway-server` on loopback: private API, HTTP proxy and scheduler proxy ports."""

    root: Path
    password: str = field(default_factory=lambda: uuid.uuid4().hex, repr=False)
    api_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    tcp_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    seen: set[int] = field(default_factory=set)  # every process seen under the server

    @property
    def address(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def proxy_address(self) -> str:
        return f"gateway://{LOOPBACK}:{self.tcp_port}"

    @property
    def log(self) -> Path:
        return self.root / "dask-gateway-server.log"

    def start(self) -> GatewayServer:
        config = self.root / "dask_gateway_config.py"
        config.write_text(
            SERVER_CONFIG.format(
                loopback=LOOPBACK,
                api_port=self.api_port,
                http_port=self.http_port,
                tcp_port=self.tcp_port,
                password=self.password,
                clusters=self.root / "clusters",
                dask=binary("dask"),
                tag_variable=TAG_VARIABLE,
            )
        )
        self.proc = start([str(binary("dask-gateway-server")), "-f", str(config)], self.log)
        try:
            wait_http(self.address + "/api/health", 60, self.proc)  # through the proxy
        except BaseException:
            stop(self.proc)
            raise
        return self

    def config(self, **changes) -> DaskConfig:
        """The hidebound Dask config for this gateway."""
        settings = {
            "cluster_type": "gateway",
            "num_partitions": NUM_PARTITIONS,
            "gateway_address": self.address,
            "gateway_proxy_address": self.proxy_address,
            "gateway_auth_type": "basic",
            "gateway_api_user": USER,
            "gateway_api_token": self.password,
            "gateway_min_workers": 1,
            "gateway_max_workers": 2,
            "gateway_timeout": 60,
        }
        return DaskConfig(**{**settings, **changes})

    def descendants(self) -> dict[int, Proc]:
        """Every live process under the server (its proxy, and each cluster's scheduler and
        workers); remembered, so teardown can check that none outlives the server."""
        found = {}
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                listening = frozenset(
                    conn.laddr.ip
                    for conn in child.net_connections("tcp")
                    if conn.status == psutil.CONN_LISTEN
                )
                found[child.pid] = Proc(child.ppid(), tuple(child.cmdline()), listening)
        self.seen |= set(found)
        return found

    def clusters(self) -> list:
        """The user's pending and running clusters, as the gateway reports them."""
        auth = dask_gateway.BasicAuth(username=USER, password=self.password)
        with dask_gateway.Gateway(self.address, self.proxy_address, auth=auth) as gateway:
            return gateway.list_clusters()

    def stop_cluster(self, name: str) -> None:
        auth = dask_gateway.BasicAuth(username=USER, password=self.password)
        with dask_gateway.Gateway(self.address, self.proxy_address, auth=auth) as gateway:
            gateway.stop_cluster(name)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def is_proxy(proc: Proc) -> bool:
    return Path(proc.cmdline[0]).name == "dask-gateway-proxy" if proc.cmdline else False


def cluster_processes(tree: dict[int, Proc]) -> set[int]:
    return {pid for pid, proc in tree.items() if not is_proxy(proc)}


def worker_command(pid: int, tree: dict[int, Proc], server_pid: int) -> tuple[str, ...] | None:
    """The `dask worker` command the process runs under (itself or its nanny), when that
    command is a child of the gateway server; else None."""
    command = None
    while pid in tree:
        proc = tree[pid]
        if (
            len(proc.cmdline) > 2
            and Path(proc.cmdline[1]).name == "dask"
            and proc.cmdline[2] == "worker"
        ):
            command = proc.cmdline
        if proc.ppid == server_pid:
            return command
        pid = proc.ppid
    return None


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    server = GatewayServer(tmp_path_factory.mktemp("dask-gateway")).start()
    yield server
    server.descendants()
    stop(server.proc)  # SIGTERM: the server stops its clusters, then its proxy, then exits
    assert server.proc.returncode is not None
    leftover = still_alive(server.seen)
    for pid in leftover:  # processes the server should have stopped: end them here, by id
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()
    assert not leftover, f"gateway cluster processes outlived the server: {leftover}"


@pytest.fixture(autouse=True)
def collect_gateway_clients() -> Iterator[None]:
    """Collect dropped Gateway clients while this module's warning filter applies."""
    yield
    gc.collect()


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gateway-specs") / "gateway_specs.py"
    path.write_text(WHERE_SPECS)
    return path


@pytest.fixture(scope="module")
def ingress(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gateway-ingress") / "ingress"
    shutil.copytree(EXAMPLE_INGRESS, root)
    return root


def build(
    ingress: Path, spec_file: Path, config: DaskConfig, server: GatewayServer | None = None
) -> tuple[pd.DataFrame, dict[int, Proc]]:
    """The file table built through the configured mapper, and the processes under the
    gateway server while the cluster still ran."""
    with dask_mapper(config) as mapper:
        table = build_file_table(
            ingress, load_specifications([spec_file]), mapper=mapper, chunks=NUM_PARTITIONS
        )
        tree = server.descendants() if server else {}
    return table, tree


@pytest.fixture(scope="module")
def threaded(ingress: Path, spec_file: Path) -> pd.DataFrame:
    table, _ = build(ingress, spec_file, DaskConfig(cluster_type="threads"))
    assert set(table["pid"].dropna().astype(int)) == {os.getpid()}
    assert set(table["nthreads"].dropna()) == {0}
    return table


def where(table: pd.DataFrame) -> tuple[set[int], set[str], set[int]]:
    """The reader pids, cluster tags and worker thread counts of the readable files."""
    pids = table["pid"].dropna().astype(int)
    assert len(pids) >= 20  # every readable file of a known spec was read
    readable = table.loc[pids.index]
    return set(pids), set(readable["tag"]), set(readable["nthreads"].astype(int))


def assert_ran_on_gateway_workers(
    pids: set[int], tree: dict[int, Proc], server: GatewayServer
) -> list[tuple[str, ...]]:
    """Every reader is a worker process the gateway server started; their worker commands."""
    assert os.getpid() not in pids
    commands = []
    for pid in pids:
        command = worker_command(pid, tree, server.proc.pid)
        assert command, f"process {pid} is not a dask worker under the gateway server: {tree}"
        commands.append(command)
    return commands


def assert_cluster_shut_down(tree: dict[int, Proc], server: GatewayServer) -> None:
    """Leaving the mapper stopped the cluster: its processes end and the gateway lists none."""
    cluster = cluster_processes(tree)
    assert cluster, "no cluster processes were running under the gateway server"
    assert not still_alive(cluster), f"cluster processes outlived the mapper:\n{server.tail()}"
    assert server.clusters() == []


def test_traits_run_on_gateway_workers(
    gateway: GatewayServer, ingress: Path, spec_file: Path, threaded: pd.DataFrame
) -> None:
    table, tree = build(ingress, spec_file, gateway.config(), gateway)
    pids, tags, nthreads = where(table)
    assert_ran_on_gateway_workers(pids, tree, gateway)
    assert 1 <= len(pids) <= 2  # adapt(minimum=1, maximum=2)
    assert {ip for proc in tree.values() for ip in proc.listening} == {LOOPBACK}
    assert tags == {"untagged"}  # the server's default cluster options
    assert nthreads == {1}
    pd.testing.assert_frame_equal(
        table.drop(columns=WHERE_COLUMNS), threaded.drop(columns=WHERE_COLUMNS)
    )
    assert table["width"].notna().sum() >= 20
    assert_cluster_shut_down(tree, gateway)


def test_cluster_options_of_the_config_file_reach_the_cluster(
    gateway: GatewayServer,
    ingress: Path,
    spec_file: Path,
    threaded: pd.DataFrame,
    tmp_path: Path,
) -> None:
    tag = f"hidebound-{uuid.uuid4().hex[:8]}"
    dask_section = gateway.config().model_dump(mode="json", exclude={"gateway_api_token"})
    dask_section["gateway_api_token"] = gateway.password
    dask_section["gateway_cluster_options"] = [
        {"field": "worker_cores", "label": "Worker cores", "default": 2, "option_type": "int"},
        {"field": "tag", "label": "Cluster tag", "default": tag, "option_type": "string"},
    ]
    config_file = tmp_path / "hidebound.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "ingress_directory": str(ingress),
                "staging_directory": str(tmp_path / "hidebound"),
                "specification_files": [str(spec_file)],
                "dask": dask_section,
            }
        )
    )
    table, tree = build(ingress, spec_file, load_config(config_file).dask, gateway)
    pids, tags, nthreads = where(table)
    commands = assert_ran_on_gateway_workers(pids, tree, gateway)
    assert tags == {tag}  # the cluster's environment, set by the server's option handler
    assert nthreads == {2}  # worker_cores=2 -> two threads per worker
    for command in commands:
        index = command.index("--nthreads")
        assert command[index + 1] == "2"
    pd.testing.assert_frame_equal(
        table.drop(columns=WHERE_COLUMNS), threaded.drop(columns=WHERE_COLUMNS)
    )
    assert_cluster_shut_down(tree, gateway)


def test_shutdown_on_close_false_leaves_the_cluster_running(gateway: GatewayServer) -> None:
    config = gateway.config(gateway_shutdown_on_close=False)
    with dask_mapper(config) as mapper:
        pids = set(mapper(lambda _: os.getpid(), list(range(8))))
        tree = gateway.descendants()
    assert os.getpid() not in pids
    assert all(worker_command(pid, tree, gateway.proc.pid) for pid in pids)
    (kept,) = gateway.clusters()  # still listed after the mapper closed
    cluster = cluster_processes(tree)
    time.sleep(2)  # a cluster being stopped would be going by now
    assert still_alive(cluster, timeout=0) == cluster
    gateway.stop_cluster(kept.name)
    assert not still_alive(cluster), gateway.tail()
    assert gateway.clusters() == []


def test_an_unknown_cluster_option_fails_before_any_cluster_starts(
    gateway: GatewayServer,
) -> None:
    options = [{"field": "gpus", "label": "GPUs", "default": 1, "option_type": "int"}]
    before = gateway.descendants()
    with (
        pytest.raises(AttributeError, match="No option 'gpus'"),
        dask_mapper(gateway.config(gateway_cluster_options=options)),
    ):
        pytest.fail("the mapper opened with an option the gateway does not offer")
    assert gateway.descendants().keys() == before.keys()
    assert gateway.clusters() == []


def test_a_wrong_password_fails_fast_and_starts_nothing(gateway: GatewayServer) -> None:
    config = gateway.config(gateway_api_token="not-the-password", gateway_timeout=5)
    before = gateway.descendants()
    began = time.monotonic()
    with pytest.raises(aiohttp.ClientResponseError) as caught, dask_mapper(config):
        pytest.fail("the mapper opened with a wrong password")
    elapsed = time.monotonic() - began
    assert caught.value.status == 401
    assert "Unauthorized" in str(caught.value)
    assert elapsed < config.gateway_timeout + MARGIN
    assert gateway.descendants().keys() == before.keys()  # no scheduler, no worker
    assert gateway.clusters() == []


def new_threads(before: set[int]) -> list[str]:
    return [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]


def test_a_failed_start_leaves_no_gateway_client_behind(gateway: GatewayServer) -> None:
    config = gateway.config(gateway_api_token="not-the-password", gateway_timeout=5)
    before = {thread.ident for thread in threading.enumerate()}
    with pytest.raises(aiohttp.ClientResponseError) as caught, dask_mapper(config):
        pytest.fail("the mapper opened with a wrong password")
    leaked = new_threads(before)  # the error (and its traceback) is still held here
    del caught
    assert leaked == []


def test_an_unresponsive_gateway_fails_within_the_timeout(gateway: GatewayServer) -> None:
    outcome: dict = {}
    with socket.socket() as hole:  # accepts connections (kernel backlog), never answers
        hole.bind((LOOPBACK, 0))
        hole.listen(8)
        config = gateway.config(
            gateway_address=f"http://{LOOPBACK}:{hole.getsockname()[1]}", gateway_timeout=2
        )

        def open_mapper() -> None:
            began = time.monotonic()
            try:
                with dask_mapper(config):
                    outcome["opened"] = True
            except Exception as error:  # keep its text only: the error holds the client
                outcome["error"] = f"{type(error).__name__}: {error}"
            outcome["elapsed"] = time.monotonic() - began

        thread = threading.Thread(target=open_mapper, daemon=True)
        thread.start()
        thread.join(config.gateway_timeout + MARGIN)
        hung = thread.is_alive()
    thread.join(15)  # closing the listener resets the waiting connection: the call ends now
    assert not hung, f"still waiting for the gateway {config.gateway_timeout + MARGIN} s later"
    assert "error" in outcome and "opened" not in outcome
    assert outcome["elapsed"] < config.gateway_timeout + MARGIN
