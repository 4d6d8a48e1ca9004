"""Markdown for the Dagster UI: tables and the validity tree shown in materialization and
check metadata."""

from __future__ import annotations

import pandas as pd

MAX_ROWS = 50


def table(rows: pd.DataFrame, limit: int = MAX_ROWS) -> str:
    """A Markdown table of the first rows (cells flattened to one line), noting what was cut."""
    if rows.empty:
        return "_none_"
    shown = (
        rows.head(limit)
        .astype(str)
        .apply(lambda column: column.str.replace("\n", " · ").str.replace("|", "\\|"))
    )
    lines = [
        "| " + " | ".join(shown.columns) + " |",
        "|" + "---|" * len(shown.columns),
        *("| " + " | ".join(row) + " |" for row in shown.itertuples(index=False)),
    ]
    if len(rows) > limit:
        lines.append(f"\n_{len(rows) - limit} more not shown_")
    return "\n".join(lines)


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
