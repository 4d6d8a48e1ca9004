"""Real Dagster servers for the UI and daemon tests: a tmp copy of the example project, a tmp
DAGSTER_HOME, `dagster-webserver` and `dagster-daemon` on loopback, and a GraphQL client.

Everything runs on 127.0.0.1, in its own process group, and is stopped by its id.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hidebound_dagster_tests.services import LOOPBACK, binary, free_port, wait_http

REPO = Path(__file__).resolve().parents[1]
WORKSPACE = REPO / "workspace.yaml"
LOCATION = "hidebound_dagster"  # the code location name in workspace.yaml
REPOSITORY = "__repository__"
CHROMIUM = Path("/usr/bin/chromium")
#: Flags that keep headless Debian chromium off the network and quiet (services.md section 3).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def require_chromium() -> Path:
    """The Debian chromium Playwright drives; fail (never skip) when it is not installed."""
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        raise AssertionError(
            f"{CHROMIUM} is missing: the UI test drives the Debian chromium "
            "(`apt-get install -y chromium`); never run `playwright install`"
        )
    return CHROMIUM


# ------------------------------------------------------------------ project and instance copies


@dataclass(frozen=True)
class Project:
    """A tmp copy of the example ingress and specs, with a hidebound config pointing at them."""

    root: Path

    @property
    def ingress(self) -> Path:
        return self.root / "ingress"

    @property
    def staging(self) -> Path:
        return self.root / "hidebound"

    @property
    def specs(self) -> Path:
        return self.root / "specs"

    @property
    def config_file(self) -> Path:
        return self.root / "hidebound.yaml"


def make_project(root: Path, **settings: Any) -> Project:
    """Copy examples/ingress and specs/ under root and write root/hidebound.yaml (absolute
    paths; `settings` are extra config keys such as settle_seconds)."""
    project = Project(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "examples" / "ingress", project.ingress)
    shutil.copytree(REPO / "specs", project.specs, ignore=shutil.ignore_patterns("__pycache__"))
    project.staging.mkdir()
    config = {
        "ingress_directory": str(project.ingress),
        "staging_directory": str(project.staging),
        "specification_files": [str(project.specs)],
        "include_regex": "",
        "exclude_regex": r"\.DS_Store",
        "write_mode": "copy",
        "workflow": ["delete", "update", "create", "export"],
        **settings,
    }
    project.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def make_dagster_home(home: Path, daemon: bool = False) -> Path:
    """A DAGSTER_HOME with the repo's dagster.yaml (everything under the home, telemetry off).
    Without `daemon`, runs launch straight from the webserver (DefaultRunCoordinator); with it,
    the default QueuedRunCoordinator leaves them to dagster-daemon. The "Join the Dagster
    community" modal is marked as seen."""
    instance = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert instance["telemetry"] == {"enabled": False}
    if daemon:
        instance.pop("run_coordinator", None)
    else:
        instance["run_coordinator"] = {
            "module": "dagster._core.run_coordinator",
            "class": "DefaultRunCoordinator",
        }
    (home / ".nux").mkdir(parents=True, exist_ok=True)
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance, sort_keys=False))
    return home


# --------------------------------------------------------------------------------- processes


def _own_group_default_signals() -> None:
    # A child of a background job inherits SIGINT=SIG_IGN, and dagster copies that onto
    # SIGTERM, which makes it unkillable but by SIGKILL: restore the defaults.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.setsid()  # own process group: stop() reaches the code servers and run workers too


