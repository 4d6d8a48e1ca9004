"""The bundled workflow on the VFX examples: EXR plates and renders, a DPX scan, a tiled TIFF
texture set and review clips are staged with their header traits in the metadata; the broken
ones stay out with errors naming the file and the trait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from hidebound_dagster_tests.projects import defs_for, files_of, make_project, step_failures

VFX_VALID = {
    "cat001/plt001/p-cat001_s-plt001_d-bg_v001": 3,
    "cat001/rnd001/p-cat001_s-rnd001_d-beauty_v001": 2,
    "cat001/scn001/p-cat001_s-scn001_d-neg_v001": 2,
    "cat001/txr001/p-cat001_s-txr001_d-rock_v001": 4,
    "cat001/rev001/p-cat001_s-rev001_d-edit_v001.mov": 1,
    "cat001/rev001/p-cat001_s-rev001_d-dailies_v001.mp4": 1,
}
VFX_BROKEN = {
    "cat001/plt001/p-cat001_s-plt001_d-truncated_v001": (
        "p-cat001_s-plt001_d-truncated_v001_f1002.exr: channel_names, compression, decodes, "
        "height, pixel_type, width: cannot read image header of "
        "p-cat001_s-plt001_d-truncated_v001_f1002.exr: damaged (355 bytes): EXR_ERR_READ_IO"
    ),
    "cat001/plt001/p-cat001_s-plt001_d-float_v001": (
        "p-cat001_s-plt001_d-float_v001_f1001.exr: pixel_type 'float' fails has a pixel type in "
        "['half']"
    ),
    "cat001/rnd001/p-cat001_s-rnd001_d-no-specular_v001": (
        "p-cat001_s-rnd001_d-no-specular_v001_f1001.exr: channel_names "
        "'R,G,B,A,diffuse.R,diffuse.G,diffuse.B' fails has channels ['R', 'G', 'B', 'A', "
        "'diffuse.R', 'diffuse.G', 'diffuse.B', 'specular.R', 'specular.G', 'specular.B']: "
        "missing specular.R, specular.G, specular.B"
    ),
    "cat001/rev001/p-cat001_s-rev001_d-odd-rate_v001.mov": (
        "p-cat001_s-rev001_d-odd-rate_v001.mov: fps 12.0 fails has a frame rate in "
        "[23.976, 24, 25, 29.97, 30]"
    ),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The workflow job once over a copy of the bundled example."""
    project = make_project(tmp_path_factory.mktemp("vfx") / "project")
    with dg.instance_for_test() as instance:
        job = defs_for(project).resolve_job_def("workflow")
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        yield {
            "project": project,
            "result": result,
            "assets": result.output_for_node("asset_table"),
        }


def staged_assets(staging: Path) -> dict[str, dict]:
    """Asset metadata by the asset's path relative to staging content."""
    records = [json.loads(p.read_text()) for p in (staging / "metadata" / "asset").glob("*.json")]
    return {record["asset_path_relative"]: record for record in records}


def test_the_valid_vfx_assets_are_staged_byte_for_byte(run: dict) -> None:
    assert run["result"].success, step_failures(run["result"])
    ingress, content = (
        files_of(run["project"]["ingress"]),
        files_of(run["project"]["staging"] / "content"),
    )
    for asset, count in VFX_VALID.items():
        staged = {path: data for path, data in content.items() if path.startswith(asset)}
        assert len(staged) == count, asset
        assert all(ingress[path] == data for path, data in staged.items()), asset


def test_the_broken_vfx_assets_stay_out_with_errors_naming_file_and_trait(run: dict) -> None:
    assets: pd.DataFrame = run["assets"].set_index("asset_path")
    content = files_of(run["project"]["staging"] / "content")
    for asset, error in VFX_BROKEN.items():
        assert not assets.loc[asset, "asset_valid"], asset
        assert error in assets.loc[asset, "asset_error"], assets.loc[asset, "asset_error"]
        assert not any(path.startswith(asset) for path in content), asset


def test_staged_metadata_carries_the_header_traits(run: dict) -> None:
    staged = staged_assets(run["project"]["staging"])
    render = staged["cat001/rnd001/p-cat001_s-rnd001_d-beauty_v001"]["asset_traits"]
    assert render["parts"] == [3, 3]
    assert render["channel_names"][0] == (
        "R,G,B,A,diffuse.R,diffuse.G,diffuse.B,specular.R,specular.G,specular.B"
    )
    assert render["pixel_type"] == ["half", "half"]
    plate = staged["cat001/plt001/p-cat001_s-plt001_d-bg_v001"]["asset_traits"]
    assert plate["frame"] == [1001, 1002, 1003]
    assert plate["compression"] == ["zip", "zip", "zip"]
    scan = staged["cat001/scn001/p-cat001_s-scn001_d-neg_v001"]["asset_traits"]
    assert scan["bit_depth"] == [10, 10]
    tiles = staged["cat001/txr001/p-cat001_s-txr001_d-rock_v001"]["asset_traits"]
    assert tiles["layout"] == ["tiled"] * 4
    assert sorted(map(tuple, tiles["coordinate"])) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    clip = staged["cat001/rev001/p-cat001_s-rev001_d-dailies_v001.mp4"]["asset_traits"]
    assert (clip["fps"], clip["codec"], clip["frame_count"]) == ([25], ["h264"], [12])
