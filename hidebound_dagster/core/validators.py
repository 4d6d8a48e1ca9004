"""Naming-convention validators as vectorised pandas predicates, registered as pandera checks.

Element-wise validators take a Series and answer per element (nulls and wrong types fail).
Asset rules take values plus the asset of each row and answer per row: every row of an asset
that breaks the rule is False. Importing this module registers all of them with pandera, so a
specification can say ``pa.Field(is_frame=True)`` or ``class Config: is_contiguous = "frame"``.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Collection, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.api.checks import Check
from pandera.extensions import register_check_method

ASSET_COLUMN = "asset_path"

PROJECT_PATTERN = r"[a-z]{3,10}\d{1,4}"
DESCRIPTOR_PATTERN = r"[a-z0-9][a-z0-9-]*"
RESERVED_DESCRIPTOR_PREFIXES = ("master", "final", "last")
EXTENSION_PATTERN = r"[a-z0-9]+"
VERSION_LIMIT = 1000
FRAME_LIMIT = 10000
COORDINATE_LIMIT = 10000
MAX_COORDINATE_AXES = 3

AssetRule = Callable[..., pd.Series]

# --------------------------------------------------------------------------------------------
# element-wise validators
# --------------------------------------------------------------------------------------------


def is_project(series: pd.Series) -> pd.Series:
    """Project names: 3-10 lowercase letters then 1-4 digits, e.g. ``cat001``."""
    return _fullmatch(series, PROJECT_PATTERN)


def is_descriptor(series: pd.Series) -> pd.Series:
    """Descriptors: lowercase letters, digits and hyphens, not led by a hyphen, and not starting
    with master, final or last (those words say nothing about the content)."""
    reserved = _fullmatch(series, f"(?:{'|'.join(RESERVED_DESCRIPTOR_PREFIXES)}).*")
    return _fullmatch(series, DESCRIPTOR_PATTERN) & ~reserved


def is_version(series: pd.Series) -> pd.Series:
    """Versions are whole numbers with 0 < version < 1000."""
    return _whole_in_range(series, 1, VERSION_LIMIT)


def is_frame(series: pd.Series) -> pd.Series:
    """Frames are whole numbers with 0 <= frame < 10000."""
    return _whole_in_range(series, 0, FRAME_LIMIT)


def is_coordinate(series: pd.Series) -> pd.Series:
    """Coordinates are lists of 1-3 whole numbers, each 0 <= x < 10000."""
    coords = series.reset_index(drop=True)
    return _restore(_coordinate_validity(coords), series)


def is_extension(series: pd.Series) -> pd.Series:
    """Extensions are lowercase letters and digits only (``png``, not ``PNG`` or ``tar.gz``)."""
    return _fullmatch(series, EXTENSION_PATTERN)


def is_eq(series: pd.Series, value: Any) -> pd.Series:
    """Each element equals ``value``."""
    return _compare(series, operator.eq, value)


def is_lt(series: pd.Series, value: Any) -> pd.Series:
    """Each element is less than ``value``."""
    return _compare(series, operator.lt, value)


def is_gt(series: pd.Series, value: Any) -> pd.Series:
    """Each element is greater than ``value``."""
    return _compare(series, operator.gt, value)


def is_lte(series: pd.Series, value: Any) -> pd.Series:
    """Each element is at most ``value``."""
    return _compare(series, operator.le, value)


def is_gte(series: pd.Series, value: Any) -> pd.Series:
    """Each element is at least ``value``."""
    return _compare(series, operator.ge, value)


def is_in(series: pd.Series, values: Collection[Any]) -> pd.Series:
    """Each element is one of ``values`` (a null never is)."""
    return series.isin(list(values)) & series.notna()


# --------------------------------------------------------------------------------------------
# media checks: the words of image and video specifications
# --------------------------------------------------------------------------------------------

LAYOUTS = ("scanline", "tiled")
FPS_TOLERANCE = 0.0015  # traits round rates to 3 decimals: 24000/1001 reads 23.976


def has_channels(series: pd.Series, values: Collection[str]) -> pd.Series:
    """Each element (comma-joined channel names, as `image_channel_names` gives them) holds
    every one of ``values``."""
    text = series.where(series.map(lambda cell: isinstance(cell, str)))  # else no channels
    listed = ("," + text.astype("string") + ",").fillna("")
    held = pd.Series(True, index=series.index)
    for name in values:
        held &= listed.str.contains(f",{name},", regex=False)
    return held


def pixel_type_in(series: pd.Series, values: Collection[str]) -> pd.Series:
    """Each pixel type (`image_pixel_type`) is one of ``values``: uint8, uint16, half, float."""
    return is_in(series, values)


def codec_in(series: pd.Series, values: Collection[str]) -> pd.Series:
    """Each codec (`video_codec`) is one of ``values``: h264, prores, dnxhd..."""
    return is_in(series, values)


def fps_in(series: pd.Series, values: Collection[float]) -> pd.Series:
    """Each frame rate is one of ``values`` (within FPS_TOLERANCE, so 23.976 matches)."""
    rates = _as_numbers(series).to_numpy(dtype=float, na_value=np.nan)[:, None]
    wanted = np.asarray(list(values), dtype=float)[None, :]
    return pd.Series((np.abs(rates - wanted) <= FPS_TOLERANCE).any(axis=1), index=series.index)


def is_scanline_or_tiled(series: pd.Series, value: str) -> pd.Series:
    """Each layout (`image_layout`) is ``value``, 'scanline' or 'tiled' (any other value fails
    every file, and the error says which values there are)."""
    return (series == value) & (value in LAYOUTS)


# --------------------------------------------------------------------------------------------
# asset-level rules
# --------------------------------------------------------------------------------------------


def is_homogeneous(values: pd.Series, assets: pd.Series) -> pd.Series:
    """All files of an asset share the same value (for example the same extension)."""
    keys = _hashable(values).reset_index(drop=True)
    groups = _asset_keys(values, assets)
    distinct = keys.groupby(groups, dropna=False).transform("nunique", dropna=False)
    return _spread(keys.notna() & (distinct == 1), groups, values)


def is_contiguous(values: pd.Series, assets: pd.Series) -> pd.Series:
    """An asset's whole-number values run from their minimum to their maximum with none
    missing, e.g. frames 1, 2, 3 but not 1, 3."""
    numbers_ = _as_numbers(values.reset_index(drop=True))
    groups = _asset_keys(values, assets)
    grouped = numbers_.groupby(groups, dropna=False)
    span = grouped.transform("max") - grouped.transform("min") + 1
    ok = _is_whole(numbers_) & (grouped.transform("nunique") == span)
    return _spread(ok, groups, values)


def has_uniform_coordinate_count(coords: pd.Series, assets: pd.Series) -> pd.Series:
    """Every coordinate of an asset appears equally often (e.g. once per frame)."""
    c = _coordinates(coords, assets)
    counts = c.keys.groupby([c.groups, c.keys], dropna=False).transform("size")
    uniform = counts.groupby(c.groups, dropna=False).transform("nunique") == 1
    return _spread(c.valid & uniform, c.groups, coords)


def has_dense_coordinates(coords: pd.Series, assets: pd.Series) -> pd.Series:
    """An asset's coordinates fill the whole grid between their lowest and highest value on
    every axis, with no holes, and all have the same number of axes."""
    c = _coordinates(coords, assets)
    axis_groups = c.groups[c.valid]
    by_asset = c.axes.groupby(axis_groups, dropna=False)
    cells = (by_asset.transform("max") - by_asset.transform("min") + 1).prod(axis=1)
    distinct = c.keys[c.valid].groupby(axis_groups, dropna=False).transform("nunique")
    dims = c.axes.notna().sum(axis=1).groupby(axis_groups, dropna=False).transform("nunique")
    dense = ((distinct == cells) & (dims == 1)).reindex(c.keys.index, fill_value=False)
    return _spread(c.valid & dense, c.groups, coords)


def coordinates_begin_at(coords: pd.Series, assets: pd.Series, origin: Sequence[int]) -> pd.Series:
    """An asset's first coordinate (in sorted order) is ``origin``, e.g. ``[0, 0]``."""
    origin_key = _origin_key(origin)
    c = _coordinates(coords, assets)
    first = c.keys.groupby(c.groups, dropna=False).transform("min")
    return _spread(c.valid & (first == origin_key), c.groups, coords)


