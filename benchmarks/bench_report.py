"""Benchmark of the ingest report: write_report's time, the page's open and filter time in
headless chromium, and the thumbnails' cost against a plain Pillow resize floor.

    .venv/bin/python benchmarks/bench_report.py [--assets 10000,100000] [--images 2000]
        [--workdir DIR] [--keep] [--filter-word height]

Generates an ingress of M single-file Img001 assets (real 256x256 PNGs, one in four with a
problem, some with multi-line errors, plus a few files outside any asset) and builds its file
and asset tables with the real build_file_table + build_asset_table. Then, with the OS page
cache warm:

* thumbnails: make_thumbnails over the M images, cold cache and warm cache, against a floor of
  plain Pillow open + thumbnail + save of the same images through the same mapper;
* for each N: the template tables tiled to N assets (one copy per project), and
  - write_report with no thumbnail work (the file extensions are not images) against a floor of
    json.dumps of the same columns + writing the file, and its peak RSS;
  - write_report with thumbnails, cache warm (every update after the first), through the
    update's own mapper (dask threads x1) in its chunks, and its peak RSS;
  - the page in headless Debian chromium: open (goto until the assets table has rows), then
    filter (select 'invalid', type a word until the count updates), against a floor page that
    embeds the same JSON and does the least a page must do; and where the time goes (CDP
    metrics and a sampled CPU profile of one more load).

See benchmarks/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from bench_update import (
    DEFAULT_WORKDIR,
    EXCLUDE,
    REPO,
    cached_ingress,
    high_water_mib,
    load_average,
    load_specs,
    timed,
)

SIDE = 256  # template images are SIDE x SIDE
PROJECT = "proj0001"  # the template's project; copy c of the template is proj<c+1:04d>
BAD_EVERY = 4  # one asset in BAD_EVERY has a problem, its kind cycling through PROBLEMS
OUTSIDE_EVERY = 100  # one file outside any asset per OUTSIDE_EVERY assets
PROBLEMS = [
    "grayscale",  # channels 1 fails isin([3, 4]): one line
    "1x1 grayscale",  # width, height and channels: three lines
    "1x1",  # width and height: two lines
    "uppercase descriptor",  # a filename error
    "short version",  # v01: a filename error
    "tif extension",  # extension 'tif' fails isin(['png', 'jpg'])
    "truncated",  # valid for Img001 (headers only), but no thumbnail: a note
]
PAGE_TARGET_S = 2.0  # open, and filter, each under 2 s at TARGET_ASSETS
TARGET_ASSETS = 100_000
SINGLE_RUN_FROM = 100_000  # from this N on, 1 timed run instead of the best of 3
VIEWPORT = {"width": 1400, "height": 800}
NOT_AN_IMAGE = "txt"  # an extension make_thumbnails skips


# --- the template ingress ------------------------------------------------------------------


def image_name(index: int) -> str:
    problem = problem_of(index)
    descriptor = f"desc{index:06d}"
    if problem == "uppercase descriptor":
        descriptor = descriptor.upper()
    version = "v01" if problem == "short version" else "v001"
    extension = "tif" if problem == "tif extension" else "png"
    return f"p-{PROJECT}_s-img001_d-{descriptor}_{version}.{extension}"


def problem_of(index: int) -> str | None:
    if index % BAD_EVERY != BAD_EVERY - 1:
        return None
    return PROBLEMS[(index // BAD_EVERY) % len(PROBLEMS)]


def image_bytes(index: int) -> bytes:
    """A real PNG: a gradient with a little noise (about 100 KiB at 256x256, so every image
    compresses like a photograph would rather than to nothing), distinct per index."""
    import numpy as np
    from PIL import Image

    problem = problem_of(index)
    rng = np.random.default_rng(index)
    side = 1 if problem in ("1x1", "1x1 grayscale") else SIDE
    y, x = np.mgrid[0:side, 0:side]
    a, b, c = (int(v) for v in rng.integers(0, 200, 3))
    pixels = np.stack([(x + a) % 200, (y + b) % 200, ((x + y) // 2 + c) % 200], -1)
    pixels = (pixels + rng.integers(0, 6, pixels.shape)).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    if problem in ("grayscale", "1x1 grayscale"):
        image = image.convert("L")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    data = buffer.getvalue()
    return data[:200] if problem == "truncated" else data


def write_images(directory: str, indices: list[int]) -> int:
    """Process-pool worker: write the images of `indices`; their bytes in total."""
    total = 0
    for index in indices:
        data = image_bytes(index)
        Path(directory, image_name(index)).write_bytes(data)
        total += len(data)
    return total


def generate(ingress: Path, count: int) -> None:
    """`count` single-file Img001 assets and count // OUTSIDE_EVERY files outside any asset (a
    notes file and an unknown specification, alternately), built aside and renamed."""
    partial = ingress.with_name(ingress.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    images = partial / PROJECT / "img001"
    images.mkdir(parents=True)
    for k in range(count // OUTSIDE_EVERY):
        name = f"notes{k:04d}.txt" if k % 2 == 0 else f"p-{PROJECT}_s-vid009_d-clip{k:04d}_v001.mov"
        (partial / PROJECT / name).write_bytes(b"not an asset\n")
    workers = os.cpu_count() or 1
    batches = [list(range(start, count, workers * 4)) for start in range(workers * 4)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(write_images, [str(images)] * len(batches), batches))
    partial.rename(ingress)


def ensure_ingress(workdir: Path, count: int) -> tuple[Path, bool, float]:
    """The cached ingress of `count` images: (path, generated now?, generation seconds)."""
    return cached_ingress(workdir / f"report-images-{count}" / "ingress", generate, count)


@contextmanager
def product_mapper() -> Iterator[Any]:
    """The mapper the update asset gives write_report: dask_mapper(DaskConfig()), which by
    default is Dask's threaded scheduler with local_num_workers x local_threads_per_worker
    (1 x 1) threads."""
    from hidebound_dagster.core.cluster import dask_mapper
    from hidebound_dagster.core.config import DaskConfig

    with dask_mapper(DaskConfig()) as mapper:
        yield mapper


def build_template(ingress: Path) -> tuple[Any, Any, float]:
    """The real file and asset tables of the ingress, as the file_table and asset_table
    assets build them."""
    from hidebound_dagster.core.asset_table import build_asset_table
    from hidebound_dagster.core.config import DaskConfig
    from hidebound_dagster.core.file_table import build_file_table

    specs = load_specs()
    start = time.perf_counter()
    with product_mapper() as mapper:
        files = build_file_table(
            ingress,
            specs,
            include_regex="",
            exclude_regex=EXCLUDE,
            mapper=mapper,
            chunks=DaskConfig().num_partitions,
        )
    assets = build_asset_table(files, specs)
    return files, assets, time.perf_counter() - start


def tile(files: Any, assets: Any, count: int) -> tuple[Any, Any]:
    """The template tables grown to `count` assets: copy c renames project proj0001 to
    proj<c+1:04d> in every text column (paths, names, errors) and gets fresh ids. `filepath`
    is kept, so every copy's image is the template's real file: thumbnail work reads real
    images. The result is conformed to FILE_TABLE and ASSET_TABLE."""
    import pandas as pd

    from hidebound_dagster.core.identity import ids
    from hidebound_dagster.core.schemas import ASSET_TABLE, FILE_TABLE, conform

    keep = {"filepath", "file_id", "asset_id", "link_target"}

    def renamed(table: Any, project: str) -> Any:
        if project == PROJECT:
            return table.copy()
        columns = {
            column: table[column].str.replace(PROJECT, project, regex=False)
            for column in table.columns
            if column not in keep and pd.api.types.infer_dtype(table[column]) == "string"
        }
        return table.assign(**columns)

    copies = math.ceil(count / len(assets))
    projects = [f"proj{c + 1:04d}" for c in range(copies)]
    grown_assets = pd.concat([renamed(assets, p) for p in projects], ignore_index=True)
    grown_assets = grown_assets.iloc[:count].reset_index(drop=True)
    grown_files = pd.concat([renamed(files, p) for p in projects], ignore_index=True)
    kept = grown_files["asset_path"].isin(grown_assets["asset_path"])
    grown_files = grown_files[kept | grown_files["asset_path"].isna()].reset_index(drop=True)
    grown_files["file_id"] = ids(grown_files["filepath_relative"])
    grown_files["asset_id"] = ids(grown_files["asset_path"])
    grown_assets["asset_id"] = ids(grown_assets["asset_path"])
    return (
        conform(grown_files, FILE_TABLE, "file_table"),
        conform(grown_assets, ASSET_TABLE, "asset_table"),
    )


def report_config(ingress: Path) -> dict[str, Any]:
    from hidebound_dagster.core.config import HideboundConfig
    from hidebound_dagster.core.redaction import redacted

    config = HideboundConfig(
        ingress_directory=ingress,
        staging_directory=ingress.parent / "hidebound",
        specification_files=[REPO / "specs"],
    )
    return redacted(config)


# --- thumbnails -----------------------------------------------------------------------------


def floor_thumbnail(job: tuple[str, str]) -> bool:
    """The least a thumbnail needs: open, thumbnail, save (False where Pillow cannot)."""
    from PIL import Image

    from hidebound_dagster.core.thumbnails import SIZE

    source, target = job
    try:
        with Image.open(source) as image:
            image.thumbnail(SIZE)
            image.save(target, format="PNG")
    except Exception:  # a truncated image: the attempt is the cost
        return False
    return True


def fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def emptied(directory: Path) -> Callable[[], None]:
    """A `before` for timed(): the directory, empty, before every run."""

    def before() -> None:
        fresh(directory)

    return before


def measure_thumbnails(files: Any, work: Path, runs: int) -> list[dict[str, Any]]:
    """make_thumbnails cold and warm, and the floor, through each mapper."""
    from hidebound_dagster.core.parallel import Mapper, thread_mapper
    from hidebound_dagster.report import make_thumbnails, representatives

    sources = list(representatives(files)["filepath"])
    floor_dir, cold_dir, warm_dir = work / "floor", work / "cold", work / "warm"
    results = []
    with product_mapper() as dask_threads:
        mappers: list[tuple[str, Mapper]] = [
            ("dask threads x1 (update's default)", dask_threads),
            ("thread_mapper(8) (write_report's)", thread_mapper(8)),
        ]
        for label, mapper in mappers:
            jobs = [(s, str(floor_dir / f"{i}.png")) for i, s in enumerate(sources)]
            made: list[int] = []

            def floor(
                mapper: Mapper = mapper, jobs: list[tuple[str, str]] = jobs, made: list[int] = made
            ) -> None:
                made.append(sum(mapper(floor_thumbnail, jobs)))

            def thumbnails(directory: Path, mapper: Mapper = mapper) -> Callable[[], Any]:
                return lambda: make_thumbnails(files, directory, mapper)

            floor_s, floor_cpu = timed(floor, runs, emptied(floor_dir))
            cold_s, cold_cpu = timed(thumbnails(cold_dir), runs, emptied(cold_dir))
            fresh(warm_dir)
            table = make_thumbnails(files, warm_dir, mapper)  # fills the cache
            warm_s, warm_cpu = timed(thumbnails(warm_dir), runs)
            results.append(
                {
                    "mapper": label,
                    "floor": (floor_s, floor_cpu),
                    "cold": (cold_s, cold_cpu),
                    "warm": (warm_s, warm_cpu),
                    "sources": len(sources),
                    "floor_made": made[-1],
                    "made": int(table["thumbnail"].notna().sum()),
                    "notes": table["thumbnail_note"].dropna().value_counts().to_dict(),
                }
            )
    return results


# --- the report at N ------------------------------------------------------------------------


def peak_mib(func: Callable[[], Any]) -> float | None:
    """How far this process's resident set rose above where it stood during one call of
    `func` (Linux: VmHWM reset through /proc/self/clear_refs); None elsewhere."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    start = resident_mib()
    func()
    high = high_water_mib()
    return None if high is None else high - start


