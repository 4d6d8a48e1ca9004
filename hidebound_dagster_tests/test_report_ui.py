"""The ingest report in a real browser, and the failed specification checks in the global asset
view of the real Dagster webserver.

The report is made by the `update` job run in-process on a copy of the bundled example, on a
test instance whose storage is under the test's tmp directory; the page is opened from file://
in headless Debian chromium (driven by Playwright; never a downloaded browser). Every expected
value is read independently: the errors from the asset table's Parquet file, the thumbnails'
pixels from the source images scaled down by Pillow here.

Screenshots go to the tests' tmp directory, or refresh docs/screenshots/report-assets.png and
report-tree.png with HIDEBOUND_UPDATE_SCREENSHOTS=1 (as test_ui.py does).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import yaml
from PIL import Image

from hidebound_dagster.core.layout import table_path, tables_directory
from hidebound_dagster.definitions import build_defs
from hidebound_dagster.location import load_location
from hidebound_dagster_tests.dagster_servers import (
    CHROMIUM_ARGS,
    LOCATION,
    REPO,
    Dagster,
    dagster_servers,
    require_chromium,
)
from hidebound_dagster_tests.projects import defs_for, make_project, step_failures

README_SCREENSHOTS = REPO / "docs" / "screenshots"
#: Only for reading a thumbnail's pixels through a canvas: without it Chromium taints a canvas
#: that drew a file:// image. The report itself is checked in a browser without it.
PIXEL_ARGS = [*CHROMIUM_ARGS, "--allow-file-access-from-files"]

#: The 9 invalid example assets and a phrase of the reason each must show.
INVALID = {
    "cat001/img001/p-cat001_s-img001_d-corrupt_v001.png": "corrupt PNG header",
    "cat001/plt001/p-cat001_s-plt001_d-float_v001": (
        "pixel_type 'float' fails has a pixel type in ['half']"
    ),
    "cat001/plt001/p-cat001_s-plt001_d-truncated_v001": "cannot read image header",
    "cat001/raw001/p-cat001_s-raw001_d-gap_v001": "frame 0003 missing",
    "cat001/raw001/p-cat001_s-raw001_d-rgba-frames_v001": "channels 4 fails",
    "cat001/raw001/p-cat001_s-raw001_d-running-cat_v001": "Names are lowercase",
    "cat001/rev001/p-cat001_s-rev001_d-odd-rate_v001.mov": (
        "fps 12.0 fails has a frame rate in [23.976, 24, 25, 29.97, 30]"
    ),
    "cat001/rnd001/p-cat001_s-rnd001_d-no-specular_v001": (
        "channel_names 'R,G,B,A,diffuse.R,diffuse.G,diffuse.B' fails has channels"
    ),
    "cat001/tex001/p-cat001_s-tex001_d-scales_v001": "coordinate [1, 1] missing from the grid",
}
#: The valid example assets of media Pillow does not read (EXR, DPX, video): no thumbnail.
NO_THUMBNAIL = [  # videos get none; EXR and DPX frames get theirs through OpenImageIO
    "cat001/rev001/p-cat001_s-rev001_d-dailies_v001.mp4",
    "cat001/rev001/p-cat001_s-rev001_d-edit_v001.mov",
]
OUTSIDE = ["cat001/notes.txt", "cat001/p-cat001_s-vid009_d-clip_v001.mov"]
JUMPING = "cat001/raw001/p-cat001_s-raw001_d-calico-jumping_v001"
TABBY = "cat001/raw001/p-cat001_s-raw001_d-tabby-playing_v002"
COLUMNS = ["thumbnail", "asset path", "specification", "verdict", "file count", "error"]
CHECKS = {  # the checks of asset_table that fail on the example, and how each fails
    "assets_pass_specification": "9 of 19 assets failed their specification",
    "img001_assets_pass": "1 of 2 img001 assets failed their specification",
    "plt001_assets_pass": "2 of 3 plt001 assets failed their specification",
    "raw001_assets_pass": "3 of 5 raw001 assets failed their specification",
    "rev001_assets_pass": "1 of 3 rev001 assets failed their specification",
    "rnd001_assets_pass": "1 of 2 rnd001 assets failed their specification",
    "tex001_assets_pass": "1 of 2 tex001 assets failed their specification",
}
PASSING_CHECKS = {  # the checks of asset_table that pass on the example (all assets valid)
    "scn001_assets_pass": "0 of 1 scn001 assets failed their specification",
    "txr001_assets_pass": "0 of 1 txr001 assets failed their specification",
}


def screenshots(tmp_path: Path) -> Path:
    update = os.environ.get("HIDEBOUND_UPDATE_SCREENSHOTS") == "1"
    shots = README_SCREENSHOTS if update else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    return shots


# ------------------------------------------------------------------------- reports to look at


def run_update(project: dict[str, Path], home: Path) -> dict[str, Any]:
    """The update job in-process on `project`, on a test instance kept under `home`: the
    report's path from asset_table's materialization, and the tables read from Parquet."""
    home.mkdir(parents=True)
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = (
            defs_for(project)
            .resolve_job_def("update")
            .execute_in_process(instance=instance, raise_on_error=False)
        )
        assert result.success, step_failures(result)
        (materialization,) = result.asset_materializations_for_node("asset_table")
        storage = Path(instance.storage_directory())
        latest = instance.get_latest_materialization_event(dg.AssetKey("asset_table"))
        assert latest is not None
        assert latest.asset_materialization.metadata["report"] == materialization.metadata["report"]
    page = Path(materialization.metadata["report"].value)
    assert page == storage / "reports" / "index.html", page
    assert materialization.metadata["report_url"].value == page.as_uri()
    assert page.is_file()
    tables = tables_directory(storage)
    return {
        "page": page,
        "url": page.as_uri(),
        "project": project,
        "assets": pd.read_parquet(table_path(tables, ["asset_table"])),
        "files": pd.read_parquet(table_path(tables, ["file_table"])),
    }


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report of an untouched copy of the bundled example."""
    root = tmp_path_factory.mktemp("report_example")
    return run_update(make_project(root / "project"), root / "dagster_home")


