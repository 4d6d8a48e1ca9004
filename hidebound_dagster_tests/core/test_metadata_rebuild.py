"""The rebuild's metadata (describe_rebuild) is written a batch of whole assets at a time and is
byte-for-byte what the all-at-once writer wrote: the digests below were taken from its output
(commit e71df91) for the same staged table, with the staging and ingress paths masked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hidebound_dagster.core import metadata
from hidebound_dagster.core.metadata import describe_rebuild, write_batches
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.staging import stage_rebuild
from hidebound_dagster_tests.core.move_worker import SPECS, update
from hidebound_dagster_tests.core.test_metadata import make_ingress

#: sha256 of the masked file chunk and asset chunk, as the all-at-once writer wrote them.
PINNED = {
    "contiguous": {
        "file": "b314fc10b8f722a9a3e495758a64a1784c1e4323d36037915f1fa2df4d5e9f75",
        "asset": "704c5022ad74a283222d56d7ad65e489aa5f5d9002a538a9b85b35a5cb8e40ea",
    },
    "interleaved": {
        "file": "1a331e10147ff96722b388feb08f766735dac76b9089c11a3e7291e4e11c6c9b",
        "asset": "5f7f8025989fa3b0cfb6eda9f9449e4b69fd16b4ae12aea59de75892f0ca8cda",
    },
}


@pytest.fixture
def specs() -> dict:
    return load_specifications([SPECS])


@pytest.fixture
def ingress(tmp_path: Path) -> Path:
    return make_ingress(tmp_path / "ingress")


@pytest.fixture
def staged(ingress: Path, staging: Path, specs: dict) -> pd.DataFrame:
    """The staged table of a copy-mode rebuild (12 files: one file asset, a sequence of 3, a
    complex of 8), with fixed sizes and checksums so the pinned bytes do not depend on how the
    image library encodes the ingress files."""
    files = stage_rebuild(update(ingress, specs)["valid"], ingress, staging, "copy").files
    return files.assign(
        size=pd.array(range(1000, 1000 + len(files)), dtype="Int64"),
        sha256=[hashlib.sha256(str(n).encode()).hexdigest() for n in range(len(files))],
    )


def interleaved(staged: pd.DataFrame) -> pd.DataFrame:
    """The same files in an order where the files of an asset are not together."""
    return staged.iloc[np.argsort(np.arange(len(staged)) % 3, kind="stable")]


def tree(staging: Path) -> dict[str, bytes]:
    """Every file under metadata/, by path."""
    root = staging / "metadata"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def masked(data: bytes, staging: Path, ingress: Path) -> bytes:
    return data.replace(str(staging).encode(), b"<staging>").replace(
        str(ingress).encode(), b"<ingress>"
    )


def chunk_digests(staging: Path, ingress: Path) -> dict[str, str]:
    """sha256 of each masked chunk."""
    chunks = {}
    for kind in ("file", "asset"):
        (path,) = (staging / "metadata" / f"{kind}-chunk").iterdir()
        chunks[kind] = hashlib.sha256(masked(path.read_bytes(), staging, ingress)).hexdigest()
    return chunks


def chunk_lines(staging: Path, kind: str) -> list[bytes]:
    (path,) = (staging / "metadata" / f"{kind}-chunk").iterdir()
    data = path.read_bytes()
    assert data.startswith(b"[\n") and data.endswith(b"\n]")
    return data[2:-2].split(b",\n")


@pytest.mark.parametrize("order", ["contiguous", "interleaved"])
@pytest.mark.parametrize("batch_rows", [1, 5, 20_000])
def test_the_rebuilt_metadata_is_the_pinned_bytes_in_any_batch_size(
    staged: pd.DataFrame, staging: Path, ingress: Path, specs: dict, order: str, batch_rows: int
) -> None:
    """Both chunks match the pinned digests, and every file and asset JSON is byte-for-byte
    its line in its chunk, named by its id."""
    table = staged if order == "contiguous" else interleaved(staged)
    described = describe_rebuild(staging, table, specs, batch_rows)
    assert (described.files, described.assets) == (12, 3)
    assert chunk_digests(staging, ingress) == PINNED[order]
    files = tree(staging)
    for kind, count in (("file", 12), ("asset", 3)):
        lines = chunk_lines(staging, kind)
        assert len(lines) == count
        records = {name: data for name, data in files.items() if name.startswith(f"{kind}/")}
        ids = [json.loads(line)[f"{kind}_id"] for line in lines]
        assert sorted(records) == sorted(f"{kind}/{i}.json" for i in ids)
        assert [records[f"{kind}/{i}.json"] for i in ids] == lines


def test_small_batches_write_the_same_bytes_as_one_batch(
    staged: pd.DataFrame, staging: Path, specs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a batch of 1 row, each asset is made on its own (3 batches of 1, 3 and 8 files),
    and every metadata file, chunk names included, is what one batch writes."""
    made: list[int] = []
    records_of = metadata.records_of

    def counted(files: pd.DataFrame, *args: Any) -> Any:
        made.append(len(files))
        return records_of(files, *args)

    monkeypatch.setattr(metadata, "records_of", counted)
    describe_rebuild(staging, staged, specs, batch_rows=1)
    batched = tree(staging)
    assert made == [1, 3, 8]
    made.clear()
    describe_rebuild(staging, staged, specs)
    assert made == [12]
    assert tree(staging) == batched
    describe_rebuild(staging, interleaved(staged), specs, batch_rows=1)
    assert made == [12, 12]  # an asset split across the table is never split across batches


def test_a_write_failing_between_batches_keeps_the_old_metadata_and_leaves_nothing_behind(
    staged: pd.DataFrame, staging: Path, specs: dict
) -> None:
    describe_rebuild(staging, staged, specs)
    before = tree(staging)
    listing = sorted(p.name for p in staging.iterdir())

    def batches() -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        yield metadata.records_of(staged.iloc[:1], specs, staging)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_batches(staging, batches())
    assert tree(staging) == before
    assert sorted(p.name for p in staging.iterdir()) == listing
