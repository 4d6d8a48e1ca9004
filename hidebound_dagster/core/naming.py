"""The file-name grammar: parse names into fields, render fields into names, explain bad names.

A name is a sequence of fields, each an indicator plus a token, joined by ``_``; an optional
trailing extension follows its ``.`` directly. The field order is chosen per specification.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache, reduce
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FIELDS: tuple[str, ...] = (
    "project",
    "specification",
    "descriptor",
    "version",
    "coordinate",
    "frame",
    "extension",
)

INDICATORS: dict[str, str] = {
    "project": "p-",
    "specification": "s-",
    "descriptor": "d-",
    "version": "v",
    "coordinate": "c",
    "frame": "f",
    "extension": ".",
}

TOKENS: dict[str, str] = {
    "project": r"[a-z]{3,10}\d{1,4}",
    "specification": r"[a-z]{3,4}\d{3}",
    "descriptor": r"[a-z0-9][a-z0-9-]*",
    "version": r"\d{3}",
    "coordinate": r"\d{4}(?:-\d{4}){0,2}",
    "frame": r"\d{4}",
    "extension": r"[a-zA-Z0-9]+",
}

PADDING: dict[str, int] = {"version": 3, "coordinate": 4, "frame": 4}

FIELD_SEPARATOR = "_"
COORDINATE_SEPARATOR = "-"
NO_FILE_NAME = "no file name"

_INTEGER_FIELDS = ("version", "frame")
_EXTENSION_EXPECTED = f"{TOKENS['extension']} at end of name"
_END_EXPECTED = "end of name"
# Text of a failing token: everything up to the next field separator or extension dot.
_TOKEN_RUN = re.compile(r"[^_.]*")


def _ascii(token: str) -> str:
    """Spell digits as [0-9] so a Unicode digit never counts as one."""
    return token.replace(r"\d", "[0-9]")


_TOKEN_PATTERNS: dict[str, re.Pattern[str]] = {
    field: re.compile(_ascii(token)) for field, token in TOKENS.items()
}
# Extension-only names: skip everything up to and including the last dot, if any.
_EXTENSION_ONLY_SOURCE = rf"(?s)^(?:.*\.)?(?P<extension>{_ascii(TOKENS['extension'])})"
# The file table's extension: what follows the last dot that is not the name's first character.
_EXTENSION_AT_END = r".\.(?P<extension>[^.]*)$"
# End-of-text anchors: Python's `$` also matches before a trailing newline, RE2's does not.
_PYTHON_END = r"\Z"
_ARROW_END = r"\z"
_SPEC_TOKEN = _ascii(TOKENS["specification"])
# A spec token must not run on into another digit; RE2 has no lookahead, so consume one char.
_SPEC_AT_BOUNDARY = rf"(?:^|_)s-(?P<specification>{_SPEC_TOKEN})(?:[^0-9]|{_ARROW_END})"
_SPEC_ANYWHERE = rf"s-(?P<specification>{_SPEC_TOKEN})(?:[^0-9]|{_ARROW_END})"


class FilenameError(ValueError):
    """A name that breaks the grammar.

    Says which field and part (indicator, token, or end), where, what was found and expected.
    """

    def __init__(
        self, name: str, field: str, part: str, position: int, found: str, expected: str
    ) -> None:
        self.name = name
        self.field = field
        self.part = part
        self.position = position
        self.found = found
        self.expected = expected
        super().__init__(self._message())

    def _message(self) -> str:
        """A plain sentence for a common mistake, if it is one, then one naming the place, the
        offending text and what the grammar wanted."""
        found = f"'{self.found}'" if self.found else _END_EXPECTED
        where = f'at character {self.position} of "{self.name}"'
        if self.part == "end":
            precise = f"Unexpected text {where}: found {found}, expected {self.expected}."
        else:
            precise = (
                f"Illegal {self.field} field {self.part} {where}: "
                f"found {found}, expected {self.expected}."
            )
        hint = self.hint()
        return f"{hint} {precise}" if hint else precise

    def hint(self) -> str | None:
        """What a person most likely did wrong: a space, uppercase letters, too few digits."""
        if any(character.isspace() for character in self.name):
            return "Spaces are not allowed in names."
        if self.part != "token" or self.field not in TOKENS:
            return None
        lower = self.found.lower()
        if lower != self.found and _TOKEN_PATTERNS[self.field].fullmatch(lower):
            return f"Names are lowercase: write '{lower}', not '{self.found}'."
        digits = self.found.split(COORDINATE_SEPARATOR)
        width = PADDING.get(self.field, 0)
        if all(part.isdigit() for part in digits) and any(len(part) < width for part in digits):
            padded = COORDINATE_SEPARATOR.join(f"{int(part):0{width}d}" for part in digits)
            indicator = INDICATORS[self.field]
            return (
                f"Write {self.field} numbers with {width} digits: "
                f"'{indicator}{padded}', not '{indicator}{self.found}'."
            )
        return None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by the constructor arguments, so errors survive process boundaries."""
        args = (self.name, self.field, self.part, self.position, self.found, self.expected)
        return (type(self), args)


