"""What a user looks at first about a table: counts, the invalid assets and their errors."""

from __future__ import annotations

import pandas as pd


def file_counts(files: pd.DataFrame) -> dict[str, int]:
    """How many files were found, how many have a problem of their own."""
    return {
        "files": len(files),
        "files_with_errors": int(files["file_error"].notna().sum()),
        "files_without_asset": int(files["asset_path"].isna().sum()),
        "bytes": int(files["size"].fillna(0).sum()),
    }


def asset_counts(assets: pd.DataFrame) -> dict[str, int]:
    """How many assets were found, valid and invalid."""
    valid = int(assets["asset_valid"].sum())
    return {"assets": len(assets), "valid": valid, "invalid": len(assets) - valid}


def invalid_assets(assets: pd.DataFrame) -> pd.DataFrame:
    """The invalid assets with their errors, for display."""
    invalid = assets.loc[~assets["asset_valid"], ["asset_path", "specification", "asset_error"]]
    return invalid.reset_index(drop=True)


def problem_files(files: pd.DataFrame) -> pd.DataFrame:
    """Files with a problem of their own, for display."""
    return files.loc[files["file_error"].notna(), ["filepath_relative", "file_error"]]


def error_families(messages: pd.Series, limit: int = 10) -> pd.Series:
    """The most frequent kinds of error: each line without its file name, with quoted text and
    numbers blanked ('Illegal descriptor field token at character N of "…": found '…', ...')."""
    lines = messages.dropna().str.split("\n").explode().str.split("; ").explode()
    lines = lines.str.replace(r"^[^:]*\.[A-Za-z0-9]+: ", "", regex=True)
    families = (
        lines.str.replace(r"'[^']*'", "'…'", regex=True)
        .str.replace(r'"[^"]*"', '"…"', regex=True)
        .str.replace(r"(?<=[ (])\d+(?=[ ),.])", "N", regex=True)
        .str.replace(r" of [^ :]+\.[A-Za-z0-9]+:", " of …:", regex=True)
    )
    return families.value_counts().head(limit)
