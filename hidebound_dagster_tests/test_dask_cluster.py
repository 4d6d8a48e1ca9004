"""Trait reading really runs on the configured Dask cluster: an external scheduler with two
worker processes, a local cluster of processes or threads, and through Dagster."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import psutil
import pytest
import yaml
from distributed import Client

from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.assets.update import update_assets
from hidebound_dagster.core import file_index
from hidebound_dagster.core.cluster import dask_mapper
from hidebound_dagster.core.config import DaskConfig
from hidebound_dagster.core.file_table import build_file_table, update_file_table
from hidebound_dagster.core.schemas import FILE_TABLE, arrow_fields, trait_error_columns
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.tables import read_table, write_table
from hidebound_dagster.io_manager import ParquetIOManager
from hidebound_dagster.location import load_location
from hidebound_dagster.resources import DaskResource, HideboundResource
from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS
from hidebound_dagster_tests.images import write_png
from hidebound_dagster_tests.services import (
    LOOPBACK,
    binary,
    free_port,
    start,
    still_alive,
    stop,
    wait_port,
)
from hidebound_dagster_tests.where_specs import WHERE_COLUMNS, WHERE_SPECS

NUM_PARTITIONS = 16


@dataclass
class ExternalCluster:
    """`dask scheduler` and two `dask worker` processes on loopback, each in its own group."""

    root: Path
    port: int = field(default_factory=free_port)
    procs: list = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"tcp://{LOOPBACK}:{self.port}"

    def start(self) -> ExternalCluster:
        try:
            scheduler = [
                str(binary("dask")),
                "scheduler",
                "--host",
                LOOPBACK,
                "--port",
                str(self.port),
                "--no-dashboard",
            ]
            self.procs.append(start(scheduler, self.root / "scheduler.log"))
            wait_port(self.port, 60, self.procs[0])
            for index in range(2):
                worker = [
                    str(binary("dask")),
                    "worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    LOOPBACK,
                    "--name",
                    f"worker-{index}",
                    "--local-directory",
                    str(self.root / f"worker-{index}"),
                ]
                self.procs.append(start(worker, self.root / f"worker-{index}.log"))
            with Client(self.address, timeout=30) as client:
                client.wait_for_workers(2, timeout=60)
        except BaseException:
            self.stop()
            raise
        return self

    def worker_pids(self) -> dict[str, int]:
        """The process id of each worker (the process that runs tasks, under its nanny)."""
        with Client(self.address, timeout=30) as client:
            return client.run(os.getpid)

    def tree(self) -> set[int]:
        """Every process we started and all their descendants."""
        pids = set()
        for proc in self.procs:
            try:
                parent = psutil.Process(proc.pid)
                pids |= {parent.pid} | {child.pid for child in parent.children(recursive=True)}
            except psutil.NoSuchProcess:
                pass
        return pids

    def stop(self) -> None:
        for proc in reversed(self.procs):  # workers first, then the scheduler
            stop(proc)


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExternalCluster]:
    cluster = ExternalCluster(tmp_path_factory.mktemp("dask")).start()
    yield cluster
    tree = cluster.tree()
    cluster.stop()
    assert all(proc.poll() is not None for proc in cluster.procs)
    assert not still_alive(tree, timeout=15), f"leftover dask processes: {tree}"


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pid-specs") / "pid_specs.py"
    path.write_text(WHERE_SPECS)
    return path


@pytest.fixture
def ingress(tmp_path: Path) -> Path:
    root = tmp_path / "ingress"
    shutil.copytree(EXAMPLE_INGRESS, root)
    return root


def build(ingress: Path, spec_file: Path, config: DaskConfig) -> pd.DataFrame:
    with dask_mapper(config) as mapper:
        return build_file_table(
            ingress, load_specifications([spec_file]), mapper=mapper, chunks=NUM_PARTITIONS
        )


def reader_pids(table: pd.DataFrame) -> pd.Series:
    pids = table["pid"].dropna().astype(int)
    assert len(pids) >= 20  # every readable file of a known spec has a pid
    return pids


def same_but_pid(table: pd.DataFrame, reference: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        table.drop(columns=WHERE_COLUMNS), reference.drop(columns=WHERE_COLUMNS)
    )


#: Builds the file table in a process of its own (a LocalCluster of processes needs a
#: `__main__` guard), so a hang can be ended with its whole process group.
RUNNER = """
import json, os, sys
from pathlib import Path

from hidebound_dagster.core.cluster import dask_mapper
from hidebound_dagster.core.config import DaskConfig
from hidebound_dagster.core.file_table import build_file_table
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.tables import write_table

