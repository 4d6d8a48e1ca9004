"""The block that ends a run's log with its answer: how many assets, valid and invalid, what
was staged and exported, which steps failed, and the first invalid assets with their first
error. Built from the run's own events and the asset table it wrote."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from hidebound_dagster.core.tables import read_table

SHOWN_INVALID = 20
SEARCH_HINT = (
    'every error: hidebound-dagster search "SELECT DISTINCT asset_path, asset_error FROM data '
    'WHERE NOT asset_valid"'
)


def materialized(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, Any]]:
    """Per asset name (the last part of its key), the metadata its materialization in this run
    reported, as plain values."""
    found: dict[str, dict[str, Any]] = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        if materialization is None:
            continue
        found[materialization.asset_key.path[-1]] = {
            key: getattr(value, "value", value) for key, value in materialization.metadata.items()
        }
    return found


def failed_steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Per failed step, the first line of its error."""
    failures = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        data = event.step_failure_data
        text = (
            data.user_failure_data.description
            if data.user_failure_data and data.user_failure_data.description
            else (data.error.message if data.error else "failed")
        )
        failures[event.step_key] = text.strip().splitlines()[0] if text.strip() else "failed"
    return failures


def first_invalid(asset_table: Path, limit: int = SHOWN_INVALID) -> list[str]:
    """'asset_path: first error line' of the first invalid assets of the table."""
    assets = read_table(asset_table)
    invalid = assets[~assets["asset_valid"].astype(bool)].head(limit)
    first_lines = invalid["asset_error"].fillna("invalid").str.split("\n").str[0]
    return (invalid["asset_path"].astype(str) + ": " + first_lines).tolist()


def summary(
    facts: Mapping[str, Mapping[str, Any]], failures: Mapping[str, str], asset_table: Path | None
) -> str:
    """The summary block, from the run's materializations and failures."""
    lines = ["hidebound run summary:"]
    assets = facts.get("asset_table")
    if assets:
        lines.append(
            f"  assets: {assets.get('assets')} ({assets.get('valid')} valid, "
            f"{assets.get('invalid')} invalid)"
        )
    staged = facts.get("staged_content")
    if staged:
        lines.append(f"  staged: {staged.get('files')} files of {staged.get('assets')} assets")
        if staged.get("not_staged"):
            lines.append(f"  not staged (changed while staged): {staged['not_staged']} assets")
    for name, values in sorted(facts.items()):
        if name.startswith("export_") and "sent" in values:
            lines.append(
                f"  {name}: {values['sent']} sent, {values.get('skipped', 0)} already there"
            )
    lines.append(
        "  failed steps: "
        + ("none" if not failures else "; ".join(f"{k}: {v}" for k, v in failures.items()))
    )
    if assets and assets.get("invalid") and asset_table is not None and asset_table.is_file():
        shown = first_invalid(asset_table)
        lines.append(f"  invalid assets (first {len(shown)} of {assets.get('invalid')}):")
        lines += [f"    {line}" for line in shown]
        lines.append(f"  {SEARCH_HINT}")
    return "\n".join(lines)
