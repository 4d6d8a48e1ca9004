"""The ingest report: one HTML page per update that opens from file:// with no server and no
network. Counts; a sortable, filterable, paged table of every asset and of every file with its
verdict and error; the validity tree with the reason on each invalid node and the files outside
any asset apart; the redacted config; thumbnails of image assets (from `thumbnails/` beside the
page, made in parallel and cached by content)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hidebound_dagster.core.parallel import Mapper, map_chunked, thread_mapper
from hidebound_dagster.core.thumbnails import EXTENSIONS, Thumbnail, thumbnail_chunk

PAGE = "index.html"
THUMBNAILS = "thumbnails"
IDENTITY = ["device", "inode", "size", "mtime_ns", "filepath"]
ROWS = 20_000  # the page's columns are encoded this many values at a time
VERDICTS = ["no asset", "valid", "invalid"]  # of a file, by code


def representatives(files: pd.DataFrame) -> pd.DataFrame:
    """The first image file (by name) of each asset, the one its thumbnail shows, with its
    identity (what the thumbnail is cached under)."""
    images = files[
        files["asset_path"].notna()
        & files["extension"].fillna("").str.lower().isin(EXTENSIONS)
        & files["scan_error"].isna()
    ]
    first = images.sort_values(["asset_path", "filename"]).drop_duplicates("asset_path")
    identity = first[IDENTITY[0]].astype("string")
    for column in IDENTITY[1:]:  # a missing part leaves no identity: the bytes are hashed
        identity = identity + ":" + first[column].astype("string")
    return pd.DataFrame(
        {"asset_path": first["asset_path"], "filepath": first["filepath"], "identity": identity}
    )


def make_thumbnails(
    files: pd.DataFrame, directory: Path, mapper: Mapper, chunks: int = 16
) -> pd.DataFrame:
    """asset_path, thumbnail (path relative to the page, or None) and thumbnail_note."""
    cache = directory / THUMBNAILS
    cache.mkdir(parents=True, exist_ok=True)
    chosen = representatives(files)
    identities = chosen["identity"].astype(object).where(chosen["identity"].notna(), None)
    items = list(zip(chosen["filepath"], identities, strict=True))
    made: list[Thumbnail] = map_chunked(
        mapper, partial(thumbnail_chunk, cache=str(cache)), items, chunks
    )
    names = pd.Series([t.name for t in made], index=chosen.index, dtype=object)
    return pd.DataFrame(
        {
            "asset_path": chosen["asset_path"],
            "thumbnail": (THUMBNAILS + "/" + names).where(names.notna(), None),
            "thumbnail_note": [t.note for t in made],
        }
    )


def report_data(
    files: pd.DataFrame,
    assets: pd.DataFrame,
    thumbnails: pd.DataFrame,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything the page shows; the assets and the files as tables of the page's columns,
    which are turned into JSON a slice of rows at a time."""
    shown = assets.merge(thumbnails, on="asset_path", how="left")
    return {
        "made": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "counts": {
            "assets": len(assets),
            "valid": int(assets["asset_valid"].sum()),
            "invalid": int((~assets["asset_valid"].astype(bool)).sum()),
            "files": len(files),
            "files_outside_assets": int(files["asset_path"].isna().sum()),
        },
        "assets": pd.DataFrame(
            {
                "asset_path": shown["asset_path"],
                "specification": shown["specification"],
                "verdict": shown["asset_valid"].map({True: "valid", False: "invalid"}),
                "error": shown["asset_error"],
                "file_count": shown["file_count"],
                "thumbnail": shown["thumbnail"],
                "thumbnail_note": shown["thumbnail_note"],
            },
            copy=False,
        ),
        "files": file_columns(files, assets),
        "config": config,
    }


