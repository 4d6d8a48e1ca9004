"""The `hidebound-dagster` command line: search over persisted tables in three formats, database
errors as messages, and the effective config printed redacted (or every problem listed)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from hidebound_dagster.cli import main
from hidebound_dagster.core.asset_table import build_asset_table
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.tables import write_table
from hidebound_dagster_tests.conftest import EXAMPLE_SPECS, write_frames
from hidebound_dagster_tests.images import write_png

SECRET = "SuperSecret123"
ACCESS = "AKIAEXAMPLEACCESS"
JUMP = "cat001/raw001/p-cat001_s-raw001_d-jump_v001"
GAP = "cat001/raw001/p-cat001_s-raw001_d-gap_v001"
PORTRAIT = "cat001/img001/p-cat001_s-img001_d-portrait_v001.png"


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """file_table.parquet and asset_table.parquet of a small ingress, written by write_table."""
    root = tmp_path_factory.mktemp("cli")
    ingress = root / "ingress"
    write_png(ingress / PORTRAIT)
    write_frames(ingress, JUMP, [1, 2, 3])
    write_frames(ingress, GAP, [1, 3])
    specs = load_specifications([EXAMPLE_SPECS])
    files = build_file_table(ingress, specs)
    write_table(files, root / "tables" / "file_table.parquet")
    write_table(build_asset_table(files, specs), root / "tables" / "asset_table.parquet")
    return root / "tables"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


FRAME_2 = "SELECT filename, frame FROM data WHERE frame = 2 ORDER BY filename"
FRAME_2_NAMES = ["p-cat001_s-raw001_d-jump_v001_f0002.png"]


# search -------------------------------------------------------------------------------------


def test_search_table_format(capsys: pytest.CaptureFixture[str], tables: Path) -> None:
    code, out, err = run(capsys, "search", FRAME_2, "--tables", str(tables), "--format", "table")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["filename", "frame"]
    assert [line.split() for line in lines[1:]] == [[name, "2"] for name in FRAME_2_NAMES]


def test_search_defaults_to_the_table_format(
    capsys: pytest.CaptureFixture[str], tables: Path
) -> None:
    assert run(capsys, "search", FRAME_2, "--tables", str(tables)) == run(
        capsys, "search", FRAME_2, "--tables", str(tables), "--format", "table"
    )


def test_search_json_format(capsys: pytest.CaptureFixture[str], tables: Path) -> None:
    code, out, err = run(capsys, "search", FRAME_2, "--tables", str(tables), "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == [{"filename": name, "frame": 2} for name in FRAME_2_NAMES]


def test_search_csv_format(capsys: pytest.CaptureFixture[str], tables: Path) -> None:
    code, out, err = run(capsys, "search", FRAME_2, "--tables", str(tables), "--format", "csv")
    assert (code, err) == (0, "")
    assert list(csv.reader(io.StringIO(out))) == [
        ["filename", "frame"],
        *([name, "2"] for name in FRAME_2_NAMES),
    ]


def test_search_table_shows_at_most_limit_rows_and_says_what_it_left_out(
    capsys: pytest.CaptureFixture[str], tables: Path
) -> None:
    query = "SELECT filename FROM data ORDER BY filename"
    code, out, err = run(capsys, "search", query, "--tables", str(tables), "--limit", "2")
    assert code == 0
    assert len(out.splitlines()) == 1 + 2  # the header and two rows
    assert err.strip() == (
        "(4 more rows not shown: raise --limit, or use --format csv or json for all of them)"
    )
    code, out, _ = run(capsys, "search", query, "--tables", str(tables), "--format", "json")
    assert len(json.loads(out)) == 6  # the other formats give every row


def test_search_by_asset(capsys: pytest.CaptureFixture[str], tables: Path) -> None:
    code, out, _ = run(
        capsys,
        "search",
        "SELECT asset_path, asset_valid, file_count FROM data ORDER BY 1",
        "--group-by",
        "asset",
        "--tables",
        str(tables),
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out) == [
        {"asset_path": PORTRAIT, "asset_valid": True, "file_count": 1},
        {"asset_path": GAP, "asset_valid": False, "file_count": 2},
        {"asset_path": JUMP, "asset_valid": True, "file_count": 3},
    ]


def test_search_with_no_rows(capsys: pytest.CaptureFixture[str], tables: Path) -> None:
    query = "SELECT filename FROM data WHERE frame = 99"
    code, out, _ = run(capsys, "search", query, "--tables", str(tables))
    assert (code, out.strip()) == (0, "(no rows)")
    code, out, _ = run(capsys, "search", query, "--tables", str(tables), "--format", "json")
    assert (code, json.loads(out)) == (0, [])


def test_search_bad_query_exits_1_with_the_database_message(
    capsys: pytest.CaptureFixture[str], tables: Path
) -> None:
    code, out, err = run(capsys, "search", "SELECT foo FROM data", "--tables", str(tables))
    assert code == 1
    assert out == ""
    assert err.startswith("error: ")
    assert 'column "foo" not found' in err
    assert "Traceback" not in err and 'File "' not in err


def test_search_without_tables_exits_1_saying_run_update(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "search", "SELECT * FROM data", "--tables", str(tmp_path))
    assert (code, out) == (1, "")
    assert "run update first" in err and "file_table.parquet" in err
    assert "Traceback" not in err


def test_search_without_tables_or_dagster_home_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    code, out, err = run(capsys, "search", "SELECT * FROM data")
    assert (code, out) == (2, "")
    assert "DAGSTER_HOME" in err and "--tables" in err


def test_search_defaults_to_the_tables_of_the_instance_in_dagster_home(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tables: Path,
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    target = home / "storage" / "tables"
    target.mkdir(parents=True)
    for name in ("file_table.parquet", "asset_table.parquet"):
        (target / name).write_bytes((tables / name).read_bytes())
    code, out, err = run(capsys, "search", FRAME_2, "--format", "json")
    assert (code, err) == (0, "")
    assert [row["filename"] for row in json.loads(out)] == FRAME_2_NAMES


# config -------------------------------------------------------------------------------------


def write_config(directory: Path, text: str) -> Path:
    (directory / "ingress").mkdir(exist_ok=True)
    path = directory / "hidebound.yaml"
    path.write_text(textwrap.dedent(text))
    return path


GOOD = f"""
    ingress_directory: ingress
    staging_directory: hidebound
    specification_files: [{EXAMPLE_SPECS}]
    exporters:
      - name: s3
        access_key: {ACCESS}
        secret_key: {SECRET}
        bucket: my-bucket
    webhooks:
      - url: https://hooks.example.com/services/{SECRET}
        method: post
        params: {{token: plain}}
