"""Search: SQL over the file table or the asset table as `data`, coordinates split into x/y/z,
asset_valid as a boolean, input tables never changed, database errors as SearchError."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

from hidebound_dagster.core.asset_table import build_asset_table
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.search import SearchError, search, search_tables
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.tables import read_table, write_table
from hidebound_dagster_tests.conftest import EXAMPLE_SPECS, write_frames, write_tiles
from hidebound_dagster_tests.images import write_png

PORTRAIT = "cat001/img001/p-cat001_s-img001_d-portrait_v001.png"
JUMP = "cat001/raw001/p-cat001_s-raw001_d-jump_v001"
GAP = "cat001/raw001/p-cat001_s-raw001_d-gap_v001"
FUR = "cat001/tex001/p-cat001_s-tex001_d-fur_v001"
GRID = [(0, 0), (0, 1), (1, 0), (1, 1)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The file and asset tables of a small ingress as update builds them, and the directory
    they were persisted to (as the Dagster IO manager does)."""
    root = tmp_path_factory.mktemp("search")
    ingress = root / "ingress"
    write_png(ingress / PORTRAIT)
    write_frames(ingress, JUMP, [1, 2, 3])
    write_frames(ingress, GAP, [1, 2, 4])
    write_tiles(ingress, FUR, GRID)
    (ingress / "cat001/notes.txt").write_text("notes\n")
    specs = load_specifications([EXAMPLE_SPECS])
    files = build_file_table(ingress, specs)
    assets = build_asset_table(files, specs)
    tables = root / "tables"
    write_table(files, tables / "file_table.parquet")
    write_table(assets, tables / "asset_table.parquet")
    return {"files": files, "assets": assets, "tables": tables}


@pytest.fixture
def files(built: dict) -> pd.DataFrame:
    """The file table as the search asset and the CLI get it (read back from Parquet)."""
    return read_table(built["tables"] / "file_table.parquet")


@pytest.fixture
def assets(built: dict) -> pd.DataFrame:
    return read_table(built["tables"] / "asset_table.parquet")


def test_search_by_file(files: pd.DataFrame, assets: pd.DataFrame) -> None:
    result = search(
        "SELECT filename, frame FROM data WHERE specification = 'raw001' AND frame = 2 "
        "ORDER BY filename",
        files,
        assets,
        "file",
    )
    assert list(result["filename"]) == [
        "p-cat001_s-raw001_d-gap_v001_f0002.png",
        "p-cat001_s-raw001_d-jump_v001_f0002.png",
    ]
    assert list(result["frame"]) == [2, 2]


def test_search_by_file_sees_every_file_including_those_without_an_asset(
    files: pd.DataFrame, assets: pd.DataFrame
) -> None:
    result = search("SELECT count(*) AS n FROM data", files, assets)
    assert result["n"].iloc[0] == 1 + 3 + 3 + 8 + 1
    orphan = search(
        "SELECT filename, asset_valid FROM data WHERE asset_path IS NULL", files, assets
    )
    assert orphan.to_dict("records") == [{"filename": "notes.txt", "asset_valid": False}]


def test_search_by_asset(files: pd.DataFrame, assets: pd.DataFrame) -> None:
    result = search(
        "SELECT asset_path, asset_type, file_count, asset_valid FROM data "
        "WHERE asset_type = 'sequence' ORDER BY asset_path",
        files,
        assets,
        "asset",
    )
    assert result.to_dict("records") == [
        {"asset_path": GAP, "asset_type": "sequence", "file_count": 3, "asset_valid": False},
        {"asset_path": JUMP, "asset_type": "sequence", "file_count": 3, "asset_valid": True},
    ]
    everything = search("SELECT * FROM data", files, assets, "asset")
    assert sorted(everything["asset_path"]) == sorted([PORTRAIT, JUMP, GAP, FUR])


def test_coordinates_are_split_into_x_y_z(files: pd.DataFrame, assets: pd.DataFrame) -> None:
    result = search(
        "SELECT filepath_relative, coordinate_x, coordinate_y, coordinate_z FROM data "
        "WHERE specification = 'tex001' ORDER BY filepath_relative",
        files,
        assets,
    )
    assert [(r.coordinate_x, r.coordinate_y) for r in result.itertuples()] == GRID * 2
    assert result["coordinate_z"].isna().all()
    others = search(
        "SELECT count(*) AS n FROM data WHERE specification <> 'tex001' "
        "AND coordinate_x IS NULL AND coordinate_y IS NULL",
        files,
        assets,
    )
    assert others["n"].iloc[0] == 1 + 3 + 3
    columns = search("SELECT * FROM data LIMIT 1", files, assets).columns
    assert "coordinate" not in columns
    assert {"coordinate_x", "coordinate_y", "coordinate_z"} <= set(columns)


def test_coordinate_x_is_usable_in_where(files: pd.DataFrame, assets: pd.DataFrame) -> None:
    result = search(
        "SELECT filename FROM data WHERE coordinate_x = 1 AND coordinate_y = 0", files, assets
    )
    assert sorted(result["filename"]) == ["p-cat001_s-tex001_d-fur_v001_c0001-0000.png"] * 2


