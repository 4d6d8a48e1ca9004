"""The hidebound config: defaults, every problem in one error, files, environment, redaction."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hidebound_dagster.core.config import (
    ConfigError,
    HideboundConfig,
    config_from_env,
    load_config,
    validate_config,
)
from hidebound_dagster.core.redaction import redacted
from hidebound_dagster_tests.conftest import REPO

SECRETS = {
    "access_key": "AKIA-TEST-ACCESS-0001",
    "secret_key": "s3-secret-value-0002",
    "api_key": "girder-api-key-0003",
    "root_id": "girder-root-id-0004",
    "gateway_api_token": "gateway-token-0005",
    "url": "https://hooks.example.com/services/T000/B000/webhook-secret-0006",
}


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    ingress = tmp_path / "ingress"
    ingress.mkdir()
    return {"root": tmp_path, "ingress": ingress, "staging": tmp_path / "hidebound"}


def minimal(dirs: dict[str, Path], **extra: Any) -> dict[str, Any]:
    return {
        "ingress_directory": str(dirs["ingress"]),
        "staging_directory": str(dirs["staging"]),
        **extra,
    }


def with_secrets(dirs: dict[str, Path], **extra: Any) -> dict[str, Any]:
    return minimal(
        dirs,
        dask={"gateway_api_token": SECRETS["gateway_api_token"], "gateway_api_user": "hb-user"},
        exporters=[
            {
                "name": "s3",
                "access_key": SECRETS["access_key"],
                "secret_key": SECRETS["secret_key"],
                "bucket": "my-bucket",
            },
            {"name": "girder", "api_key": SECRETS["api_key"], "root_id": SECRETS["root_id"]},
            {"name": "disk", "target_directory": "/mnt/archive"},
        ],
        webhooks=[{"url": SECRETS["url"], "method": "post"}],
        **extra,
    )


def problems_of(data: dict[str, Any], base_dir: Path | str = ".") -> list[str]:
    with pytest.raises(ConfigError) as raised:
        validate_config(data, base_dir)
    error = raised.value
    assert str(error).startswith(f"Invalid hidebound config ({len(error.problems)} problem")
    for problem in error.problems:
        assert f"- {problem}" in str(error)
    return error.problems


# --- defaults ------------------------------------------------------------------------------


def test_defaults(dirs: dict[str, Path]) -> None:
    config = validate_config(minimal(dirs))
    assert config.ingress_directory == dirs["ingress"]
    assert config.staging_directory == dirs["staging"]
    assert config.include_regex == ""
    assert config.exclude_regex == r"\.DS_Store"
    assert config.write_mode == "copy"
    assert config.staging == "rebuild"
    assert config.workflow == ["delete", "update", "create", "export"]
    assert config.redact_regex == r"(_key|_id|_token|url)$"
    assert config.redact_hash is True
    assert config.specification_files == []
    assert config.exporters == []
    assert config.webhooks == []
    assert config.dask.cluster_type == "threads"
    assert config.dask.num_partitions >= 1
    assert config.dask.local_multiprocessing is True
    assert config.dask.gateway_shutdown_on_close is True
    assert config.dask.gateway_min_workers == 1
    assert config.dask.gateway_max_workers == 8
    assert config.dask.gateway_timeout == 30
    assert config.settle_seconds == 10
    assert config.schedule_cron == "0 * * * *"
    assert config.schedule_timezone == "UTC"
    assert config.specifications() == {}


def test_the_bundled_config_is_valid() -> None:
    config = load_config(REPO / "hidebound.yaml")
    assert config.ingress_directory == REPO / "examples" / "ingress"
    assert config.staging_directory == REPO / "examples" / "hidebound"
    assert list(config.specifications()) == [
        "tex001",
        "img001",
        "raw001",
        "plt001",
        "rnd001",
        "scn001",
        "txr001",
        "rev001",
    ]


def test_exporter_defaults(dirs: dict[str, Path]) -> None:
    s3, girder, disk = validate_config(with_secrets(dirs)).exporters
    assert s3.region == "us-east-1"
    assert s3.metadata_types == ["asset", "file", "asset-chunk", "file-chunk"]
    assert girder.port == 8180
    assert girder.root_type == "collection"
    assert girder.metadata_types == ["asset", "file"]
    assert disk.target_directory == Path("/mnt/archive")


# --- every problem at once -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "location", "text"),
    [
        ({"write_mode": "copyy"}, "write_mode", "'copy' or 'move'"),
        ({"workflow": ["update", "destroy"]}, "workflow.1", "'delete', 'update'"),
        ({"workflow": "update"}, "workflow", "list"),
        ({"include_regex": "("}, "include_regex", "not a valid regular expression"),
        ({"exclude_regex": "[a-"}, "exclude_regex", "not a valid regular expression"),
        ({"redact_regex": "*"}, "redact_regex", "not a valid regular expression"),
        ({"redact_hash": "maybe"}, "redact_hash", "boolean"),
        ({"ingress_directory": "/does/not/exist"}, "ingress_directory", "is not a directory"),
        ({"staging_directory": "/tmp/staging"}, "staging_directory", "is not named hidebound"),
        ({"staging_directory": "/does/not/exist/hidebound"}, "staging_directory", "parent"),
        ({"dask": {"cluster_type": "slurm"}}, "dask.cluster_type", "'threads'"),
        ({"dask": {"num_partitions": 0}}, "dask.num_partitions", "greater than or equal to 1"),
        ({"dask": {"local_multiprocessing": "sometimes"}}, "dask.local_multiprocessing", "boolean"),
        ({"exporters": [{"name": "ftp"}]}, "exporters.0", "'disk', 's3', 'girder'"),
        ({"exporters": [{"target_directory": "/x"}]}, "exporters.0", "name"),
        (
            {"exporters": [{"name": "disk"}]},
            "exporters.0.disk.target_directory",
            "required key is missing",
        ),
        (
            {
                "exporters": [
                    {"name": "s3", "access_key": "a", "secret_key": "b", "bucket": "Bad_Bucket"}
                ]
            },
            "exporters.0.s3.bucket",
            "not a valid bucket name",
        ),
        (
            {"exporters": [{"name": "s3", "access_key": "a", "secret_key": "b", "bucket": "ab"}]},
            "exporters.0.s3.bucket",
            "not a valid bucket name",
        ),
        (
            {"exporters": [{"name": "s3", "access_key": "a", "secret_key": "b", "bucket": "-abc"}]},
            "exporters.0.s3.bucket",
            "not a valid bucket name",
        ),
        (
            {"exporters": [{"name": "s3", "access_key": "a"}]},
            "exporters.0.s3.bucket",
            "required key is missing",
        ),
        (
            {"exporters": [{"name": "girder", "api_key": "k"}]},
            "exporters.0.girder.root_id",
            "required key is missing",
        ),
        (
            {"exporters": [{"name": "girder", "api_key": "k", "root_id": "r", "port": 80}]},
            "exporters.0.girder.port",
            "greater than 1023",
        ),
        (
            {"exporters": [{"name": "girder", "api_key": "k", "root_id": "r", "port": 70000}]},
            "exporters.0.girder.port",
            "less than 65536",
        ),
        (
            {"exporters": [{"name": "disk", "target_directory": "/x", "metadata_types": ["blob"]}]},
            "exporters.0.disk.metadata_types.0",
            "'asset'",
        ),
        ({"webhooks": [{"url": "http://x/hook", "method": "GET"}]}, "webhooks.0.method", "'get'"),
        ({"webhooks": [{"method": "get"}]}, "webhooks.0.url", "required key is missing"),
        ({"settle_seconds": -1}, "settle_seconds", "greater than or equal to 0"),
        ({"staging": "append"}, "staging", "'rebuild' or 'incremental'"),
        ({"schedule_cron": "0 * * *"}, "schedule_cron", "not a cron string of 5 fields"),
        ({"schedule_timezone": "Mars/Olympus"}, "schedule_timezone", "not a known time zone"),
    ],
)
def test_bad_value(dirs: dict[str, Path], change: dict[str, Any], location: str, text: str) -> None:
    problems = problems_of({**minimal(dirs), **change})
    assert any(p.startswith(f"{location}: ") and text in p for p in problems), problems


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"ingres_directory": "/x"}, "ingres_directory"),
        ({"dask": {"num_workers": 2}}, "dask.num_workers"),
        (
            {"exporters": [{"name": "disk", "target_directory": "/x", "bucket": "b"}]},
            "exporters.0.disk.bucket",
        ),
        (
            {
                "exporters": [
                    {
                        "name": "s3",
                        "access_key": "a",
                        "secret_key": "b",
                        "bucket": "bkt",
                        "regin": "eu-west-1",
                    }
                ]
            },
            "exporters.0.s3.regin",
        ),
        (
            {"exporters": [{"name": "girder", "api_key": "a", "root_id": "b", "dask": {"x": 1}}]},
            "exporters.0.girder.dask.x",
        ),
        (
            {"webhooks": [{"url": "http://x", "method": "get", "verify": False}]},
            "webhooks.0.verify",
        ),
        (
            {
                "dask": {
                    "gateway_cluster_options": [
                        {"field": "f", "label": "l", "default": 1, "option_type": "int", "extra": 1}
                    ]
                }
            },
            "dask.gateway_cluster_options.0.extra",
        ),
    ],
)
def test_unknown_keys_at_any_level(
    dirs: dict[str, Path], change: dict[str, Any], location: str
) -> None:
    problems = problems_of({**minimal(dirs), **change})
    assert any(problem.startswith(f"{location}: unknown key") for problem in problems), problems


def test_many_field_problems_in_one_error(dirs: dict[str, Path]) -> None:
    problems = problems_of(
        {
            "ingress_directory": str(dirs["root"] / "missing"),
            "staging_directory": str(dirs["root"] / "staging"),
            "write_mode": "copyy",
            "workflow": ["update", "destroy"],
            "include_regex": "(",
            "exclude_regex": "[",
            "bogus": 1,
            "dask": {"cluster_type": "x", "nope": 2},
            "exporters": [
                {"name": "ftp"},
                {"name": "s3", "access_key": "a", "secret_key": "b", "bucket": "Bad_Bucket"},
                {"name": "girder", "api_key": "k", "root_id": "r", "port": 80},
            ],
            "webhooks": [{"url": "http://x/hook", "method": "GETT"}],
        }
    )
    locations = {problem.partition(": ")[0] for problem in problems}
    assert {
        "ingress_directory",
        "staging_directory",
        "write_mode",
        "workflow.1",
        "include_regex",
        "exclude_regex",
        "bogus",
        "dask.cluster_type",
        "dask.nope",
        "exporters.0",
        "exporters.1.s3.bucket",
        "exporters.2.girder.port",
        "webhooks.0.method",
    } <= locations


@pytest.mark.parametrize(
    ("ingress", "staging"),
    [
        ("outer", "outer/hidebound"),  # staging inside ingress
        ("hidebound/ingress", "hidebound"),  # ingress inside staging
        ("hidebound", "hidebound"),  # equal
    ],
    ids=["staging-in-ingress", "ingress-in-staging", "equal"],
)
def test_staging_and_ingress_apart(tmp_path: Path, ingress: str, staging: str) -> None:
    (tmp_path / ingress).mkdir(parents=True)
    problems = problems_of({"ingress_directory": ingress, "staging_directory": staging}, tmp_path)
    assert any("must not be equal or inside one another" in p for p in problems), problems


def test_cross_field_problems_are_reported_with_field_problems(tmp_path: Path) -> None:
    """Staging inside ingress AND a bad write_mode AND an S3 exporter with an unknown region
    and a bad bucket: all four are reported in one error."""
    (tmp_path / "outer").mkdir()
    problems = problems_of(
        {
            "ingress_directory": "outer",
            "staging_directory": "outer/hidebound",
            "write_mode": "copyy",
            "exporters": [
                {
                    "name": "s3",
                    "access_key": "a",
                    "secret_key": "b",
                    "bucket": "B_",
                    "region": "mars-north-1",
                }
            ],
        },
        tmp_path,
    )
    text = "\n".join(problems)
    assert "write_mode" in text
    assert "not a valid bucket name" in text
    assert "must not be equal or inside one another" in text
    assert "'mars-north-1' is not an AWS region name" in text


def test_model_level_rules(dirs: dict[str, Path]) -> None:
    problems = problems_of(minimal(dirs, dask={"cluster_type": "distributed"}))
    assert any("needs a scheduler_address" in p for p in problems)
    problems = problems_of(minimal(dirs, dask={"gateway_min_workers": 9}))
    assert any("gateway_min_workers must not exceed gateway_max_workers" in p for p in problems)
    problems = problems_of(
        minimal(
            dirs,
            exporters=[
                {
                    "name": "s3",
                    "access_key": "a",
                    "secret_key": "b",
                    "bucket": "bkt",
                    "region": "mars",
                }
            ],
        )
    )
    assert any("'mars' is not an AWS region name" in p for p in problems)
    # Any region works with an endpoint_url (S3-compatible stores).
    validate_config(
        minimal(
            dirs,
            exporters=[
                {
                    "name": "s3",
                    "access_key": "a",
                    "secret_key": "b",
                    "bucket": "bkt",
                    "region": "mars",
                    "endpoint_url": "http://127.0.0.1:9000",
                }
            ],
        )
    )


def test_specification_file_problems_are_config_problems(dirs: dict[str, Path]) -> None:
    broken = dirs["root"] / "broken.py"
    broken.write_text("def broken(:\n")
    problems = problems_of(
        minimal(
            dirs,
            specification_files=[str(broken), str(dirs["root"] / "missing.py")],
            write_mode="x",
        )
    )
    text = "\n".join(problems)
    assert "specification_files" in text
    assert f"{broken}: could not be imported: SyntaxError" in text
    assert "missing.py: is not a file or does not exist" in text
    assert "write_mode" in text


# --- files ---------------------------------------------------------------------------------


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data) if path.suffix.lower() == ".json" else yaml.safe_dump(data)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "name", ["hidebound.yaml", "hidebound.yml", "hidebound.json", "HIDEBOUND.YAML", "config.JSON"]
)
def test_relative_paths_resolve_against_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    config_dir = tmp_path / "deploy"
    (config_dir / "data" / "ingress").mkdir(parents=True)
    spec = config_dir / "specs" / "raw.py"
    spec.parent.mkdir()
    spec.write_text(
        "from hidebound_dagster.core.specification import FileSpecification\n\n\n"
        "class Raw001(FileSpecification):\n    pass\n"
    )
    path = write_config(
        config_dir / name,
        {
            "ingress_directory": "data/ingress",
            "staging_directory": "data/hidebound",
            "specification_files": ["specs/raw.py", "specs"],
            "write_mode": "move",
            "workflow": ["update", "create"],
        },
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    assert config.ingress_directory == config_dir / "data" / "ingress"
    assert config.staging_directory == config_dir / "data" / "hidebound"
    assert config.specification_files == [spec, config_dir / "specs"]
    assert config.write_mode == "move"
    assert list(config.specifications()) == ["raw001"]


def test_relative_disk_target_resolves_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf" / "ingress").mkdir(parents=True)
    path = write_config(
        tmp_path / "conf" / "h.yaml",
        {
            "ingress_directory": "ingress",
            "staging_directory": "hidebound",
            "exporters": [{"name": "disk", "target_directory": "../exported"}],
        },
    )
    assert load_config(path).exporters[0].target_directory == tmp_path / "exported"


def test_relative_config_file_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf" / "ingress").mkdir(parents=True)
    write_config(
        tmp_path / "conf" / "h.yaml",
        {"ingress_directory": "ingress", "staging_directory": "hidebound"},
    )
    monkeypatch.chdir(tmp_path)
    assert load_config("conf/h.yaml").ingress_directory == tmp_path / "conf" / "ingress"


@pytest.mark.parametrize("name", ["hidebound.toml", "hidebound.txt", "hidebound"])
def test_bad_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("ingress_directory: /x\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value)
    assert "['.json', '.yml', '.yaml']" in str(raised.value)


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("c.yaml", "- a\n- b\n", "must hold a mapping"),
        ("c.yaml", "", "must hold a mapping"),
        ("c.json", "[1, 2]", "must hold a mapping"),
        ("c.json", "{not json", "not valid JSON at line 1, column 2"),
        ("c.yaml", "a: [unclosed\n", "not valid YAML at line 2, column 1"),
        ("missing.yaml", None, "cannot be read"),
    ],
)
def test_unreadable_config_files(tmp_path: Path, name: str, text: str | None, reason: str) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=reason):
        load_config(path)


def test_overrides_win_over_the_file(tmp_path: Path, dirs: dict[str, Path]) -> None:
    path = write_config(tmp_path / "h.yaml", {**minimal(dirs), "write_mode": "copy"})
    overrides = {"write_mode": "move", "workflow": ["update"]}
    assert load_config(path, overrides=overrides).write_mode == "move"


def test_move_mode_that_would_delete_unexported_files_is_a_config_error(
    dirs: dict[str, Path],
) -> None:
    """Move mode leaves the only copy in staging: with delete in the workflow and nothing to
    export to, every second run would refuse to delete, so the config is refused up front."""
    with pytest.raises(ConfigError) as raised:
        validate_config({**minimal(dirs), "write_mode": "move"})
    (problem,) = raised.value.problems
    assert "write_mode: move with delete in the workflow needs at least one exporter" in problem
    exported = [{"name": "disk", "target_directory": str(dirs["ingress"].parent / "archive")}]
    assert validate_config({**minimal(dirs), "write_mode": "move", "exporters": exported})
    assert validate_config({**minimal(dirs), "write_mode": "move", "workflow": ["update"]})


# --- environment ---------------------------------------------------------------------------


def env_base(dirs: dict[str, Path]) -> dict[str, str]:
    return {
        "HIDEBOUND_INGRESS_DIRECTORY": str(dirs["ingress"]),
        "HIDEBOUND_STAGING_DIRECTORY": str(dirs["staging"]),
    }


def test_environment_defaults(dirs: dict[str, Path]) -> None:
    config = load_config(environ=env_base(dirs))
    assert config == validate_config(minimal(dirs))


def test_environment_variables(dirs: dict[str, Path], tmp_path: Path) -> None:
    spec = tmp_path / "raw.py"
    spec.write_text(
        "from hidebound_dagster.core.specification import FileSpecification\n\n\n"
        "class Raw001(FileSpecification):\n    pass\n"
    )
    environ = {
        **env_base(dirs),
        "HIDEBOUND_INCLUDE_REGEX": r"\.png$",
        "HIDEBOUND_EXCLUDE_REGEX": "",
        "HIDEBOUND_WRITE_MODE": "move",
        "HIDEBOUND_STAGING": "incremental",
        "HIDEBOUND_REDACT_REGEX": "(_key)$",
        "HIDEBOUND_REDACT_HASH": "False",
        "HIDEBOUND_WORKFLOW": "[update, create]",
        "HIDEBOUND_SPECIFICATION_FILES": f"- {spec}\n",
        "HIDEBOUND_EXPORTERS": "[{name: disk, target_directory: /mnt/archive}]",
        "HIDEBOUND_WEBHOOKS": "[{url: 'http://x/hook', method: post}]",
        "HIDEBOUND_SETTLE_SECONDS": "2.5",
        "HIDEBOUND_SCHEDULE_CRON": "*/5 * * * *",
        "HIDEBOUND_SCHEDULE_TIMEZONE": "Europe/Paris",
        "HIDEBOUND_DASK_CLUSTER_TYPE": "local",
        "HIDEBOUND_DASK_NUM_PARTITIONS": "4",
        "HIDEBOUND_DASK_LOCAL_NUM_WORKERS": "3",
        "HIDEBOUND_DASK_GATEWAY_API_USER": "me",
        "HIDEBOUND_DASK_GATEWAY_CLUSTER_OPTIONS": (
            "[{field: image, label: Image, default: 'x:1', option_type: string}]"
        ),
        "UNRELATED": "ignored",
    }
    assert config_from_env(environ)["workflow"] == ["update", "create"]
    config = load_config(environ=environ)
    assert config.include_regex == r"\.png$"
    assert config.exclude_regex == ""
    assert config.write_mode == "move"
    assert config.staging == "incremental"
    assert config.redact_regex == "(_key)$"
    assert config.redact_hash is False
    assert config.workflow == ["update", "create"]
    assert config.specification_files == [spec]
    assert [exporter.name for exporter in config.exporters] == ["disk"]
    assert config.webhooks[0].method == "post"
    assert config.settle_seconds == 2.5
    assert config.schedule_cron == "*/5 * * * *"
    assert config.schedule_timezone == "Europe/Paris"
    assert config.dask.cluster_type == "local"
    assert config.dask.num_partitions == 4
    assert config.dask.local_num_workers == 3
    assert config.dask.gateway_api_user == "me"
    assert config.dask.gateway_cluster_options[0].field == "image"
    # Unset dask variables keep their defaults.
    assert config.dask.local_threads_per_worker == 1
    assert config.dask.gateway_timeout == 30
    assert config.dask.local_multiprocessing is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
    ],
)
def test_environment_booleans_in_any_case(
    dirs: dict[str, Path], value: str, expected: bool
) -> None:
    config = load_config(
        environ={
            **env_base(dirs),
            "HIDEBOUND_DASK_LOCAL_MULTIPROCESSING": value,
            "HIDEBOUND_DASK_GATEWAY_SHUTDOWN_ON_CLOSE": value,
            "HIDEBOUND_REDACT_HASH": value,
        }
    )
    assert config.dask.local_multiprocessing is expected
    assert config.dask.gateway_shutdown_on_close is expected
    assert config.redact_hash is expected


def test_environment_relative_paths_resolve_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ingress").mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config(
        environ={
            "HIDEBOUND_INGRESS_DIRECTORY": "ingress",
            "HIDEBOUND_STAGING_DIRECTORY": "hidebound",
        }
    )
    assert config.ingress_directory == tmp_path / "ingress"


def test_environment_problems_are_listed_at_once(dirs: dict[str, Path]) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(
            environ={
                **env_base(dirs),
                "HIDEBOUND_WRITE_MODE": "m",
                "HIDEBOUND_DASK_LOCAL_NUM_WORKERS": "many",
                "HIDEBOUND_DASK_BOGUS": "1",
            }
        )
    text = str(raised.value)
    assert "write_mode" in text
    assert "dask.local_num_workers" in text
    assert "dask.bogus: unknown key" in text


def test_environment_yaml_that_does_not_parse_is_a_config_error(dirs: dict[str, Path]) -> None:
    """A broken YAML list in an environment variable is a ConfigError naming the variable,
    and the error does not echo the secret next to the syntax error."""
    environ = {
        **env_base(dirs),
        "HIDEBOUND_EXPORTERS": f"[{{name: s3, access_key: {SECRETS['access_key']}: x}}]",
    }
    with pytest.raises(ConfigError) as raised:
        load_config(environ=environ)
    assert "exporters" in str(raised.value).lower()
    assert SECRETS["access_key"] not in str(raised.value)


# --- redaction -----------------------------------------------------------------------------


def sha_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def secret_values(shown: dict[str, Any]) -> dict[str, Any]:
    s3, girder, _disk = shown["exporters"]
    return {
        "access_key": s3["access_key"],
        "secret_key": s3["secret_key"],
        "api_key": girder["api_key"],
        "root_id": girder["root_id"],
        "gateway_api_token": shown["dask"]["gateway_api_token"],
        "url": shown["webhooks"][0]["url"],
    }


def test_redacted_with_stable_hashes(dirs: dict[str, Path]) -> None:
    shown = redacted(validate_config(with_secrets(dirs)))
    for key, value in secret_values(shown).items():
        assert isinstance(value, str)
        assert value.startswith("hash-"), key
        digest = value.removeprefix("hash-")
        assert len(digest) >= 12, key
        assert sha_hash(SECRETS[key]).startswith(digest), key
    text = json.dumps(shown)
    for secret in SECRETS.values():
        assert secret not in text


def test_redacted_plainly(dirs: dict[str, Path]) -> None:
    shown = redacted(validate_config(with_secrets(dirs, redact_hash=False)))
    assert set(secret_values(shown).values()) == {"REDACTED"}


def test_redaction_keeps_none_and_non_secrets(dirs: dict[str, Path]) -> None:
    config = validate_config(with_secrets(dirs))
    shown = redacted(config)
    s3 = shown["exporters"][0]
    assert s3["bucket"] == "my-bucket"
    assert s3["region"] == "us-east-1"
    assert s3["endpoint_url"] is None  # matches the regex, but None stays None
    assert shown["dask"]["gateway_api_user"] == "hb-user"
    assert shown["dask"]["gateway_address"] == "http://proxy-public/services/dask-gateway"
    assert shown["dask"]["scheduler_address"] is None
    assert shown["exporters"][2]["target_directory"] == "/mnt/archive"
    assert shown["ingress_directory"] == str(dirs["ingress"])
    assert shown["webhooks"][0]["method"] == "post"
    empty = redacted(
        validate_config(
            minimal(
                dirs,
                exporters=[
                    {"name": "s3", "bucket": "my-bucket"},
                    {"name": "girder", "root_id": "r"},
                ],
            )
        )
    )
    assert empty["dask"]["gateway_api_token"] is None
    assert empty["exporters"][0]["access_key"] is None  # a missing secret stays None
    assert empty["exporters"][0]["secret_key"] is None
    assert empty["exporters"][1]["api_key"] is None
    json.dumps(shown)  # plain data


def test_redaction_follows_redact_regex(dirs: dict[str, Path]) -> None:
    shown = redacted(validate_config(with_secrets(dirs, redact_regex="bucket$")))
    assert (
        shown["exporters"][0]["bucket"]
        == "hash-" + sha_hash("my-bucket")[: len(shown["exporters"][0]["bucket"]) - 5]
    )
    # Secrets stay secret even when the regex does not name them.
    assert shown["exporters"][0]["secret_key"].startswith("hash-")
    assert shown["webhooks"][0]["url"].startswith("hash-")


def test_redaction_does_not_change_the_config(dirs: dict[str, Path]) -> None:
    config = validate_config(with_secrets(dirs))
    before = config.model_dump()
    redacted(config)
    assert config.model_dump() == before
    assert config.exporters[0].secret_key.get_secret_value() == SECRETS["secret_key"]
    assert isinstance(config, HideboundConfig)


def test_no_secret_in_config_errors(dirs: dict[str, Path]) -> None:
    data = with_secrets(dirs, write_mode="x", bogus=SECRETS["secret_key"])
    data["exporters"][0]["bucket"] = "Bad_Bucket"
    data["exporters"][0]["extra_key"] = SECRETS["access_key"]
    data["exporters"][1]["port"] = 5
    data["exporters"].append({"name": "ftp", "api_key": SECRETS["api_key"]})
    data["exporters"].append(SECRETS["secret_key"])
    data["webhooks"][0]["method"] = "GETT"
    data["webhooks"].append(
        {
            "url": 12345,
            "headers": {"Authorization": SECRETS["api_key"]},
            "method": "get",
            "timeout": SECRETS["root_id"],
        }
    )
    data["dask"]["gateway_api_token"] = ["not", "a", "string", SECRETS["gateway_api_token"]]
    with pytest.raises(ConfigError) as raised:
        validate_config(data)
    assert len(raised.value.problems) >= 8
    for secret in SECRETS.values():
        assert secret not in str(raised.value)
        assert all(secret not in problem for problem in raised.value.problems)


def test_no_secret_in_config_file_syntax_errors(tmp_path: Path, dirs: dict[str, Path]) -> None:
    """A YAML syntax error next to a secret must not quote the secret's line."""
    path = tmp_path / "secret.yaml"
    path.write_text(
        f"ingress_directory: {dirs['ingress']}\n"
        f"staging_directory: {dirs['staging']}\n"
        "exporters:\n"
        "  - name: s3\n"
        f"    access_key: {SECRETS['access_key']}: oops\n"
        f"    secret_key: {SECRETS['secret_key']}\n"
        "    bucket: my-bucket\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value)
    assert "line 5" in str(raised.value)
    for secret in SECRETS.values():
        assert secret not in str(raised.value)


def test_a_misspelt_staging_key_is_named_with_a_suggestion(dirs: dict[str, Path]) -> None:
    problems = problems_of({**minimal(dirs), "stageing": "incremental"})
    assert problems == ["stageing: unknown key (did you mean 'staging'?)"]