def resident_mib() -> float:
    """VmRSS of this process now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure_report(
    files: Any, assets: Any, config: dict[str, Any], work: Path, runs: int
) -> dict[str, Any]:
    """write_report without thumbnail work, its phases, its floor and its peak RSS (through
    thread_mapper(8)); then with thumbnails, cache warm, through the update's mapper and chunks.
    Leaves work/full/index.html (with thumbnails) and work/full/floor.html."""
    from hidebound_dagster.core.config import DaskConfig
    from hidebound_dagster.core.parallel import thread_mapper
    from hidebound_dagster.report import PAGE, write_report

    mapper = thread_mapper(8)
    plain = files.assign(extension=NOT_AN_IMAGE)  # make_thumbnails picks no file
    html_dir, full_dir = work / "html", work / "full"
    out: dict[str, Any] = {}
    out["html"] = timed(lambda: write_report(html_dir, plain, assets, config, mapper), runs)
    out["html_peak"] = peak_mib(lambda: write_report(html_dir, plain, assets, config, mapper))
    out.update(measure_phases(plain, assets, config, work, runs))
    out["page_mib"] = (html_dir / PAGE).stat().st_size / 2**20
    # The page the browser opens: thumbnails warm, so this is every later update's cost.
    full_runs = 1 if len(assets) >= SINGLE_RUN_FROM else runs
    chunks = DaskConfig().num_partitions
    with product_mapper() as update_mapper:

        def full() -> Path:
            return write_report(full_dir, files, assets, config, update_mapper, chunks)

        out["full"] = timed(full, full_runs)
        out["full_peak"] = peak_mib(full)
    out["full_runs"] = full_runs
    write_floor_page(full_dir / "floor.html", (full_dir / PAGE).read_text("utf-8"))
    return out


def measure_phases(
    plain: Any, assets: Any, config: dict[str, Any], work: Path, runs: int
) -> dict[str, tuple[float, float]]:
    """report_data and write_page of the report without thumbnails, and the floor: json.dumps
    of the same columns (made beforehand, as lists) plus writing the file."""
    from hidebound_dagster.core.parallel import serial_map
    from hidebound_dagster.report import make_thumbnails, report_data, write_page

    none = make_thumbnails(plain, work / "html", serial_map)
    data = report_data(plain, assets, none, config)
    columns = {key: listed(value) for key, value in data.items()}
    floor_file = work / "floor.json"
    return {
        "report_data": timed(lambda: report_data(plain, assets, none, config), runs),
        "write": timed(lambda: write_page(work / "html" / "copy.html", data), runs),
        "floor": timed(
            lambda: floor_file.write_text(
                json.dumps(columns, default=str, separators=(",", ":")), "utf-8"
            ),
            runs,
        ),
    }


def listed(value: Any) -> Any:
    """A table of report_data as the floor encodes it: a dict of Python lists, made
    beforehand."""
    import pandas as pd

    if not isinstance(value, pd.DataFrame):
        return value
    return {
        name: value[name].astype(object).where(value[name].notna(), None).tolist()
        for name in value.columns
    }


FLOOR_SCRIPT = """<script>
"use strict";
const A = JSON.parse(document.getElementById("data").textContent).assets;
const n = A.asset_path.length, body = document.querySelector("#assets-table tbody");
const filter = document.getElementById("assets-filter");
const verdict = document.getElementById("assets-verdict");
const COLUMNS = ["asset_path", "specification", "verdict", "file_count", "error"];
function draw(rows) {
  body.replaceChildren(...rows.slice(0, 100).map((i) => {
    const tr = document.createElement("tr"), td = document.createElement("td");
    if (A.thumbnail[i]) {
      const img = document.createElement("img"); img.src = A.thumbnail[i]; img.width = 64;
      td.append(img);
    }
    tr.append(td);
    for (const c of COLUMNS) {
      const cell = document.createElement("td"); cell.textContent = A[c][i] ?? ""; tr.append(cell);
    }
    return tr;
  }));
  document.getElementById("assets-shown").textContent = rows.length + " of " + n;
}
function apply() {
  const words = filter.value.toLowerCase(), v = verdict.value, rows = [];
  for (let i = 0; i < n; i++) {
    if (v && A.verdict[i] !== v) continue;
    if (words && !(A.asset_path[i] + "  " + (A.error[i] || "")).toLowerCase().includes(words))
      continue;
    rows.push(i);
  }
  draw(rows);
}
filter.oninput = apply; verdict.onchange = apply; apply();
</script></body></html>"""


def write_floor_page(path: Path, page: str) -> None:
    """The least a page must do with the same embedded JSON: parse it, show the first 100
    assets (thumbnails too), and filter them by verdict and text on each change."""
    start = page.index('<script type="application/json" id="data">')
    end = page.index("</script>", start) + len("</script>")
    path.write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>floor</title>'
        '</head><body><input id="assets-filter"><select id="assets-verdict">'
        '<option value="">all</option><option>valid</option><option>invalid</option></select>'
        ' <span id="assets-shown"></span><table id="assets-table"><tbody></tbody></table>'
        + page[start:end]
        + FLOOR_SCRIPT,
        "utf-8",
    )


# --- the page in chromium -------------------------------------------------------------------


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Debian chromium through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    from hidebound_dagster_tests.dagster_servers import CHROMIUM_ARGS, require_chromium

    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


SHOWN = """([word, text]) => document.getElementById("assets-filter").value === word &&
  document.getElementById("assets-shown").textContent === text"""
PARSE = """() => { const start = performance.now();
  const text = document.getElementById("data").textContent, read = performance.now();
  JSON.parse(text);
  return {chars: text.length, read: read - start, parse: performance.now() - read}; }"""
NAVIGATION = """() => { const e = performance.getEntriesByType("navigation")[0];
  return {response: e.responseEnd, interactive: e.domInteractive,
          loaded: e.loadEventEnd}; }"""


def open_and_filter(
    browser: Any, url: str, word: str, counts: dict[str, int], profile: bool = False
) -> dict[str, Any]:
    """One fresh page: goto until the assets table has rows; select 'invalid' until the count
    shows the invalid assets; type `word` key by key until the count shows its matches."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(180_000)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        if profile:
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 500})
            cdp.send("Profiler.start")
        n = counts["assets"]
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.wait_for_selector("#assets-table tbody tr", state="attached")
        opened = time.perf_counter()
        result: dict[str, Any] = {"open": opened - start}
        if profile:
            result["open_profile"] = cdp.send("Profiler.stop")["profile"]
        at_open = metrics(cdp)
        page.wait_for_load_state("load")  # thumbnails: after the timing, for the nav entry
        result["navigation"] = page.evaluate(NAVIGATION)
        result["heap_mib"] = metrics(cdp)["JSHeapUsedSize"] / 2**20
        before = metrics(cdp)
        if profile:
            cdp.send("Profiler.start")
        start = time.perf_counter()
        page.select_option("#assets-verdict", "invalid")
        page.wait_for_function(SHOWN, arg=["", f"{counts['invalid']} of {n}"])
        chosen = time.perf_counter()
        page.locator("#assets-filter").press_sequentially(word)
        page.wait_for_function(SHOWN, arg=[word, f"{counts['matches']} of {n}"])
        done = time.perf_counter()
        if profile:
            result["filter_profile"] = cdp.send("Profiler.stop")["profile"]
        after = metrics(cdp)
        result.update(verdict=chosen - start, typing=done - chosen, filter=done - start)
        result["open_metrics"] = at_open
        result["filter_metrics"] = {k: after[k] - before.get(k, 0.0) for k in after}
        if profile:
            result["parse"] = page.evaluate(PARSE)
        return result
    finally:
        context.close()