@pytest.mark.parametrize(
    ("group_by", "query", "expected"),
    [
        ("file", "SELECT DISTINCT asset_path FROM data WHERE asset_valid", [FUR, PORTRAIT, JUMP]),
        (
            "file",
            "SELECT DISTINCT asset_path FROM data WHERE NOT asset_valid AND asset_path IS NOT NULL",
            [GAP],
        ),
        (
            "file",
            "SELECT DISTINCT asset_path FROM data WHERE asset_valid = true",
            [FUR, PORTRAIT, JUMP],
        ),
        ("asset", "SELECT asset_path FROM data WHERE asset_valid", [FUR, PORTRAIT, JUMP]),
        ("asset", "SELECT asset_path FROM data WHERE asset_valid IS FALSE", [GAP]),
    ],
)
def test_asset_valid_is_a_boolean_usable_in_where(
    files: pd.DataFrame, assets: pd.DataFrame, group_by: str, query: str, expected: list[str]
) -> None:
    result = search(query, files, assets, group_by)
    assert sorted(result["asset_path"]) == sorted(expected)


def test_asset_valid_comes_back_as_bool(files: pd.DataFrame, assets: pd.DataFrame) -> None:
    for group_by in ("file", "asset"):
        result = search("SELECT asset_valid FROM data", files, assets, group_by)
        assert result["asset_valid"].dtype == bool
        assert set(result["asset_valid"]) == {True, False}


def test_search_never_changes_the_tables(files: pd.DataFrame, assets: pd.DataFrame) -> None:
    files_before, assets_before = files.copy(deep=True), assets.copy(deep=True)
    coordinates = copy.deepcopy(list(files["coordinate"]))
    for group_by in ("file", "asset"):
        search("SELECT * FROM data", files, assets, group_by)
    with pytest.raises(SearchError):
        search("SELECT nope FROM data", files, assets)
    pd.testing.assert_frame_equal(files, files_before)
    pd.testing.assert_frame_equal(assets, assets_before)
    assert list(files.columns) == list(files_before.columns)
    assert "coordinate_x" not in files and "asset_valid" not in files
    for now, then in zip(files["coordinate"], coordinates, strict=True):
        assert (now is None and then is None) or list(now) == list(then)


def test_search_accepts_the_tables_as_built_by_update(built: dict) -> None:
    """search(query, files, assets) on the DataFrames build_file_table/build_asset_table return
    (files of specifications without a coordinate hold NaN there, not None)."""
    files, assets = built["files"], built["assets"]
    before = files.copy(deep=True)
    result = search("SELECT filename, coordinate_x FROM data WHERE coordinate_x = 1", files, assets)
    assert len(result) == 4
    pd.testing.assert_frame_equal(files, before)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT foo FROM data", 'column "foo" not found'),
        ("SELEC * FROM data", "syntax error"),
        ("SELECT * FROM data WHERE", "syntax error"),
    ],
)
def test_a_bad_query_raises_search_error_with_the_database_message(
    files: pd.DataFrame, assets: pd.DataFrame, query: str, message: str
) -> None:
    with pytest.raises(SearchError) as raised:
        search(query, files, assets)
    text = str(raised.value)
    assert message in text
    assert "Traceback" not in text and 'File "' not in text
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.parametrize("name", ["files", "assets", "table", "query"])
def test_only_data_is_queryable_not_python_variables(
    files: pd.DataFrame, assets: pd.DataFrame, name: str
) -> None:
    """The query sees one table, `data`; other names (such as the Python variables around the
    call) are unknown tables."""
    with pytest.raises(SearchError, match=name):
        search(f"SELECT * FROM {name}", files, assets)


def test_a_query_cannot_read_files_from_disk(
    files: pd.DataFrame, assets: pd.DataFrame, tmp_path: Path
) -> None:
    """A query comes from run config or the command line and its result is shown in the UI:
    it must not be able to read a config file holding secrets (or any other file)."""
    secret = tmp_path / "hidebound.yaml"
    secret.write_text("secret_key: SuperSecret123\n")
    for query in (
        f"SELECT content FROM read_text('{secret}')",
        f"SELECT * FROM read_csv('{secret}')",
        f"SELECT * FROM '{secret}'",
    ):
        try:
            result = search(query, files, assets)
        except SearchError:
            continue
        assert "SuperSecret123" not in result.to_string(), query
        pytest.fail(f"{query!r} ran and returned {result.to_dict('records')}")


def test_search_tables_reads_the_persisted_tables(built: dict) -> None:
    result = search_tables(
        "SELECT asset_path FROM data WHERE asset_valid ORDER BY asset_path",
        built["tables"],
        "asset",
    )
    assert list(result["asset_path"]) == sorted([PORTRAIT, JUMP, FUR])


def test_search_tables_without_tables_says_which_are_missing(tmp_path: Path) -> None:
    with pytest.raises(SearchError) as raised:
        search_tables("SELECT * FROM data", tmp_path)
    text = str(raised.value)
    assert str(tmp_path / "file_table.parquet") in text
    assert str(tmp_path / "asset_table.parquet") in text
    assert "run update first" in text


def test_search_tables_with_one_table_missing_names_only_that_one(
    built: dict, tmp_path: Path
) -> None:
    write_table(built["files"], tmp_path / "file_table.parquet")
    with pytest.raises(SearchError) as raised:
        search_tables("SELECT * FROM data", tmp_path)
    assert "asset_table.parquet" in str(raised.value)
    assert "file_table.parquet" not in str(raised.value)


def test_a_query_over_its_time_limit_is_stopped_with_a_clear_message(
    files: pd.DataFrame, assets: pd.DataFrame
) -> None:
    import time

    start = time.monotonic()
    with pytest.raises(SearchError) as raised:
        search("SELECT count(*) FROM range(100000000000)", files, assets, "asset", timeout=0.5)
    assert time.monotonic() - start < 10  # would run for hours otherwise
    assert str(raised.value) == (
        "the query ran longer than its time limit of 0.5 s and was stopped"
    )
    # and a quick query under the same limit still answers
    assert len(search("SELECT * FROM data", files, assets, "asset", timeout=0.5)) == len(assets)