# --- field lists ---------------------------------------------------------------------------


def check_fields(fields: Sequence[str]) -> None:
    """Raise ValueError for an illegal field list; rules and messages follow the original."""
    if isinstance(fields, str):
        raise TypeError("Fields must be a sequence of field names, not a single string.")
    fields = list(fields)
    if not fields:
        raise ValueError("Fields cannot be empty.")
    if len(set(fields)) != len(fields):
        raise ValueError("Fields cannot contain duplicates.")
    illegal = [field for field in fields if field not in FIELDS]
    if illegal:
        raise ValueError(f"Illegal fields found: {illegal}. Legal fields include: {list(FIELDS)}.")
    if "extension" in fields and fields[-1] != "extension":
        raise ValueError(
            "Illegal field order: Extension field must be last if it is included in fields."
        )


@lru_cache(maxsize=256)
def _checked(fields: tuple[str, ...]) -> tuple[str, ...]:
    """Validate a field list once; later calls with the same list are free."""
    check_fields(fields)
    return fields


def _is_extension_only(fields: tuple[str, ...]) -> bool:
    """A lone extension field uses the lenient 'whatever follows the last dot' parser."""
    return fields == ("extension",)


def _indicator_literal(fields: tuple[str, ...], index: int) -> str:
    """The exact text that must introduce the field at `index`, separator included."""
    field = fields[index]
    if index == 0 or field == "extension":
        return INDICATORS[field]
    return FIELD_SEPARATOR + INDICATORS[field]


@lru_cache(maxsize=256)
def _grammar_source(fields: tuple[str, ...]) -> str:
    """The grammar for a field order as regex source with a named group per field.

    It lacks only the end-of-text anchor, which Python and RE2 spell differently.
    """
    if _is_extension_only(_checked(fields)):
        return _EXTENSION_ONLY_SOURCE
    body = "".join(
        re.escape(_indicator_literal(fields, index)) + f"(?P<{field}>{_ascii(TOKENS[field])})"
        for index, field in enumerate(fields)
    )
    return f"^{body}"


@lru_cache(maxsize=256)
def _grammar(fields: tuple[str, ...]) -> re.Pattern[str]:
    """The grammar compiled for Python's engine, used one name at a time."""
    return re.compile(_grammar_source(fields) + _PYTHON_END)


# --- precise diagnosis ---------------------------------------------------------------------


def _indicator_found(name: str, position: int) -> str:
    """Text from `position` up to, not including, the next field separator after it."""
    end = name.find(FIELD_SEPARATOR, position + 1)
    return name[position:] if end < 0 else name[position:end]


def _token_found(name: str, start: int) -> str:
    """The run of text a bad token occupies; a lone separator if the token is empty."""
    match = _TOKEN_RUN.match(name, start)
    assert match is not None  # the pattern matches the empty string too
    run = match.group()
    return run or name[start : start + 1]