ASSET_RULE_ERRORS: dict[str, str] = {
    "is_homogeneous": "{column} values are homogeneous within each asset",
    "is_contiguous": "{column} values are contiguous within each asset",
    "has_uniform_coordinate_count": "each {column} value occurs equally often within each asset",
    "has_dense_coordinates": "{column} values form a dense grid within each asset",
    "coordinates_begin_at": "{column} values begin at {origin} within each asset",
}


def asset_rule(rule: AssetRule, column: str | Sequence[str], **kwargs: Any) -> pa.Check:
    """A DataFrame-level pandera check applying ``rule`` to ``column`` (or to each of several
    columns), grouped by the ``asset_path`` column; failing assets fail on every row."""
    columns = column_list(column)
    error = asset_rule_error(rule, columns, **kwargs)

    def check(frame: pd.DataFrame) -> pd.Series:
        return apply_asset_rule(frame, rule, columns, **kwargs)

    # statistics, as a registered check carries them: what rule_details reads back
    statistics = {"column": columns, **kwargs}
    return pa.Check(check, name=rule.__name__, error=error, ignore_na=False, statistics=statistics)


def asset_rule_error(rule: AssetRule, column: str | Sequence[str], **kwargs: Any) -> str:
    """The sentence a failing asset rule shows, e.g. ``frame values are contiguous ...``."""
    template = ASSET_RULE_ERRORS.get(rule.__name__, "{column} values pass {rule} within each asset")
    return template.format(column=", ".join(column_list(column)), rule=rule.__name__, **kwargs)