"""


def test_config_prints_the_effective_config_redacted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_config(tmp_path, GOOD)
    code, out, err = run(capsys, "config", "--config-file", str(path))
    assert (code, err) == (0, "")
    assert SECRET not in out and ACCESS not in out
    config = yaml.safe_load(out)
    assert config["ingress_directory"] == str(tmp_path / "ingress")
    assert config["staging_directory"] == str(tmp_path / "hidebound")
    (s3,) = config["exporters"]
    assert s3["bucket"] == "my-bucket" and s3["region"] == "us-east-1"
    assert s3["secret_key"].startswith("hash-") and s3["access_key"].startswith("hash-")
    assert s3["secret_key"] != s3["access_key"]
    assert config["webhooks"][0]["url"].startswith("hash-")
    assert config["dask"]["gateway_api_token"] is None  # None stays None


def test_config_redaction_hashes_are_stable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_config(tmp_path, GOOD)
    first = run(capsys, "config", "--config-file", str(path))
    assert run(capsys, "config", "--config-file", str(path)) == first


def test_config_without_hashing_says_redacted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_config(tmp_path, GOOD + "    redact_hash: false\n")
    code, out, _ = run(capsys, "config", "--config-file", str(path))
    assert code == 0 and SECRET not in out
    assert yaml.safe_load(out)["exporters"][0]["secret_key"] == "REDACTED"


def test_config_reads_hidebound_config_filepath(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIDEBOUND_CONFIG_FILEPATH", str(write_config(tmp_path, GOOD)))
    code, out, _ = run(capsys, "config")
    assert code == 0 and SECRET not in out
    assert yaml.safe_load(out)["ingress_directory"] == str(tmp_path / "ingress")


def test_bad_config_exits_1_listing_every_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_config(
        tmp_path,
        f"""
        ingress_directory: does-not-exist
        staging_directory: staging
        write_mode: teleport
        colour: blue
        specification_files: [{EXAMPLE_SPECS}]
        exporters:
          - name: s3
            access_key: {ACCESS}
            secret_key: {SECRET}
            bucket: Bad_Bucket
    """,
    )
    code, out, err = run(capsys, "config", "--config-file", str(path))
    assert (code, out) == (1, "")
    assert "5 problems" in err
    for expected in (
        "ingress_directory:",
        "does-not-exist",
        "staging_directory:",
        "not named hidebound",
        "write_mode:",
        "colour: unknown key",
        "bucket:",
        "Bad_Bucket",
    ):
        assert expected in err, expected
    assert SECRET not in err and ACCESS not in err
    assert "Traceback" not in err


#: Runs `config` in a fresh interpreter; prints its exit status and whether Dagster was imported.
CONFIG_IMPORTS = (
    "import sys\n"
    "from hidebound_dagster.cli import main\n"
    "code = main(['config', '--config-file', sys.argv[1]])\n"
    "print(code, 'dagster' in sys.modules)"
)


@pytest.mark.parametrize(
    ("schedule", "expected"), [("", "0 False"), ("    schedule_cron: '*/5 * * * *'\n", "0 True")]
)
def test_config_imports_dagster_only_to_check_a_schedule(
    tmp_path: Path, schedule: str, expected: str
) -> None:
    """Dagster's rules check a schedule the config sets; without one, `config` starts without
    Dagster, the largest import it could make."""
    path = write_config(tmp_path, GOOD + schedule)
    done = subprocess.run(
        [sys.executable, "-c", CONFIG_IMPORTS, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == expected


def test_config_file_that_is_not_yaml_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "hidebound.yaml"
    path.write_text("ingress_directory: [unclosed\n")
    code, out, err = run(capsys, "config", "--config-file", str(path))
    assert (code, out) == (1, "")
    assert str(path) in err and "Traceback" not in err


def test_exporter_secrets_in_the_environment_do_not_replace_the_config_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HIDEBOUND_S3_SECRET_KEY is a secret for the s3_exporter resource, not a config key: with
    no config variable set, the bundled example config stays in effect."""
    for name in ("HIDEBOUND_CONFIG_FILEPATH", "HIDEBOUND_INGRESS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HIDEBOUND_S3_SECRET_KEY", "Env-Secret-Value")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert yaml.safe_load(out)["ingress_directory"].endswith("examples/ingress")
    assert "Env-Secret-Value" not in out