def _continues_token(name: str, position: int) -> bool:
    """Whether the character at `position` reads as more of the token just matched."""
    return position < len(name) and (name[position].isalnum() or name[position] == "-")


def _extension_only_error(name: str) -> FilenameError:
    """Explain why nothing after the last dot is a legal extension."""
    start = name.rfind(".") + 1
    return FilenameError(name, "extension", "token", start, name[start:], _EXTENSION_EXPECTED)


def _diagnose(name: str, fields: tuple[str, ...]) -> FilenameError:
    """Walk the fields in order and explain the first place where `name` leaves the grammar.

    Only called for names the grammar rejected, so the walk always finds a problem.
    """
    if _is_extension_only(fields):
        return _extension_only_error(name)
    position = 0
    for index, field in enumerate(fields):
        literal = _indicator_literal(fields, index)
        if not name.startswith(literal, position):
            found = _indicator_found(name, position)
            return FilenameError(name, field, "indicator", position, found, f"'{literal}'")
        start = position + len(literal)
        if field == "extension":
            # Everything before it matched and the name was still rejected: the extension is bad.
            found = name[start:]
            return FilenameError(name, field, "token", start, found, _EXTENSION_EXPECTED)
        match = _TOKEN_PATTERNS[field].match(name, start)
        if match is None or _continues_token(name, match.end()):
            found = _token_found(name, start)
            return FilenameError(name, field, "token", start, found, TOKENS[field])
        position = match.end()
    return FilenameError(name, "name", "end", position, name[position:], _END_EXPECTED)


# --- parsing -------------------------------------------------------------------------------


def _coordinate(token: str) -> list[int]:
    """'0004-0005' -> [4, 5]."""
    return [int(part) for part in token.split(COORDINATE_SEPARATOR)]


def _value(field: str, token: str) -> Any:
    """Convert one token to its field's Python type."""
    if field in _INTEGER_FIELDS:
        return int(token)
    if field == "coordinate":
        return _coordinate(token)
    return token


def parse(name: str, fields: Sequence[str]) -> dict[str, Any]:
    """Parse one bare file name (not a path) with the given field order; raise FilenameError.

    Values: version and frame are int, coordinate is list[int], the rest are str.
    """
    order = _checked(tuple(fields))
    match = _grammar(order).match(name)
    if match is None:
        raise _diagnose(name, order)
    return {field: _value(field, token) for field, token in match.groupdict().items()}


def _extract(text: pd.Series, source: str) -> dict[str, pa.Array]:
    """Run one regex with named groups over a whole string column in pyarrow's RE2 engine.

    Each group comes back as a string array, null where the row did not match.
    """
    matches = pc.extract_regex(pa.array(text, type=pa.large_string()), source)
    return {group.name: pc.struct_field(matches, group.name) for group in matches.type}


def _typed_column(field: str, tokens: pa.Array, index: pd.Index) -> pd.Series:
    """Give a column of raw tokens its field's type: Int64, lists of int, or str."""
    if field in _INTEGER_FIELDS:
        return pd.Series(pd.array(tokens, dtype="Int64"), index=index)
    if field == "coordinate":
        split = pc.split_pattern(tokens, COORDINATE_SEPARATOR)
        lists = pc.cast(split, pa.list_(pa.int64())).to_pylist()
        return pd.Series(lists, index=index, dtype=object)
    return pd.Series(tokens, index=index, dtype="str")


def _error_column(names: pd.Series, parsed: np.ndarray, fields: tuple[str, ...]) -> pd.Series:
    """Precise error text for each row the grammar rejected; missing where the name parsed."""
    errors = np.full(len(names), None, dtype=object)
    # na_value=None is valid pandas; the pandas-stubs overloads leave None out
    values = names.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    for row in np.flatnonzero(~parsed):
        name = values[row]
        errors[row] = str(_diagnose(name, fields)) if isinstance(name, str) else NO_FILE_NAME
    return pd.Series(errors, index=names.index, dtype="str")