def apply_asset_rule(
    frame: pd.DataFrame, rule: AssetRule, column: str | Sequence[str], **kwargs: Any
) -> pd.Series:
    """Per-row verdict of ``rule`` on a table: a row passes if its asset passes for every
    listed column."""
    if ASSET_COLUMN not in frame.columns:
        raise KeyError(f"asset rules need a {ASSET_COLUMN!r} column to group rows by asset")
    verdict = pd.Series(True, index=frame.index)
    for name in column_list(column):  # a loop over columns, never over rows
        verdict &= rule(frame[name], frame[ASSET_COLUMN], **kwargs)
    return verdict


# --------------------------------------------------------------------------------------------
# pandera registration
# --------------------------------------------------------------------------------------------

FLAG_CHECK_ERRORS: dict[str, str] = {
    "is_project": "is a valid project (3-10 lowercase letters then 1-4 digits)",
    "is_descriptor": (
        "is a valid descriptor (lowercase letters, digits and hyphens; "
        "not starting with master, final or last)"
    ),
    "is_version": "is a valid version (0 < version < 1000)",
    "is_frame": "is a valid frame (0 <= frame < 10000)",
    "is_coordinate": "is a valid coordinate (1-3 whole numbers, each 0 <= x < 10000)",
    "is_extension": "is a valid extension (lowercase letters and digits)",
}

VALUE_CHECK_ERRORS: dict[str, str] = {
    "is_eq": "equals {value!r}",
    "is_lt": "is less than {value!r}",
    "is_gt": "is greater than {value!r}",
    "is_lte": "is at most {value!r}",
    "is_gte": "is at least {value!r}",
    "is_in": "is one of {values!r}",
    "has_channels": "has channels {values!r}",
    "pixel_type_in": "has a pixel type in {values!r}",
    "codec_in": "has a codec in {values!r}",
    "fps_in": "has a frame rate in {values!r}",
}

_OWNED = "_hidebound_check"


def product_check(name: str) -> bool:
    """Whether the pandera check registered under `name` is one of these validators, each of
    which judges a file by its own row or an asset by its own files."""
    return getattr(Check.REGISTERED_CUSTOM_CHECKS.get(name), _OWNED, False)