def gradient(size: tuple[int, int], mode: str, seed: int) -> Image.Image:
    """A deterministic picture with detail in every channel (so scaling shows)."""
    width, height = size
    bands = []
    for index in range(len(mode)):
        band = Image.effect_mandelbrot(
            (width, height), (-2.2 + 0.1 * seed, -1.2 + 0.2 * index, 1.0, 1.2), 40 + 10 * index
        )
        ramp = Image.linear_gradient("L").rotate(90 * (index + seed)).resize((width, height))
        bands.append(Image.blend(band, ramp, 0.5))
    return bands[0] if mode == "L" else Image.merge(mode, bands)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report of an ingress of images larger than a thumbnail (the example's are 8 px at
    most): a wide RGB PNG, a JPEG, and a tall greyscale sequence."""
    root = tmp_path_factory.mktemp("report_large")
    project = make_project(root / "project")
    shutil.rmtree(project["ingress"])
    img = project["ingress"] / "cat001" / "img001"
    img.mkdir(parents=True)
    gradient((300, 200), "RGB", 0).save(img / "p-cat001_s-img001_d-wide_v001.png")
    gradient((640, 480), "RGB", 1).save(img / "p-cat001_s-img001_d-photo_v001.jpg", quality=90)
    tall = project["ingress"] / "cat001" / "raw001" / "p-cat001_s-raw001_d-tall_v001"
    tall.mkdir(parents=True)
    for frame in (1, 2):
        gradient((90, 301), "L", frame).save(
            tall / f"p-cat001_s-raw001_d-tall_v001_f000{frame}.png"
        )
    report = run_update(project, root / "dagster_home")
    assert report["assets"]["asset_valid"].all(), report["assets"]
    assert len(report["assets"]) == 3
    return report


# ------------------------------------------------------------------------------- the browser


@pytest.fixture
def playwright() -> Iterator[Any]:
    """Started after the reports are made: Dagster runs in-process outside its event loop."""
    require_chromium()  # fail before anything else when the browser is missing
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@contextmanager
def report_page(
    playwright: Any, url: str, failure_shot: Path, args: list[str] = CHROMIUM_ARGS
) -> Iterator[Any]:
    """The report open in headless Debian chromium; the page must raise no script error (checked
    at the end); what it showed is saved to failure_shot when the test fails inside."""
    browser = playwright.chromium.launch(
        executable_path=str(require_chromium()), headless=True, args=args
    )
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: message.type == "error" and errors.append(f"console: {message.text}"),
        )
        page.goto(url, wait_until="load")
        try:
            yield page
            assert not errors, errors
        except BaseException:
            page.screenshot(path=str(failure_shot), full_page=True)
            print(f"page at failure ({page.url}): {failure_shot}")
            raise
    finally:
        browser.close()


def shown_rows(page: Any, name: str = "assets") -> list[list[str]]:
    """The cells' text of the rows a table shows."""
    return page.locator(f"#{name}-table tbody tr").evaluate_all(
        "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))"
    )