def launch(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start a server in its own process group with default signal handlers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        return subprocess.Popen(
            cmd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
            cwd=str(REPO),
            preexec_fn=_own_group_default_signals,
        )


def group_members(pgid: int) -> list[int]:
    """Ids of the live processes in a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def stop_groups(procs: list[subprocess.Popen], grace: float = 20) -> None:
    """SIGTERM the process groups of servers we started (by their ids, all at once, so they
    shut down in parallel), wait for every member (code servers, run workers) to exit, and
    SIGKILL what is left after the grace period."""
    for proc in procs:
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # pgid == pid: each was started with setsid

    def waiting(deadline: float) -> None:
        while time.monotonic() < deadline:
            for proc in procs:
                proc.poll()  # reap the leader once it exits
            if not any(group_members(proc.pid) for proc in procs):
                return
            time.sleep(0.1)

    waiting(time.monotonic() + grace)
    for proc in procs:
        for pid in group_members(proc.pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    waiting(time.monotonic() + 10)


# ----------------------------------------------------------------------------------- GraphQL


class GraphQLError(AssertionError):
    pass


def graphql(url: str, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    """POST a query to the webserver's /graphql; raise on transport or GraphQL errors."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        url + "/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:  # a query the schema rejects: show why
        raise GraphQLError(
            f"HTTP {error.code}: {error.read().decode(errors='replace')[:4000]}"
        ) from None
    if answer.get("errors"):
        raise GraphQLError(json.dumps(answer["errors"], indent=1)[:4000])
    return answer["data"]


RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId jobName status tags { key value } startTime endTime } }
    ... on PythonError { message }
  }
}
"""

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
  }
}
"""

