"""Validators answer per element or per asset row, and work as pandera checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.api.checks import Check
from pandera.typing import Series

from hidebound_dagster.core import validators as v

ElementRule = Callable[[pd.Series], pd.Series]

ELEMENT_CASES: list[tuple[ElementRule, list[Any], list[Any]]] = [
    (
        v.is_project,
        ["cat001", "proj1", "abcdefghij1234", "abc9999"],
        ["ab1", "cat", "Cat001", "cat00001", "abcdefghijk1", "cat-001", "", None, 5],
    ),
    (
        v.is_descriptor,
        ["desc", "a", "0b", "calico-", "a--b", "my-master", "lname"],
        ["lastname", "final", "master-cut", "last", "-calico", "Calico", "cal_ico", "", None, 3],
    ),
    (v.is_version, [1, 2, 999, 5.0], [0, 1000, -1, 1.5, "1", True, None]),
    (v.is_frame, [0, 1, 9999, 3.0], [-1, 10000, 0.5, "7", True, None]),
    (
        v.is_coordinate,
        [[0], [0, 0], [9999, 1, 2], (3, 4), [1.0]],
        [[], [1, 2, 3, 4], [10000], [-1], [0.5], [True], ["1"], "01", 0, None],
    ),
    (v.is_extension, ["png", "exr", "mp4", "1"], ["PNG", "Png", "tar.gz", ".png", "", None, 7]),
]


def object_series(values: list[Any]) -> pd.Series:
    return pd.Series(values, dtype=object, index=[f"r{i}" for i in range(len(values))])


@pytest.mark.parametrize(("rule", "valid", "invalid"), ELEMENT_CASES)
def test_element_rules(rule: ElementRule, valid: list[Any], invalid: list[Any]) -> None:
    series = object_series(valid + invalid)
    result = rule(series)
    assert result.dtype == bool
    assert result.index.equals(series.index)
    assert result.tolist() == [True] * len(valid) + [False] * len(invalid)


@pytest.mark.parametrize(
    ("rule", "series", "expected"),
    [
        (v.is_frame, pd.Series([0, 9999, 10000]), [True, True, False]),
        (v.is_frame, pd.Series([1, None], dtype="Int64"), [True, False]),
        (v.is_version, pd.Series([0.0, 2.0, float("nan")]), [False, True, False]),
        (v.is_version, pd.Series([True, False]), [False, False]),
        (v.is_extension, pd.Series(["png", None, "JPG"]), [True, False, False]),
        (v.is_descriptor, pd.Series([1, 2]), [False, False]),
    ],
)
def test_element_rules_on_typed_columns(
    rule: ElementRule, series: pd.Series, expected: list[bool]
) -> None:
    assert rule(series).tolist() == expected


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        (v.is_eq, 2, [False, True, False, False]),
        (v.is_lt, 2, [True, False, False, False]),
        (v.is_gt, 2, [False, False, True, False]),
        (v.is_lte, 2, [True, True, False, False]),
        (v.is_gte, 2, [False, True, True, False]),
    ],
)
def test_comparisons(
    rule: Callable[[pd.Series, Any], pd.Series], value: int, expected: list[bool]
) -> None:
    assert rule(pd.Series([1, 2, 3, None]), value).tolist() == expected


def test_comparisons_survive_mixed_and_list_values() -> None:
    assert v.is_lt(object_series(["a", 1, None]), 5).tolist() == [False, True, False]
    assert v.is_eq(object_series([[0, 0], [1], None]), [0, 0]).tolist() == [True, False, False]


def test_is_in() -> None:
    series = pd.Series(["png", "jpg", None, "exr"])
    assert v.is_in(series, ["png", "exr", None]).tolist() == [True, False, False, True]


# ---------------------------------------------------------------------------------------------
# asset rules: asset "a" passes, asset "b" fails, so a's rows are True and b's are False
# ---------------------------------------------------------------------------------------------

ASSET_CASES: list[tuple[Callable[..., pd.Series], list[Any], list[Any], dict[str, Any]]] = [
    (v.is_homogeneous, ["png", "png", "png"], ["png", "jpg"], {}),
    (v.is_homogeneous, [[0, 1], [0, 1]], [[0, 1], [1, 0]], {}),
    (v.is_homogeneous, [7], [7, None], {}),
    (v.is_contiguous, [3, 1, 2, 2], [1, 3], {}),
    (v.is_contiguous, [5], [1, 2, None], {}),
    (v.is_contiguous, [0, 1], [0, 1.5], {}),
    (
        v.has_uniform_coordinate_count,
        [[0, 0], [0, 1], [0, 0], [0, 1]],
        [[0, 0], [0, 1], [0, 0]],
        {},
    ),
    (v.has_uniform_coordinate_count, [[0], [1]], [[0], [1], "x"], {}),
    (
        v.has_dense_coordinates,
        [[1, 0], [0, 0], [1, 1], [0, 1]],
        [[0, 0], [1, 1]],
        {},
    ),
    (v.has_dense_coordinates, [[0, 0, 0], [0, 0, 1]], [[0, 0], [0, 0, 1]], {}),
    (v.has_dense_coordinates, [[2], [3], [4]], [[2], [4]], {}),
    (v.coordinates_begin_at, [[1, 1], [0, 0], [0, 1]], [[0, 1], [1, 0]], {"origin": [0, 0]}),
    (v.coordinates_begin_at, [[0], [0, 0]], [[0, 0], [0, 0, 1]], {"origin": [0]}),
    (v.coordinates_begin_at, [[2, 10], [3, 0]], [[10, 0], [9, 9]], {"origin": [2, 10]}),
]


@pytest.mark.parametrize(("rule", "passing", "failing", "kwargs"), ASSET_CASES)
def test_asset_rules(
    rule: Callable[..., pd.Series], passing: list[Any], failing: list[Any], kwargs: dict[str, Any]
) -> None:
    # interleave the two assets' rows, under a duplicated non-range index
    labels = ["a"] * len(passing) + ["b"] * len(failing)
    order = sorted(range(len(labels)), key=lambda i: (i % 2, i))
    values = object_series([(passing + failing)[i] for i in order])
    values.index = ["x"] * len(values)
    assets = pd.Series([labels[i] for i in order], index=values.index)
    result = rule(values, assets, **kwargs)
    assert result.dtype == bool
    assert result.index.equals(values.index)
    assert result.tolist() == (assets == "a").tolist()


def test_asset_rules_treat_null_asset_labels_as_one_asset() -> None:
    assets = pd.Series(["a", None, None])
    assert v.is_contiguous(pd.Series([1, 5, 6]), assets).tolist() == [True, True, True]
    assert v.is_contiguous(pd.Series([1, 5, 7]), assets).tolist() == [True, False, False]


def test_asset_rules_on_empty_input() -> None:
    empty = pd.Series([], dtype=object)
    for rule in (v.is_homogeneous, v.is_contiguous, v.has_uniform_coordinate_count):
        assert rule(empty, empty).tolist() == []
    assert v.has_dense_coordinates(empty, empty).tolist() == []
    assert v.coordinates_begin_at(empty, empty, [0]).tolist() == []


def test_asset_rule_argument_errors() -> None:
    with pytest.raises(ValueError, match="not a valid coordinate"):
        v.coordinates_begin_at(object_series([[0]]), pd.Series(["a"]), origin=[-1])
    with pytest.raises(ValueError, match="2 values but 1 asset labels"):
        v.is_homogeneous(pd.Series([1, 2]), pd.Series(["a"]))


def test_asset_rules_have_docstrings_for_users() -> None:
    rules = [
        v.is_homogeneous,
        v.is_contiguous,
        v.has_uniform_coordinate_count,
        v.has_dense_coordinates,
        v.coordinates_begin_at,
    ]
    for rule in rules:
        assert rule.__doc__ and rule.__doc__.strip()
        assert rule.__name__ in v.ASSET_RULE_ERRORS


# ---------------------------------------------------------------------------------------------
# pandera
# ---------------------------------------------------------------------------------------------


class Frames(pa.DataFrameModel):
    """A specification-like model: element checks on fields, asset rules two ways."""

    asset_path: Series[str]
    project: Series[str] = pa.Field(is_project=True)
    descriptor: Series[str] = pa.Field(is_descriptor=True)
    version: Series[int] = pa.Field(is_version=True)
    frame: Series[int] = pa.Field(is_frame=True)
    coordinate: Series[object] = pa.Field(is_coordinate=True)
    extension: Series[str] = pa.Field(is_extension=True, is_in=["png", "exr"])

    class Config:
        is_homogeneous = ["version", "extension"]  # a list of columns, checked together
        coordinates_begin_at = {"column": "coordinate", "origin": [0, 0]}

    @pa.dataframe_check(name="is_contiguous", error="frame values are contiguous within each asset")
    @classmethod
    def frames_are_contiguous(cls, df: pd.DataFrame) -> pd.Series:
        return v.is_contiguous(df["frame"], df["asset_path"])


def frames_table() -> pd.DataFrame:
    """Asset /a is valid; /b has a frame gap, a bad descriptor and a bad frame."""
    return pd.DataFrame(
        {
            "asset_path": ["/a", "/a", "/b", "/b"],
            "project": ["cat001"] * 4,
            "descriptor": ["calico", "calico", "calico", "lastname"],
            "version": [1, 1, 1, 1],
            "frame": [0, 1, 1, 10000],
            "coordinate": [[0, 0], [0, 0], [0, 0], [0, 0]],
            "extension": ["png"] * 4,
        }
    )


def test_valid_table_passes_the_model() -> None:
    table = frames_table()
    valid = table[table["asset_path"] == "/a"]
    pd.testing.assert_frame_equal(Frames.validate(valid, lazy=True), valid)


def test_model_failure_cases_name_check_and_row() -> None:
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        Frames.validate(frames_table(), lazy=True)
    cases = caught.value.failure_cases
    failures = set(zip(cases["column"], cases["check"], cases["index"], strict=True))
    assert ("descriptor", v.FLAG_CHECK_ERRORS["is_descriptor"], 3) in failures
    assert ("frame", "is a valid frame (0 <= frame < 10000)", 3) in failures
    contiguous = cases[cases["check"] == "frame values are contiguous within each asset"]
    assert set(contiguous["index"]) == {2, 3}
    assert set(cases["index"]) == {2, 3}


def test_config_asset_rules_report_their_sentence() -> None:
    table = frames_table()
    table.loc[1, "extension"] = "exr"
    table.loc[0, "coordinate"] = [0, 1]
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        Frames.validate(table, lazy=True)
    cases = caught.value.failure_cases
    assert set(cases.loc[cases["check"].str.contains("homogeneous"), "index"]) == {0, 1}
    homogeneous = "version, extension values are homogeneous within each asset"
    assert homogeneous in set(cases["check"])
    begin = "coordinate values begin at [0, 0] within each asset"
    assert set(cases.loc[cases["check"] == begin, "index"]) == set()  # [0, 0] is still first
    table.loc[1, "coordinate"] = [0, 2]
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        Frames.validate(table, lazy=True)
    cases = caught.value.failure_cases
    assert set(cases.loc[cases["check"] == begin, "index"]) == {0, 1}


def test_asset_rule_factory_in_a_schema() -> None:
    check = v.asset_rule(v.is_contiguous, "frame")
    assert (check.name, check.error) == (
        "is_contiguous",
        "frame values are contiguous within each asset",
    )
    schema = pa.DataFrameSchema(
        checks=[check, v.asset_rule(v.coordinates_begin_at, "coordinate", origin=[0, 0])]
    )
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        schema.validate(frames_table(), lazy=True)
    cases = caught.value.failure_cases
    assert set(cases["check"]) == {"frame values are contiguous within each asset"}
    assert set(cases["index"]) == {2, 3}


def test_asset_rule_needs_asset_path_column() -> None:
    check = v.asset_rule(v.is_homogeneous, "frame")
    schema = pa.DataFrameSchema(checks=[check])
    with pytest.raises(pa.errors.SchemaError, match="asset_path"):
        schema.validate(pd.DataFrame({"frame": [1]}))


def test_registered_checks_have_readable_errors() -> None:
    assert Check.is_frame(True).error == "is a valid frame (0 <= frame < 10000)"
    assert Check.is_lt(5).error == "is less than 5"
    assert Check.is_in(values=["png"]).error == "is one of ['png']"
    assert Check.is_contiguous("frame").error == "frame values are contiguous within each asset"
    assert Check.is_frame(True, error="custom").error == "custom"
    assert Check.is_frame(True).statistics == {"flag": True}


def test_false_flag_switches_a_check_off() -> None:
    schema = pa.DataFrameSchema({"frame": pa.Column(int, Check.is_frame(False))})
    schema.validate(pd.DataFrame({"frame": [-5]}))


def test_comparison_checks_in_fields() -> None:
    class Versions(pa.DataFrameModel):
        version: Series[int] = pa.Field(is_gte=2, is_lt=4)

    Versions.validate(pd.DataFrame({"version": [2, 3]}))
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        Versions.validate(pd.DataFrame({"version": [1, 3, 4]}), lazy=True)
    cases = caught.value.failure_cases
    assert sorted(zip(cases["check"], cases["index"], strict=True)) == [
        ("is at least 2", 0),
        ("is less than 4", 2),
    ]


def test_registration_is_idempotent() -> None:
    v.register_checks()
    v.register_checks()
    assert Check.is_frame(True).error == "is a valid frame (0 <= frame < 10000)"


def test_registration_refuses_to_replace_a_foreign_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(Check.REGISTERED_CUSTOM_CHECKS, "is_frame", lambda *a, **k: None)
    with pytest.raises(ValueError, match="'is_frame'"):
        v.register_checks()