def file_columns(files: pd.DataFrame, assets: pd.DataFrame) -> pd.DataFrame:
    """Each file's path, asset, verdict (its asset's, else 'no asset') and error (its own, else
    its asset's); looked up by position in the asset table, with no joined copy of the files."""
    row = pd.Index(assets["asset_path"]).get_indexer(files["asset_path"])  # -1: no asset row
    found = row >= 0
    valid = np.zeros(len(files), dtype=bool)
    valid[found] = assets["asset_valid"].to_numpy(bool)[row[found]]
    asset_error = np.full(len(files), None, dtype=object)
    asset_error[found] = assets["asset_error"].to_numpy(object)[row[found]]
    in_asset = files["asset_path"].notna().to_numpy()
    codes = np.where(in_asset, np.where(valid, 1, 2), 0).astype(np.int8)
    verdict = pd.Categorical.from_codes(codes, pd.Index(VERDICTS))
    return pd.DataFrame(
        {
            "filepath_relative": files["filepath_relative"],
            "asset_path": files["asset_path"],
            "verdict": pd.Series(verdict, index=files.index),
            "error": files["file_error"].where(files["file_error"].notna(), asset_error),
        },
        copy=False,
    )


def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def _array(column: pd.Series) -> Iterator[str]:
    """A column as a JSON array in pieces of ROWS values (missing as null), so that only one
    piece's values are ever Python objects."""
    yield "["
    for start in range(0, len(column), ROWS):
        part = column.iloc[start : start + ROWS]
        values = part.astype(object).where(part.notna(), None).tolist()
        yield ("," if start else "") + _json(values)[1:-1]
    yield "]"


def _object(members: Iterable[tuple[str, Iterable[str]]]) -> Iterator[str]:
    """A JSON object from its members' names and the pieces of their values."""
    yield "{"
    for n, (name, pieces) in enumerate(members):
        yield ("," if n else "") + _json(name) + ":"
        yield from pieces
    yield "}"


def _pieces(value: Any) -> Iterable[str]:
    """A table as an object of column arrays, anything else whole."""
    if isinstance(value, pd.DataFrame):
        return _object((str(name), _array(value[name])) for name in value.columns)
    return [_json(value)]


def payload(data: Mapping[str, Any]) -> Iterator[str]:
    """The data's JSON in pieces, the same text as one json.dumps of it with the tables as
    lists; no '<' at all in it, so neither '</script>' nor '<!--' can end or hide the block."""
    for piece in _object((key, _pieces(value)) for key, value in data.items()):
        yield piece.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_page(page: Path, data: Mapping[str, Any]) -> Path:
    """Write the page (whole or not at all): the data as embedded JSON, read by the script
    below it, streamed so that no copy of all of it is ever held."""
    head, tail = TEMPLATE.split("__DATA__")
    partial_page = page.with_name(f".{page.name}.tmp")
    with partial_page.open("w", encoding="utf-8") as out:
        out.write(head)
        out.writelines(payload(data))
        out.write(tail)
    partial_page.replace(page)
    return page


