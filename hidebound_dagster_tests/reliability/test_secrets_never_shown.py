"""Secrets are never shown: not in a run's output, not in DAGSTER_HOME, staging or the exports,
not by `hidebound-dagster config`, not even when every exporter and webhook fails.

S3, Girder and three webhooks are configured with distinctive secret values (S3 keys, a Girder
API key, passwords inside the S3 endpoint URL, a Girder host URL and a webhook URL, a webhook
path token, query token, headers, a JSON body, query parameters and a form body), in two
variants:

- `env`: every secret in environment variables; the exporter entries leave their credentials
  out (HIDEBOUND_S3_ACCESS_KEY, HIDEBOUND_S3_SECRET_KEY, HIDEBOUND_GIRDER_API_KEY) and the
  config itself, webhooks included, comes from HIDEBOUND_* variables (no file is named);
- `yaml`: every secret written in the YAML config file (and no HIDEBOUND_* secret variable).

Each variant makes two real `dagster job execute -j workflow` runs, each with its own
DAGSTER_HOME, staging and export targets:

- `exports`: S3 with a wrong secret key against a real `rclone serve s3` (access denied),
  Girder with a wrong API key against the real Girder (authentication refused) and Girder at a
  port nothing listens on (cannot reach); a disk export succeeds beside them;
- `webhooks`: S3 and Girder with their right keys succeed (so the secrets are proven to reach
  the exporters), then every webhook answers 500.

After the runs, every secret, in every form it could be shown in (raw, URL-quoted, the base64
of a URL's `user:password`), is searched in the captured stdout and stderr, every file under
DAGSTER_HOME (SQLite databases cell by cell, compressed blobs inflated, compute logs, Parquet
tables), staging, the disk export, the S3 objects on disk, the Girder folders, items and
assetstore, everything else the run left in its working directory, and the output of
`hidebound-dagster config`: each must hold zero occurrences (the one file not searched is the
yaml variant's config file, which holds them). A failure lists every occurrence: secret, form,
file (and decoding) and an excerpt.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pandas as pd
import pytest
import yaml

from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS, EXAMPLE_SPECS, REPO
from hidebound_dagster_tests.reliability.secret_search import (
    Hit,
    needles,
    report,
    search_file,
    search_texts,
    search_tree,
)
from hidebound_dagster_tests.services import (
    LOOPBACK,
    GirderServer,
    RecordingServer,
    S3Server,
    binary,
    free_port,
)

RUN_TIMEOUT = 240  # seconds per subprocess: a hang fails instead of blocking the suite
VARIANTS = ("env", "yaml")
RUNS = ("exports", "webhooks")
SOURCES = ("output", "dagster_home", "staging", "exports", "cli", "elsewhere")

# --- the secrets ---------------------------------------------------------------------------

S3_ACCESS_KEY = "SECRET-S3ACCESS-4d81c2"
S3_SECRET_KEY = "SECRET-S3KEY-7f3a91"  # what the S3 server accepts
S3_WRONG_SECRET_KEY = "SECRET-S3WRONGKEY-b6e05d"  # what the `exports` runs send instead
GIRDER_WRONG_API_KEY = "SECRET-GIRDER-91d3fe"
#: URL passwords: (user, password); each password holds '@', so the URL carries it as %40.
S3_URL_PASSWORD = ("s3user", "SECRET-URLPW-S3-2a7c44@x")
GIRDER_URL_PASSWORD = ("girderuser", "SECRET-URLPW-GIRDER-6e12ab@y")
HOOK_URL_PASSWORD = ("hookuser", "SECRET-URLPW-HOOK-0c5d77@z")
HOOK_PATH_TOKEN = "SECRET-HOOKPATH-d41f08"
HOOK_QUERY_TOKEN = "SECRET-HOOKQ-3b9a60"
HOOK_BEARER = "SECRET-HOOKHDR-8e27c1"
HOOK_API_KEY_HEADER = "SECRET-HOOKHDR2-5f0b93"
HOOK_JSON_TOKEN = "SECRET-HOOKJSON-a7c3e2"
HOOK_PARAM_TOKEN = "SECRET-HOOKPARAM-19d4b5"
HOOK_DATA_TOKEN = "SECRET-HOOKDATA-c28e4f"

FIXED_SECRETS: dict[str, str | tuple[str, str]] = {
    "s3 access_key": S3_ACCESS_KEY,
    "s3 secret_key": S3_SECRET_KEY,
    "s3 wrong secret_key": S3_WRONG_SECRET_KEY,
    "girder wrong api_key": GIRDER_WRONG_API_KEY,
    "s3 endpoint_url password": S3_URL_PASSWORD,
    "girder host password": GIRDER_URL_PASSWORD,
    "webhook url password": HOOK_URL_PASSWORD,
    "webhook url path token": HOOK_PATH_TOKEN,
    "webhook url query token": HOOK_QUERY_TOKEN,
    "webhook Authorization header": HOOK_BEARER,
    "webhook X-Api-Key header": HOOK_API_KEY_HEADER,
    "webhook json value": HOOK_JSON_TOKEN,
    "webhook params value": HOOK_PARAM_TOKEN,
    "webhook data value": HOOK_DATA_TOKEN,
}


def user_info(user_password: tuple[str, str]) -> str:
    """`user:password` as a URL carries it (the password percent-encoded)."""
    user, password = user_password
    return f"{user}:{quote(password, safe='')}"


def url_with_password(user_password: tuple[str, str], port: int, path: str = "") -> str:
    return f"http://{user_info(user_password)}@{LOOPBACK}:{port}{path}"


# --- servers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3 server (`rclone serve s3`, SigV4 checked) whose keys are the secrets."""
    server = S3Server(
        tmp_path_factory.mktemp("secret-s3"), access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hooks() -> Iterator[RecordingServer]:
    """A loopback webhook receiver: `/status/500/...` answers 500 and records the request."""
    with RecordingServer() as server:
        yield server


@dataclass
class GirderTarget:
    server: GirderServer
    api_key: str  # a real API key, made for this module: a secret too
    roots: dict[str, str]  # run name -> id of a fresh folder to export into


@pytest.fixture(scope="module")
def girder_target(girder_server: GirderServer) -> GirderTarget:
    admin = girder_server.client()
    key = admin.post("api_key", parameters={"name": "secrets-test", "active": "true"})["key"]
    parent = admin.createFolder(
        girder_server.collection_id,
        f"secrets-{os.getpid()}",
        parentType="collection",
        reuseExisting=True,
    )
    roots = {
        f"{variant}-{run}": admin.createFolder(parent["_id"], f"{variant}-{run}")["_id"]
        for variant in VARIANTS
        for run in RUNS
    }
    return GirderTarget(girder_server, key, roots)


# --- configs -------------------------------------------------------------------------------


@dataclass
class Setup:
    """One run's directories, config and environment."""

    variant: str
    run: str
    root: Path
    bucket: str
    girder_root: str
    config: dict
    env: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.variant}-{self.run}"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def staging(self) -> Path:
        return self.root / "hidebound"

    @property
    def exported(self) -> Path:
        return self.root / "exported"

    @property
    def config_file(self) -> Path:
        return self.root / "hidebound.yaml"

    @property
    def captured(self) -> Path:
        return self.root / "captured"