def register_checks() -> None:
    """Register every validator as a pandera check; safe to call again (it re-registers)."""
    flag_rules = [is_project, is_descriptor, is_version, is_frame, is_coordinate, is_extension]
    for flag_rule in flag_rules:
        _register(_flag_check(flag_rule), ["flag"], pd.Series, _fixed_error(flag_rule.__name__))
    for value_rule in [is_eq, is_lt, is_gt, is_lte, is_gte]:
        _register(_value_check(value_rule), ["value"], pd.Series, _value_error(value_rule.__name__))
    for values_rule in [is_in, has_channels, pixel_type_in, codec_in, fps_in]:
        _register(
            _values_check(values_rule), ["values"], pd.Series, _value_error(values_rule.__name__)
        )
    _register(_value_check(is_scanline_or_tiled), ["value"], pd.Series, _layout_error)
    for table_rule in [
        is_homogeneous,
        is_contiguous,
        has_uniform_coordinate_count,
        has_dense_coordinates,
    ]:
        _register(_table_check(table_rule), ["column"], pd.DataFrame, _table_error(table_rule))
    origin_check = _table_check_with_origin(coordinates_begin_at)
    _register(origin_check, ["column", "origin"], pd.DataFrame, _table_error(coordinates_begin_at))


def _register(
    check_fn: Callable[..., pd.Series],
    statistics: list[str],
    data_type: type,
    error: Callable[[dict[str, Any]], str],
) -> None:
    """Register ``check_fn`` under its name with a readable default error, replacing an earlier
    registration of ours (pandera itself refuses duplicate names)."""
    name = check_fn.__name__
    registry = Check.REGISTERED_CUSTOM_CHECKS
    existing = registry.get(name)
    if existing is not None and not getattr(existing, _OWNED, False):
        raise ValueError(f"another library already registered a pandera check named {name!r}")
    registry.pop(name, None)
    register_check_method(check_fn, statistics=statistics, supported_types=data_type)
    registry[name] = _with_defaults(registry[name], statistics, error, data_type)


def _with_defaults(
    constructor: Callable[..., Check],
    statistics: list[str],
    error: Callable[[dict[str, Any]], str],
    data_type: type,
) -> Callable[..., Check]:
    """Wrap pandera's check constructor so checks carry our error text (pandera's own default
    is ``name(statistic=value)``) and table checks judge rows without skipping nulls."""

    def construct(*args: Any, **kwargs: Any) -> Check:
        stats = {**dict(zip(statistics, args, strict=False)), **kwargs}
        kwargs.setdefault("error", error(stats))
        if data_type is pd.DataFrame:
            kwargs.setdefault("ignore_na", False)
        return constructor(*args, **kwargs)

    setattr(construct, _OWNED, True)
    return construct


def _flag_check(rule: Callable[[pd.Series], pd.Series]) -> Callable[..., pd.Series]:
    """``Field(rule=True)`` applies the rule; ``False`` switches it off."""

    def check(series: pd.Series, *, flag: bool = True) -> pd.Series:
        return rule(series) if flag else pd.Series(True, index=series.index)

    return _named_like(check, rule)


def _value_check(rule: Callable[[pd.Series, Any], pd.Series]) -> Callable[..., pd.Series]:
    """``Field(rule=value)`` compares every element with ``value``."""

    def check(series: pd.Series, *, value: Any) -> pd.Series:
        return rule(series, value)

    return _named_like(check, rule)


def _values_check(rule: Callable[[pd.Series, Any], pd.Series]) -> Callable[..., pd.Series]:
    """``Field(rule=[...])`` tests membership of every element."""

    def check(series: pd.Series, *, values: Collection[Any]) -> pd.Series:
        return rule(series, values)

    return _named_like(check, rule)


def _table_check(rule: AssetRule) -> Callable[..., pd.Series]:
    """``Config: rule = "column"`` applies an asset rule to the whole table."""

    def check(frame: pd.DataFrame, *, column: str | Sequence[str]) -> pd.Series:
        return apply_asset_rule(frame, rule, column)

    return _named_like(check, rule)


