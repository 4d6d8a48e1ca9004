"""Specification bases: a user specification is a pandera DataFrameModel over one row per file.

A specification names its file-name grammar (`filename_fields`), how its asset is named
(`asset_name_fields`), which traits to read from each file (`file_traits`), and declares column
checks with pandera `Field`s; asset-level rules are DataFrame checks grouped by `asset_path`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, Optional

import pandas as pd
import pandera.pandas as pa
from pandera.api.checks import Check
from pandera.typing import Series

from hidebound_dagster.core import validators  # noqa: F401  (registers the custom checks)
from hidebound_dagster.core.pandera_without_dask import hide_dask_types
from hidebound_dagster.core.rule_details import explain
from hidebound_dagster.core.validators import column_list, product_check

hide_dask_types()

#: Class attributes that describe a specification rather than declare a column.
SPEC_ATTRIBUTES = frozenset({"asset_type", "filename_fields", "asset_name_fields", "file_traits"})


class Specification(pa.DataFrameModel):
    """Base of all specifications; subclass FileSpecification, SequenceSpecification or
    ComplexSpecification."""

    # Plain class attributes (pandera reads annotated attributes as columns).
    asset_type = "specification"
    filename_fields = ("project", "specification", "descriptor", "version", "extension")
    asset_name_fields = ("project", "specification", "descriptor", "version")
    file_traits = dict[str, Callable[[str], Any]]()  # trait name -> function of a file path

    project: Optional[Series[str]] = pa.Field(is_project=True)  # noqa: UP045 (pandera needs Optional)
    specification: Series[str]
    descriptor: Optional[Series[str]] = pa.Field(is_descriptor=True)  # noqa: UP045
    version: Optional[Series[int]] = pa.Field(is_version=True)  # noqa: UP045
    extension: Series[str]

    class Config:
        coerce = True

    @classmethod
    def _get_model_attrs(cls) -> dict[str, Any]:
        """Hide the specification attributes from pandera, which treats attributes as columns."""
        attrs = super()._get_model_attrs()
        return {name: value for name, value in attrs.items() if name not in SPEC_ATTRIBUTES}

    @classmethod
    def token(cls) -> str:
        """The specification token file names carry (`s-raw001` for class Raw001)."""
        return cls.__name__.lower()

    @classmethod
    def columns(cls) -> list[str]:
        """The table columns this specification reads: its filename fields, then its traits."""
        return [*cls.filename_fields, *cls.file_traits]

    @classmethod
    def asset_paths(cls, files: pd.DataFrame) -> pd.Series:
        """Each file's asset path relative to ingress, from `filepath_relative` and `asset_name`;
        None where it cannot be found."""
        raise NotImplementedError(f"{cls.__name__} must define asset_paths")


class FileSpecification(Specification):
    """An asset that is one file."""

    asset_type = "file"

    @classmethod
    def asset_paths(cls, files: pd.DataFrame) -> pd.Series:
        return files["filepath_relative"].astype(object)


class SequenceSpecification(Specification):
    """An asset that is the directory holding its files, named after the asset."""

    asset_type = "sequence"

    @classmethod
    def asset_paths(cls, files: pd.DataFrame) -> pd.Series:
        parents = files["filepath_relative"].str.replace(r"/?[^/]*$", "", regex=True)
        return parents.where(parents != "", None).astype(object)


class ComplexSpecification(Specification):
    """An asset that is a directory tree: the asset directory is the file's nearest ancestor named
    after the asset (override asset_paths for another layout). A file whose name does not parse
    belongs to the nearest ancestor carrying this specification's token, so it still counts
    against its asset."""

    asset_type = "complex"

    @classmethod
    def asset_paths(cls, files: pd.DataFrame) -> pd.Series:
        token = re.compile(rf"(?:^|_)s-{cls.token()}(?:_|$)")
        paths = [
            nearest_ancestor(path, _named(name))
            if isinstance(name, str)
            else nearest_ancestor(path, lambda part: token.search(part) is not None)
            for path, name in zip(files["filepath_relative"], files["asset_name"], strict=True)
        ]
        return pd.Series(paths, index=files.index, dtype=object)


def _named(name: str) -> Callable[[str], bool]:
    """Whether a directory's own name is exactly `name`."""
    return lambda part: part == name


def nearest_ancestor(path: str, matches: Callable[[str], bool]) -> str | None:
    """The deepest directory of a relative path whose own name matches, or None."""
    parts = path.split("/")[:-1]
    for depth in range(len(parts), 0, -1):
        if matches(parts[depth - 1]):
            return "/".join(parts[:depth])
    return None


def asset_path_errors(files: pd.DataFrame) -> pd.Series:
    """Why a file's asset directory is wrong (None where it is right): a directory asset must be
    named after the asset its files render."""
    name = files["asset_name"]
    path = files["asset_path"]
    found = path.fillna("").astype("str").str.replace(r"^.*/", "", regex=True)
    wrong = path.notna() & (found != name)
    missing = path.isna() & name.notna()
    errors = pd.Series(None, index=files.index, dtype=object)
    errors[wrong] = (
        "Invalid asset directory name. Expecting: " + name[wrong] + ". Found: " + found[wrong] + "."
    )
    errors[missing] = "No directory named " + name[missing] + " holds this file."
    return errors