def best_page(
    browser: Any, url: str, word: str, counts: dict[str, int], runs: int
) -> dict[str, Any]:
    """The least open and the least filter time over `runs` fresh pages after a warm-up."""
    open_and_filter(browser, url, word, counts)
    results = [open_and_filter(browser, url, word, counts) for _ in range(runs)]
    best = min(results, key=lambda r: r["open"])
    return {
        **best,
        "filter": min(r["filter"] for r in results),
        "verdict": min(r["verdict"] for r in results),
        "typing": min(r["typing"] for r in results),
    }


def self_times(profile: dict[str, Any], top: int) -> list[tuple[str, float]]:
    """The functions with the most self time in a sampled CPU profile, in ms."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    totals: dict[str, float] = {}
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[node_id]["callFrame"]
        name = frame["functionName"] or "(anonymous)"
        if frame["url"]:
            name += f" (line {frame['lineNumber'] + 1})"
        totals[name] = totals.get(name, 0.0) + delta / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def page_counts(assets: Any, word: str) -> dict[str, int]:
    """What the page must show: the assets, the invalid ones, the invalid ones matching
    `word` (the page's filter: a substring of 'asset_path  error', lowercased)."""
    invalid = ~assets["asset_valid"].astype(bool)
    text = (assets["asset_path"] + "  " + assets["asset_error"].fillna("")).str.lower()
    matches = invalid & text.str.contains(word.lower(), regex=False)
    return {"assets": len(assets), "invalid": int(invalid.sum()), "matches": int(matches.sum())}


# --- report ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:6.1f}" if floor > 0 else f"{'-':>6}"


def print_thumbnails(results: list[dict[str, Any]], runs: int, mean_kib: float) -> None:
    first = results[0]
    print(
        f"\nthumbnails: {first['sources']} representative images ({mean_kib:.0f} KiB mean), "
        f"best of {runs} after a warm-up; cold = an empty cache directory every run"
    )
    header = (
        f"{'mapper':<36} {'floor s':>8} {'cold s':>8} {'ratio':>6} {'warm s':>8} {'ratio':>6} "
        f"{'floor CPU':>9} {'cold CPU':>9} {'warm CPU':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['mapper']:<36} {r['floor'][0]:8.3f} {r['cold'][0]:8.3f} "
            f"{ratio(r['cold'][0], r['floor'][0])} {r['warm'][0]:8.3f} "
            f"{ratio(r['warm'][0], r['floor'][0])} {r['floor'][1]:9.3f} {r['cold'][1]:9.3f} "
            f"{r['warm'][1]:9.3f}"
        )
    notes = "; ".join(f"{count} x {note}" for note, count in first["notes"].items()) or "none"
    print(
        f"made {first['made']} thumbnails (the floor {first['floor_made']}); notes: {notes}. "
        f"Per image: cold {1000 * first['cold'][0] / first['sources']:.2f} ms, warm "
        f"{1000 * first['warm'][0] / first['sources']:.2f} ms ({first['mapper']})"
    )


def print_reports(rows: list[dict[str, Any]]) -> None:
    print(
        f"\nwrite_report: 'html' has no thumbnail work (extensions set to '{NOT_AN_IMAGE}'; "
        "thread_mapper(8)), 'with thumbs' has the cache warm (the update's mapper and chunks)"
    )
    header = (
        f"{'N assets':>9} {'files':>7} {'page MiB':>8} {'floor s':>8} {'html s':>8} "
        f"{'ratio':>6} {'data s':>7} {'write s':>7} {'html peak MiB':>13} "
        f"{'with thumbs s':>13} {'thumbs ms/asset':>15} {'thumbs peak MiB':>15}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        r = row["report"]
        thumbs = r["full"][0] - r["html"][0]
        print(
            f"{row['assets']:>9} {row['files']:>7} {r['page_mib']:8.1f} {r['floor'][0]:8.3f} "
            f"{r['html'][0]:8.3f} {ratio(r['html'][0], r['floor'][0])} "
            f"{r['report_data'][0]:7.3f} {r['write'][0]:7.3f} {mib(r['html_peak']):>13} "
            f"{r['full'][0]:13.3f} {1000 * thumbs / row['assets']:15.3f} "
            f"{mib(r['full_peak']):>15}"
        )
    print(
        "floor = json.dumps of the page's columns (made beforehand) + writing the file; "
        "data/write = report_data, write_page (the page streamed to its file); peak = the rise "
        "of this process's RSS above where it stood, during one call of write_report"
    )


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_pages(rows: list[dict[str, Any]], word: str) -> None:
    print(
        f"\npage in headless chromium (best of the runs after a warm-up): open = goto until the "
        f"assets table has rows; filter = select 'invalid' ('verdict') then type '{word}' key by "
        f"key ('typing') until the count updates"
    )
    header = (
        f"{'N assets':>9} {'open s':>7} {'floor':>6} {'ratio':>6} {'verdict s':>9} "
        f"{'typing s':>8} {'filter s':>8} {'floor':>6} {'ratio':>6} {'heap MiB':>8} "
        f"{'open<2s':>7} {'filter<2s':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        p, f = row["page"], row["floor_page"]
        print(
            f"{row['assets']:>9} {p['open']:7.3f} {f['open']:6.3f} {ratio(p['open'], f['open'])} "
            f"{p['verdict']:9.3f} {p['typing']:8.3f} {p['filter']:8.3f} {f['filter']:6.3f} "
            f"{ratio(p['filter'], f['filter'])} {p['heap_mib']:8.0f} "
            f"{verdict(p['open'] < PAGE_TARGET_S):>7} {verdict(p['filter'] < PAGE_TARGET_S):>9}"
        )
    for row in rows:
        if row["assets"] == TARGET_ASSETS:
            p = row["page"]
            ok = p["open"] < PAGE_TARGET_S and p["filter"] < PAGE_TARGET_S
            print(
                f"target: open and filter each under {PAGE_TARGET_S:g} s at {TARGET_ASSETS} "
                f"assets: {verdict(ok)} (open {p['open']:.2f} s, filter {p['filter']:.2f} s, "
                f"together {p['open'] + p['filter']:.2f} s)"
            )
            break
    else:
        print(f"target: open and filter each under {PAGE_TARGET_S:g} s, set for N={TARGET_ASSETS}")


def print_where(row: dict[str, Any], top: int = 8) -> None:
    p = row["page"]
    nav, m, fm = p["navigation"], p["open_metrics"], p["filter_metrics"]
    print(f"\nwhere the page's time goes at N={row['assets']}:")
    print(
        f"  navigation: file read by {nav['response']:.0f} ms, parsed and scripts run by "
        f"{nav['interactive']:.0f} ms (domInteractive), load with thumbnails {nav['loaded']:.0f} ms"
    )
    for label, values in (("open", m), ("filter", fm)):
        task = values.get("TaskDuration", 0.0)
        script = values.get("ScriptDuration", 0.0)
        layout = values.get("LayoutDuration", 0.0)
        style = values.get("RecalcStyleDuration", 0.0)
        print(
            f"  {label}: main-thread tasks {task:.3f} s = script {script:.3f} s + layout "
            f"{layout:.3f} s + style {style:.3f} s + other (HTML parse, GC, paint) "
            f"{task - script - layout - style:.3f} s"
        )
    parse = row["profiled"]["parse"]
    print(
        f"  the embedded JSON ({parse['chars'] / 2**20:.1f} MiB of text), re-measured in the "
        f"loaded page: textContent {parse['read']:.0f} ms, JSON.parse {parse['parse']:.0f} ms"
    )
    for label in ("open", "filter"):
        profile = row["profiled"][f"{label}_profile"]
        spent = ", ".join(f"{name} {ms:.0f} ms" for name, ms in self_times(profile, top))
        print(
            f"  {label} CPU profile (self time; lines of index.html = lines of TEMPLATE): {spent}"
        )


def run(
    sizes: list[int], images: int, workdir: Path, keep: bool, word: str, browser_runs: int
) -> None:
    ingress, generated, gen_s = ensure_ingress(workdir, images)
    how = f"generated in {gen_s:.1f} s" if generated else "cached"
    print(f"ingress: {ingress} ({images} images, {how})", flush=True)
    work = fresh(workdir / "report-run")
    try:
        measure(sizes, images, ingress, work, word, browser_runs)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
            if generated:
                shutil.rmtree(ingress.parent, ignore_errors=True)


def measure(
    sizes: list[int], images: int, ingress: Path, work: Path, word: str, browser_runs: int
) -> None:
    runs = 3
    print(
        f"timing: page cache warm (one untimed warm-up each), best of {runs} (write_report with "
        f"thumbnails: 1 run from N={SINGLE_RUN_FROM}); {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}, load average {load_average()}"
    )
    files, assets, build_s = build_template(ingress)
    sizes_kib = files.loc[files["asset_path"].notna(), "size"].astype(float).mean() / 1024
    valid = int(assets["asset_valid"].sum())
    multi = int(assets["asset_error"].fillna("").str.contains("\n").sum())
    print(
        f"template: build_file_table + build_asset_table in {build_s:.2f} s: {len(assets)} "
        f"assets ({valid} valid, {len(assets) - valid} invalid, {multi} with a multi-line "
        f"error), {len(files)} files ({int(files['asset_path'].isna().sum())} outside any asset)",
        flush=True,
    )

    thumbs = measure_thumbnails(files, work / "thumbnails", runs)
    print_thumbnails(thumbs, runs, sizes_kib)

    config = report_config(ingress)
    rows: list[dict[str, Any]] = []
    for count in sizes:
        start = time.perf_counter()
        grown_files, grown_assets = tile(files, assets, count)
        tile_s = time.perf_counter() - start
        print(
            f"\nN={count}: the template tiled to {len(grown_assets)} assets and "
            f"{len(grown_files)} files in {tile_s:.1f} s (tables constructed from the real "
            f"template, conformed to FILE_TABLE/ASSET_TABLE)",
            flush=True,
        )
        gc.collect()
        report = measure_report(grown_files, grown_assets, config, work / f"n-{count}", runs)
        rows.append(
            {
                "assets": len(grown_assets),
                "files": len(grown_files),
                "report": report,
                "counts": page_counts(grown_assets, word),
                "url": (work / f"n-{count}" / "full" / "index.html").as_uri(),
                "floor_url": (work / f"n-{count}" / "full" / "floor.html").as_uri(),
            }
        )
        del grown_files, grown_assets
    print_reports(rows)

    with chromium() as browser:
        print(f"\nchromium {browser.version}", flush=True)
        for row in rows:
            row["page"] = best_page(browser, row["url"], word, row["counts"], browser_runs)
            row["floor_page"] = best_page(
                browser, row["floor_url"], word, row["counts"], browser_runs
            )
            row["profiled"] = open_and_filter(
                browser, row["url"], word, row["counts"], profile=True
            )
        c = rows[-1]["counts"]
        print(
            f"filter: of {c['assets']} assets, {c['invalid']} invalid, {c['matches']} of them "
            f"match '{word}' (at N={c['assets']})"
        )
        print_pages(rows, word)
        print_where(rows[-1])
    print(f"\nload average after timing: {load_average()}")


def sizes_arg(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive counts")
    return sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--assets",
        type=sizes_arg,
        default=[10_000, 100_000],
        help="asset counts N for the report and the page, comma-separated (default 10000,100000)",
    )
    parser.add_argument(
        "--images",
        type=int,
        default=2000,
        help="generated images M: the template of the tables and the thumbnails' sources",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"where the image ingress and the reports go (default {DEFAULT_WORKDIR})",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated image ingress and the written reports",
    )
    parser.add_argument(
        "--filter-word", default="height", help="what is typed into the filter (default height)"
    )
    parser.add_argument(
        "--browser-runs", type=int, default=3, help="timed page loads per page (default 3)"
    )
    args = parser.parse_args(argv)
    if args.images < 1:
        parser.error("--images M needs M >= 1")
    run(
        args.assets,
        args.images,
        args.workdir.resolve(),
        args.keep,
        args.filter_word,
        max(1, args.browser_runs),
    )


if __name__ == "__main__":
    main()
