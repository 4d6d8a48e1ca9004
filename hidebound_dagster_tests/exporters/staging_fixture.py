"""Build staging trees in the layout the create stage writes, for exporter tests and benchmarks.

<root>/content/<filepath_relative>, <root>/metadata/{file,asset}/<id>.json and one
<root>/metadata/{file,asset}-chunk/hidebound-{file,asset}-chunk_<time>.json each.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

NAMESPACE = uuid.UUID("5b0e3f38-6a52-4ad4-9a3c-0d1e8c7f2a11")
CHUNK_TIME = "2026-11-26T06-00-00"
INGRESS = "/mnt/ingress"
METADATA_KINDS = ("asset", "file", "asset-chunk", "file-chunk")


@dataclass
class Staging:
    """A staging tree on disk plus the metadata written into it."""

    root: Path
    files: list[dict] = field(default_factory=list)
    assets: list[dict] = field(default_factory=list)

    def content(self) -> dict[str, bytes]:
        """filepath_relative -> bytes of every staged file."""
        content = self.root / "content"
        return {
            f["filepath_relative"]: (content / f["filepath_relative"]).read_bytes()
            for f in self.files
        }

    def metadata_files(self, kind: str) -> list[Path]:
        return sorted((self.root / "metadata" / kind).glob("*.json"))

    def expected(self, metadata_types=METADATA_KINDS) -> dict[str, bytes]:
        """Staging-relative POSIX path -> bytes, for everything an exporter should send."""
        sent = {f"content/{path}": data for path, data in self.content().items()}
        for kind in metadata_types:
            for path in self.metadata_files(kind):
                sent[f"metadata/{kind}/{path.name}"] = path.read_bytes()
        return sent


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _file_record(
    root: Path, relative: str, asset_relative: str, asset_type: str, traits: dict, data: bytes
) -> dict:
    rel = PurePosixPath(relative)
    asset_name = PurePosixPath(asset_relative).name
    if asset_type == "file":
        asset_name = PurePosixPath(asset_relative).stem
    return {
        "asset_id": str(uuid.uuid5(NAMESPACE, asset_relative)),
        "asset_path": str(root / "content" / asset_relative),
        "asset_path_relative": asset_relative,
        "asset_name": asset_name,
        "asset_type": asset_type,
        "file_id": str(uuid.uuid5(NAMESPACE, relative)),
        "file_traits": traits,
        "filename": rel.name,
        "filepath": str(root / "content" / relative),
        "filepath_relative": relative,
        "ingress_filepath": f"{INGRESS}/{relative}",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _asset_record(files: list[dict]) -> dict:
    first = files[0]
    trait_names = list(dict.fromkeys(name for f in files for name in f["file_traits"]))
    return {
        "asset_id": first["asset_id"],
        "asset_path": first["asset_path"],
        "asset_path_relative": first["asset_path_relative"],
        "asset_name": first["asset_name"],
        "asset_traits": {name: [f["file_traits"].get(name) for f in files] for name in trait_names},
        "asset_type": first["asset_type"],
        "file_ids": [f["file_id"] for f in files],
        "filenames": [f["filename"] for f in files],
        "filepaths": [f["filepath"] for f in files],
        "filepaths_relative": [f["filepath_relative"] for f in files],
        "ingress_filepaths": [f["ingress_filepath"] for f in files],
        "sizes": [f["size"] for f in files],
        "sha256s": [f["sha256"] for f in files],
    }


def _traits(project: str, spec: str, descriptor: str, extension: str, frame: int | None) -> dict:
    return {
        "project": project,
        "specification": spec,
        "descriptor": descriptor,
        "version": 1,
        "frame": frame,
        "extension": extension,
        "width": 4 if frame else None,
    }


def _layout(sequences: int, frames: int, file_asset: bool, root_file: bool, size: int, large: int):
    """(asset_relative, asset_type, [(filepath_relative, traits, nbytes)]) for every asset."""
    for index in range(sequences):
        descriptor = f"pizza{index}"
        name = f"p-proj001_s-spec001_d-{descriptor}_v001"
        asset = f"proj001/spec001/{descriptor}/{name}"
        yield (
            asset,
            "sequence",
            [
                (
                    f"{asset}/{name}_f{frame:04d}.png",
                    _traits("proj001", "spec001", descriptor, "png", frame),
                    size,
                )
                for frame in range(1, frames + 1)
            ],
        )
    if file_asset:
        relative = "proj002/vdb001/p-proj002_s-vdb001_d-bagel_v001.vdb"
        traits = _traits("proj002", "vdb001", "bagel", "vdb", None)
        yield relative, "file", [(relative, traits, large or size)]
    if root_file:
        relative = "p-proj003_s-raw001_d-taco_v001.txt"
        traits = _traits("proj003", "raw001", "taco", "txt", None)
        yield relative, "file", [(relative, traits, size)]


def build_staging(
    root: Path,
    sequences: int = 2,
    frames: int = 3,
    file_asset: bool = True,
    root_file: bool = True,
    size: int = 256,
    large: int = 0,
    seed: int = 0,
) -> Staging:
    """Write a staging tree: `sequences` assets of `frames` files, a file asset, a root file.

    Files hold about `size` random bytes; the file asset holds `large` bytes when given.
    """
    rng = random.Random(seed)
    staging = Staging(Path(root))
    for asset, asset_type, members in _layout(
        sequences, frames, file_asset, root_file, size, large
    ):
        records = []
        for relative, traits, nbytes in members:
            data = rng.randbytes(nbytes + rng.randrange(16))
            _write(staging.root / "content" / relative, data)
            records.append(_file_record(staging.root, relative, asset, asset_type, traits, data))
        staging.files += records
        staging.assets.append(_asset_record(records))
    write_metadata(staging)
    return staging


def write_metadata(staging: Staging) -> None:
    """Write the per-file, per-asset and chunk JSON files of `staging`."""
    meta = staging.root / "metadata"
    for kind in METADATA_KINDS:
        (meta / kind).mkdir(parents=True, exist_ok=True)
    for record in staging.files:
        _write(meta / "file" / f"{record['file_id']}.json", json.dumps(record).encode())
    for record in staging.assets:
        _write(meta / "asset" / f"{record['asset_id']}.json", json.dumps(record).encode())
    if staging.files:
        for kind, records in (("file", staging.files), ("asset", staging.assets)):
            chunk = meta / f"{kind}-chunk" / f"hidebound-{kind}-chunk_{CHUNK_TIME}.json"
            _write(chunk, json.dumps(records).encode())


def build_empty_staging(root: Path) -> Staging:
    """Staging after a create with zero valid assets: empty metadata directories, no content."""
    staging = Staging(Path(root))
    write_metadata(staging)
    return staging


def read_tree(root: Path) -> dict[str, bytes]:
    """POSIX path relative to `root` -> bytes, for every file below `root`."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(Path(root).rglob("*"))
        if path.is_file()
    }