def test_search_table_keeps_a_multi_line_error_on_its_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import pandas as pd

    files = pd.DataFrame({"filepath_relative": ["a/f.png"], "asset_path": ["a"]})
    assets = pd.DataFrame(
        {
            "asset_path": ["a"],
            "asset_valid": [False],
            "asset_error": ["f1.png: one problem\nf2.png: another"],
        }
    )
    write_table(files, tmp_path / "file_table.parquet")
    write_table(assets, tmp_path / "asset_table.parquet")
    code = main(
        ["search", "SELECT asset_error FROM data", "--group-by", "asset", "--tables", str(tmp_path)]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # header and one row
    assert "f1.png: one problem · f2.png: another" in lines[1]


def test_search_table_fits_the_terminal(
    capsys: pytest.CaptureFixture[str], tables: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    query = "SELECT asset_path, asset_valid, asset_error FROM data ORDER BY asset_path"
    assert main(["search", query, "--group-by", "asset", "--tables", str(tables)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["asset_path", "asset_valid", "asset_error"]
    assert max(map(len, lines)) <= 80
    assert any(line.rstrip().endswith("…") for line in lines)  # long cells are cut, marked
    assert all("\n" not in line for line in lines)


def test_search_help_lists_the_columns(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = capsys.readouterr().out
    for column in ("filepath_relative", "asset_valid", "asset_error", "file_count", "frame"):
        assert column in text


def test_bash_completion_completes_commands_and_options() -> None:
    script = subprocess.run(
        [str(Path(sys.executable).with_name("hidebound-dagster")), "completion", "bash"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    probe = (
        f"{script}\n"
        "COMP_WORDS=(hidebound-dagster se); COMP_CWORD=1; _hidebound_dagster; "
        'echo "${COMPREPLY[@]}"; '
        "COMP_WORDS=(hidebound-dagster search --gr); COMP_CWORD=2; _hidebound_dagster; "
        'echo "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["search", "--group-by"]


@pytest.mark.parametrize("base_dir", [None, "elsewhere"])
def test_storage_directory_is_the_instances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base_dir: str | None
) -> None:
    """The CLI reads the storage directory from dagster.yaml alone (a private Dagster API);
    it must be the one the instance itself uses."""
    import dagster as dg

    from hidebound_dagster.cli import storage_directory

    if base_dir:
        (tmp_path / "dagster.yaml").write_text(
            f"local_artifact_storage:\n  module: dagster._core.storage.root\n"
            f"  class: LocalArtifactStorage\n  config:\n    base_dir: {tmp_path / base_dir}\n"
        )
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        expected = Path(instance.storage_directory())
    assert storage_directory() == expected
    assert (base_dir or "storage") in str(expected)
