"""The Dagster UI in a real browser: the CRUDES asset graph, the workflow launched from the job
page over the example ingress, the invalid assets and their errors on the asset_table page, and
a search run launched over GraphQL.

Starts dagster-webserver (DefaultRunCoordinator, no daemon) on a tmp DAGSTER_HOME and a tmp copy
of the example project, and drives Debian's /usr/bin/chromium with Playwright. Screenshots go to
the test's tmp directory, or refresh the README's (docs/screenshots/) with
HIDEBOUND_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from hidebound_dagster_tests.dagster_servers import (
    CHROMIUM_ARGS,
    REPO,
    Dagster,
    dagster_servers,
    require_chromium,
)
from hidebound_dagster_tests.services import LOOPBACK

#: The README's screenshots are refreshed only on request (HIDEBOUND_UPDATE_SCREENSHOTS=1), so a
#: test run leaves the work tree clean; otherwise they go to the test's tmp directory.
README_SCREENSHOTS = REPO / "docs" / "screenshots"
CRUDES_ASSETS = (
    "staging_cleared",
    "file_table",
    "asset_table",
    "validated_assets",
    "staged_content",
    "metadata",
)
INVALID_ASSET = "p-cat001_s-raw001_d-running-cat_v001"
SEARCH_CONFIG = {
    "ops": {
        "search_results": {
            "config": {
                "query": "SELECT asset_name FROM data WHERE NOT asset_valid",
                "group_by": "asset",
            }
        }
    }
}


@contextmanager
def browser_page(failure_shot: Path, width: int = 1400, height: int = 800) -> Iterator:
    """A Playwright page in headless Debian chromium (never a downloaded browser); when the
    test fails inside, what the page showed is saved to failure_shot."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            try:
                yield page
            except BaseException:
                with suppress(Exception):
                    page.screenshot(path=str(failure_shot))
                    print(f"page at failure ({page.url}): {failure_shot}")
                raise
        finally:
            browser.close()


def open_asset_graph(page, url: str) -> None:
    """The global asset lineage with every group expanded and the side panels hidden, so the
    whole graph fits the viewport at a readable zoom."""
    from playwright.sync_api import expect

    page.goto(url + "/asset-groups", wait_until="networkidle")
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"Materialize all"))).to_be_visible()
    expect(page.get_by_text("update", exact=True).first).to_be_visible()
    # The UI remembers these choices, so only toggle what is still showing.
    hide_navigation = page.get_by_role("button", name="Hide navigation")
    if hide_navigation.is_visible():
        hide_navigation.click()
    if page.get_by_placeholder("Jump to").is_visible():  # the asset list beside the graph
        page.get_by_role("button", name=re.compile(r"^panel_")).last.click()
        expect(page.get_by_placeholder("Jump to")).to_be_hidden()
    # Expanding the groups lays the graph out again and zooms it to fit the canvas as it is
    # now; the UI remembers the choice, so collapse first when they are already expanded.
    for item in ("Collapse all groups", "Expand all groups"):
        page.get_by_role("button", name="settings").last.click()  # the graph's settings menu
        menu = page.get_by_role("menu")
        expect(menu.get_by_role("menuitem", name=re.compile("all groups"))).to_be_visible()
        toggle = menu.get_by_role("menuitem", name=item)
        if toggle.is_visible():
            toggle.click()
        page.keyboard.press("Escape")  # the menu stays open after a click
        expect(menu).to_be_hidden()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for name in CRUDES_ASSETS:
        expect(page.get_by_text(name, exact=True)).to_be_visible()
    page.wait_for_timeout(1000)  # let the graph settle after the layout


def settled(page, locator) -> None:
    """Wait until an element has finished fading in (every ancestor fully opaque)."""
    locator.wait_for()
    locator.evaluate(
        """element => new Promise(resolve => {
            const opaque = () => {
                for (let node = element; node; node = node.parentElement) {
                    if (parseFloat(getComputedStyle(node).opacity) < 1) return false;
                }
                return true;
            };
            const poll = () => opaque() ? resolve() : setTimeout(poll, 50);
            poll();
        })"""
    )
    page.wait_for_timeout(300)  # the scale transition ends with the fade


def launch_workflow_from_job_page(page, dagster: Dagster) -> str:
    """Click "Materialize all" on the workflow job page; the id of the run it started."""
    from playwright.sync_api import expect

    before = {run["runId"] for run in dagster.runs()}
    page.goto(dagster.url + "/locations/hidebound_dagster/jobs/workflow", wait_until="networkidle")
    expect(
        page.get_by_text("The configured workflow: delete, update, create, export.")
    ).to_be_visible()
    page.get_by_role("button", name=re.compile(r"Materialize all$")).click()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = [run for run in dagster.runs() if run["runId"] not in before]
        if new:
            assert len(new) == 1, f"one click started {len(new)} runs: {new}"
            assert new[0]["jobName"] == "workflow", new[0]
            return new[0]["runId"]
        time.sleep(0.5)
    raise AssertionError(
        "clicking Materialize all on the job page started no run\n" + dagster.logs()
    )