def parse_names(names: pd.Series, fields: Sequence[str]) -> pd.DataFrame:
    """Parse a whole column at once: one regex for the field order over the column.

    Returns one column per field (version/frame Int64, coordinate lists, others str) plus
    `filename_error`; only rejected rows pay for the precise per-name diagnosis.
    """
    order = _checked(tuple(fields))
    text = names.astype("str")
    tokens = _extract(text, _grammar_source(order) + _ARROW_END)
    table = pd.DataFrame(
        {field: _typed_column(field, tokens[field], names.index) for field in order},
        index=names.index,
    )
    parsed = tokens[order[0]].is_valid().to_numpy(zero_copy_only=False)
    table["filename_error"] = _error_column(text, parsed, order)
    return table


def find_specifications(names: pd.Series) -> pd.Series:
    """The specification token of each name, or missing: where the `s-` field really is.

    A match at a field boundary wins; otherwise the first `s-` followed by a token anywhere.
    """
    text = names.astype("str")
    at_boundary = _extract(text, _SPEC_AT_BOUNDARY)["specification"]
    anywhere = _extract(text, _SPEC_ANYWHERE)["specification"]
    return pd.Series(pc.coalesce(at_boundary, anywhere), index=names.index, dtype="str")


def extensions(names: pd.Series) -> pd.Series:
    """What follows the last dot of each name; missing where there is none, or where the name
    is only a dot and what follows it (a hidden file)."""
    found = _extract(names.astype("str"), _EXTENSION_AT_END)["extension"]
    return pd.Series(found, index=names.index, dtype="str")


# --- rendering -----------------------------------------------------------------------------


def _token_text(field: str, value: Any) -> str:
    """Render one value as its token, zero-padded but never truncated."""
    if field == "coordinate":
        return COORDINATE_SEPARATOR.join(str(part).zfill(PADDING[field]) for part in value)
    return str(value).zfill(PADDING.get(field, 0))


def _body_fields(fields: tuple[str, ...]) -> tuple[str, ...]:
    """The fields joined by '_': all but a trailing extension."""
    return fields[:-1] if fields[-1] == "extension" else fields


def render(values: Mapping[str, Any], fields: Sequence[str]) -> str:
    """Inverse of parse: build the name for `values`; absent fields are skipped, nothing checked.

    A field list ending in extension needs values['extension'] (KeyError otherwise).
    """
    order = _checked(tuple(fields))
    body = FIELD_SEPARATOR.join(
        INDICATORS[field] + _token_text(field, values[field])
        for field in _body_fields(order)
        if field in values
    )
    if order[-1] == "extension":
        return f"{body}{INDICATORS['extension']}{values['extension']}"
    return body


def _token_column(field: str, column: pd.Series) -> pd.Series:
    """Render a column of values as tokens (str dtype); missing values stay missing."""
    if field == "coordinate":
        texts = [
            _token_text(field, value) if pd.api.types.is_list_like(value) else None
            for value in column
        ]
        return pd.Series(texts, index=column.index, dtype="str")
    if field in PADDING:
        return column.astype("Int64").astype("str").str.zfill(PADDING[field])
    return column.astype("str")


def render_names(table: pd.DataFrame, fields: Sequence[str]) -> pd.Series:
    """Vectorised render over the rows of a parsed-field table; rows missing any field give None.

    Fields without a column are skipped, as `render` skips absent keys.
    """
    order = _checked(tuple(fields))
    parts = [
        INDICATORS[field] + _token_column(field, table[field])
        for field in _body_fields(order)
        if field in table.columns
    ]
    empty = pd.Series("", index=table.index, dtype="str")
    body = reduce(lambda left, right: left + FIELD_SEPARATOR + right, parts) if parts else empty
    if order[-1] == "extension":
        return body + INDICATORS["extension"] + table["extension"].astype("str")
    return body
