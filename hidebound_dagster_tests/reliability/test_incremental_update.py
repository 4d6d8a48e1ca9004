"""An incremental update never gives another table than a full one. Rounds of changes to a copy
of the bundled example go through `dagster job execute` with one instance, so each update
reads the file and asset indexes of the one before; after each, the stored file, asset and
validated tables must equal what the core functions build from scratch, and the read counts
must name exactly what changed."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pandas as pd

from hidebound_dagster.core.asset_table import build_asset_table, valid_files
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.layout import table_path, tables_directory
from hidebound_dagster.core.schemas import TABLES, arrow_fields, conform
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.tables import read_table, write_table
from hidebound_dagster_tests.conftest import REPO
from hidebound_dagster_tests.images import write_png
from hidebound_dagster_tests.projects import job_execute, make_project

RAW = "cat001/raw001/p-cat001_s-raw001_d-calico-jumping_v001"
FRAME = f"{RAW}/p-cat001_s-raw001_d-calico-jumping_v001_f0002.png"
IMG = "cat001/img001/p-cat001_s-img001_d-calico-portrait_v001.png"
TEX = "cat001/tex001/p-cat001_s-tex001_d-fur_v001"
READABLE = 46  # the example's 48 files, less the two outside any known specification
DAMAGED = 2  # a corrupt PNG and a truncated EXR: files whose traits failed are read again
ASSETS = 19
COUNTS = {
    "file_table": ("files_read", "files_reused"),
    "asset_table": ("assets_validated", "assets_reused"),
}


class Project:
    def __init__(self, root: Path) -> None:
        self.paths = make_project(root / "project")
        self.ingress = self.paths["ingress"]
        self.home = root / "home"
        self.home.mkdir()
        shutil.copy(REPO / "dagster.yaml", self.home / "dagster.yaml")

    def run(self) -> dict[str, int]:
        """One workflow; the read and reuse counts of the file and asset tables."""
        result = job_execute("workflow", self.home, self.paths["config"], cwd=self.paths["root"])
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        counts: dict[str, int] = {}
        with dg.DagsterInstance.from_config(str(self.home)) as instance:
            for asset, keys in COUNTS.items():
                event = instance.get_latest_materialization_event(dg.AssetKey(asset))
                assert event is not None and event.asset_materialization is not None
                metadata = event.asset_materialization.metadata
                counts |= {key: int(metadata[key].value) for key in keys}  # type: ignore[arg-type]
        return counts

    def stored(self, name: str) -> pd.DataFrame:
        path = table_path(tables_directory(self.home / "storage"), [name])
        return conform(read_table(path), TABLES[name], name)

    def assert_tables_as_from_scratch(self, scratch: Path) -> None:
        specs = load_specifications([self.paths["root"] / "specs"])
        files = build_file_table(self.ingress, specs)
        assets = build_asset_table(files, specs)
        full = {
            "file_table": files,
            "asset_table": assets,
            "validated_assets": valid_files(files, assets),
        }
        for name, table in full.items():
            write_table(table, scratch / f"{name}.parquet", arrow_fields(table, TABLES[name]))
            expected = conform(read_table(scratch / f"{name}.parquet"), TABLES[name], name)
            pd.testing.assert_frame_equal(self.stored(name), expected, obj=name)


def counts(read: int, reused: int, validated: int, kept: int) -> dict[str, int]:
    """What an update reports: files read (the two damaged ones always among them) and taken
    from the file index, assets validated and taken from the asset index."""
    return {
        "files_read": read,
        "files_reused": reused,
        "assets_validated": validated,
        "assets_reused": kept,
    }


def nothing(project: Project) -> dict[str, int]:
    return counts(read=DAMAGED, reused=44, validated=0, kept=19)


def rewrite_frame(project: Project) -> dict[str, int]:
    write_png(project.ingress / FRAME, "RGB", (5, 5))  # another size: its asset turns invalid
    return counts(read=DAMAGED + 1, reused=43, validated=1, kept=18)


def remove_and_add(project: Project) -> dict[str, int]:
    """A frame removed (its sequence changes) and a new single-file asset: 20 assets."""
    (project.ingress / FRAME).unlink()
    write_png(project.ingress / "cat001/img001/p-cat001_s-img001_d-new_v001.png", "RGB", (8, 8))
    return counts(read=DAMAGED + 1, reused=43, validated=2, kept=18)


def rename_asset(project: Project) -> dict[str, int]:
    """The 8 tiles of the fur texture move to a directory not named after them: read again,
    and they no longer form an asset (19 assets, none of them changed)."""
    old = project.ingress / TEX
    assert sum(1 for path in old.rglob("*") if path.is_file()) == 8
    old.rename(old.with_name("p-cat001_s-tex001_d-fluff_v001"))
    return counts(read=DAMAGED + 8, reused=36, validated=0, kept=19)


def file_becomes_link(project: Project) -> dict[str, int]:
    """The portrait becomes a link: a row with an error, never read; its asset changes."""
    path = project.ingress / IMG
    path.unlink()
    path.symlink_to(project.ingress / "cat001/img001/p-cat001_s-img001_d-new_v001.png")
    return counts(read=DAMAGED, reused=43, validated=1, kept=18)


def comment_beside_a_rule(project: Project) -> dict[str, int]:
    """A spec file edited outside its class: no rule changed, nothing is read again."""
    spec = project.paths["root"] / "specs" / "complexes.py"
    spec.write_text(spec.read_text() + "\n# reviewed by the texture team\n")
    return counts(read=DAMAGED, reused=43, validated=0, kept=19)


def change_a_rule(project: Project) -> dict[str, int]:
    """Tex001's width rule changes: its 11 files (8 fluff tiles, 3 scales tiles) are read
    again and its one asset (scales) validated again; the rest comes from the indexes."""
    spec = project.paths["root"] / "specs" / "complexes.py"
    old = "width: Series[int] = pa.Field(gt=0)"
    assert old in spec.read_text()
    spec.write_text(spec.read_text().replace(old, "width: Series[int] = pa.Field(gt=0, le=8192)"))
    assert sum(1 for p in (project.ingress / "cat001/tex001").rglob("*") if p.is_file()) == 11
    return counts(read=DAMAGED + 11, reused=32, validated=1, kept=18)


def damaged_index(project: Project) -> dict[str, int]:
    """A file index cut short: every readable file is read again; the asset index still
    stands, and no asset's files changed."""
    index = table_path(tables_directory(project.home / "storage"), ["file_index"])
    index.write_bytes(b"PAR1 cut short")
    return counts(read=45, reused=0, validated=0, kept=19)


def removed_asset_index(project: Project) -> dict[str, int]:
    """No asset index: every asset is validated again; the file index still stands."""
    table_path(tables_directory(project.home / "storage"), ["asset_index"]).unlink()
    return counts(read=DAMAGED, reused=43, validated=19, kept=0)


ROUNDS: list[Callable[[Project], dict[str, int]]] = [
    nothing,
    rewrite_frame,
    remove_and_add,
    rename_asset,
    file_becomes_link,
    comment_beside_a_rule,
    change_a_rule,
    damaged_index,
    removed_asset_index,
]


def test_every_incremental_update_equals_a_full_one(tmp_path: Path) -> None:
    project = Project(tmp_path)
    assert project.run() == counts(read=READABLE, reused=0, validated=ASSETS, kept=0)
    for number, change in enumerate(ROUNDS):
        expected = change(project)
        assert project.run() == expected, change.__name__
        scratch = tmp_path / f"scratch-{number}"
        scratch.mkdir()
        project.assert_tables_as_from_scratch(scratch)