def _table_check_with_origin(rule: AssetRule) -> Callable[..., pd.Series]:
    """``Config: rule = {"column": ..., "origin": [...]}`` for rules that need an origin."""

    def check(
        frame: pd.DataFrame, *, column: str | Sequence[str], origin: Sequence[int]
    ) -> pd.Series:
        return apply_asset_rule(frame, rule, column, origin=origin)

    return _named_like(check, rule)


def _fixed_error(name: str) -> Callable[[dict[str, Any]], str]:
    """Error text for a flag check, which does not depend on the statistics."""
    return lambda _stats: FLAG_CHECK_ERRORS[name]


def _value_error(name: str) -> Callable[[dict[str, Any]], str]:
    """Error text for a comparison check, naming the value compared with."""
    return lambda stats: VALUE_CHECK_ERRORS[name].format(**stats)


def _layout_error(stats: dict[str, Any]) -> str:
    """Error text for is_scanline_or_tiled, naming the layouts when the spec names another."""
    if stats["value"] in LAYOUTS:
        return f"is {stats['value']!r}"
    return f"is {stats['value']!r}, but is_scanline_or_tiled takes one of {list(LAYOUTS)}"


def _table_error(rule: AssetRule) -> Callable[[dict[str, Any]], str]:
    """Error text for an asset rule used as a table check."""
    return lambda stats: asset_rule_error(rule, **stats)


def _named_like(check: Callable[..., pd.Series], rule: Callable[..., Any]) -> Callable[..., Any]:
    """Give an adapter the rule's name (pandera registers checks by function name) and doc."""
    check.__name__ = check.__qualname__ = rule.__name__
    check.__doc__ = rule.__doc__
    return check


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _fullmatch(series: pd.Series, pattern: str) -> pd.Series:
    """True where an element is a string matching ``pattern`` entirely."""
    try:
        matched = series.str.fullmatch(pattern)
    except AttributeError:  # not a column of strings at all
        return pd.Series(False, index=series.index)
    return matched.fillna(False).astype(bool)


def _as_numbers(series: pd.Series) -> pd.Series:
    """Real numbers as floats; NaN for nulls, booleans, strings and anything else."""
    if pd.api.types.is_bool_dtype(series):
        return pd.Series(np.nan, index=series.index)
    if pd.api.types.is_numeric_dtype(series):
        return pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index)
    real = series.map(_is_real_number)  # object column: a type test per element is all there is
    return pd.to_numeric(series.where(real), errors="coerce").astype("float64")


def _is_real_number(value: Any) -> bool:
    """True for ints and floats (numpy's too), False for booleans and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _is_whole(numbers_: pd.Series) -> pd.Series:
    """True where a float is finite and has no fractional part."""
    return np.isfinite(numbers_) & (np.floor(numbers_) == numbers_)


def _whole_in_range(series: pd.Series, low: int, high: int) -> pd.Series:
    """True where an element is a whole number with ``low <= x < high``."""
    values = _as_numbers(series)
    return _is_whole(values) & (values >= low) & (values < high)


def _compare(series: pd.Series, op: Callable[[Any, Any], Any], value: Any) -> pd.Series:
    """Vectorised comparison with a scalar; nulls and incomparable elements give False."""
    if not isinstance(value, list | tuple):
        try:
            return op(series, value).fillna(False).astype(bool) & series.notna()
        except TypeError:  # mixed types in an object column: fall back to element-wise
            pass
    return series.map(lambda element: _safe_compare(op, element, value)).astype(bool)


def _safe_compare(op: Callable[[Any, Any], Any], element: Any, value: Any) -> bool:
    """One comparison, False instead of an error for incomparable types."""
    try:
        return bool(op(element, value))
    except (TypeError, ValueError):
        return False


def _is_sequence(value: Any) -> bool:
    """Coordinates are lists, tuples or 1-d arrays; strings never are."""
    return isinstance(value, list | tuple | np.ndarray)


def _hashable(series: pd.Series) -> pd.Series:
    """Lists become tuples so that values can be grouped and counted."""
    if series.dtype != object:
        return series
    return series.map(lambda value: tuple(value) if _is_sequence(value) else value)


def _coordinate_validity(coords: pd.Series) -> pd.Series:
    """Per position (``coords`` has a RangeIndex): is it a list of 1-3 whole numbers in range?"""
    items = coords[coords.map(_is_sequence)].explode()  # one row per axis, index = position
    good = _whole_in_range(items, 0, COORDINATE_LIMIT)
    per_row = good.groupby(level=0).agg(["all", "size"])
    ok = per_row["all"] & per_row["size"].between(1, MAX_COORDINATE_AXES)
    return ok.reindex(coords.index, fill_value=False).astype(bool)


def _coordinate_axes(coords: pd.Series) -> pd.DataFrame:
    """Valid coordinates as a table: one column per axis, NaN past a coordinate's length."""
    items = _as_numbers(coords.explode())
    axis = items.groupby(level=0).cumcount()
    table = pd.DataFrame({"row": items.index, "axis": axis.to_numpy(), "value": items.to_numpy()})
    axes = table.pivot(index="row", columns="axis", values="value")
    return axes.reindex(coords.index)


