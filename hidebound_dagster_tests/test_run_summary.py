"""A run ends with its answer: one summary block in its log with the counts, what was staged
and exported, the failed steps and the first invalid assets with their first error."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from hidebound_dagster_tests.projects import defs_for, make_project


def summaries(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [
        entry.user_message
        for entry in instance.all_logs(run_id)
        if entry.user_message.startswith("hidebound run summary:")
    ]


def run(project: dict[str, Path], job: str) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    with dg.instance_for_test() as instance:
        result = (
            defs_for(project)
            .resolve_job_def(job)
            .execute_in_process(instance=instance, raise_on_error=False)
        )
        return result, summaries(instance, result.run_id)


def test_a_workflow_run_ends_with_its_summary(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "project", extra="exporters: [{name: disk, target_directory: out}]\n"
    )
    result, [text] = run(project, "workflow")
    assert result.success
    lines = text.splitlines()
    assert lines[1:5] == [
        "  assets: 19 (10 valid, 9 invalid)",
        "  staged: 28 files of 10 assets",
        "  export_disk: 68 sent, 0 already there",  # 28 files, 28 file and 10 asset JSONs, 2 chunks
        "  failed steps: none",
    ]
    assert lines[5] == "  invalid assets (first 9 of 9):"
    assert (
        "    cat001/raw001/p-cat001_s-raw001_d-gap_v001: rule failed: frame values are "
        "contiguous within each asset: frame 0003 missing"
    ) in lines
    assert lines[-1].startswith("  every error: hidebound-dagster search")


def test_a_failed_run_names_the_failed_step(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "project", extra="exporters: [{name: disk, target_directory: out}]\n"
    )
    (project["root"] / "out").write_text("a file where the export target should be")
    result, [text] = run(project, "workflow")
    assert not result.success
    assert "  staged: 28 files of 10 assets" in text
    [failed] = [line for line in text.splitlines() if line.startswith("  failed steps: ")]
    assert failed.startswith("  failed steps: export_disk: DiskExporter export to ")


def test_an_update_run_has_no_staging_line(tmp_path: Path) -> None:
    result, [text] = run(make_project(tmp_path / "project"), "update")
    assert result.success
    assert "  assets: 19 (10 valid, 9 invalid)" in text and "staged:" not in text


def test_invalid_assets_at_error_severity_block_the_stages_after_update(tmp_path: Path) -> None:
    """`invalid_asset_severity: error`: the specification checks fail with ERROR severity and
    block, so nothing is staged while the ingress holds an invalid asset."""
    project = make_project(tmp_path / "project", extra="invalid_asset_severity: error\n")
    result, [text] = run(project, "workflow")
    assert not result.success
    evaluations = {
        e.check_name: (e.passed, e.severity) for e in result.get_asset_check_evaluations()
    }
    assert evaluations["assets_pass_specification"] == (False, dg.AssetCheckSeverity.ERROR)
    assert evaluations["raw001_assets_pass"] == (False, dg.AssetCheckSeverity.ERROR)
    assert not (project["staging"] / "content").exists()
    assert "staged:" not in text and "failed steps: asset_table" in text
