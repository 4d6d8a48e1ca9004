"""Grouping files into assets and the whole-asset verdict: an asset is valid only if every one
of its files parsed, every trait was read, and its specification passed."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from hidebound_dagster.core.schemas import ASSET_TABLE, VALIDATED_ASSETS, conform
from hidebound_dagster.core.specification import (
    Specification,
    judged_per_asset,
    validation_failures,
)

VALIDATION_BATCH = 25_000  # rows validated at once, whole assets (pandera copies each batch)
ASSET_COLUMNS = [
    "asset_path",
    "asset_name",
    "asset_type",
    "specification",
    "asset_valid",
    "asset_error",
    "file_count",
    "size",
    "asset_id",
]


def specification_failures(
    files: pd.DataFrame, specs: Mapping[str, type[Specification]]
) -> pd.DataFrame:
    """Every specification failure of the clean files (one lazy validation per specification),
    with the failing row's asset path and file name."""
    clean = files[files["asset_path"].notna() & files["file_error"].isna()]
    parts = []
    for token, rows in clean.groupby("specification"):
        spec = specs[str(token)]
        batches = asset_batches(rows) if judged_per_asset(spec) else [rows]
        failures = pd.concat([validation_failures(spec, batch) for batch in batches])
        whole_spec = failures[failures["row"].isna()].drop_duplicates(["scope", "message"])
        located = failures.dropna(subset=["row"]).astype({"row": rows.index.dtype})
        per_row = located.join(rows[["asset_path", "filename"]], on="row")
        everywhere = whole_spec.merge(rows[["asset_path", "filename"]], how="cross")
        parts += [per_row, everywhere]
    columns = ["row", "scope", "message", "asset_path", "filename"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def asset_batches(rows: pd.DataFrame) -> list[pd.DataFrame]:
    """The rows in batches of about VALIDATION_BATCH rows that never split an asset, so
    validating a million files holds one batch's copies at a time."""
    assets, paths = pd.factorize(rows["asset_path"])
    per_batch = max(1, VALIDATION_BATCH * len(paths) // max(1, len(rows)))
    return [batch for _, batch in rows.groupby(assets // per_batch, sort=False)]


def asset_problems(files: pd.DataFrame, failures: pd.DataFrame) -> pd.Series:
    """Per asset path, every problem as a line: 'filename: problem' for a file, the rule for an
    asset rule (only where every file was clean, so a rule never fails for a missing file)."""
    problem_files = files[files["file_error"].notna() & files["asset_path"].notna()]
    file_lines = problem_files["filename"] + ": " + problem_files["file_error"]
    rows = failures[failures["scope"] == "file"]
    spec_lines = rows["filename"] + ": " + rows["message"]
    rules = failures[failures["scope"] != "file"]
    rules = rules[~rules["asset_path"].isin(problem_files["asset_path"])]
    lines = pd.concat(
        [
            pd.DataFrame({"asset_path": problem_files["asset_path"], "line": file_lines}),
            pd.DataFrame({"asset_path": rows["asset_path"], "line": spec_lines}),
            pd.DataFrame({"asset_path": rules["asset_path"], "line": rules["message"]}),
        ]
    ).drop_duplicates()
    return lines.groupby("asset_path")["line"].agg("\n".join)


def mixed_specifications(files: pd.DataFrame) -> pd.Series:
    """Assets whose files name different specifications, with the message saying so."""
    counts = files.groupby("asset_path")["specification"].nunique()
    mixed = files[files["asset_path"].isin(counts.index[counts > 1])]
    names = mixed.groupby("asset_path")["specification"].agg(lambda s: ", ".join(sorted(set(s))))
    return "files of several specifications share this asset: " + names


def build_asset_table(
    files: pd.DataFrame, specs: Mapping[str, type[Specification]]
) -> pd.DataFrame:
    """Group the file table into one row per asset with its whole-asset verdict."""
    assets = verdict(group_assets(files), files, specification_failures(files, specs))
    return conform(assets, ASSET_TABLE, "asset_table")


def group_assets(files: pd.DataFrame) -> pd.DataFrame:
    """One row per asset path: name, type, specification, file count, bytes, id."""
    grouped = files[files["asset_path"].notna()].groupby("asset_path", sort=True)
    return grouped.agg(
        asset_name=("asset_name", "first"),
        asset_type=("asset_type", "first"),
        specification=("specification", "first"),
        file_count=("filename", "size"),
        size=("size", "sum"),
        asset_id=("asset_id", "first"),
    ).reset_index()


def verdict(assets: pd.DataFrame, files: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """The assets with their error (every problem of their files and rules) and validity."""
    problems = (
        pd.concat(
            [
                asset_problems(files, failures),
                mixed_specifications(files),
            ]
        )
        .groupby(level=0)
        .agg("\n".join)
    )
    errors = assets["asset_path"].map(problems)
    assets["asset_error"] = errors.astype(object).where(errors.notna(), None)
    assets["asset_valid"] = errors.isna()
    return assets[ASSET_COLUMNS]


def with_verdict(files: pd.DataFrame, assets: pd.DataFrame) -> pd.DataFrame:
    """The file table with each file's asset verdict; files outside any asset are invalid."""
    verdict = assets.set_index("asset_path")[["asset_valid", "asset_error"]]
    files = files.join(verdict, on="asset_path")
    files["asset_valid"] = files["asset_valid"].fillna(False).astype(bool)
    return files


def valid_files(files: pd.DataFrame, assets: pd.DataFrame) -> pd.DataFrame:
    """The files of valid assets only, with their verdict: what create stages."""
    files = with_verdict(files, assets)
    valid = files[files["asset_valid"]].reset_index(drop=True)
    return conform(valid, VALIDATED_ASSETS, "validated_assets")