def test_workflow_from_the_ui(tmp_path: Path) -> None:
    require_chromium()  # fail before starting anything when the browser is missing
    update = os.environ.get("HIDEBOUND_UPDATE_SCREENSHOTS") == "1"
    shots = README_SCREENSHOTS if update else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    begin = time.monotonic()

    def phase(name: str) -> None:  # shown with -s: where the time goes
        print(f"{time.monotonic() - begin:6.1f} s  {name}")

    with dagster_servers(tmp_path) as dagster, browser_page(tmp_path / "failure.png") as page:
        from playwright.sync_api import expect

        phase(f"servers up {json.dumps({k: round(v, 1) for k, v in dagster.timings.items()})}")

        # The CRUDES assets are on the graph before anything ran.
        open_asset_graph(page, dagster.url)
        phase("asset graph checked")

        # Launch the workflow over the example ingress from the job page.
        run_id = launch_workflow_from_job_page(page, dagster)
        phase("workflow launched from the job page")
        dagster.wait_run(run_id, timeout=120)
        phase("workflow run succeeded")

        messages = [event.get("message") or "" for event in dagster.events(run_id)]
        assert any(m.startswith("hidebound config (redacted):") for m in messages), messages[:20]
        config_line = next(m for m in messages if m.startswith("hidebound config (redacted):"))
        assert str(dagster.project.ingress) in config_line

        produced = dagster.materializations(run_id)
        assert set(CRUDES_ASSETS) <= set(produced), sorted(produced)
        assert produced["asset_table"]["assets"] == 19, produced["asset_table"]
        assert produced["asset_table"]["valid"] == 10, produced["asset_table"]
        assert produced["asset_table"]["invalid"] == 9, produced["asset_table"]
        staged = dagster.project.staging
        assert (
            staged / "content" / "cat001" / "raw001" / "p-cat001_s-raw001_d-calico-jumping_v001"
        ).is_dir()
        assert len(list((staged / "metadata" / "asset").glob("*.json"))) == 10

        # The asset_table page: the invalid assets and their errors, from the metadata.
        page.set_viewport_size({"width": 1600, "height": 1000})
        page.goto(dagster.url + "/assets/asset_table", wait_until="networkidle")
        invalid_row = page.locator("tr", has=page.get_by_text("invalid_assets", exact=True))
        invalid_row.get_by_text("[Show Markdown]").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("invalid_assets", exact=True)).to_be_visible()
        running_cat = dialog.locator("tr", has_text="running-cat")
        expect(running_cat).to_have_count(1)
        expect(running_cat).to_be_visible()
        expect(running_cat).to_contain_text(
            "p-cat001_s-raw001_d-Running-Cat_v001_f0002.png: Names are lowercase: write "
            "'running-cat', not 'Running-Cat'. Illegal descriptor field token"
        )
        expect(dialog.locator("tbody tr")).to_have_count(9)  # the 9 invalid example assets
        settled(page, dialog)
        page.screenshot(path=str(shots / "invalid-assets.png"))
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()

        # The tree of the example's 19 assets is long enough that Dagster folds it, too.
        tree_row = page.locator("tr", has=page.get_by_text("validity_tree", exact=True))
        tree_row.get_by_text("[Show Markdown]").click()
        expect(dialog.get_by_text("validity_tree", exact=True)).to_be_visible()
        expect(dialog.get_by_text(INVALID_ASSET, exact=True)).to_be_visible()
        settled(page, dialog)
        dialog.screenshot(path=str(shots / "validity-tree.png"))
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()
        phase("asset_table page checked")

        # search, launched over GraphQL with run config.
        search_id = dagster.launch_run("search", SEARCH_CONFIG)
        dagster.wait_run(search_id, timeout=90)
        results = dagster.materializations(search_id)["search_results"]
        assert results["rows"] == 9, json.dumps(results, indent=1)
        assert INVALID_ASSET in results["result"], results["result"]
        phase("search run succeeded")

        # Remote control as the README shows it: the Python GraphQL client, with run config.
        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient(LOOPBACK, port_number=dagster.port)
        remote_id = client.submit_job_execution("update")
        dagster.wait_run(remote_id, timeout=90)
        assert client.get_run_status(remote_id).value == "SUCCESS"
        assert dagster.materializations(remote_id)["file_table"]["files"] == 48
        # run config may not switch this location to another config: the run fails first
        other_id = client.submit_job_execution(
            "update",
            run_config={
                "resources": {"hidebound": {"config": {"include_regex": "raw001"}}},
            },
        )
        deadline = time.monotonic() + 90
        while client.get_run_status(other_id).value not in ("SUCCESS", "FAILURE"):
            assert time.monotonic() < deadline, "the refused run did not finish"
            time.sleep(0.5)
        assert client.get_run_status(other_id).value == "FAILURE"
        assert dagster.materializations(other_id) == {}
        phase("update launched with DagsterGraphQLClient")

        # The graph again, now showing every asset materialized.
        page.set_viewport_size({"width": 1400, "height": 800})
        open_asset_graph(page, dagster.url)
        page.screenshot(path=str(shots / "asset-graph.png"))
        phase("asset graph screenshot taken")
    phase("servers stopped")
    for name in ("asset-graph.png", "invalid-assets.png", "validity-tree.png"):
        assert (shots / name).stat().st_size > 5_000, name  # a real picture, not a blank