if __name__ == "__main__":
    ingress, spec_file, config, out, chunks = sys.argv[1:]
    with dask_mapper(DaskConfig(**json.loads(config))) as mapper:
        table = build_file_table(Path(ingress), load_specifications([Path(spec_file)]),
                                 mapper=mapper, chunks=int(chunks))
    write_table(table, Path(out))
    print(json.dumps({"pid": os.getpid()}))
"""


def build_in_subprocess(
    ingress: Path, spec_file: Path, config: dict, tmp_path: Path, timeout: float = 90
) -> tuple[pd.DataFrame, int]:
    """The file table built by a separate Python process with this Dask config, and its pid."""
    script, out, log = tmp_path / "runner.py", tmp_path / "table.parquet", tmp_path / "runner.log"
    script.write_text(RUNNER)
    cmd = [
        sys.executable,
        str(script),
        str(ingress),
        str(spec_file),
        json.dumps(config),
        str(out),
        str(NUM_PARTITIONS),
    ]
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            cmd,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop(proc)
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"building the file table hung for {timeout} s:\n{tail}")
    output = log.read_text(errors="replace")
    assert proc.returncode == 0, output[-3000:]
    return read_table(out), json.loads(output.strip().splitlines()[-1])["pid"]


@pytest.fixture
def threaded(ingress: Path, spec_file: Path) -> pd.DataFrame:
    table = build(ingress, spec_file, DaskConfig(cluster_type="threads", local_num_workers=4))
    assert set(reader_pids(table)) == {os.getpid()}
    return table


def test_traits_run_on_the_external_workers(
    external: ExternalCluster, ingress: Path, spec_file: Path, threaded: pd.DataFrame
) -> None:
    workers = external.worker_pids()
    assert len(set(workers.values())) == 2
    started = {proc.pid for proc in external.procs[1:]}
    for pid in workers.values():  # each worker runs under one of the `dask worker` we started
        assert {p.pid for p in psutil.Process(pid).parents()} & started

    config = DaskConfig(cluster_type="distributed", scheduler_address=external.address)
    table = build(ingress, spec_file, config)
    pids = reader_pids(table)
    assert set(pids) == set(workers.values())  # both workers read files, nobody else did
    assert os.getpid() not in set(pids)
    assert table["width"].notna().sum() >= 20
    same_but_pid(table, threaded)


def test_traits_run_on_a_local_cluster_of_processes(
    ingress: Path, spec_file: Path, threaded: pd.DataFrame, tmp_path: Path
) -> None:
    config = {"cluster_type": "local", "local_num_workers": 2, "local_multiprocessing": True}
    table, runner_pid = build_in_subprocess(ingress, spec_file, config, tmp_path)
    pids = set(reader_pids(table))
    assert len(pids) == 2
    assert not pids & {os.getpid(), runner_pid}
    write_table(threaded, tmp_path / "threaded.parquet")  # compare like with like: via Parquet
    same_but_pid(table, read_table(tmp_path / "threaded.parquet"))
    assert not still_alive(pids, timeout=15), "local cluster worker processes outlived the mapper"


def test_traits_run_on_a_local_cluster_of_threads(
    ingress: Path, spec_file: Path, threaded: pd.DataFrame
) -> None:
    config = DaskConfig(cluster_type="local", local_num_workers=2, local_multiprocessing=False)
    table = build(ingress, spec_file, config)
    assert set(reader_pids(table)) == {os.getpid()}
    same_but_pid(table, threaded)


def test_file_table_asset_runs_on_the_external_cluster(
    external: ExternalCluster,
    ingress: Path,
    spec_file: Path,
    tmp_path: Path,
    threaded: pd.DataFrame,
) -> None:
    (tmp_path / "staging").mkdir()
    config = tmp_path / "hidebound.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "ingress_directory": str(ingress),
                "staging_directory": str(tmp_path / "staging" / "hidebound"),
                "specification_files": [str(spec_file)],
                "dask": {"cluster_type": "threads", "num_partitions": NUM_PARTITIONS},
            }
        )
    )
    tables = tmp_path / "tables"
    location = load_location(config)
    file_table = update_assets(Keys([]))[0]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [file_table],
            instance=instance,
            resources={
                "hidebound": HideboundResource(location=location),
                "dask": DaskResource(scheduler_address=external.address),
                "io_manager": ParquetIOManager(base_dir=str(tables)),
            },
        )
    assert result.success
    table = read_table(tables / "file_table.parquet")
    pids = reader_pids(table)
    assert set(pids) == set(external.worker_pids().values())
    assert os.getpid() not in set(pids)
    # written the way the IO manager writes the file table, so both sides have its types
    write_table(threaded, tmp_path / "threaded.parquet", arrow_fields(threaded, FILE_TABLE))
    same_but_pid(table, read_table(tmp_path / "threaded.parquet"))


def test_a_worker_with_another_config_refuses_the_step(
    external: ExternalCluster, tmp_path: Path
) -> None:
    """The workers load the code location from their own environment (here: no
    HIDEBOUND_CONFIG_FILEPATH, so the bundled example). A step sent to them by a run of another
    config fails, saying so, and no staging directory is touched: neither the run's nor the
    one the worker's config names."""
    from hidebound_dagster.location import DEFAULT_CONFIG_FILE
    from hidebound_dagster_tests.projects import files_of, job_execute, make_project

    assert "HIDEBOUND_CONFIG_FILEPATH" not in os.environ  # what the workers inherited
    bundled_staging = DEFAULT_CONFIG_FILE.parent / "examples" / "hidebound"
    before = files_of(bundled_staging)
    project = make_project(tmp_path / "project")
    home = tmp_path / "home"
    home.mkdir()
    run_config = tmp_path / "run_config.yaml"
    cluster = {"existing": {"address": external.address}}
    run_config.write_text(yaml.safe_dump({"execution": {"config": {"cluster": cluster}}}))
    done = job_execute(
        "workflow_on_dask", home, project["config"], "-c", str(run_config), cwd=tmp_path
    )
    assert done.returncode != 0
    assert "This run was launched with another config (digest " in done.stderr, done.stderr[-3000:]
    assert f"than the one this process loaded from {DEFAULT_CONFIG_FILE}" in done.stderr
    assert not project["staging"].exists()
    assert files_of(bundled_staging) == before


