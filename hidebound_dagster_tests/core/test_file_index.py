"""The persisted file index: an update with the index gives exactly the table a full update
gives, while reading only files that are new or changed. Trait reads are counted by the trait
itself (a line per call in a log beside the spec file), not by the code under test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from hidebound_dagster.core import file_index
from hidebound_dagster.core.file_index import FileIndex, read_index, spec_versions, write_index
from hidebound_dagster.core.file_table import Reads, build_file_table, update_file_table
from hidebound_dagster.core.schemas import FILE_TABLE, arrow_fields, conform
from hidebound_dagster.core.specification import Specification
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.tables import read_table, write_table
from hidebound_dagster.core.traits import clear_header_cache
from hidebound_dagster_tests.conftest import SpecWriter, write_frames
from hidebound_dagster_tests.images import write_png

COUNTED = '''
from pathlib import Path

import pandera.pandas as pa
from pandera.typing import Series

from hidebound_dagster.core import traits
from hidebound_dagster.core.specification import {base}

LOG = Path(__file__).with_suffix(".reads")


def counted_width(path):
    """The image width, and a line in LOG for every call."""
    with LOG.open("a") as log:
        log.write(path + "\\n")
    return traits.image_width(path)


class {name}({base}):
    filename_fields = {fields}
    file_traits = {{"width": counted_width, "channels": traits.image_channels}}
    width: Series[int] = pa.Field(gt={minimum})
'''
FRAMES = ("project", "specification", "descriptor", "version", "frame", "extension")
FILE = ("project", "specification", "descriptor", "version", "extension")
SEQ = "proj/seq/p-proj001_s-seq001_d-run_v001"
IMG = "proj/img/p-proj001_s-img001_d-still_v001.png"


class Project:
    """An ingress, the spec files that count their reads, and the index between updates."""

    def __init__(self, root: Path, write_spec: SpecWriter) -> None:
        self.ingress = root / "ingress"
        self.index_path = root / "index.parquet"
        write_frames(self.ingress, SEQ, range(1, 6))
        write_png(self.ingress / IMG, "RGB", (3, 3))
        (self.ingress / "proj/notes.txt").write_text("no specification")
        write_png(self.ingress / "proj/p-proj001_s-zzz999_d-x_v001.png")  # unknown spec
        self.write_spec = write_spec
        self.seq_spec = self.spec("Seq001", "SequenceSpecification", FRAMES)
        self.img_spec = self.spec("Img001", "FileSpecification", FILE)

    def spec(self, name: str, base: str, fields: tuple[str, ...], minimum: int = 0) -> Path:
        text = COUNTED.format(name=name, base=base, fields=fields, minimum=minimum)
        return self.write_spec(text, f"{name.lower()}.py")

    def specs(self) -> dict[str, type[Specification]]:
        return load_specifications([self.seq_spec, self.img_spec])

    def reads(self) -> list[str]:
        """The files whose width trait ran since the last call, by path relative to ingress."""
        lines = []
        for spec in (self.seq_spec, self.img_spec):
            log = spec.with_suffix(".reads")
            if log.exists():
                lines += log.read_text().splitlines()
                log.unlink()
        return sorted(str(Path(line).relative_to(self.ingress)) for line in lines)

    def update(self) -> tuple[pd.DataFrame, Reads]:
        """An update with the stored index, which it then replaces (as the file_table step)."""
        clear_header_cache()
        specs = self.specs()
        index, _ = read_index(self.index_path, spec_versions(specs))
        table, reads = update_file_table(self.ingress, specs, index=index)
        write_index(self.index_path, table, index.versions)
        return table, reads

    def full(self) -> pd.DataFrame:
        """A full update that reads every file, for comparison (its reads are not counted)."""
        clear_header_cache()
        table = build_file_table(self.ingress, self.specs())
        self.reads()
        return table


def stored(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The table as the next step sees it: written and read back by the tables' IO."""
    write_table(table, path, arrow_fields(table, FILE_TABLE))
    return conform(read_table(path), FILE_TABLE, "file_table")


def assert_same_as_full(project: Project, table: pd.DataFrame, tmp_path: Path) -> None:
    full = stored(project.full(), tmp_path / "full.parquet")
    pd.testing.assert_frame_equal(stored(table, tmp_path / "incremental.parquet"), full)


@pytest.fixture
def project(tmp_path: Path, write_spec: SpecWriter) -> Project:
    project = Project(tmp_path, write_spec)
    project.update()
    assert len(project.reads()) == 6  # five frames and the still
    return project


def test_unchanged_ingress_reads_nothing(project: Project, tmp_path: Path) -> None:
    table, reads = project.update()
    assert project.reads() == []
    assert reads == Reads(read=0, reused=6)
    assert_same_as_full(project, table, tmp_path)


def rewrite_frame(ingress: Path) -> list[str]:
    write_png(ingress / SEQ / "p-proj001_s-seq001_d-run_v001_f0003.png", "RGB", (9, 4))
    return [f"{SEQ}/p-proj001_s-seq001_d-run_v001_f0003.png"]


def touch_frame(ingress: Path) -> list[str]:
    path = ingress / SEQ / "p-proj001_s-seq001_d-run_v001_f0002.png"
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000))
    return [f"{SEQ}/p-proj001_s-seq001_d-run_v001_f0002.png"]


def add_frame(ingress: Path) -> list[str]:
    write_frames(ingress, SEQ, [6])
    return [f"{SEQ}/p-proj001_s-seq001_d-run_v001_f0006.png"]