def webhooks(hooks: RecordingServer, label: str) -> list[dict]:
    """Three hooks answering 500: a POST whose URL holds a password, a path token and a query
    token, with a JSON body and an API key header; a GET with a bearer token and query
    parameters; a PUT with a form body."""
    port = hooks.port
    return [
        {
            "url": url_with_password(
                HOOK_URL_PASSWORD,
                port,
                f"/status/500/{HOOK_PATH_TOKEN}?token={HOOK_QUERY_TOKEN}&run={label}",
            ),
            "method": "post",
            "headers": {"X-Api-Key": HOOK_API_KEY_HEADER},
            "json": {"text": "export complete", "token": HOOK_JSON_TOKEN},
            "timeout": 10,
        },
        {
            "url": f"http://{LOOPBACK}:{port}/status/500/get?run={label}",
            "method": "get",
            "headers": {"Authorization": f"Bearer {HOOK_BEARER}"},
            "params": {"token": HOOK_PARAM_TOKEN},
            "timeout": 10,
        },
        {
            "url": f"http://{LOOPBACK}:{port}/status/500/put?run={label}",
            "method": "put",
            "data": {"secret": HOOK_DATA_TOKEN},
            "timeout": 10,
        },
    ]


def make_setup(
    base: Path,
    variant: str,
    run: str,
    s3: S3Server,
    girder: GirderTarget,
    hooks: RecordingServer,
) -> Setup:
    """A copy of the example ingress and the run's config: in a file with every credential in
    it (`yaml`), or in HIDEBOUND_* variables with the credentials in their own (`env`)."""
    name = f"{variant}-{run}"
    root = base / name
    root.mkdir()
    shutil.copytree(EXAMPLE_INGRESS, root / "ingress")
    (root / "home").mkdir()
    shutil.copy(REPO / "dagster.yaml", root / "home" / "dagster.yaml")
    (root / "captured").mkdir()
    bucket = f"hb-secrets-{name}"
    girder_root = girder.roots[name]
    failing = run == "exports"
    s3_secret = S3_WRONG_SECRET_KEY if failing else S3_SECRET_KEY
    girder_key = GIRDER_WRONG_API_KEY if failing else girder.api_key
    credentials = {
        "s3": {"access_key": S3_ACCESS_KEY, "secret_key": s3_secret},
        "girder": {"api_key": girder_key},
    }
    exporters: list[dict] = [
        {"name": "disk", "target_directory": str(root / "exported")},
        {
            "name": "s3",
            "bucket": bucket,
            "endpoint_url": url_with_password(S3_URL_PASSWORD, s3.port),
            "region": "us-west-2",
        },
        {
            "name": "girder",
            "root_id": girder_root,
            "root_type": "folder",
            "host": f"http://{user_info(GIRDER_URL_PASSWORD)}@{LOOPBACK}",
            "port": girder.server.port,
        },
    ]
    if failing:  # a Girder that cannot be reached, at a host URL with a password
        exporters.append(
            {
                "name": "girder",
                "root_id": girder_root,
                "root_type": "folder",
                "host": f"http://{user_info(GIRDER_URL_PASSWORD)}@{LOOPBACK}",
                "port": free_port(),
            }
        )
    config = {
        "ingress_directory": str(root / "ingress"),
        "staging_directory": str(root / "hidebound"),
        "specification_files": [str(EXAMPLE_SPECS)],
        "write_mode": "copy",
        "workflow": ["delete", "update", "create", "export"],
        "exporters": exporters,
        "webhooks": webhooks(hooks, name),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIDEBOUND_")}
    env["DAGSTER_HOME"] = str(root / "home")
    if variant == "yaml":
        for entry in exporters:
            entry.update(credentials.get(entry["name"], {}))
        (root / "hidebound.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        env["HIDEBOUND_CONFIG_FILEPATH"] = str(root / "hidebound.yaml")
    else:
        for key, value in config.items():
            text = value if isinstance(value, str) else json.dumps(value)  # JSON is YAML
            env["HIDEBOUND_" + key.upper()] = text
        env["HIDEBOUND_S3_ACCESS_KEY"] = S3_ACCESS_KEY
        env["HIDEBOUND_S3_SECRET_KEY"] = s3_secret
        env["HIDEBOUND_GIRDER_API_KEY"] = girder_key
    return Setup(variant, run, root, bucket, girder_root, config, env)


# --- running -------------------------------------------------------------------------------


@dataclass
class Finished:
    """What one run and its `hidebound-dagster config` left."""

    setup: Setup
    returncode: int | None
    seconds: float
    stdout: bytes
    stderr: bytes
    cli_returncode: int | None
    cli_stdout: bytes
    cli_stderr: bytes
    failures: dict[str, str] = field(default_factory=dict)  # step key -> failure message
    girder_dump: str = ""  # the folders, items and files the run left in Girder, as JSON


def start(setup: Setup) -> list[tuple[str, subprocess.Popen]]:
    """The workflow run and the config command, their output to files (no pipe to fill)."""
    job = ["job", "execute", "-m", "hidebound_dagster.definitions", "-j", "workflow"]
    commands = {
        "dagster": [str(binary("dagster")), *job],
        "cli": [str(binary("hidebound-dagster")), "config"],
    }
    started = []
    for name, command in commands.items():
        with (
            (setup.captured / f"{name}.stdout").open("wb") as out,
            (setup.captured / f"{name}.stderr").open("wb") as err,
        ):
            process = subprocess.Popen(
                command,
                cwd=setup.root,
                env=setup.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        started.append((name, process))
    return started


def wait(process: subprocess.Popen, deadline: float) -> int | None:
    try:
        return process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def step_failures(home: Path) -> dict[str, str]:
    """Each failed step's message (a Failure's description, else the error and its causes),
    read from the run's own instance."""
    failures: dict[str, str] = {}
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        for run in instance.get_runs():
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is None or event.event_type_value != "STEP_FAILURE":
                    continue
                data = event.step_failure_data
                if data.user_failure_data and data.user_failure_data.description:
                    failures[event.step_key] = data.user_failure_data.description
                    continue
                error, chain = data.error, []
                while error is not None:
                    chain.append(error.message.strip())
                    error = error.cause
                failures[event.step_key] = " <- ".join(chain)
    finally:
        instance.dispose()
    return failures


def girder_dump(girder: GirderServer, root_id: str) -> str:
    """Every folder, item and file under a root folder, with their metadata, as JSON."""
    client = girder.client()
    documents: list[dict] = [client.getFolder(root_id)]
    pending = [root_id]
    while pending:
        folder = pending.pop()
        for child in client.listFolder(folder, parentFolderType="folder"):
            documents.append(child)
            pending.append(child["_id"])
        for item in client.listItem(folder):
            documents.append(item)
            documents += list(client.listFile(item["_id"]))
    return json.dumps(documents, default=str)


@dataclass
class Results:
    finished: dict[str, Finished]  # by run name
    hits: dict[tuple[str, str], list[Hit]]  # (variant, source) -> occurrences
    secrets: dict[str, str | tuple[str, str]]
    seconds: float

    def __repr__(self) -> str:  # pytest shows fixtures of a failed test: never the secrets
        runs = ", ".join(
            f"{name}: rc {f.returncode}, {f.seconds} s" for name, f in self.finished.items()
        )
        return f"Results({runs}; {self.seconds} s in all)"


def search_run(
    finished: Finished, s3: S3Server, girder: GirderServer, wanted
) -> dict[str, list[Hit]]:
    """The occurrences of every secret in each source one run left."""
    setup = finished.setup
    name = setup.name
    by_source: dict[str, list[Hit]] = {source: [] for source in SOURCES}
    by_source["output"] = search_texts(
        [
            (f"{name}: stdout of dagster job execute", finished.stdout),
            (f"{name}: stderr of dagster job execute", finished.stderr),
        ],
        wanted,
    )
    by_source["cli"] = search_texts(
        [
            (f"{name}: stdout of hidebound-dagster config", finished.cli_stdout),
            (f"{name}: stderr of hidebound-dagster config", finished.cli_stderr),
        ],
        wanted,
    )
    by_source["dagster_home"] = search_tree(setup.home, wanted, f"{name}:DAGSTER_HOME")
    by_source["staging"] = search_tree(setup.staging, wanted, f"{name}:staging")
    exports = search_tree(setup.exported, wanted, f"{name}:disk export")
    exports += search_tree(s3.data / setup.bucket, wanted, f"{name}:s3 bucket {setup.bucket}")
    if finished.girder_dump:
        exports += search_texts(
            [(f"{name}: girder folders and items", finished.girder_dump)], wanted
        )
    by_source["exports"] = exports
    known = {setup.home, setup.staging, setup.exported, setup.captured, setup.config_file}
    elsewhere = []
    for path in sorted(setup.root.iterdir()):  # what else the run wrote where it ran
        if path in known:
            continue
        if path.is_dir():
            elsewhere += search_tree(path, wanted, f"{name}:{path.name}")
        elif path.is_file():
            elsewhere += search_file(path, wanted, f"{name}:{path.name}")
    by_source["elsewhere"] = elsewhere
    return by_source


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory,
    secret_s3: S3Server,
    girder_target: GirderTarget,
    hooks: RecordingServer,
) -> Results:
    """All four runs at once (each with its own DAGSTER_HOME, staging and targets), then the
    search, then (only after it) the runs' own instances for their failures."""
    began = time.monotonic()
    base = tmp_path_factory.mktemp("secrets")
    setups = [
        make_setup(base, variant, run, secret_s3, girder_target, hooks)
        for variant in VARIANTS
        for run in RUNS
    ]
    running = [(setup, start(setup), time.monotonic()) for setup in setups]
    deadline = time.monotonic() + RUN_TIMEOUT
    finished: dict[str, Finished] = {}
    for setup, processes, started in running:
        codes = {name: wait(process, deadline) for name, process in processes}

        def read(name: str, setup: Setup = setup) -> bytes:
            return (setup.captured / name).read_bytes()

        finished[setup.name] = Finished(
            setup,
            codes["dagster"],
            round(time.monotonic() - started, 1),
            read("dagster.stdout"),
            read("dagster.stderr"),
            codes["cli"],
            read("cli.stdout"),
            read("cli.stderr"),
        )
    for done in finished.values():
        done.girder_dump = girder_dump(girder_target.server, done.setup.girder_root)

    secrets = {**FIXED_SECRETS, "girder api_key (real)": girder_target.api_key}
    wanted = needles(secrets)
    hits: dict[tuple[str, str], list[Hit]] = {
        (variant, source): [] for variant in VARIANTS for source in SOURCES
    }
    for done in finished.values():
        for source, found in search_run(done, secret_s3, girder_target.server, wanted).items():
            hits[(done.setup.variant, source)] += found
    assets = search_tree(girder_target.server.assetstore, wanted, "girder assetstore")
    for variant in VARIANTS:  # the assetstore is shared: its hits count against both
        hits[(variant, "exports")] += assets
    for done in finished.values():
        done.failures = step_failures(done.setup.home)
    return Results(finished, hits, secrets, round(time.monotonic() - began, 1))


# --- the search itself finds what is there --------------------------------------------------


def test_the_search_finds_a_planted_secret_in_every_encoding(tmp_path: Path) -> None:
    """Positive control: a secret planted raw, URL-quoted, as Basic auth, in a SQLite cell too
    long for one page, in a zlib-compressed SQLite blob, gzipped and in a gzip-compressed Parquet
    table is found in each, named with its file; a clean tree gives nothing."""
    planted = "SECRET-PLANTED-e4c1b7@q"
    user = "planter"
    tree = tmp_path / "tree"
    (tree / "deep" / "er").mkdir(parents=True)
    (tree / "deep" / "er" / "plain.log").write_text(f"line one\nkey={planted}\n")
    (tree / "quoted.txt").write_text(f"http://{user}:{quote(planted, safe='')}@host/")
    basic = base64.b64encode(f"{user}:{planted}".encode()).decode()
    (tree / "headers.txt").write_text(f"Authorization: Basic {basic}\n")
    database = tree / "store.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE t (id INTEGER, body TEXT, blob BLOB)")
        long_text = "x" * 4093 + planted + "y" * 20000  # straddles a 4096-byte page
        connection.execute("INSERT INTO t VALUES (1, ?, NULL)", (long_text,))
        compressed = zlib.compress(json.dumps({"secret": planted}).encode())
        connection.execute("INSERT INTO t VALUES (2, NULL, ?)", (compressed,))
    connection.close()
    (tree / "log.gz").write_bytes(gzip.compress(f"...{planted}...".encode() * 3))
    pd.DataFrame({"a": [planted] * 50, "b": range(50)}).to_parquet(
        tree / "table.parquet",
        compression="gzip",
        write_statistics=False,  # no plain min/max
    )

    wanted = needles({"planted": (user, planted)})
    hits = search_tree(tree, wanted, "tree")
    where = {(hit.where, hit.form) for hit in hits}
    assert ("tree/deep/er/plain.log", "raw") in where
    assert ("tree/quoted.txt", "url-quoted") in where
    assert ("tree/headers.txt", "basic-auth base64") in where
    assert ("tree/store.db [sqlite table t rowid 1 column body]", "raw") in where
    assert ("tree/store.db [sqlite table t rowid 2 column blob (inflated)]", "raw") in where
    assert ("tree/log.gz [gunzipped]", "raw") in where
    assert any(w.startswith("tree/table.parquet [parquet rows]") for w, _ in where)
    assert not any(hit.where == "tree/table.parquet" for hit in hits), "compressed: raw misses"
    assert "plain.log" in report(hits) and planted in report(hits)  # excerpts show context
    assert search_tree(tree, needles({"other": "SECRET-NOT-PLANTED-000000"})) == []
    assert search_texts([("stream", f"a {planted} b")], wanted)[0].where == "stream"


# --- the failures were real -----------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_failure_is_forced_and_the_secrets_reached_their_servers(
    results: Results, variant: str, secret_s3: S3Server, hooks: RecordingServer
) -> None:
    """Positive controls: the runs failed for the forced reasons only, and the secrets really
    reached the servers (the right keys exported, the webhooks received every token)."""
    exports = results.finished[f"{variant}-exports"]
    webhook_run = results.finished[f"{variant}-webhooks"]
    for done in (exports, webhook_run):
        assert done.returncode not in (0, None), (done.setup.name, done.stderr[-3000:])
        assert done.cli_returncode == 0, done.cli_stderr[-3000:]
        shown = yaml.safe_load(done.cli_stdout)
        assert [e["name"] for e in shown["exporters"]] == [
            e["name"] for e in done.setup.config["exporters"]
        ]
        assert len(shown["webhooks"]) == 3
        assert (done.setup.exported / "content").is_dir()  # the disk export went through

    # exports run: S3 refused the wrong secret key; Girder refused the wrong API key and the
    # dead port could not be reached; nothing else failed
    failures = exports.failures
    assert sorted(failures) == ["export_girder", "export_girder_2", "export_s3"], failures
    assert "access denied" in failures["export_s3"], failures
    assert "authentication refused" in failures["export_girder"], failures
    assert "cannot reach" in failures["export_girder_2"], failures
    assert not (secret_s3.data / exports.setup.bucket).exists()

    # webhooks run: the right keys exported to S3 and Girder; only the webhooks failed, 500
    failures = webhook_run.failures
    assert sorted(failures) == ["export_complete"], failures
    assert "3 of 3 webhooks failed" in failures["export_complete"], failures
    assert failures["export_complete"].count("HTTP 500") == 3, failures
    objects = [p for p in (secret_s3.data / webhook_run.setup.bucket).rglob("*") if p.is_file()]
    assert len(objects) >= 28, objects
    assert '"_modelType": "item"' in webhook_run.girder_dump

    name = webhook_run.setup.name
    seen = [r for r in hooks.requests if r.query.get("run") == [name]]
    by_method = {r.method: r for r in seen}
    assert sorted(by_method) == ["GET", "POST", "PUT"], seen
    post, get, put = by_method["POST"], by_method["GET"], by_method["PUT"]
    user, password = HOOK_URL_PASSWORD
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert post.path == f"/status/500/{HOOK_PATH_TOKEN}"
    assert post.query["token"] == [HOOK_QUERY_TOKEN]
    assert post.headers["Authorization"] == f"Basic {basic}"
    assert post.headers["X-Api-Key"] == HOOK_API_KEY_HEADER
    assert post.json() == {"text": "export complete", "token": HOOK_JSON_TOKEN}
    assert get.headers["Authorization"] == f"Bearer {HOOK_BEARER}"
    assert get.query["token"] == [HOOK_PARAM_TOKEN]
    assert json.loads(put.body) == {"secret": HOOK_DATA_TOKEN}
    assert not [r for r in hooks.requests if r.query.get("run") == [exports.setup.name]]


# --- zero occurrences -----------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_no_secret_is_shown(results: Results, variant: str, source: str) -> None:
    """Zero occurrences of any secret, in any form, in this source of both runs."""
    hits = results.hits[(variant, source)]
    assert not hits, (
        f"{len(hits)} occurrences of secrets in {source} ({variant} variant):\n" + report(hits)
    )
