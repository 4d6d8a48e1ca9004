"""The console logger: a Failure's description without a stack trace, an unexpected error
with its stack trace, the run outcome always, and no line per skipped step at INFO."""

import dagster as dg
import pytest

from hidebound_dagster.console import CONSOLE_RUN_CONFIG, console_logger


@dg.asset
def refused() -> None:
    raise dg.Failure(description="refused:\n- first reason\n- second reason")


@dg.asset
def broken() -> None:
    raise ZeroDivisionError("an unexpected error")


@dg.asset(deps=[refused])
def downstream() -> None:
    pass


@dg.asset
def fine(context: dg.AssetExecutionContext) -> None:
    context.log.debug("a debug line")
    context.log.info("an info line")


def run(assets: list, capfd: pytest.CaptureFixture[str], level: str = "INFO") -> str:
    config = {"loggers": {"console": {"config": {"log_level": level}}}}
    job = dg.define_asset_job("job", config=config)
    defs = dg.Definitions(assets=assets, jobs=[job], loggers={"console": console_logger})
    defs.resolve_job_def("job").execute_in_process(raise_on_error=False)
    return capfd.readouterr().err


def test_a_failure_shows_its_description_once_without_a_stack_trace(capfd) -> None:
    err = run([refused, downstream], capfd)
    assert err.count("refused:\n- first reason\n- second reason\n") == 1
    assert 'STEP_FAILURE - Execution of step "refused" failed.\nrefused:' in err
    assert "RUN_FAILURE" in err
    for noise in ("Stack Trace", 'File "', "Not executing", "STEP_START"):
        assert noise not in err, noise


def test_an_unexpected_error_keeps_its_stack_trace(capfd) -> None:
    err = run([broken], capfd)
    assert "ZeroDivisionError: an unexpected error" in err
    assert "Stack Trace" in err and 'File "' in err


def test_the_level_chooses_the_lines_but_the_outcome_is_always_shown(capfd) -> None:
    info = run([fine], capfd)
    assert "an info line" in info and "a debug line" not in info and "RUN_SUCCESS" in info
    debug = run([fine], capfd, "DEBUG")
    assert "a debug line" in debug and "STEP_START" in debug


def test_skipped_steps_are_listed_at_debug(capfd) -> None:
    assert "Not executing" in run([refused, downstream], capfd, "DEBUG")


def test_every_job_of_the_location_uses_it() -> None:
    from hidebound_dagster.definitions import build_defs
    from hidebound_dagster.location import load_location

    defs = build_defs(load_location())
    names = [job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")]
    assert set(names) >= {"workflow", "workflow_on_dask", "update", "create", "export", "search"}
    for name in set(names) - {"workflow_on_dask"}:  # its executor's config has no default
        job = defs.resolve_job_def(name)
        assert job.loggers == {"console": console_logger}, name
        assert job.run_config == CONSOLE_RUN_CONFIG, name