RUN_EVENTS = """
query Events($runId: ID!, $after: String) {
  logsForRun(runId: $runId, afterCursor: $after, limit: 1000) {
    __typename
    ... on EventConnection {
      cursor
      hasMore
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on MaterializationEvent {
          assetKey { path }
          metadataEntries {
            label
            __typename
            ... on IntMetadataEntry { intValue }
            ... on TextMetadataEntry { text }
            ... on MarkdownMetadataEntry { mdStr }
          }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


@dataclass
class Dagster:
    """dagster-webserver (and dagster-daemon when `daemon`) over workspace.yaml, on a tmp
    DAGSTER_HOME and a tmp hidebound project."""

    home: Path
    project: Project
    daemon: bool = False
    port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen] = field(default_factory=list)
    startup_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "DAGSTER_HOME": str(self.home),
            "HIDEBOUND_CONFIG_FILEPATH": str(self.project.config_file),
        }

    def start(self) -> Dagster:
        started = time.monotonic()
        try:
            web = launch(
                [
                    str(binary("dagster-webserver")),
                    "-h",
                    LOOPBACK,
                    "-p",
                    str(self.port),
                    "-w",
                    str(WORKSPACE),
                ],
                self.home / "webserver.log",
                self.env,
            )
            self.procs.append(web)
            wait_http(self.url + "/server_info", 120, web)
            self.timings["webserver"] = time.monotonic() - started
            if self.daemon:
                # Only now that the webserver has created the SQLite storage: started together,
                # both stamp the fresh schema and one of them fails with "Version table
                # 'alembic_version' has more than one head present".
                self.procs.append(
                    launch(
                        [str(binary("dagster-daemon")), "run", "-w", str(WORKSPACE)],
                        self.home / "daemon.log",
                        self.env,
                    )
                )
            self.wait_location()
            self.timings["code location"] = time.monotonic() - started
            if self.daemon:
                self.wait_daemons()
                self.timings["daemons"] = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def wait_location(self, timeout: float = 120) -> None:
        """Wait until the code location has loaded in the webserver (its gRPC server is up)."""
        query = """{ workspaceOrError { ... on Workspace { locationEntries {
            name loadStatus locationOrLoadError { __typename ... on PythonError { message } }
        } } } }"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entries = graphql(self.url, query)["workspaceOrError"]["locationEntries"]
            entry = next((e for e in entries if e["name"] == LOCATION), None)
            if entry and entry["loadStatus"] == "LOADED":
                loaded = entry["locationOrLoadError"]
                if loaded["__typename"] == "PythonError":
                    raise AssertionError(f"code location failed to load: {loaded['message']}")
                return
            time.sleep(0.25)
        raise TimeoutError(f"code location {LOCATION} not loaded after {timeout}s")

    def wait_daemons(
        self, timeout: float = 120, needed: tuple[str, ...] = ("SENSOR", "QUEUED_RUN_COORDINATOR")
    ) -> None:
        """Wait until dagster-daemon reports the sensor and run-queue daemons healthy."""
        query = """{ instance { daemonHealth { allDaemonStatuses {
            daemonType healthy required
        } } } }"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[-1].poll() is not None:
                raise AssertionError("dagster-daemon exited early\n" + self.logs())
            statuses = graphql(self.url, query)["instance"]["daemonHealth"]["allDaemonStatuses"]
            healthy = {status["daemonType"] for status in statuses if status["healthy"]}
            if set(needed) <= healthy:
                return
            time.sleep(0.5)
        raise TimeoutError(f"daemons {needed} not healthy after {timeout}s\n" + self.logs())

    def stop(self) -> None:
        """Stop the servers and everything they started."""
        stop_groups(self.procs)

    def leftovers(self) -> list[str]:
        """Processes of our groups still alive (none after stop()), with their command lines."""
        left = []
        for proc in self.procs:
            for pid in group_members(proc.pid):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue
                left.append(f"{pid}: {cmdline.decode(errors='replace')[:200]}")
        return left

    def logs(self) -> str:
        """The tails of the server logs, for assertion messages."""
        parts = []
        for name in ("webserver.log", "daemon.log"):
            path = self.home / name
            if path.exists():
                parts.append(f"--- {name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    # GraphQL conveniences

    def query(self, query: str, variables: dict | None = None) -> dict:
        return graphql(self.url, query, variables)

    def selector(self, job: str) -> dict[str, str]:
        return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job}

    def launch_run(self, job: str, run_config: dict | None = None) -> str:
        params = {
            "selector": self.selector(job),
            "runConfigData": run_config or {},
            "mode": "default",
        }
        result = self.query(LAUNCH, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise AssertionError(f"launchRun failed: {json.dumps(result)[:3000]}")
        return result["run"]["runId"]

    def runs(self, job: str | None = None) -> list[dict]:
        runs_filter = {"pipelineName": job} if job else {}
        result = self.query(RUNS, {"filter": runs_filter})["runsOrError"]
        if result["__typename"] != "Runs":
            raise AssertionError(f"runsOrError: {json.dumps(result)[:3000]}")
        return result["results"]

    def run(self, run_id: str) -> dict:
        result = self.query(RUNS, {"filter": {"runIds": [run_id]}})["runsOrError"]
        return result["results"][0]

    def wait_run(self, run_id: str, timeout: float = 90) -> dict:
        """The run once it has finished; fail with the server logs if it did not succeed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run["status"] in TERMINAL:
                break
            time.sleep(0.5)
        else:
            raise TimeoutError(f"run {run_id} still {run['status']} after {timeout}s")
        if run["status"] != "SUCCESS":
            messages = [e.get("message") for e in self.events(run_id) if e.get("message")]
            raise AssertionError(
                f"run {run_id} of {run['jobName']} ended {run['status']}:\n"
                + "\n".join(messages[-30:])
                + "\n"
                + self.logs()
            )
        return run

    def events(self, run_id: str) -> list[dict]:
        """Every event of the run, in order."""
        events: list[dict] = []
        cursor = None
        while True:
            page = self.query(RUN_EVENTS, {"runId": run_id, "after": cursor})["logsForRun"]
            if page["__typename"] != "EventConnection":
                raise AssertionError(f"logsForRun: {json.dumps(page)[:3000]}")
            events += page["events"]
            cursor = page["cursor"]
            if not page["hasMore"]:
                return events

    def materializations(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The materialization metadata of a run by asset name: label -> value."""
        found: dict[str, dict[str, Any]] = {}
        for event in self.events(run_id):
            if event["__typename"] != "MaterializationEvent":
                continue
            values = {}
            for entry in event["metadataEntries"]:
                values[entry["label"]] = next(
                    (entry[key] for key in ("intValue", "text", "mdStr") if key in entry), None
                )
            found["/".join(event["assetKey"]["path"])] = values
        return found


@contextmanager
def dagster_servers(root: Path, daemon: bool = False, **settings: Any) -> Iterator[Dagster]:
    """A tmp project and DAGSTER_HOME under root, the servers started on them, and everything
    stopped (and checked to be gone) at the end."""
    project = make_project(root / "project", **settings)
    home = make_dagster_home(root / "dagster_home", daemon=daemon)
    servers = Dagster(home=home, project=project, daemon=daemon).start()
    try:
        yield servers
    finally:
        servers.stop()
    left = servers.leftovers()
    assert not left, f"processes left behind after stop: {left}"