#: Pandera's own checks that judge each value alone.
ROW_CHECKS = frozenset(
    {
        "equal_to",
        "not_equal_to",
        "greater_than",
        "greater_than_or_equal_to",
        "less_than",
        "less_than_or_equal_to",
        "in_range",
        "isin",
        "notin",
        "str_matches",
        "str_contains",
        "str_startswith",
        "str_endswith",
        "str_length",
    }
)


@cache
def judged_per_asset(spec: type[Specification]) -> bool:
    """Whether every check of the specification looks at one file's row or one asset's files
    only, so an asset's verdict cannot change while its files do not."""
    schema = spec.to_schema()
    columns = list(schema.columns.values())
    checks = [*schema.checks, *(check for column in columns for check in column.checks)]
    return (
        not schema.unique
        and not any(column.unique for column in columns)
        and all(local_check(check) for check in checks)
    )


def local_check(check: Check) -> bool:
    if check.groupby is not None:
        return False
    if check.name in Check.REGISTERED_CUSTOM_CHECKS:
        return product_check(check.name)
    return bool(check.element_wise) or check.name in ROW_CHECKS


def validation_failures(spec: type[Specification], rows: pd.DataFrame) -> pd.DataFrame:
    """Validate all rows of one specification at once (lazy, so every failure is reported).
    Returns one row per failure: the failing table row (None for the whole specification), its
    scope ('file' for a column check, 'asset' for an asset rule, 'spec') and a message."""
    columns = [c for c in [*spec.columns(), "asset_path", "filename"] if c in rows.columns]
    try:
        spec.validate(rows[columns], lazy=True)
    except pa.errors.SchemaErrors as failure:
        failures = describe_failures(failure.failure_cases)
        return with_missing_channels(with_rule_details(failures, rows, spec), rows, spec)
    return pd.DataFrame(columns=FAILURE_COLUMNS)


def with_rule_details(
    failures: pd.DataFrame, rows: pd.DataFrame, spec: type[Specification]
) -> pd.DataFrame:
    """Asset-rule failures extended with what broke the rule in each asset (rule_details); the
    rule, its columns and options are read from the specification's own checks."""
    for check in spec.to_schema().checks:
        message = RULE_FAILED + str(check.error)
        failing = failures["message"] == message
        options = dict(check.statistics or {})
        columns = column_list(options.pop("column", []))
        if not failing.any() or not set(columns) <= set(rows.columns):
            continue
        asset_of = rows["asset_path"].reindex(failures.loc[failing, "row"])
        broken = rows[rows["asset_path"].isin(asset_of.dropna())]
        details = explain(str(check.name), broken, columns, **options)
        detail = pd.Series(
            details.reindex(asset_of).fillna("").to_numpy(), index=failing.index[failing]
        )
        failures.loc[failing, "message"] = (message + ": " + detail).where(detail != "", message)
    return failures


def with_missing_channels(
    failures: pd.DataFrame, rows: pd.DataFrame, spec: type[Specification]
) -> pd.DataFrame:
    """`has_channels` failures extended with the channels each file lacks, so a render missing
    an AOV says `missing specular.R, specular.G, specular.B`."""
    for column, schema in spec.to_schema().columns.items():
        for check in schema.checks:
            if check.name != "has_channels" or column not in rows:
                continue
            wanted = list((check.statistics or {}).get("values", []))
            text = failures["message"]
            failing = text.str.startswith(f"{column} ") & text.str.endswith(f" fails {check.error}")
            if not failing.any():
                continue
            held = rows[column].reindex(failures.loc[failing, "row"]).astype("string").fillna("")
            missing = pd.Series(
                [", ".join(n for n in wanted if n not in names.split(",")) for names in held],
                index=failures.index[failing],
            )
            failures.loc[failing, "message"] = failures.loc[failing, "message"] + (
                ": missing " + missing
            )
    return failures


FAILURE_COLUMNS = ["row", "scope", "message"]
RULE_FAILED = "rule failed: "


def describe_failures(cases: pd.DataFrame) -> pd.DataFrame:
    """Pandera failure cases as (row, scope, message), one sentence a user can act on each."""
    rule = cases["schema_context"] == "DataFrameSchema"
    general = cases["index"].isna()
    scope = pd.Series("file", index=cases.index).mask(rule, "asset").mask(general, "spec")
    missing = cases["check"] == "column_in_dataframe"
    case_text = cases["failure_case"].map(repr)
    message = cases["column"].astype(str) + " " + case_text + " fails " + cases["check"]
    message = message.mask(rule, RULE_FAILED + cases["check"])
    message = message.mask(general & ~missing, "fails " + cases["check"])
    message = message.mask(
        missing,
        "column " + case_text + " is missing (no filename field or file trait provides it)",
    )
    failures = pd.DataFrame({"row": cases["index"], "scope": scope, "message": message})
    return failures.drop_duplicates(ignore_index=True)
