"""Damaged, empty, mislabelled and unknown VFX media are errors on their rows: the workflow
goes on, stages the good assets beside them, and no reader crashes the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd

from hidebound_dagster_tests.conftest import EXAMPLE_SPECS
from hidebound_dagster_tests.media import truncate, write_image, write_multipart_exr, write_video
from hidebound_dagster_tests.projects import defs_for, files_of, step_failures

PLATE = "cat001/plt001/p-cat001_s-plt001_d-{}_v001"
REVIEW = "cat001/rev001/p-cat001_s-rev001_d-{}_v001.{}"


def frame(descriptor: str, number: int) -> str:
    asset = PLATE.format(descriptor)
    return f"{asset}/{asset.rpartition('/')[2]}_f{number:04d}.exr"


def damaged_ingress(ingress: Path) -> dict[str, str]:
    """A good plate and a good clip beside damaged media; returns each damaged file's expected
    error words."""
    plate = {"compression": "zip"}
    for number in (1001, 1002):
        write_image(ingress / frame("good", number), attributes=plate)
    write_video(ingress / REVIEW.format("good", "mov"))
    expected = {}
    cases = {
        frame("empty", 1001): (lambda p: p.write_bytes(b""), "damaged (0 bytes)"),
        frame("text", 1001): (lambda p: p.write_text("not an exr\n"), "not an OpenEXR file"),
        frame("cut", 1001): (lambda p: truncate(write_image(p), 0.3), "damaged"),
        frame("cut-pixels", 1001): (
            lambda p: truncate(write_image(p, (64, 64), attributes={"compression": "none"}), 0.9),
            "does not decode to its last pixel",
        ),
        frame("png-inside", 1001): (lambda p: shutil.copy(EXAMPLE_PNG, p), "has channels"),
        frame("parts", 1001): (lambda p: truncate(write_multipart_exr(p), 0.5), "damaged"),
        REVIEW.format("empty", "mov"): (lambda p: p.write_bytes(b""), "not a readable video"),
        REVIEW.format("cut", "mp4"): (lambda p: truncate(write_video(p), 0.2), "video header"),
        REVIEW.format("cut-frames", "mp4"): (
            lambda p: truncate(write_video(p, frames=48, faststart=True), 0.7),
            "cannot read video data",
        ),
        # FFmpeg reads a PNG as a one-image "video": the spec's codec check rejects it
        REVIEW.format("image", "mov"): (lambda p: shutil.copy(EXAMPLE_PNG, p), "codec 'png' fails"),
    }
    for relative, (write, words) in cases.items():
        path = ingress / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
        expected[relative] = words
    return expected


EXAMPLE_PNG = next((EXAMPLE_SPECS.parent / "examples" / "ingress").rglob("*calico-portrait*.png"))


def test_damaged_media_are_row_errors_and_the_good_assets_are_staged(tmp_path: Path) -> None:
    ingress = tmp_path / "ingress"
    expected = damaged_ingress(ingress)
    shutil.copytree(EXAMPLE_SPECS, tmp_path / "specs")
    config = tmp_path / "hidebound.yaml"
    config.write_text(
        "ingress_directory: ingress\nstaging_directory: hidebound\n"
        "specification_files: [specs]\nworkflow: [delete, update, create]\n"
    )
    project = {"config": config, "staging": tmp_path / "hidebound"}
    before = files_of(ingress)
    with dg.instance_for_test() as instance:
        job = defs_for(project).resolve_job_def("workflow")
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        assert result.success, step_failures(result)
        files: pd.DataFrame = result.output_for_node("file_table").set_index("filepath_relative")
        assets: pd.DataFrame = result.output_for_node("asset_table").set_index("asset_path")
    assert sorted(files.index) == sorted(before)  # every entry is a row
    for relative, words in expected.items():
        asset = relative if relative.startswith("cat001/rev001") else relative.rpartition("/")[0]
        assert not assets.loc[asset, "asset_valid"], asset
        error = assets.loc[asset, "asset_error"]
        assert relative.rpartition("/")[2] in error and words in error, (relative, error)
    staged = files_of(project["staging"] / "content")
    good = [frame("good", 1001), frame("good", 1002), REVIEW.format("good", "mov")]
    assert sorted(staged) == sorted(good)
    assert files_of(ingress) == before  # copy mode: ingress untouched