def row_of(page: Any, asset_path: str) -> Any:
    return page.locator("#assets-table tbody tr").filter(
        has=page.locator("td:nth-child(2)", has_text=asset_path)
    )


def wait_images_loaded(page: Any) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('#assets-table img.thumb')].every(img => img.complete)"
    )


def canvas_pixels(page: Any, asset_path: str) -> dict[str, Any]:
    """The natural size and RGBA pixels of an asset's thumbnail as the page decoded it."""
    image = row_of(page, asset_path).locator("img.thumb")
    return image.evaluate(
        """async (img) => {
            await img.decode();
            const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            const context = canvas.getContext("2d");
            context.drawImage(img, 0, 0);
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let binary = "";  // base64: a long array crosses to Python slowly
            for (let i = 0; i < data.length; i += 8192)
                binary += String.fromCharCode.apply(null, data.subarray(i, i + 8192));
            return {src: img.getAttribute("src"), width: img.naturalWidth,
                    height: img.naturalHeight, rgba: btoa(binary)};
        }"""
    )


def source_thumbnail(source: Path) -> Image.Image:
    """The source scaled down by Pillow itself (longest side at most 128 px), as RGBA."""
    with Image.open(source) as image:
        image.thumbnail((128, 128))
        return image.convert("RGBA")


def first_image(project: dict[str, Path], asset_path: str) -> Path:
    """The file a thumbnail must show: the asset's first image by name."""
    asset = project["ingress"] / asset_path
    return asset if asset.is_file() else sorted(asset.rglob("*.png"), key=lambda p: p.name)[0]


def assert_thumbnail(page: Any, report: dict[str, Any], asset_path: str) -> tuple[int, int]:
    """The thumbnail the page shows for an asset has the pixels of its source scaled down by
    Pillow, both as the page decoded it and in the file it points at."""
    expected = source_thumbnail(first_image(report["project"], asset_path))
    shown = canvas_pixels(page, asset_path)
    assert (shown["width"], shown["height"]) == expected.size, (asset_path, shown["src"])
    assert base64.b64decode(shown["rgba"]) == expected.tobytes(), f"{asset_path}: pixels differ"
    file = report["page"].parent / shown["src"]
    assert file.parent == report["page"].parent / "thumbnails", shown["src"]
    with Image.open(file) as stored:
        assert stored.format == "PNG"
        assert stored.size == expected.size
        assert stored.convert("RGBA").tobytes() == expected.tobytes()
    return expected.size


# -------------------------------------------------------------------------------- the tests


