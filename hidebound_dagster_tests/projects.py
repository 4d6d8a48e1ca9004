"""Projects for the Dagster-level tests: a copy of the bundled example with a config of its
own, the code location built from that config, and helpers to read what a run left."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from hidebound_dagster.definitions import build_defs
from hidebound_dagster.location import CONFIG_FILE_VARIABLE, load_location
from hidebound_dagster_tests.conftest import EXAMPLE_INGRESS, EXAMPLE_SPECS

VALID_ASSETS = [
    "cat001/img001/p-cat001_s-img001_d-calico-portrait_v001.png",
    "cat001/plt001/p-cat001_s-plt001_d-bg_v001",
    "cat001/raw001/p-cat001_s-raw001_d-calico-jumping_v001",
    "cat001/raw001/p-cat001_s-raw001_d-tabby-playing_v002",
    "cat001/rev001/p-cat001_s-rev001_d-dailies_v001.mp4",
    "cat001/rev001/p-cat001_s-rev001_d-edit_v001.mov",
    "cat001/rnd001/p-cat001_s-rnd001_d-beauty_v001",
    "cat001/scn001/p-cat001_s-scn001_d-neg_v001",
    "cat001/tex001/p-cat001_s-tex001_d-fur_v001",
    "cat001/txr001/p-cat001_s-txr001_d-rock_v001",
]


def files_of(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def valid_example_files() -> dict[str, bytes]:
    """The 28 files of the 10 valid example assets."""
    return {
        path: data
        for path, data in files_of(EXAMPLE_INGRESS).items()
        if any(path == a or path.startswith(a + "/") for a in VALID_ASSETS)
    }


def make_project(root: Path, write_mode: str = "copy", extra: str = "") -> dict[str, Path]:
    """A copy of examples/ingress and specs/ with a config file naming them; move mode exports
    to `exported/` (it must export before it may delete)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLE_INGRESS, root / "ingress")
    shutil.copytree(EXAMPLE_SPECS, root / "specs")
    config = root / "hidebound.yaml"
    exporters = "exporters: [{name: disk, target_directory: exported}]\n"
    config.write_text(
        "ingress_directory: ingress\n"
        "staging_directory: hidebound\n"
        "specification_files: [specs]\n"
        f"write_mode: {write_mode}\n"
        "workflow: [delete, update, create, export]\n"
        + (exporters if write_mode == "move" else "")
        + extra
    )
    return {
        "root": root,
        "ingress": root / "ingress",
        "staging": root / "hidebound",
        "config": config,
        "exported": root / "exported",
    }


DAGSTER = Path(sys.executable).with_name("dagster")
BUNDLED_LOCATION = ("-m", "hidebound_dagster.definitions")


def job_execute_command(
    job: str, *options: str, location: Sequence[str] = BUNDLED_LOCATION
) -> list[str]:
    """`dagster job execute` of one job of a code location, as a user types it."""
    return [str(DAGSTER), "job", "execute", *location, "-j", job, *options]


def job_env(home: Path, config: Path | None) -> dict[str, str]:
    """A user's environment for a run: its own DAGSTER_HOME and HIDEBOUND_CONFIG_FILEPATH
    (unset when `config` is None)."""
    env = {key: value for key, value in os.environ.items() if key != CONFIG_FILE_VARIABLE}
    env["DAGSTER_HOME"] = str(home)
    if config is not None:
        env[CONFIG_FILE_VARIABLE] = str(config)
    return env


def job_execute(
    job: str,
    home: Path,
    config: Path | None,
    *options: str,
    cwd: Path,
    location: Sequence[str] = BUNDLED_LOCATION,
) -> subprocess.CompletedProcess[str]:
    """Run `dagster job execute` to its end, output captured."""
    return subprocess.run(
        job_execute_command(job, *options, location=location),
        cwd=cwd,
        env=job_env(home, config),
        capture_output=True,
        text=True,
        timeout=300,
    )


def defs_for(project: dict[str, Path]) -> dg.Definitions:
    """The code location of a project's config."""
    return build_defs(load_location(project["config"]))


def step_failures(result) -> list[str]:
    """Each failed step's message: a Failure's description, else the error and its causes."""
    messages = []
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        data = event.step_failure_data
        if data.user_failure_data:
            messages.append(data.user_failure_data.description)
            continue
        error, chain = data.error, []
        while error is not None:
            chain.append(error.message.strip())
            error = error.cause
        messages.append(" <- ".join(chain))
    return messages