def remove_frame(ingress: Path) -> list[str]:
    (ingress / SEQ / "p-proj001_s-seq001_d-run_v001_f0004.png").unlink()
    return []


def rename_asset(ingress: Path) -> list[str]:
    """The asset directory renamed: every frame is at a new path (and now misnamed)."""
    (ingress / SEQ).rename(ingress / "proj/seq/p-proj001_s-seq001_d-walk_v001")
    return [f"proj/seq/p-proj001_s-seq001_d-walk_v001/{p.name}" for p in frames_in(ingress)]


def frames_in(ingress: Path) -> list[Path]:
    return sorted((ingress / "proj/seq/p-proj001_s-seq001_d-walk_v001").iterdir())


def replace_with_link(ingress: Path) -> list[str]:
    path = ingress / IMG
    path.unlink()
    path.symlink_to(ingress / SEQ / "p-proj001_s-seq001_d-run_v001_f0001.png")
    return []  # a link is an error row, never read


def replace_with_fifo(ingress: Path) -> list[str]:
    path = ingress / IMG
    path.unlink()
    os.mkfifo(path)
    return []


def replace_same_size(ingress: Path) -> list[str]:
    """Other bytes of the same size under a new inode, mtime kept: the identity still differs."""
    path = ingress / IMG
    status = path.stat()
    replacement = path.with_name("replacement.tmp")
    write_png(replacement, "RGB", (3, 3))
    os.utime(replacement, ns=(status.st_atime_ns, status.st_mtime_ns))
    path.unlink()
    replacement.rename(path)
    return [IMG]


CHANGES: list[Callable[[Path], list[str]]] = [
    rewrite_frame,
    touch_frame,
    add_frame,
    remove_frame,
    rename_asset,
    replace_with_link,
    replace_with_fifo,
    replace_same_size,
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.__name__)
def test_changed_files_alone_are_read(
    project: Project, tmp_path: Path, change: Callable[[Path], list[str]]
) -> None:
    expected = change(project.ingress)
    table, reads = project.update()
    assert project.reads() == sorted(expected)
    assert reads.read == len(expected)
    assert_same_as_full(project, table, tmp_path)


def test_a_changed_spec_rereads_its_own_files_only(project: Project, tmp_path: Path) -> None:
    project.spec("Img001", "FileSpecification", FILE, minimum=5)  # a rule changed, same traits
    table, reads = project.update()
    assert project.reads() == [IMG]
    assert reads == Reads(read=1, reused=5)
    assert_same_as_full(project, table, tmp_path)
    assert table.loc[table["filepath_relative"] == IMG, "width"].tolist() == [3]


def test_another_product_version_rereads_everything(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_index, "code_version", lambda: "another release")
    table, _ = project.update()
    assert len(project.reads()) == 6
    assert_same_as_full(project, table, tmp_path)


def test_a_damaged_index_costs_a_full_read_never_a_wrong_row(
    project: Project, tmp_path: Path
) -> None:
    project.index_path.write_bytes(b"PAR1 not a parquet file")
    index, why = read_index(project.index_path, spec_versions(project.specs()))
    assert why is not None and str(project.index_path) in why
    assert index.rows.empty
    table, _ = project.update()
    assert len(project.reads()) == 6
    assert_same_as_full(project, table, tmp_path)


def test_an_index_of_another_ingress_is_not_used(project: Project, tmp_path: Path) -> None:
    """The same relative paths under another ingress are other files."""
    moved = tmp_path / "elsewhere"
    shutil.copytree(project.ingress, moved, copy_function=os.link)  # same inodes, sizes, times
    specs = project.specs()
    index, _ = read_index(project.index_path, spec_versions(specs))
    table, reads = update_file_table(moved, specs, index=index)
    assert reads.reused == 0
    assert (table["filepath"].dropna().str.startswith(str(moved))).all()


def test_an_index_of_an_unknown_spec_version_is_not_used(project: Project) -> None:
    specs = project.specs()
    index, _ = read_index(project.index_path, spec_versions(specs))
    stale = FileIndex(index.rows, dict.fromkeys(specs, "0000000000000000"))
    _, reads = update_file_table(project.ingress, specs, index=stale)
    assert reads == Reads(read=6, reused=0)


def test_the_code_version_covers_the_readers_and_not_the_staging() -> None:
    """Every module that parses names or reads files is in the digest; staging code is not,
    so changing how files are staged never costs a re-read."""
    modules = file_index.imported_core_modules("file_table")
    readers = {"naming", "specification", "traits", "pillow_headers", "oiio_headers"}
    assert readers | {"video_headers", "scan", "identity", "file_table"} <= modules
    assert not {"staging", "layout", "metadata", "manifest", "config"} & modules


def test_a_file_whose_traits_failed_is_read_again(project: Project, tmp_path: Path) -> None:
    """A failure may have a cause outside the file (permissions, a flaky mount): retried."""
    broken = project.ingress / SEQ / "p-proj001_s-seq001_d-run_v001_f0005.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    for _ in range(2):
        table, reads = project.update()
        assert project.reads() == [f"{SEQ}/p-proj001_s-seq001_d-run_v001_f0005.png"]
        assert reads == Reads(read=1, reused=5)
    row = table.set_index("filepath_relative").loc[str(broken.relative_to(project.ingress))]
    assert "width" in str(row["file_error"])
    assert_same_as_full(project, table, tmp_path)