def write_report(
    directory: Path,
    files: pd.DataFrame,
    assets: pd.DataFrame,
    config: Mapping[str, Any],
    mapper: Mapper | None = None,
    chunks: int = 16,
) -> Path:
    """Write `<directory>/index.html` (and its thumbnails); the path of the page."""
    directory.mkdir(parents=True, exist_ok=True)
    thumbnails = make_thumbnails(files, directory, mapper or thread_mapper(8), chunks)
    return write_page(directory / PAGE, report_data(files, assets, thumbnails, config))


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>hidebound ingest report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}
header{padding:12px 20px;background:#f4f4f6;border-bottom:1px solid #ddd}
h1{font-size:18px;margin:0 0 4px}
.counts span{margin-right:16px}.valid{color:#137333}.invalid{color:#b3261e}
nav{padding:8px 20px;border-bottom:1px solid #ddd}
nav button{margin-right:6px;padding:4px 10px}nav button.on{font-weight:bold}
section{padding:12px 20px;display:none}section.on{display:block}
table{border-collapse:collapse;width:100%;margin-top:8px}
th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
th{cursor:pointer;background:#fafafa;user-select:none}
td.error{white-space:pre-wrap;font-family:monospace;font-size:12px}
img.thumb{width:64px;height:auto;background:#ccc;image-rendering:pixelated}
.placeholder{display:inline-block;width:64px;height:40px;background:#eee;color:#888;
font-size:10px;text-align:center}
.pager{margin-top:8px}summary{cursor:pointer}details details{margin-left:18px}
.leaf{margin-left:18px}.reason{color:#b3261e;font-family:monospace;font-size:12px}
pre{background:#fafafa;padding:10px;overflow:auto}
</style></head><body>
<header><h1>Ingest report</h1><div class="counts" id="counts"></div>
<div id="made"></div></header>
<nav>
<button data-tab="assets" class="on">Assets</button><button data-tab="files">Files</button>
<button data-tab="tree">Validity tree</button><button data-tab="config">Config</button>
</nav>
<section id="assets" class="on">
<input id="assets-filter" placeholder="filter path or error" size="40">
<select id="assets-verdict"><option value="">all</option><option>valid</option>
<option>invalid</option></select> <span id="assets-shown"></span>
<table id="assets-table"></table><div class="pager" id="assets-pager"></div></section>
<section id="files">
<input id="files-filter" placeholder="filter path or error" size="40">
<select id="files-verdict"><option value="">all</option><option>valid</option>
<option>invalid</option><option>no asset</option></select> <span id="files-shown"></span>
<table id="files-table"></table><div class="pager" id="files-pager"></div></section>
<section id="tree"><div id="tree-root"></div><h3>Files outside any asset</h3>
<ul id="outside"></ul></section>
<section id="config"><pre id="config-text"></pre></section>
<script type="application/json" id="data">__DATA__</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const PAGE_ROWS = 100;
const $ = (id) => document.getElementById(id);
const el = (tag, attrs, text) => {
  const node = document.createElement(tag);
  Object.assign(node, attrs || {});
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
};
const c = DATA.counts;
$("counts").innerHTML = "";
[["assets", c.assets, ""], ["valid", c.valid, "valid"], ["invalid", c.invalid, "invalid"],
 ["files", c.files, ""], ["files outside assets", c.files_outside_assets, ""]]
  .forEach(([label, value, cls]) => $("counts").append(el("span", {className: cls},
    label + ": " + value)));
$("made").textContent = "made " + DATA.made;
$("config-text").textContent = JSON.stringify(DATA.config, null, 2);
document.querySelectorAll("nav button").forEach((button) => button.onclick = () => {
  document.querySelectorAll("nav button, section").forEach((n) => n.classList.remove("on"));
  button.classList.add("on"); $(button.dataset.tab).classList.add("on");
  if (button.dataset.tab === "tree") buildTree();
});

function cell(column, columns, i) {
  const value = columns[column][i];
  const td = el("td");
  if (column === "thumbnail") {
    if (value) td.append(el("img", {className: "thumb", src: value, alt: "thumbnail"}));
    else if (columns.thumbnail_note && columns.thumbnail_note[i])
      td.append(el("span", {className: "placeholder", title: columns.thumbnail_note[i]},
        "no preview"));
  } else {
    td.textContent = value === null ? "" : String(value);
    if (column === "error") td.className = "error";
    if (column === "verdict") td.className = value === "valid" ? "valid" : "invalid";
  }
  return td;
}

function table(name, columns, shown) {
  const n = columns[shown[0]].length;
  const text = Array.from({length: n}, (_, i) =>
    [columns.asset_path ? columns.asset_path[i] : "", columns.filepath_relative ?
     columns.filepath_relative[i] : "", columns.error[i] || ""].join(" ").toLowerCase());
  let order = Array.from({length: n}, (_, i) => i), rows = order, page = 0, sortBy = null, up = 1;
  const head = el("tr");
  shown.forEach((column) => {
    const th = el("th", {}, column.replace("_", " "));
    th.onclick = () => { up = sortBy === column ? -up : 1; sortBy = column; sort(); apply(); };
    head.append(th);
  });
  const tableNode = $(name + "-table"), body = el("tbody");
  tableNode.append(el("thead"), body); tableNode.tHead.append(head);
  function sort() {
    const values = columns[sortBy];
    order = order.slice().sort((a, b) => {
      const x = values[a], y = values[b];
      if (x === y) return 0; if (x === null) return 1; if (y === null) return -1;
      return (typeof x === "number" ? x - y : String(x).localeCompare(String(y))) * up;
    });
  }
  function apply() {
    const words = $(name + "-filter").value.toLowerCase(), verdict = $(name + "-verdict").value;
    rows = order.filter((i) => (!verdict || columns.verdict[i] === verdict) &&
      (!words || text[i].includes(words)));
    page = Math.min(page, Math.max(0, Math.ceil(rows.length / PAGE_ROWS) - 1));
    draw();
  }
  function draw() {
    body.replaceChildren(...rows.slice(page * PAGE_ROWS, (page + 1) * PAGE_ROWS).map((i) => {
      const tr = el("tr"); shown.forEach((column) => tr.append(cell(column, columns, i)));
      return tr;
    }));
    $(name + "-shown").textContent = rows.length + " of " + n;
    const pager = $(name + "-pager"), pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
    const prev = el("button", {disabled: page === 0}, "previous");
    const next = el("button", {disabled: page >= pages - 1}, "next");
    prev.onclick = () => { page -= 1; draw(); }; next.onclick = () => { page += 1; draw(); };
    pager.replaceChildren(prev, el("span", {}, " page " + (page + 1) + " of " + pages + " "),
      next);
  }
  $(name + "-filter").oninput = () => { page = 0; apply(); };
  $(name + "-verdict").onchange = () => { page = 0; apply(); };
  apply();
}
table("assets", DATA.assets,
  ["thumbnail", "asset_path", "specification", "verdict", "file_count", "error"]);
table("files", DATA.files, ["filepath_relative", "asset_path", "verdict", "error"]);

let treeBuilt = false;
function buildTree() {
  if (treeBuilt) return; treeBuilt = true;
  const root = {children: new Map(), invalid: 0, assets: 0};
  const a = DATA.assets;
  a.asset_path.forEach((path, i) => {
    let node = root;
    path.split("/").forEach((part) => {
      if (!node.children.has(part)) node.children.set(part, {children: new Map(), invalid: 0,
        assets: 0});
      node = node.children.get(part);
      node.assets += 1; if (a.verdict[i] === "invalid") node.invalid += 1;
    });
    node.asset = i;
    root.assets += 1; if (a.verdict[i] === "invalid") root.invalid += 1;
  });
  $("tree-root").append(...render(root));
  function render(node) {
    return [...node.children.entries()].sort(([x], [y]) => x.localeCompare(y))
      .map(([name, child]) => {
        if (child.asset !== undefined && child.children.size === 0) {
          const i = child.asset, ok = a.verdict[i] === "valid";
          const leaf = el("div", {className: "leaf asset"});
          leaf.append(el("span", {className: ok ? "valid" : "invalid"},
            (ok ? "\\u2714 " : "\\u2718 ") + name));
          if (!ok) leaf.append(el("div", {className: "reason"},
            (a.error[i] || "invalid").split("\\n")[0]));
          return leaf;
        }
        const details = el("details", {className: "branch"});
        const label = name + " (" + child.assets + (child.assets === 1 ? " asset" : " assets") +
          (child.invalid ? ", " + child.invalid + " invalid" : "") + ")";
        details.append(el("summary", {className: child.invalid ? "invalid" : "valid"}, label));
        details.ontoggle = () => {
          if (details.open && details.children.length === 1) details.append(...render(child));
        };
        return details;
      });
  }
  const f = DATA.files;
  const outside = f.asset_path.map((p, i) => p === null ? i : -1).filter((i) => i >= 0);
  $("outside").replaceChildren(...outside.slice(0, 1000).map((i) =>
    el("li", {}, f.filepath_relative[i] + (f.error[i] ? ": " + f.error[i] : ""))));
  if (outside.length > 1000)
    $("outside").append(el("li", {}, (outside.length - 1000) + " more (see the Files tab)"));
}
</script></body></html>
"""