def test_report_of_the_example_in_chromium(
    example: dict[str, Any], playwright: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shots = screenshots(tmp_path)
    assets = example["assets"].set_index("asset_path")
    errors = assets["asset_error"][~assets["asset_valid"]].to_dict()
    assert set(errors) == set(INVALID), sorted(errors)  # the table the report must show
    valid = sorted(assets.index[assets["asset_valid"]])
    files = example["files"]

    with report_page(playwright, example["url"], tmp_path / "failure.png") as page:
        expect(page.locator("#counts span")).to_have_text(
            ["assets: 19", "valid: 10", "invalid: 9", "files: 48", "files outside assets: 2"]
        )
        headers = page.locator("#assets-table thead th").all_text_contents()
        assert headers == COLUMNS, headers
        expect(page.locator("#assets-shown")).to_have_text("19 of 19")
        expect(page.locator("#assets-pager")).to_contain_text("page 1 of 1")
        assert sorted(row[1] for row in shown_rows(page)) == sorted(assets.index)

        # Filter to invalid: exactly the 9 invalid assets, each with its whole error.
        page.select_option("#assets-verdict", "invalid")
        expect(page.locator("#assets-table tbody tr")).to_have_count(9)
        expect(page.locator("#assets-shown")).to_have_text("9 of 19")
        rows = shown_rows(page)
        assert sorted(row[1] for row in rows) == sorted(INVALID)
        for _, path, specification, verdict, count, error in rows:
            assert verdict == "invalid", path
            assert error == errors[path], path
            assert INVALID[path] in error, (path, error)
            assert specification == assets.at[path, "specification"]
            assert int(count) == assets.at[path, "file_count"]
            expect(row_of(page, path).locator("td.error")).to_be_visible()
        # the corrupt PNG has no preview, and says why
        corrupt = row_of(page, "p-cat001_s-img001_d-corrupt_v001.png")
        expect(corrupt.locator("img")).to_have_count(0)
        expect(corrupt.locator("span.placeholder")).to_have_attribute(
            "title", "no thumbnail: not an image Pillow can read"
        )
        wait_images_loaded(page)
        page.screenshot(path=str(shots / "report-assets.png"), full_page=True)

        # Filter by text: the asset path, or the error.
        page.select_option("#assets-verdict", "")
        page.fill("#assets-filter", "calico")
        expect(page.locator("#assets-shown")).to_have_text("2 of 19")
        assert sorted(row[1] for row in shown_rows(page)) == [
            "cat001/img001/p-cat001_s-img001_d-calico-portrait_v001.png",
            JUMPING,
        ]
        page.fill("#assets-filter", "MISSING")  # in three errors, any case
        expect(page.locator("#assets-shown")).to_have_text("3 of 19")
        assert {row[1] for row in shown_rows(page)} == {
            "cat001/raw001/p-cat001_s-raw001_d-gap_v001",
            "cat001/rnd001/p-cat001_s-rnd001_d-no-specular_v001",
            "cat001/tex001/p-cat001_s-tex001_d-scales_v001",
        }
        page.fill("#assets-filter", "raw001")
        page.select_option("#assets-verdict", "invalid")
        expect(page.locator("#assets-shown")).to_have_text("3 of 19")
        page.fill("#assets-filter", "no such asset")
        expect(page.locator("#assets-table tbody tr")).to_have_count(0)
        expect(page.locator("#assets-shown")).to_have_text("0 of 19")
        page.fill("#assets-filter", "")

        # Valid assets: each with a thumbnail the page could load, but for the EXR, DPX and
        # video ones, which have none.
        page.select_option("#assets-verdict", "valid")
        expect(page.locator("#assets-shown")).to_have_text("10 of 19")
        assert sorted(row[1] for row in shown_rows(page)) == valid
        wait_images_loaded(page)
        for path in valid:
            image = row_of(page, path).locator("img.thumb")
            if path in NO_THUMBNAIL:
                expect(image).to_have_count(0)
                continue
            assert image.evaluate("img => img.naturalWidth > 0 && img.naturalHeight > 0"), path

        # Sorting by a column, both ways.
        page.select_option("#assets-verdict", "")
        page.locator("#assets-table thead th", has_text="file count").click()
        counts_shown = [int(row[4]) for row in shown_rows(page)]
        assert counts_shown == sorted(assets["file_count"]), counts_shown
        page.locator("#assets-table thead th", has_text="file count").click()
        assert [int(row[4]) for row in shown_rows(page)] == counts_shown[::-1]

        # The files tab: the files outside any asset, and those of invalid assets.
        page.click("nav button[data-tab=files]")
        expect(page.locator("#files")).to_be_visible()
        expect(page.locator("#assets")).to_be_hidden()
        expect(page.locator("#files-shown")).to_have_text(f"{len(files)} of {len(files)}")
        page.select_option("#files-verdict", "no asset")
        assert sorted(row[0] for row in shown_rows(page, "files")) == OUTSIDE
        page.select_option("#files-verdict", "invalid")
        invalid_files = files[files["asset_path"].isin(list(INVALID))]
        assert sorted(row[0] for row in shown_rows(page, "files")) == sorted(
            invalid_files["filepath_relative"]
        )

        # The tree: one closed branch, its children drawn when it opens.
        page.click("nav button[data-tab=tree]")
        root = page.locator("#tree-root > details.branch")
        expect(root).to_have_count(1)
        expect(root.locator(":scope > summary")).to_have_text("cat001 (19 assets, 9 invalid)")
        expect(root.locator(":scope > summary")).to_have_class("invalid")
        expect(page.locator("#tree-root .leaf")).to_have_count(0)
        root.locator(":scope > summary").click()
        stages = root.locator(":scope > details.branch > summary")
        expect(stages).to_have_text(
            [
                "img001 (2 assets, 1 invalid)",
                "plt001 (3 assets, 2 invalid)",
                "raw001 (5 assets, 3 invalid)",
                "rev001 (3 assets, 1 invalid)",
                "rnd001 (2 assets, 1 invalid)",
                "scn001 (1 asset)",
                "tex001 (2 assets, 1 invalid)",
                "txr001 (1 asset)",
            ]
        )
        root.locator(":scope > summary").click()  # closed and opened again: drawn once
        root.locator(":scope > summary").click()
        expect(stages).to_have_count(8)
        for index in range(stages.count()):
            stages.nth(index).click()
        leaves = page.locator("#tree-root div.leaf.asset")
        expect(leaves).to_have_count(19)
        expect(page.locator("#tree-root div.leaf.asset span.invalid")).to_have_count(9)
        expect(page.locator("#tree-root div.leaf.asset span.valid")).to_have_count(10)
        for path, error in errors.items():
            leaf = leaves.filter(has=page.locator("span.invalid", has_text=path.split("/")[-1]))
            expect(leaf).to_have_count(1)
            expect(leaf.locator("div.reason")).to_have_text(error.splitlines()[0])
            expect(leaf.locator("div.reason")).to_contain_text(INVALID[path])
            expect(leaf.locator("div.reason")).to_be_visible()
        jumping = leaves.filter(has=page.locator("span.valid", has_text=JUMPING.split("/")[-1]))
        expect(jumping).to_have_count(1)
        expect(jumping.locator("span.valid")).to_have_text("\u2714 " + JUMPING.split("/")[-1])
        expect(jumping.locator("div.reason")).to_have_count(0)
        gap = leaves.filter(has_text="p-cat001_s-raw001_d-gap_v001")
        expect(gap.locator("span.invalid")).to_have_text("\u2718 p-cat001_s-raw001_d-gap_v001")
        outside = page.locator("#outside li")
        expect(outside).to_have_count(2)
        for name, item in zip(OUTSIDE, outside.all_text_contents(), strict=True):
            assert item.startswith(name), (name, item)
        page.screenshot(path=str(shots / "report-tree.png"), full_page=True)

        # The config tab: the effective config of the run.
        page.click("nav button[data-tab=config]")
        config = json.loads(page.locator("#config-text").text_content())
        assert Path(config["ingress_directory"]) == example["project"]["ingress"]

    # The thumbnail of a valid frame (and of a greyscale one): the source scaled down.
    with report_page(
        playwright, example["url"], tmp_path / "failure-pixels.png", PIXEL_ARGS
    ) as page:
        assert_thumbnail(page, example, JUMPING)
        assert_thumbnail(page, example, TABBY)
    for name in ("report-assets.png", "report-tree.png"):
        assert (shots / name).stat().st_size > 5_000, name  # a real picture, not a blank


def test_thumbnails_are_their_source_scaled_down(
    large: dict[str, Any], playwright: Any, tmp_path: Path
) -> None:
    sizes = {}
    with report_page(playwright, large["url"], tmp_path / "failure.png", PIXEL_ARGS) as page:
        wait_images_loaded(page)
        for path in large["assets"]["asset_path"]:
            sizes[path.split("/")[-1]] = assert_thumbnail(page, large, path)
    assert sizes == {
        "p-cat001_s-img001_d-wide_v001.png": (128, 85),
        "p-cat001_s-img001_d-photo_v001.jpg": (128, 96),
        "p-cat001_s-raw001_d-tall_v001": (38, 128),
    }, sizes


# ------------------------------------------------------------------ checks in the asset view

ASSET_CHECKS = """
query AssetChecks {
  assetNodes {
    assetKey { path }
    assetChecksOrError {
      __typename
      ... on AssetChecks {
        checks {
          name
          blocking
          executionForLatestMaterialization {
            runId
            status
            evaluation { severity success description }
          }
        }
      }
      ... on AssetCheckNeedsMigrationError { message }
    }
  }
}
"""

RELOAD = """
mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry { loadStatus }
    ... on PythonError { message }
  }
}
"""


def checks_by_asset(dagster: Dagster) -> dict[str, dict[str, dict]]:
    """Every asset node's checks, by asset key and check name."""
    found: dict[str, dict[str, dict]] = {}
    for node in dagster.query(ASSET_CHECKS)["assetNodes"]:
        checks = node["assetChecksOrError"]
        assert checks["__typename"] == "AssetChecks", checks
        found["/".join(node["assetKey"]["path"])] = {c["name"]: c for c in checks["checks"]}
    return found


def failed_checks(dagster: Dagster) -> dict[tuple[str, str], dict]:
    """(asset, check) -> the latest execution, for every check whose latest failed."""
    return {
        (asset, name): check["executionForLatestMaterialization"]
        for asset, checks in checks_by_asset(dagster).items()
        for name, check in checks.items()
        if (check["executionForLatestMaterialization"] or {}).get("status") == "FAILED"
    }


def update_on_the_servers_instance(dagster: Dagster) -> dg.ExecuteInProcessResult:
    """The update job of the project's config run in this process on the webserver's instance
    (cheaper than a run worker; the webserver reads the same event log)."""
    defs = build_defs(load_location(dagster.project.config_file))
    with dg.DagsterInstance.from_config(str(dagster.home)) as instance:
        return defs.resolve_job_def("update").execute_in_process(
            instance=instance, raise_on_error=False
        )


def assert_failed_checks(dagster: Dagster, run_id: str, severity: str, blocking: bool) -> None:
    checks = checks_by_asset(dagster)
    assert set(checks["asset_table"]) == set(CHECKS) | set(PASSING_CHECKS), sorted(
        checks["asset_table"]
    )
    failed = failed_checks(dagster)
    assert set(failed) == {("asset_table", name) for name in CHECKS}, sorted(failed)
    for name, description in PASSING_CHECKS.items():
        assert checks["asset_table"][name]["blocking"] is blocking, name
        execution = checks["asset_table"][name]["executionForLatestMaterialization"]
        assert execution["runId"] == run_id, (name, execution)
        assert execution["status"] == "SUCCEEDED", (name, execution)
        assert execution["evaluation"]["success"] is True, (name, execution)
        assert execution["evaluation"]["description"] == description, (name, execution)
    for name, description in CHECKS.items():
        assert checks["asset_table"][name]["blocking"] is blocking, name
        execution = failed["asset_table", name]
        assert execution["runId"] == run_id, (name, execution)
        assert execution["evaluation"] == {
            "severity": severity,
            "success": False,
            "description": description,
        }, (name, execution)


def test_asset_view_shows_the_failed_checks(tmp_path: Path) -> None:
    begin = time.monotonic()

    def phase(name: str) -> None:  # shown with -s: where the time goes
        print(f"{time.monotonic() - begin:6.1f} s  {name}")

    with dagster_servers(tmp_path) as dagster:
        phase(f"servers up {json.dumps({k: round(v, 1) for k, v in dagster.timings.items()})}")
        assert failed_checks(dagster) == {}  # nothing ran yet
        warned = update_on_the_servers_instance(dagster)
        assert warned.success, step_failures(warned)  # warn (the default): the run succeeds
        assert warned.asset_materializations_for_node("validated_assets")
        assert_failed_checks(dagster, warned.run_id, "WARN", blocking=False)
        phase("update run, WARN checks seen")

        # invalid_asset_severity: error, once the location is reloaded on the edited config
        config = yaml.safe_load(dagster.project.config_file.read_text())
        config["invalid_asset_severity"] = "error"
        dagster.project.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        reloaded = dagster.query(RELOAD, {"name": LOCATION})["reloadRepositoryLocation"]
        assert reloaded["__typename"] == "WorkspaceLocationEntry", reloaded
        dagster.wait_location()
        phase("location reloaded")
        blocked = update_on_the_servers_instance(dagster)
        assert not blocked.success  # the blocking checks failed: nothing downstream ran
        assert blocked.asset_materializations_for_node("asset_table")
        assert not blocked.asset_materializations_for_node("validated_assets")
        assert_failed_checks(dagster, blocked.run_id, "ERROR", blocking=True)
        phase("update run, ERROR checks seen")
    phase("servers stopped")
