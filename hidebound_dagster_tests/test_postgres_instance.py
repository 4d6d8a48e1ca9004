"""deploy/dagster-postgres.yaml against a real PostgreSQL 15 server started for the test: a run
executed from the CLI and a run queued and launched by the daemon are recorded in PostgreSQL."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
import yaml

from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS, EXAMPLE_SPECS, REPO
from hidebound_dagster_tests.services import LOOPBACK, free_port, start, stop, wait_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEPLOY_YAML = REPO / "deploy" / "dagster-postgres.yaml"
BIN = Path(sys.executable).parent
CONNECTION_VARS = {
    "username": "DAGSTER_PG_USERNAME",
    "password": "DAGSTER_PG_PASSWORD",
    "hostname": "DAGSTER_PG_HOST",
    "db_name": "DAGSTER_PG_DB",
    "port": "DAGSTER_PG_PORT",
}


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster run as the `postgres` system user (it refuses root),
    listening on loopback TCP (password auth) and on a private Unix socket (trust, for setup)."""

    root: Path
    port: int = field(default_factory=free_port)
    user: str = "dagster"
    password: str = "dagster-test-password-0123"
    db_name: str = "dagster"
    proc: subprocess.Popen | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockets(self) -> Path:
        return self.root / "sockets"

    def as_postgres(self, *cmd: str | Path) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *map(str, cmd)]

    def start(self) -> PostgresServer:
        owner = pwd.getpwnam("postgres").pw_uid, grp.getgrnam("postgres").gr_gid
        self.sockets.mkdir(parents=True)
        for path in (self.root, self.sockets):
            os.chown(path, *owner)
        subprocess.run(
            self.as_postgres(
                PG_BIN / "initdb",
                "-D",
                self.data,
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        cmd = self.as_postgres(
            PG_BIN / "postgres",
            "-D",
            self.data,
            "-h",
            LOOPBACK,
            "-p",
            self.port,
            "-k",
            self.sockets,
            "-c",
            "fsync=off",
            "-c",
            "max_connections=100",
        )
        self.proc = start(cmd, self.root / "postgres.log")
        wait_port(self.port, 60, self.proc)
        self._bootstrap()
        return self

    def superuser(self):
        """A connection as `postgres` over the private socket (trust auth), retried while the
        server finishes starting up."""
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = psycopg2.connect(
                    host=str(self.sockets), port=self.port, user="postgres", dbname="postgres"
                )
                connection.autocommit = True
                return connection
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _bootstrap(self) -> None:
        connection = self.superuser()
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {self.user} LOGIN PASSWORD %s", (self.password,))
            cursor.execute(f"CREATE DATABASE {self.db_name} OWNER {self.user}")
        connection.close()

    def connect(self, password: str | None = None):
        """A connection as the Dagster user over TCP, with a password, as Dagster connects."""
        return psycopg2.connect(
            host=LOOPBACK,
            port=self.port,
            user=self.user,
            password=self.password if password is None else password,
            dbname=self.db_name,
            connect_timeout=10,
        )

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()

    def env(self) -> dict[str, str]:
        return {
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_HOST": LOOPBACK,
            "DAGSTER_PG_DB": self.db_name,
            "DAGSTER_PG_PORT": str(self.port),
        }

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, timeout=30, sig=signal.SIGINT)  # SIGINT: "fast" shutdown


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    # Not under pytest's tmp dir: that one is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="hidebound-pg-"))
    server = PostgresServer(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        log = (root / "postgres.log").read_text(errors="replace") if root.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
    assert server.proc.poll() is not None, "postgres still running"
    assert "database system is shut down" in log


@pytest.fixture
def deployment(tmp_path: Path, postgres: PostgresServer) -> Iterator[dict[str, str]]:
    """A fresh database, DAGSTER_HOME holding the deploy yaml, and a copy of the example config
    with its own ingress and staging; returns the environment for the Dagster commands."""
    connection = postgres.superuser()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {postgres.db_name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {postgres.db_name} OWNER {postgres.user}")
    connection.close()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    example = tmp_path / "example"
    shutil.copytree(EXAMPLE_INGRESS, example / "examples" / "ingress")
    shutil.copytree(EXAMPLE_SPECS, example / "specs")
    shutil.copy(REPO / "hidebound.yaml", example / "hidebound.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HIDEBOUND_", "DAGSTER_"))}
    yield {
        **env,
        **postgres.env(),
        "DAGSTER_HOME": str(home),
        "HIDEBOUND_CONFIG_FILEPATH": str(example / "hidebound.yaml"),
    }


def dagster(env: dict[str, str], cwd: Path, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(BIN / "dagster"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    return output


def materialized(postgres: PostgresServer, run_id: str) -> set[str]:
    rows = postgres.query(
        "SELECT DISTINCT asset_key FROM event_logs "
        "WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        (run_id,),
    )
    return {"/".join(json.loads(key)) for (key,) in rows}


def test_deploy_yaml_takes_every_connection_value_from_the_environment() -> None:
    config = yaml.safe_load(DEPLOY_YAML.read_text())
    db = config["storage"]["postgres"]["postgres_db"]
    assert {key: db[key] for key in CONNECTION_VARS} == {
        key: {"env": name} for key, name in CONNECTION_VARS.items()
    }
    # psycopg2 is what dagster-postgres installs; SQLAlchemy 2.1 defaults to psycopg 3
    assert db["scheme"] == "postgresql+psycopg2"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_coordinator"]["module"] == "dagster._core.run_coordinator"
    text = DEPLOY_YAML.read_text()
    for name in CONNECTION_VARS.values():  # every variable is documented in the file
        assert text.count(name) >= 2, name
    assert "password:" in text and "dagster-test-password" not in text


def test_instance_uses_postgres_and_the_queued_coordinator(
    postgres: PostgresServer, deployment: dict[str, str], tmp_path: Path
) -> None:
    script = (
        "from dagster import DagsterInstance\n"
        "instance = DagsterInstance.get()\n"
        "print(type(instance.run_storage).__name__, type(instance.event_log_storage).__name__,"
        " type(instance.schedule_storage).__name__, type(instance.run_coordinator).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=deployment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [
        "PostgresRunStorage",
        "PostgresEventLogStorage",
        "PostgresScheduleStorage",
        "QueuedRunCoordinator",
    ]
    tables = {
        name
        for (name,) in postgres.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    }
    assert {"runs", "event_logs", "jobs", "job_ticks", "instigators"} <= tables
    # the password is really checked: Dagster got in with it, a wrong one does not
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        postgres.connect(password="wrong")


def test_job_execute_records_the_run_in_postgres(
    postgres: PostgresServer, deployment: dict[str, str], tmp_path: Path
) -> None:
    dagster(
        deployment,
        tmp_path,
        "job",
        "execute",
        "-m",
        "hidebound_dagster.definitions",
        "-j",
        "update",
    )
    rows = postgres.query("SELECT run_id, pipeline_name, status FROM runs")
    assert len(rows) == 1, rows
    run_id, job, status = rows[0]
    assert (job, status) == ("update", "SUCCESS")
    assert materialized(postgres, run_id) == {"file_table", "asset_table", "validated_assets"}
    home = Path(deployment["DAGSTER_HOME"])
    assert not list(home.rglob("*.db")), "SQLite storage was used"
    assert (home / "storage" / "tables" / "file_table.parquet").is_file()


def test_daemon_launches_a_queued_run(
    postgres: PostgresServer, deployment: dict[str, str], tmp_path: Path
) -> None:
    dagster(
        deployment, tmp_path, "job", "launch", "-m", "hidebound_dagster.definitions", "-j", "update"
    )
    [(run_id, status)] = postgres.query("SELECT run_id, status FROM runs")
    assert status == "QUEUED"  # nothing runs until the daemon dequeues it

    daemon = start(
        [str(BIN / "dagster-daemon"), "run", "-m", "hidebound_dagster.definitions"],
        tmp_path / "daemon.log",
        env=deployment,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-5000:]
            [(status,)] = postgres.query("SELECT status FROM runs WHERE run_id = %s", (run_id,))
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(1)
        heartbeats = {
            name for (name,) in postgres.query("SELECT daemon_type FROM daemon_heartbeats")
        }
    finally:
        stop(daemon, timeout=30)
    assert status == "SUCCESS", (tmp_path / "daemon.log").read_text()[-5000:]
    assert materialized(postgres, run_id) == {"file_table", "asset_table", "validated_assets"}
    assert {"QUEUED_RUN_COORDINATOR", "SENSOR", "SCHEDULER"} <= heartbeats
