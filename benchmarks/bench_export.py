"""Benchmark the disk and S3 exporters against a plain-copy floor on the very same files.

    .venv/bin/python benchmarks/bench_export.py --files 2000

Builds a staging of N small files, starts `rclone serve s3` on loopback, and prints files/s and
MB/s per exporter beside its floor (disk: shutil.copyfile; S3: boto3 upload_file), both with the
same thread count, and the ratio of their times (target: exporter/floor <= 1.5 at N=10,000).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import boto3
from botocore.config import Config

from hidebound_dagster.core.config import S3ExporterConfig
from hidebound_dagster.core.parallel import thread_mapper
from hidebound_dagster.exporters.base import DEFAULT_CONCURRENCY
from hidebound_dagster.exporters.disk import DiskExporter
from hidebound_dagster.s3_exporter_resource import S3ExporterResource
from hidebound_dagster_tests.exporters.staging_fixture import build_staging
from hidebound_dagster_tests.services import S3Server

REGION = "us-east-1"


def timed(work: Callable[[], object]) -> float:
    """Seconds `work` takes, starting with no dirty pages left by the previous run."""
    os.sync()
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def in_threads(func: Callable[[str], object], relatives: list[str], workers: int) -> None:
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(func, relatives))


def floor_disk(staging: Path, target: Path, relatives: list[str], workers: int) -> None:
    """Plain shutil.copyfile of the same files, directories made beforehand."""
    for parent in {(target / relative).parent for relative in relatives}:
        parent.mkdir(parents=True, exist_ok=True)
    in_threads(lambda rel: shutil.copyfile(staging / rel, target / rel), relatives, workers)


def floor_s3(
    server: S3Server, staging: Path, bucket: str, relatives: list[str], workers: int
) -> None:
    """Plain boto3 upload_file of the same files to the same key layout."""
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(max_pool_connections=workers, s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=bucket)
    in_threads(
        lambda rel: client.upload_file(str(staging / rel), bucket, f"hidebound/{rel}"),
        relatives,
        workers,
    )


def row(label: str, seconds: float, files: int, nbytes: int) -> str:
    return (
        f"{label:<14} {seconds:8.2f} s {files / seconds:10.0f} files/s "
        f"{nbytes / seconds / 1e6:8.2f} MB/s"
    )


def compare(
    name: str,
    exporter_run: Callable[[int], object],
    floor_run: Callable[[int], object],
    files: int,
    nbytes: int,
    rounds: int,
) -> float:
    """Alternate which runs first (fresh targets each time); print the best of each, the ratio
    of the bests and each round's own ratio (a busy machine shows up as scatter there)."""
    floors, exports = [], []
    for index in range(rounds):
        for run in (floor_run, exporter_run)[:: 1 if index % 2 == 0 else -1]:
            seconds = timed(lambda run=run, index=index: run(index))
            (floors if run is floor_run else exports).append(seconds)
    ratio = min(exports) / min(floors)
    print(row(f"{name} floor", min(floors), files, nbytes))
    print(row(f"{name} exporter", min(exports), files, nbytes))
    rounds_text = ", ".join(f"{e / f:.2f}" for e, f in zip(exports, floors, strict=True))
    print(
        f"{name} ratio exporter/floor: {ratio:.2f} {'(ok)' if ratio <= 1.5 else '(> 1.5)'}; "
        f"per round: {rounds_text}"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="content files to stage")
    parser.add_argument("--size", type=int, default=4096, help="approximate bytes per file")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each; the best counts")
    parser.add_argument("--skip-s3", action="store_true", help="benchmark the disk only")
    parser.add_argument(
        "--tmp-dir",
        default=None,
        help="where staging and targets go (default: the system temp dir)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hidebound-bench-", dir=args.tmp_dir) as tmp:
        root = Path(tmp)
        sequences = max(1, args.files // 100)
        staging = build_staging(
            root / "staging",
            sequences=sequences,
            frames=max(1, args.files // sequences),
            size=args.size,
        )
        relatives = sorted(staging.expected())  # everything an export sends: content + metadata
        nbytes = sum((staging.root / rel).stat().st_size for rel in relatives)
        print(
            f"{len(staging.files)} content files, {len(relatives)} files sent in all, "
            f"{nbytes / 1e6:.1f} MB, {args.concurrency} threads"
        )
        mapper = thread_mapper(args.concurrency)

        def disk_export(index: int) -> None:
            exporter = DiskExporter(root / f"disk-exporter-{index}")
            report = exporter.export(staging.root, mapper=mapper)
            assert report.sent == len(relatives), report

        def disk_floor(index: int) -> None:
            floor_disk(staging.root, root / f"disk-floor-{index}", relatives, args.concurrency)

        compare("disk", disk_export, disk_floor, len(relatives), nbytes, args.rounds)

        if args.skip_s3:
            return
        server = S3Server(root / "s3").start()
        try:

            def s3_export(index: int) -> None:
                entry = S3ExporterConfig.model_validate(
                    {
                        "name": "s3",
                        "bucket": f"bench-exporter-{index}",
                        "region": REGION,
                        "endpoint_url": server.endpoint_url,
                        "access_key": server.access_key,
                        "secret_key": server.secret_key,
                    }
                )
                exporter = S3ExporterResource().exporter(entry)
                report = exporter.export(staging.root, mapper=mapper)
                assert report.sent == len(relatives), report

            def s3_floor(index: int) -> None:
                floor_s3(server, staging.root, f"bench-floor-{index}", relatives, args.concurrency)

            compare("s3", s3_export, s3_floor, len(relatives), nbytes, args.rounds)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
