"""Tests for the file-name grammar: field lists, parsing, precise errors, rendering."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hidebound_dagster.core.naming import (
    FIELDS,
    INDICATORS,
    PADDING,
    TOKENS,
    FilenameError,
    check_fields,
    extensions,
    find_specifications,
    parse,
    parse_names,
    render,
    render_names,
)

ALL = list(FIELDS)
RAW = ["project", "specification", "descriptor", "version", "frame", "extension"]
ODD = ["specification", "version", "project", "frame"]
GOOD = "p-proj001_s-spec002_d-desc_v003_c0004-0005-0006_f0007.jpeg"
GOOD_VALUES = {
    "project": "proj001",
    "specification": "spec002",
    "descriptor": "desc",
    "version": 3,
    "coordinate": [4, 5, 6],
    "frame": 7,
    "extension": "jpeg",
}


def _error(name: str, fields: list[str]) -> FilenameError:
    """The FilenameError that parsing `name` raises."""
    with pytest.raises(FilenameError) as info:
        parse(name, fields)
    return info.value


# --- constants -----------------------------------------------------------------------------


def test_constants_cover_every_field() -> None:
    assert FIELDS == (
        "project",
        "specification",
        "descriptor",
        "version",
        "coordinate",
        "frame",
        "extension",
    )
    assert set(INDICATORS) == set(TOKENS) == set(FIELDS)
    assert INDICATORS["project"] == "p-"
    assert INDICATORS["extension"] == "."
    assert PADDING == {"version": 3, "coordinate": 4, "frame": 4}


# --- check_fields --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([], "Fields cannot be empty."),
        (["project", "project"], "Fields cannot contain duplicates."),
        # duplicates are reported before unknown names
        (["foo", "foo"], "Fields cannot contain duplicates."),
        (
            ["project", "foo", "bar"],
            "Illegal fields found: ['foo', 'bar']. Legal fields include: "
            "['project', 'specification', 'descriptor', 'version', 'coordinate', 'frame', "
            "'extension'].",
        ),
        # unknown names are reported before a misplaced extension
        (
            ["extension", "foo"],
            "Illegal fields found: ['foo']. Legal fields include: "
            "['project', 'specification', 'descriptor', 'version', 'coordinate', 'frame', "
            "'extension'].",
        ),
        (
            ["extension", "project"],
            "Illegal field order: Extension field must be last if it is included in fields.",
        ),
        (
            ["project", "extension", "version"],
            "Illegal field order: Extension field must be last if it is included in fields.",
        ),
    ],
)
def test_check_fields_rejects(fields: list[str], message: str) -> None:
    with pytest.raises(ValueError) as info:
        check_fields(fields)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "fields",
    [ALL, RAW, ODD, ["extension"], ["descriptor"], ("frame", "project", "extension")],
)
def test_check_fields_accepts(fields: list[str]) -> None:
    check_fields(fields)


def test_check_fields_rejects_a_bare_string() -> None:
    with pytest.raises(TypeError):
        check_fields("project")


@pytest.mark.parametrize("function", [parse, lambda name, fields: render({}, fields)])
def test_parse_and_render_check_fields(function: Any) -> None:
    with pytest.raises(ValueError) as info:
        function(GOOD, [])
    assert str(info.value) == "Fields cannot be empty."


# --- parse: valid names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fields", "expected"),
    [
        (GOOD, ALL, GOOD_VALUES),
        (
            "p-proj001_s-spec002_d-desc_v003_c0004_f0007.jpeg",
            ALL,
            {**GOOD_VALUES, "coordinate": [4]},
        ),
        (
            "p-proj001_s-spec002_d-desc_v003_c0004-0005_f0007.jpeg",
            ALL,
            {**GOOD_VALUES, "coordinate": [4, 5]},
        ),
        # uppercase extensions are legal and keep their case
        (GOOD.replace(".jpeg", ".JPEG"), ALL, {**GOOD_VALUES, "extension": "JPEG"}),
        (GOOD.replace(".jpeg", ".PNG"), ALL, {**GOOD_VALUES, "extension": "PNG"}),
        # descriptor hyphens anywhere after the first character, trailing or doubled
        (GOOD.replace("d-desc", "d-desc-"), ALL, {**GOOD_VALUES, "descriptor": "desc-"}),
        (GOOD.replace("d-desc", "d-a--b"), ALL, {**GOOD_VALUES, "descriptor": "a--b"}),
        (GOOD.replace("d-desc", "d-9lives"), ALL, {**GOOD_VALUES, "descriptor": "9lives"}),
        # the descriptor regex happily swallows text that looks like other fields
        (
            GOOD.replace("d-desc", "d-v012-p-banana-f99"),
            ALL,
            {**GOOD_VALUES, "descriptor": "v012-p-banana-f99"},
        ),
        # project: 3 to 10 letters, 1 to 4 digits
        (GOOD.replace("proj001", "abc1"), ALL, {**GOOD_VALUES, "project": "abc1"}),
        (
            GOOD.replace("proj001", "abcdefghij1234"),
            ALL,
            {**GOOD_VALUES, "project": "abcdefghij1234"},
        ),
        # specification: 3 or 4 letters, exactly 3 digits
        (GOOD.replace("spec002", "raw001"), ALL, {**GOOD_VALUES, "specification": "raw001"}),
        (GOOD.replace("v003", "v000"), ALL, {**GOOD_VALUES, "version": 0}),
        (GOOD.replace("f0007", "f9999"), ALL, {**GOOD_VALUES, "frame": 9999}),
        (
            "p-proj001_s-raw001_d-desc_v003_f0007.jpg",
            RAW,
            {
                "project": "proj001",
                "specification": "raw001",
                "descriptor": "desc",
                "version": 3,
                "frame": 7,
                "extension": "jpg",
            },
        ),
        # no extension field: the name simply ends after the last token
        (
            "p-proj001_s-spec002_d-desc",
            ["project", "specification", "descriptor"],
            {"project": "proj001", "specification": "spec002", "descriptor": "desc"},
        ),
        # any order of the non-extension fields, and names must follow it
        (
            "s-spec001_v002_p-proj003_f0004",
            ODD,
            {"specification": "spec001", "version": 2, "project": "proj003", "frame": 4},
        ),
        (
            "f0001_c0002-0003_d-x.exr",
            ["frame", "coordinate", "descriptor", "extension"],
            {"frame": 1, "coordinate": [2, 3], "descriptor": "x", "extension": "exr"},
        ),
        ("v001.png", ["version", "extension"], {"version": 1, "extension": "png"}),
    ],
)
def test_parse_valid(name: str, fields: list[str], expected: dict[str, Any]) -> None:
    result = parse(name, fields)
    assert result == expected
    assert list(result) == list(fields)


def test_parse_value_types() -> None:
    result = parse(GOOD, ALL)
    assert all(type(result[field]) is str for field in ("project", "descriptor", "extension"))
    assert type(result["version"]) is int
    assert type(result["frame"]) is int
    assert all(type(value) is int for value in result["coordinate"])


# --- parse: precise errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field", "part", "position", "found"),
    [
        # the observed failures of the original, re-expressed with real positions
        (
            GOOD.replace("c0004-0005-0006", "c0004-0005-0006-0007"),
            "coordinate",
            "token",
            33,
            "0004-0005-0006-0007",
        ),
        (GOOD.replace(".jpeg", ".tar.gz"), "extension", "token", 54, "tar.gz"),
        (GOOD.replace("d-desc", "d-HELLO"), "descriptor", "token", 22, "HELLO"),
        (GOOD.replace("d-desc", "d--desc"), "descriptor", "token", 22, "-desc"),
        (GOOD.replace("proj001", "proj12345"), "project", "token", 2, "proj12345"),
        (GOOD.replace("proj001", "pr1"), "project", "token", 2, "pr1"),
        (GOOD.replace("proj001", "proj"), "project", "token", 2, "proj"),
        (GOOD.replace("spec002", "spec0002"), "specification", "token", 12, "spec0002"),
        (GOOD.replace("v003", "v0003"), "version", "token", 28, "0003"),
        (GOOD.replace("v003", "v03"), "version", "token", 28, "03"),
        (GOOD.replace("f0007", "f00007"), "frame", "token", 49, "00007"),
        (GOOD.replace("f0007.jpeg", "f0007_jpeg"), "extension", "indicator", 53, "_jpeg"),
        (GOOD.replace("p-proj001", "pr-proj001"), "project", "indicator", 0, "pr-proj001"),
        (GOOD.replace("p-proj001", "P-proj001"), "project", "indicator", 0, "P-proj001"),
        (
            GOOD.replace("c0004-0005-0006", "x004-005-006"),
            "coordinate",
            "indicator",
            31,
            "_x004-005-006",
        ),
        # more of each field
        (GOOD.replace("p-", "", 1), "project", "indicator", 0, "proj001"),
        (GOOD.replace("proj001", "abcdefghijk1"), "project", "token", 2, "abcdefghijk1"),
        (GOOD.replace("proj001", "Proj001"), "project", "token", 2, "Proj001"),
        (GOOD.replace("proj001", "proj001a"), "project", "token", 2, "proj001a"),
        (GOOD.replace("s-spec002", "S-spec002"), "specification", "indicator", 9, "_S-spec002"),
        # a letter straight after a token reads as more of that token
        (GOOD.replace("_s-spec002", "s-spec002"), "project", "token", 2, "proj001s-spec002"),
        (GOOD.replace("spec002", "sp002"), "specification", "token", 12, "sp002"),
        (GOOD.replace("spec002", "specs002"), "specification", "token", 12, "specs002"),
        (GOOD.replace("spec002", "spec02"), "specification", "token", 12, "spec02"),
        (GOOD.replace("d-desc", "desc"), "descriptor", "indicator", 19, "_desc"),
        (GOOD.replace("d-desc", "d-descX"), "descriptor", "token", 22, "descX"),
        (GOOD.replace("d-desc", "d-"), "descriptor", "token", 22, "_"),
        (GOOD.replace("v003", "V003"), "version", "indicator", 26, "_V003"),
        (GOOD.replace("v003", "v00a"), "version", "token", 28, "00a"),
        (GOOD.replace("v003", "v003a"), "version", "token", 28, "003a"),
        (GOOD.replace("v003", "v\u0660\u0660\u0663"), "version", "token", 28, "\u0660\u0660\u0663"),
        (GOOD.replace("c0004-0005-0006", "c004"), "coordinate", "token", 33, "004"),
        (GOOD.replace("c0004-0005-0006", "c0004-005"), "coordinate", "token", 33, "0004-005"),
        (GOOD.replace("c0004-0005-0006", "c0004-"), "coordinate", "token", 33, "0004-"),
        (GOOD.replace("c0004-0005-0006", "c0004_0005"), "frame", "indicator", 37, "_0005"),
        (GOOD.replace("f0007", "F0007"), "frame", "indicator", 47, "_F0007.jpeg"),
        (GOOD.replace("f0007", "f007"), "frame", "token", 49, "007"),
        (GOOD.replace(".jpeg", "jpeg"), "frame", "token", 49, "0007jpeg"),
        (GOOD.replace(".jpeg", ".jp-eg"), "extension", "token", 54, "jp-eg"),
        (GOOD.replace(".jpeg", ".jpeg\n"), "extension", "token", 54, "jpeg\n"),
        # names that end early report 'end of name' as what was found
        (GOOD.replace(".jpeg", "."), "extension", "token", 54, ""),
        (GOOD.replace(".jpeg", ""), "extension", "indicator", 53, ""),
        ("p-proj001_s-spec002_d-desc_v003", "coordinate", "indicator", 31, ""),
        ("p-", "project", "token", 2, ""),
        ("", "project", "indicator", 0, ""),
    ],
)
def test_parse_invalid(name: str, field: str, part: str, position: int, found: str) -> None:
    error = _error(name, ALL)
    assert (error.field, error.part, error.position, error.found) == (
        field,
        part,
        position,
        found,
    )
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("name", "fields", "message"),
    [
        (
            GOOD.replace("proj001", "pr1"),
            ALL,
            'Illegal project field token at character 2 of "p-pr1_s-spec002_d-desc_v003_'
            "c0004-0005-0006_f0007.jpeg\": found 'pr1', expected [a-z]{3,10}\\d{1,4}.",
        ),
        (
            "p-proj001_s-spec002_d-desc",
            ALL,
            'Illegal version field indicator at character 26 of "p-proj001_s-spec002_d-desc": '
            "found end of name, expected '_v'.",
        ),
        (
            "p-proj001_d-desc_v001_f0001_jpeg",
            ["project", "descriptor", "version", "frame", "extension"],
            'Illegal extension field indicator at character 27 of "p-proj001_d-desc_v001_'
            "f0001_jpeg\": found '_jpeg', expected '.'.",
        ),
        (
            "p-proj001_v001.tar.gz",
            ["project", "version", "extension"],
            'Illegal extension field token at character 15 of "p-proj001_v001.tar.gz": '
            "found 'tar.gz', expected [a-zA-Z0-9]+ at end of name.",
        ),
        (
            "p-proj001_v01",
            ["project", "version"],
            "Write version numbers with 3 digits: 'v001', not 'v01'. "
            'Illegal version field token at character 11 of "p-proj001_v01": '
            "found '01', expected \\d{3}.",
        ),
        (
            "p-proj001_d-walk_v001_f12.png",
            ["project", "descriptor", "version", "frame", "extension"],
            "Write frame numbers with 4 digits: 'f0012', not 'f12'. "
            'Illegal frame field token at character 23 of "p-proj001_d-walk_v001_f12.png": '
            "found '12', expected \\d{4}.",
        ),
        (
            "p-proj001_d-walk_v001_c1-2.png",
            ["project", "descriptor", "version", "coordinate", "extension"],
            "Write coordinate numbers with 4 digits: 'c0001-0002', not 'c1-2'. "
            'Illegal coordinate field token at character 23 of "p-proj001_d-walk_v001_c1-2.png": '
            "found '1-2', expected \\d{4}(?:-\\d{4}){0,2}.",
        ),
        (
            "p-proj001_d-long walk_v001.png",
            ["project", "descriptor", "version", "extension"],
            "Spaces are not allowed in names. "
            'Illegal version field indicator at character 16 of "p-proj001_d-long walk_v001.png": '
            "found ' walk', expected '_v'.",
        ),
        (
            "p-Proj001_v001",
            ["project", "version"],
            "Names are lowercase: write 'proj001', not 'Proj001'. "
            'Illegal project field token at character 2 of "p-Proj001_v001": '
            "found 'Proj001', expected [a-z]{3,10}\\d{1,4}.",
        ),
        (
            "p-proj001_s-spec001.png",
            ["project", "specification"],
            'Unexpected text at character 19 of "p-proj001_s-spec001.png": '
            "found '.png', expected end of name.",
        ),
        (
            "p-proj001_s-spec001_v001",
            ["project", "specification"],
            'Unexpected text at character 19 of "p-proj001_s-spec001_v001": '
            "found '_v001', expected end of name.",
        ),
    ],
)
def test_parse_error_message(name: str, fields: list[str], message: str) -> None:
    assert str(_error(name, fields)) == message


@pytest.mark.parametrize(
    ("name", "fields", "field", "part", "position", "found", "expected"),
    [
        # the field order decides what is expected where
        (
            "p-proj003_s-spec001_v002_f0004",
            ODD,
            "specification",
            "indicator",
            0,
            "p-proj003",
            "'s-'",
        ),
        ("s-spec001_p-proj003_v002_f0004", ODD, "version", "indicator", 9, "_p-proj003", "'_v'"),
        ("s-spec001_v002_p-proj003_f0004.png", ODD, "name", "end", 30, ".png", "end of name"),
        ("s-spec001_v002_p-proj003_f00004", ODD, "frame", "token", 26, "00004", r"\d{4}"),
        ("s-spec001_v002_p-proj003", ODD, "frame", "indicator", 24, "", "'_f'"),
        (
            "p-proj001.png",
            ["project", "specification", "extension"],
            "specification",
            "indicator",
            9,
            ".png",
            "'_s-'",
        ),
        ("v001png", ["version", "extension"], "version", "token", 1, "001png", r"\d{3}"),
        ("v001_png", ["version", "extension"], "extension", "indicator", 4, "_png", "'.'"),
        ("v001.png", ["version"], "name", "end", 4, ".png", "end of name"),
        ("d-Desc", ["descriptor"], "descriptor", "token", 2, "Desc", TOKENS["descriptor"]),
    ],
)
def test_parse_follows_field_order(
    name: str,
    fields: list[str],
    field: str,
    part: str,
    position: int,
    found: str,
    expected: str,
) -> None:
    error = _error(name, fields)
    assert (error.field, error.part, error.position, error.found, error.expected) == (
        field,
        part,
        position,
        found,
        expected,
    )


def test_filename_error_pickles() -> None:
    error = _error(GOOD.replace("v003", "v03"), ALL)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert (copy.field, copy.part, copy.position, copy.found, copy.expected) == (
        error.field,
        error.part,
        error.position,
        error.found,
        error.expected,
    )


# --- extension-only parser -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "extension"),
    [
        ("foo.bar.baz", "baz"),
        ("foo", "foo"),
        (".foo", "foo"),
        ("x.PNG", "PNG"),
        ("p-proj001_s-spec001_d-anything goes.exr", "exr"),
        ("Thumbs.db", "db"),
    ],
)
def test_extension_only_valid(name: str, extension: str) -> None:
    assert parse(name, ["extension"]) == {"extension": extension}


@pytest.mark.parametrize(
    ("name", "position", "found"),
    [
        ("foo.", 4, ""),
        ("foo.bar-baz", 4, "bar-baz"),
        ("foo-bar", 0, "foo-bar"),
        ("", 0, ""),
        ("a.b_c", 2, "b_c"),
    ],
)
def test_extension_only_invalid(name: str, position: int, found: str) -> None:
    error = _error(name, ["extension"])
    assert (error.field, error.part, error.position, error.found) == (
        "extension",
        "token",
        position,
        found,
    )
    assert error.expected == "[a-zA-Z0-9]+ at end of name"


# --- render --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "fields", "expected"),
    [
        # the original's documented example
        (
            {
                "project": "proj002",
                "specification": "spec062",
                "descriptor": "desc",
                "version": 99,
                "coordinate": [1, 2, 3],
                "frame": 78,
                "extension": "jpeg",
            },
            ALL,
            "p-proj002_s-spec062_d-desc_v099_c0001-0002-0003_f0078.jpeg",
        ),
        # zero padding, never truncation, no validation
        ({"version": 3, "frame": 7}, ["version", "frame"], "v003_f0007"),
        ({"version": 1234, "frame": 12345}, ["version", "frame"], "v1234_f12345"),
        ({"coordinate": [1, 2, 3, 4]}, ["coordinate"], "c0001-0002-0003-0004"),
        ({"coordinate": [12345]}, ["coordinate"], "c12345"),
        ({"project": "p", "version": 3}, ALL[:-1], "p-p_v003"),
        # absent fields are skipped, extra keys ignored
        ({"project": "proj001", "frame": 1, "extension": "png"}, ALL, "p-proj001_f0001.png"),
        ({"project": "proj001", "bogus": 1}, ["project"], "p-proj001"),
        ({"extension": "png"}, ["extension"], ".png"),
        # the field order decides the order of the name
        (
            {"project": "proj003", "specification": "spec001", "version": 2, "frame": 4},
            ODD,
            "s-spec001_v002_p-proj003_f0004",
        ),
    ],
)
def test_render(values: dict[str, Any], fields: list[str], expected: str) -> None:
    assert render(values, fields) == expected


def test_render_needs_extension_when_fields_end_with_it() -> None:
    with pytest.raises(KeyError):
        render({"project": "proj001"}, ["project", "extension"])


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        (GOOD, ALL),
        ("p-proj001_s-spec002_d-desc_v003_c0004_f0007.JPEG", ALL),
        ("p-proj001_s-raw001_d-a-b-_v000_f0000.jpg", RAW),
        ("s-spec001_v002_p-proj003_f0004", ODD),
        ("f0001_c0002-0003_d-x.exr", ["frame", "coordinate", "descriptor", "extension"]),
        ("p-abcdefghij1234_v999", ["project", "version"]),
    ],
)
def test_parse_render_round_trip(name: str, fields: list[str]) -> None:
    values = parse(name, fields)
    assert render(values, fields) == name
    assert parse(render(values, fields), fields) == values


# --- find_specifications -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("p-proj001_d-cats-dogs_s-spec001", "spec001"),
        ("pizzas-spec001", "spec001"),
        ("x_s-spec001banana", "spec001"),
        ("s-spec0012", None),
        ("S-spec001", None),
        ("s-abcde001", None),
        ("p-proj001_d-s-abc001x_s-spec002_v001", "spec002"),
        (GOOD, "spec002"),
        ("s-raw001", "raw001"),
        ("s-spec001.png", "spec001"),
        ("d-s-abc001_v001", "abc001"),
        ("Thumbs.db", None),
        ("", None),
        (None, None),
    ],
)
def test_find_specifications(name: str | None, expected: str | None) -> None:
    result = find_specifications(pd.Series([name], dtype=object))
    if expected is None:
        assert result.isna().all()
    else:
        assert result.tolist() == [expected]


def test_find_specifications_keeps_index() -> None:
    names = pd.Series(["s-spec001", "nothing", "x_s-abc123"], index=[7, 3, 7])
    result = find_specifications(names)
    assert result.index.equals(names.index)
    assert result.iloc[[0, 2]].tolist() == ["spec001", "abc123"]
    assert pd.isna(result.iloc[1])


def test_find_specifications_empty() -> None:
    assert find_specifications(pd.Series([], dtype="str")).empty


# --- parse_names ---------------------------------------------------------------------------

MIXED = [
    GOOD,
    GOOD.replace("c0004-0005-0006", "c0004"),
    GOOD.replace(".jpeg", ".PNG"),
    GOOD.replace("d-desc", "d-v012-p-banana-f99"),
    GOOD.replace("proj001", "proj12345"),
    GOOD.replace("v003", "v03"),
    GOOD.replace("f0007", "f00007"),
    GOOD.replace("f0007.jpeg", "f0007_jpeg"),
    GOOD.replace(".jpeg", ".tar.gz"),
    GOOD.replace(".jpeg", ".jpeg\n"),
    GOOD.replace("v003", "v\u0660\u0660\u0663"),
    "p-proj001_s-spec002_d-caf\u00e9_v003_c0004_f0007.jpeg",
    "",
    "Thumbs.db",
]


def _assert_same_as_parse(table: pd.DataFrame, names: list[Any], fields: list[str]) -> None:
    """Every row of parse_names agrees with parse on the same name: values or error text."""
    for (_, row), name in zip(table.iterrows(), names, strict=True):
        if not isinstance(name, str):
            assert row["filename_error"] == "no file name"
            assert row[fields].isna().all()
            continue
        try:
            expected = parse(name, fields)
        except FilenameError as error:
            assert row["filename_error"] == str(error)
            assert row[fields].isna().all()
        else:
            assert pd.isna(row["filename_error"])
            assert {field: row[field] for field in fields} == expected


@pytest.mark.parametrize(
    "fields",
    [ALL, RAW, ODD, ["extension"], ["project", "specification"], ["descriptor", "extension"]],
)
def test_parse_names_matches_parse(fields: list[str]) -> None:
    names = [*MIXED, "s-spec001_v002_p-proj003_f0004", "foo.", "d-x.png", None, np.nan]
    index = pd.Index([f"row{i}" for i in range(len(names))])
    table = parse_names(pd.Series(names, index=index, dtype=object), fields)
    assert table.index.equals(index)
    assert list(table.columns) == [*fields, "filename_error"]
    _assert_same_as_parse(table, names, fields)


def test_parse_names_dtypes_and_values() -> None:
    names = pd.Series([GOOD, "bad", None], index=[10, 10, 2], dtype=object)
    table = parse_names(names, ALL)
    assert table.index.equals(names.index)
    assert str(table["version"].dtype) == "Int64"
    assert str(table["frame"].dtype) == "Int64"
    assert table["coordinate"].dtype == object
    for field in ("project", "specification", "descriptor", "extension", "filename_error"):
        assert table[field].dtype == "str"
    first = table.iloc[0]
    assert first["coordinate"] == [4, 5, 6]
    assert first["version"] == 3
    assert table["coordinate"].iloc[1] is None
    assert table["filename_error"].iloc[1].startswith("Illegal project field indicator")
    assert table["filename_error"].iloc[2] == "no file name"


def test_parse_names_accepts_str_dtype() -> None:
    names = pd.Series([GOOD, "p-pr1"], dtype="str")
    table = parse_names(names, ALL)
    assert table["project"].iloc[0] == "proj001"
    assert "character 2" in table["filename_error"].iloc[1]


def test_parse_names_accepts_chunked_column_with_repeated_index() -> None:
    first = pd.Series(["p-proj001_v001.png", "bad"], dtype="str")
    second = pd.Series(["p-proj002_v002.png", None], dtype="str")
    names = pd.concat([first, second])
    fields = ["project", "version", "extension"]
    table = parse_names(names, fields)
    assert table.index.equals(names.index)
    assert table["project"].tolist()[::2] == ["proj001", "proj002"]
    _assert_same_as_parse(table, names.tolist(), fields)


def test_parse_names_empty() -> None:
    table = parse_names(pd.Series([], dtype=object), ALL)
    assert table.empty
    assert list(table.columns) == [*ALL, "filename_error"]


def test_parse_names_checks_fields() -> None:
    with pytest.raises(ValueError) as info:
        parse_names(pd.Series([GOOD]), ["project", "project"])
    assert str(info.value) == "Fields cannot contain duplicates."


# --- render_names --------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [ALL, RAW, ODD, ["extension"], ["project", "version"]])
def test_render_names_inverts_parse_names(fields: list[str]) -> None:
    names = pd.Series([*MIXED, "s-spec001_v002_p-proj003_f0004", None], dtype=object)
    table = parse_names(names, fields)
    rendered = render_names(table, fields)
    assert rendered.index.equals(names.index)
    parsed = table["filename_error"].isna()
    # the lone-extension parser drops whatever came before the last dot
    if fields != ["extension"]:
        assert rendered[parsed].tolist() == names[parsed].tolist()
    assert rendered[~parsed].isna().all()


def test_render_names_matches_render() -> None:
    table = pd.DataFrame(
        {
            "project": ["proj002", "p", None],
            "specification": ["spec062", "spec001", "spec001"],
            "version": pd.array([99, 1234, 1], dtype="Int64"),
            "coordinate": [[1, 2, 3], [1, 2, 3, 4], [1]],
            "frame": [78, 12345, 1],
            "extension": ["jpeg", "PNG", "png"],
        },
        index=["a", "b", "a"],
    )
    rendered = render_names(table, ALL)
    assert rendered.index.equals(table.index)
    for row, (_, values) in enumerate(table.iloc[:2].iterrows()):
        assert rendered.iloc[row] == render(values.dropna().to_dict(), ALL)
    assert rendered.iloc[0] == "p-proj002_s-spec062_v099_c0001-0002-0003_f0078.jpeg"
    assert rendered.iloc[1] == "p-p_s-spec001_v1234_c0001-0002-0003-0004_f12345.PNG"
    # a null in any field leaves the row without a name
    assert pd.isna(rendered.iloc[2])


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("version", pd.array([3, None], dtype="Int64")),
        ("frame", [7.0, np.nan]),
        ("coordinate", [[4], None]),
        ("descriptor", ["desc", None]),
        ("extension", ["png", None]),
    ],
)
def test_render_names_null_gives_missing(column: str, values: Any) -> None:
    table = pd.DataFrame(
        {
            "descriptor": ["desc", "desc"],
            "version": [3, 3],
            "frame": [7, 7],
            "coordinate": [[4], [4]],
            "extension": ["png", "png"],
        }
    )
    table[column] = values
    rendered = render_names(table, ["descriptor", "version", "coordinate", "frame", "extension"])
    assert rendered.iloc[0] == "d-desc_v003_c0004_f0007.png"
    assert pd.isna(rendered.iloc[1])


def test_render_names_skips_absent_columns_but_needs_extension() -> None:
    table = pd.DataFrame({"project": ["proj001"], "extension": ["png"]})
    assert render_names(table, ALL).tolist() == ["p-proj001.png"]
    with pytest.raises(KeyError):
        render_names(table.drop(columns="extension"), ALL)


def test_extensions_are_what_follows_the_last_dot_of_a_name() -> None:
    names = pd.Series(["a.png", "a.b.exr", ".hidden", "noext", "x.", "a.png\n", "é.tif"])
    expected = ["png", "exr", None, None, "", "png\n", "tif"]
    found = extensions(names)
    assert [None if pd.isna(value) else value for value in found] == expected
