"""Config validation that cannot be fooled: undecodable files, YAML nested thousands deep, empty
paths, non-finite numbers, misspelt keys (with a suggestion), any AWS region name; and a
property test over generated and mutated configs: each is accepted or refused with a list of
problems, never a traceback, and validation touches no file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hidebound_dagster.core.config import ConfigError, load_config, validate_config
from hidebound_dagster.location import load_location


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "ingress").mkdir()
    return {"ingress": tmp_path / "ingress", "staging": tmp_path / "hidebound"}


def base(dirs: dict[str, Path]) -> dict[str, object]:
    return {"ingress_directory": str(dirs["ingress"]), "staging_directory": str(dirs["staging"])}


def problems_of(data: dict, **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        validate_config(data, **kwargs)  # type: ignore[arg-type]
    return raised.value.problems


def test_a_config_file_that_is_not_utf8_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "hidebound.yaml"
    path.write_bytes(b"ingress_directory: /data/\xff\xfe\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.problems == [f"{path}: not UTF-8 text (byte 25)"]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_nesting_five_thousand_deep_is_one_problem(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"hidebound{suffix}"
    depth = 5000
    body = "[" * depth + "]" * depth
    path.write_text(f'{{"ingress_directory": {body}}}')
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.problems == [f"{path}: nested too deeply to be a config"]


@pytest.mark.parametrize("key", ["ingress_directory", "staging_directory"])
def test_an_empty_path_is_refused_not_the_config_files_directory(
    dirs: dict[str, Path], key: str
) -> None:
    assert problems_of({**base(dirs), key: ""}) == [f"{key}: must not be empty"]


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_numbers_are_refused(dirs: dict[str, Path], value: float) -> None:
    problems = problems_of({**base(dirs), "settle_seconds": value})
    assert len(problems) == 1 and problems[0].startswith("settle_seconds: ")


def test_misspelt_keys_get_a_suggestion_at_every_level(dirs: dict[str, Path]) -> None:
    data = {
        **base(dirs),
        "exclude_regexp": "x",
        "dask": {"clustr_type": "threads"},
        "exporters": [{"name": "s3", "bucket": "bkt", "buckt": "x"}],
        "webhooks": [{"url": "http://x/", "method": "post", "heders": {}}],
        "zzz": 1,
    }
    assert sorted(problems_of(data)) == sorted(
        [
            "exclude_regexp: unknown key (did you mean 'exclude_regex'?)",
            "dask.clustr_type: unknown key (did you mean 'cluster_type'?)",
            "exporters.0.s3.buckt: unknown key (did you mean 'bucket'?)",
            "webhooks.0.heders: unknown key (did you mean 'headers'?)",
            "zzz: unknown key",
        ]
    )


@pytest.mark.parametrize(
    "region", ["ap-southeast-3", "il-central-1", "eu-central-2", "ca-west-1", "us-gov-west-1"]
)
def test_every_real_aws_region_name_is_accepted(dirs: dict[str, Path], region: str) -> None:
    exporter = {"name": "s3", "bucket": "bkt", "region": region}
    assert validate_config({**base(dirs), "exporters": [exporter]}).exporters[0].region == region


@pytest.mark.parametrize("region", ["", "mars", "EU-WEST-1", "eu_west_1"])
def test_a_string_that_is_no_region_name_is_refused(dirs: dict[str, Path], region: str) -> None:
    exporter = {"name": "s3", "bucket": "bkt", "region": region}
    (problem,) = problems_of({**base(dirs), "exporters": [exporter]})
    assert problem.startswith("exporters.0.s3.region: ")


# --- generated and mutated configs --------------------------------------------------------

# specification_files is left out: a generated path such as "." would import real modules.
KEYS = [
    "ingress_directory",
    "staging_directory",
    "include_regex",
    "exclude_regex",
    "follow_symlinks",
    "write_mode",
    "workflow",
    "exporters",
    "webhooks",
    "settle_seconds",
    "schedule_cron",
    "schedule_timezone",
    "dask",
    "key_prefix",
    "redact_regex",
    "redact_hash",
    "ingres_directory",
    "",
    "\x00",
    "é" * 300,
]
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["move", "copy", "within", "*/5 * * * *", "[", "{"]),
)
VALUE = st.recursive(
    LEAF,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    changes=st.dictionaries(st.sampled_from(KEYS), VALUE, max_size=6),
    dropped=st.sets(st.sampled_from(["ingress_directory", "staging_directory"])),
    as_text=st.booleans(),
)
def test_any_config_is_accepted_or_refused_with_its_problems_and_touches_nothing(
    tmp_path_factory: pytest.TempPathFactory, changes: dict, dropped: set, as_text: bool
) -> None:
    root = tmp_path_factory.mktemp("prop")
    (root / "ingress").mkdir()
    data = {
        "ingress_directory": str(root / "ingress"),
        "staging_directory": str(root / "hidebound"),
    }
    data = {key: value for key, value in {**data, **changes}.items() if key not in dropped}
    before = sorted(path.relative_to(root) for path in root.rglob("*"))
    if as_text:  # through a file and the location loader, as a code location reads it
        import yaml

        path = root / "hidebound.yaml"
        try:
            path.write_text(yaml.safe_dump(data))
        except (yaml.YAMLError, UnicodeEncodeError):
            return
        before = sorted(path.relative_to(root) for path in root.rglob("*"))
        location = load_location(path)
        assert (location.config is None) != (location.error is None)
        if location.error is not None:
            assert location.error.problems
            assert all(
                isinstance(p, str) and p and "Traceback" not in p for p in location.error.problems
            )
    else:
        try:
            validate_config(data)
        except ConfigError as error:
            assert error.problems
            assert len(error.problems) == len(set(error.problems))  # each problem once
            assert "Traceback" not in str(error)
    assert sorted(path.relative_to(root) for path in root.rglob("*")) == before


# --- the original's variable names ----------------------------------------------------------


def test_hidebound_timeout_still_sets_the_gateway_timeout_with_a_note(
    dirs: dict[str, Path],
) -> None:
    environ = {
        "HIDEBOUND_INGRESS_DIRECTORY": str(dirs["ingress"]),
        "HIDEBOUND_STAGING_DIRECTORY": str(dirs["staging"]),
        "HIDEBOUND_TIMEOUT": "77",
    }
    location = load_location(environ=environ)
    assert location.config is not None
    assert location.config.dask.gateway_timeout == 77
    assert location.notes == (
        "HIDEBOUND_TIMEOUT is deprecated: it still sets dask.gateway_timeout; use "
        "HIDEBOUND_DASK_GATEWAY_TIMEOUT",
    )
    newer = {**environ, "HIDEBOUND_DASK_GATEWAY_TIMEOUT": "5"}
    assert load_location(environ=newer).config.dask.gateway_timeout == 5  # the new name wins


def test_hidebound_timeout_beside_a_config_file_is_said_to_be_ignored(
    dirs: dict[str, Path], tmp_path: Path
) -> None:
    import yaml

    path = tmp_path / "hidebound.yaml"
    path.write_text(yaml.safe_dump(base(dirs)))
    location = load_location(path, environ={"HIDEBOUND_TIMEOUT": "77"})
    assert location.config is not None and location.config.dask.gateway_timeout == 30
    assert location.notes == (
        "HIDEBOUND_TIMEOUT is set but ignored: the config file is in charge (set "
        "dask.gateway_timeout in it)",
    )


def test_a_run_logs_the_deprecation(dirs: dict[str, Path]) -> None:
    import dagster as dg

    from hidebound_dagster.definitions import build_defs

    environ = {
        "HIDEBOUND_INGRESS_DIRECTORY": str(dirs["ingress"]),
        "HIDEBOUND_STAGING_DIRECTORY": str(dirs["staging"]),
        "HIDEBOUND_TIMEOUT": "77",
    }
    defs = build_defs(load_location(environ=environ))
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("update").execute_in_process(instance=instance)
        logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert result.success
    assert any("HIDEBOUND_TIMEOUT is deprecated" in message for message in logs)


# --- redaction ------------------------------------------------------------------------------


@pytest.mark.parametrize("redact_hash", [True, False])
def test_the_config_view_hides_webhook_headers_bodies_and_url_passwords(
    dirs: dict[str, Path], redact_hash: bool
) -> None:
    from hidebound_dagster.core.redaction import redacted

    secrets = [
        "Bearer-hdr-0001",
        "apikey-hdr-0002",
        "json-body-0003",
        "url-pass-0004",
        "query-token-0005",
        "param-0006",
        "gw-token-0007",
    ]
    config = validate_config(
        {
            **base(dirs),
            "redact_hash": redact_hash,
            "exporters": [
                {
                    "name": "s3",
                    "bucket": "bkt",
                    "endpoint_url": f"http://archive:{secrets[3]}@127.0.0.1:9000/?sig={secrets[4]}",
                },
                {
                    "name": "girder",
                    "root_id": "r1",
                    "api_key": "k",
                    "host": f"http://archive:{secrets[3]}@girder.local/?sig={secrets[4]}",
                },
            ],
            "webhooks": [
                {
                    "url": "https://hooks.example.com/T0/B0",
                    "method": "post",
                    "headers": {"Authorization": secrets[0], "X-Api-Key": secrets[1]},
                    "json": {"text": "done", "token": secrets[2]},
                    "params": {"p": secrets[5]},
                }
            ],
            "dask": {"gateway_api_token": secrets[6]},
        }
    )
    shown = redacted(config)
    text = repr(shown)
    for secret in secrets:
        assert secret not in text, secret
    hook = shown["webhooks"][0]
    assert set(hook["headers"]) == {"Authorization", "X-Api-Key"}  # the names stay readable
    # a key named like a URL is hidden whole (redact_regex); a URL anywhere else keeps its
    # host and loses its password and query values
    assert shown["exporters"][1]["host"] == "http://archive:REDACTED@girder.local/?sig=REDACTED"
    assert shown["exporters"][0]["bucket"] == "bkt"
    assert shown["ingress_directory"] == str(dirs["ingress"])