def _coordinate_keys(axes: pd.DataFrame) -> pd.Series:
    """One integer per coordinate that sorts like the coordinate lists themselves ([0] < [0, 0]
    < [0, 1] < [1]): axis values shifted by one, a missing axis as 0, base 10001."""
    base = COORDINATE_LIMIT + 1
    weights = base ** (MAX_COORDINATE_AXES - 1 - axes.columns.to_numpy(dtype="int64"))
    return ((axes + 1).fillna(0) * weights).sum(axis=1)


class _Coordinates(NamedTuple):
    """Coordinates of a column prepared for asset rules, all indexed by position."""

    valid: pd.Series  # bool per position
    axes: pd.DataFrame  # valid positions only, one column per axis
    keys: pd.Series  # sortable key per position, NaN when invalid
    groups: pd.Series  # asset label per position


def _coordinates(coords: pd.Series, assets: pd.Series) -> _Coordinates:
    """Validate, split into axes and key the coordinates of a column once."""
    groups = _asset_keys(coords, assets)
    positional = coords.reset_index(drop=True)
    valid = _coordinate_validity(positional)
    axes = _coordinate_axes(positional[valid])
    keys = _coordinate_keys(axes).reindex(positional.index)
    return _Coordinates(valid, axes, keys, groups)


def _origin_key(origin: Sequence[int]) -> float:
    """Sortable key of the origin, which must itself be a valid coordinate."""
    origin_series = pd.Series([list(origin)], dtype=object)
    if not bool(_coordinate_validity(origin_series).iloc[0]):
        raise ValueError(f"origin {list(origin)!r} is not a valid coordinate")
    return float(_coordinate_keys(_coordinate_axes(origin_series)).iloc[0])


def _asset_keys(values: pd.Series, assets: pd.Series) -> pd.Series:
    """Asset labels by position, so rules work with any index (even a duplicated one)."""
    if len(values) != len(assets):
        raise ValueError(f"got {len(values)} values but {len(assets)} asset labels")
    return pd.Series(assets.to_numpy(), name=ASSET_COLUMN)


def _spread(ok: pd.Series, groups: pd.Series, like: pd.Series) -> pd.Series:
    """Fail every row of an asset that has one failing row; index the result like ``like``."""
    return _restore(ok.groupby(groups, dropna=False).transform("all"), like)


def _restore(positional: pd.Series, like: pd.Series) -> pd.Series:
    """A positional boolean result re-indexed like the caller's Series."""
    return pd.Series(positional.to_numpy(dtype=bool), index=like.index, name=like.name)


def column_list(column: str | Sequence[str]) -> list[str]:
    """One column name or several, as a list."""
    return [column] if isinstance(column, str) else list(column)


register_checks()
