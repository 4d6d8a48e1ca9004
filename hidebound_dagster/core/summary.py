"""What a user looks at first about a table: counts, the invalid assets and their errors."""

from __future__ import annotations

import pandas as pd

MAX_ROWS = 50


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


def markdown_table(table: pd.DataFrame, limit: int = MAX_ROWS) -> str:
    """A Markdown table of the first rows (cells flattened to one line), noting what was cut."""
    if table.empty:
        return "_none_"
    shown = table.head(limit).astype(str).apply(
        lambda column: column.str.replace("\n", " · ").str.replace("|", "\\|")
    )
    lines = [
        "| " + " | ".join(shown.columns) + " |",
        "|" + "---|" * len(shown.columns),
        *("| " + " | ".join(row) + " |" for row in shown.itertuples(index=False)),
    ]
    if len(table) > limit:
        lines.append(f"\n_{len(table) - limit} more not shown_")
    return "\n".join(lines)


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


def validity_tree(assets: pd.DataFrame, limit: int = 500) -> str:
    """The ingress as a Markdown tree: directories, then each asset marked valid or invalid,
    the replacement for the original's graph tab."""
    if assets.empty:
        return "_no assets_"
    ordered = assets.sort_values("asset_path").head(limit)
    lines: list[str] = []
    shown: set[str] = set()
    for path, valid in zip(ordered["asset_path"], ordered["asset_valid"], strict=True):
        parts = path.split("/")
        for depth in range(len(parts) - 1):
            directory = "/".join(parts[: depth + 1])
            if directory not in shown:
                shown.add(directory)
                lines.append(f"{'  ' * depth}- 📁 {parts[depth]}")
        mark = "🟢 valid" if valid else "🔴 invalid"
        lines.append(f"{'  ' * (len(parts) - 1)}- **{parts[-1]}** {mark}")
    if len(assets) > limit:
        lines.append(f"\n_{len(assets) - limit} more assets not shown_")
    return "\n".join(lines)