def test_a_location_that_names_its_config_runs_on_workers_of_any_environment(
    external: ExternalCluster, tmp_path: Path
) -> None:
    """A code location made with definitions_for(config_file) loads that config wherever it is
    loaded, so its steps run on the workers with the run's config though their environment
    names none."""
    from hidebound_dagster_tests.projects import (
        files_of,
        job_execute,
        make_project,
        valid_example_files,
    )

    assert "HIDEBOUND_CONFIG_FILEPATH" not in os.environ  # what the workers inherited
    project = make_project(tmp_path / "project")
    location = tmp_path / "studio.py"
    location.write_text(
        "from hidebound_dagster.definitions import definitions_for\n\n"
        f"defs = definitions_for({str(project['config'])!r})\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    run_config = tmp_path / "run_config.yaml"
    cluster = {"existing": {"address": external.address}}
    run_config.write_text(yaml.safe_dump({"execution": {"config": {"cluster": cluster}}}))
    done = job_execute(
        "workflow_on_dask",
        home,
        None,  # the run's process, like the workers, names no config
        "-c",
        str(run_config),
        cwd=tmp_path,
        location=("-f", str(location)),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert files_of(project["staging"] / "content") == valid_example_files()


def test_an_incremental_update_on_the_external_workers_reads_only_changed_files(
    external: ExternalCluster,
    ingress: Path,
    spec_file: Path,
    tmp_path: Path,
) -> None:
    """The index lives with the step (scheduler side); only the changed files go to the
    workers, and the rows of the others keep the pid of the run that read them."""
    specs = load_specifications([spec_file])
    config = DaskConfig(cluster_type="distributed", scheduler_address=external.address)
    index_file = tmp_path / "file_index.parquet"
    with dask_mapper(config) as mapper:
        first, _ = update_file_table(ingress, specs, mapper=mapper, chunks=NUM_PARTITIONS)
    file_index.write_index(index_file, first, file_index.spec_versions(specs))
    changed = sorted(str(p.relative_to(ingress)) for p in ingress.rglob("*raw001*_f000[12].png"))
    assert len(changed) >= 2
    for path in changed:
        write_png(ingress / path, "RGB", (4, 4))

    index, _ = file_index.read_index(index_file, file_index.spec_versions(specs))
    with dask_mapper(config) as mapper:
        second, reads = update_file_table(
            ingress, specs, mapper=mapper, chunks=NUM_PARTITIONS, index=index
        )
    failed = first[trait_error_columns(first.columns)].notna().any(axis=1)  # read every time
    retried = sorted(first.loc[failed, "filepath_relative"])
    assert reads.read == len(changed) + len(retried)
    pids = second.set_index("filepath_relative")["pid"]
    before = first.set_index("filepath_relative")["pid"]
    read_now = sorted(set(changed) | set(retried))
    assert set(pids[read_now].dropna().astype(int)) <= set(external.worker_pids().values())
    kept = pids.index.difference(read_now)
    assert pids[kept].equals(before[kept])  # not read again: the first run's readers
    full = build(ingress, spec_file, DaskConfig(cluster_type="threads"))  # after the change
    for name, table in (("full", full), ("second", second)):
        write_table(table, tmp_path / f"{name}.parquet", arrow_fields(table, FILE_TABLE))
    same_but_pid(read_table(tmp_path / "second.parquet"), read_table(tmp_path / "full.parquet"))
