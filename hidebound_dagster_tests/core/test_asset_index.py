"""The persisted asset index: an update with it gives exactly the asset table a full validation
gives, validating again only the assets whose files changed, and every asset of a
specification whose checks look across assets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hidebound_dagster.core import asset_index
from hidebound_dagster.core.asset_table import build_asset_table
from hidebound_dagster.core.file_index import spec_versions
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.schemas import ASSET_TABLE, arrow_fields, conform
from hidebound_dagster.core.specification import Specification, judged_per_asset
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.tables import read_table, write_table
from hidebound_dagster_tests.conftest import SpecWriter, write_frames
from hidebound_dagster_tests.images import write_png

SPECS = """
import pandera.pandas as pa
from pandera.typing import Series

from hidebound_dagster.core import traits
from hidebound_dagster.core.specification import FileSpecification, SequenceSpecification


class Seq001(SequenceSpecification):
    filename_fields = ("project", "specification", "descriptor", "version", "frame", "extension")
    file_traits = {"width": traits.image_width}
    frame: Series[int] = pa.Field(is_frame=True)
    width: Series[int] = pa.Field(gt=0)

    class Config:
        is_contiguous = "frame"
        is_homogeneous = ["width"]


class Uni001(FileSpecification):
    '''Descriptors unique across all files: a check that looks across assets.'''

    descriptor: Series[str] = pa.Field(unique=True)
"""


def seq(descriptor: str) -> str:
    return f"proj/seq/p-proj001_s-seq001_d-{descriptor}_v001"


def uni(descriptor: str, version: int) -> str:
    return f"proj/uni/p-proj001_s-uni001_d-{descriptor}_v{version:03d}.png"


class Project:
    def __init__(self, root: Path, specs: dict[str, type[Specification]]) -> None:
        self.root = root
        self.ingress = root / "ingress"
        self.index = root / "asset_index.parquet"
        self.specs = specs
        for descriptor in ("walk", "run", "jump"):
            write_frames(self.ingress, seq(descriptor), range(1, 5))
        write_png(self.ingress / uni("cat", 1))
        write_png(self.ingress / uni("dog", 1))

    def update(self) -> tuple[pd.DataFrame, int]:
        """An asset-table step: validate with the stored index, then store the new one."""
        files = build_file_table(self.ingress, self.specs)
        indexed, _ = asset_index.read_index(self.index)
        digests = asset_index.files_digests(files, spec_versions(self.specs))
        table, kept = asset_index.update_asset_table(files, self.specs, digests, indexed)
        asset_index.write_index(self.index, table, digests)
        return table, kept

    def assert_same_as_full(self, table: pd.DataFrame) -> None:
        full = build_asset_table(build_file_table(self.ingress, self.specs), self.specs)
        pd.testing.assert_frame_equal(self.stored(table, "now"), self.stored(full, "full"))

    def stored(self, table: pd.DataFrame, name: str) -> pd.DataFrame:
        path = self.root / f"{name}.parquet"
        write_table(table, path, arrow_fields(table, ASSET_TABLE))
        return conform(read_table(path), ASSET_TABLE, "asset_table")


@pytest.fixture
def project(tmp_path: Path, write_spec: SpecWriter) -> Project:
    project = Project(tmp_path, load_specifications([write_spec(SPECS)]))
    _, kept = project.update()
    assert kept == 0
    return project


def verdicts(table: pd.DataFrame) -> dict[str, bool]:
    return dict(zip(table["asset_path"], table["asset_valid"], strict=True))


def test_unchanged_assets_keep_their_indexed_verdicts(project: Project) -> None:
    table, kept = project.update()
    assert kept == 3  # the three sequences; Uni001 looks across assets, so it is validated
    assert len(table) == 5
    project.assert_same_as_full(table)


def test_a_changed_asset_alone_is_validated_again(project: Project) -> None:
    (project.ingress / seq("run") / "p-proj001_s-seq001_d-run_v001_f0002.png").unlink()
    table, kept = project.update()
    assert kept == 2
    assert verdicts(table)[seq("run")] is False
    assert "frame" in table.set_index("asset_path").loc[seq("run"), "asset_error"]
    project.assert_same_as_full(table)


def test_a_rewritten_frame_changes_its_asset(project: Project) -> None:
    write_png(
        project.ingress / seq("walk") / "p-proj001_s-seq001_d-walk_v001_f0003.png", size=(7, 4)
    )
    table, kept = project.update()
    assert kept == 2
    assert verdicts(table)[seq("walk")] is False
    project.assert_same_as_full(table)


def test_a_new_asset_and_a_removed_one(project: Project) -> None:
    write_frames(project.ingress, seq("sit"), range(1, 3))
    for frame in (project.ingress / seq("jump")).iterdir():
        frame.unlink()
    table, kept = project.update()
    assert kept == 2  # walk and run
    assert seq("jump") not in verdicts(table) and verdicts(table)[seq("sit")] is True
    project.assert_same_as_full(table)


def test_a_check_across_assets_revalidates_unchanged_assets(project: Project) -> None:
    """A new file repeating 'cat' makes the unchanged cat asset invalid too."""
    assert verdicts(project.update()[0])[uni("cat", 1)] is True
    write_png(project.ingress / uni("cat", 2))
    table, _ = project.update()
    assert verdicts(table)[uni("cat", 1)] is False
    assert verdicts(table)[uni("cat", 2)] is False
    assert verdicts(table)[uni("dog", 1)] is True
    project.assert_same_as_full(table)


def test_which_specifications_are_judged_per_asset(project: Project) -> None:
    assert judged_per_asset(project.specs["seq001"])
    assert not judged_per_asset(project.specs["uni001"])


def test_a_damaged_index_validates_every_asset(project: Project) -> None:
    project.index.write_bytes(b"not parquet")
    indexed, why = asset_index.read_index(project.index)
    assert why is not None and "every asset is validated again" in why
    assert indexed.empty
    table, kept = project.update()
    assert kept == 0
    project.assert_same_as_full(table)
