"""Command line: `hidebound-dagster search` over the last update's tables,
`hidebound-dagster config` to print the effective, redacted config, `hidebound-dagster report`
to open the last update's ingest report, and
`hidebound-dagster completion bash` for shell completion."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Heavy libraries (dagster, pandas, pandera, duckdb) are imported by the commands that need
# them, so `--help` and completion answer at once.
if TYPE_CHECKING:
    import pandas as pd

    from hidebound_dagster.core.config import HideboundConfig

COLUMNS_HELP = """\
`FROM data` is one row per file (--group-by file, the default): filepath_relative,
filename, asset_path, asset_name, asset_type, specification, extension, size, mtime_ns,
file_error (and its parts scan_error, filename_error, path_error, spec_error), link_target,
asset_valid, asset_error, file_id, asset_id; plus one column per name field and trait the
specifications read (project, descriptor, version, frame, coordinate_x, coordinate_y,
coordinate_z, width, height, channels, ...). With --group-by asset, one row per asset:
asset_path, asset_name, asset_type, specification, asset_valid, asset_error, file_count,
size, asset_id.

example: hidebound-dagster search --group-by asset
  'SELECT asset_path, asset_error FROM data WHERE NOT asset_valid'"""


def storage_directory() -> Path:
    """The storage directory of the instance in $DAGSTER_HOME, read from its dagster.yaml
    alone: opening the instance itself (its run and event storage) costs a second more. The
    InstanceRef is Dagster's private API, read here only (pinned by test_cli)."""
    from dagster._core.instance.ref import InstanceRef

    return Path(InstanceRef.from_dir(os.environ["DAGSTER_HOME"]).local_artifact_storage.storage_dir)


def loaded_config(args: argparse.Namespace) -> HideboundConfig | None:
    """The config the command names (or the environment does); None, with every problem
    printed, when it is invalid."""
    from hidebound_dagster.core.config import ConfigError
    from hidebound_dagster.location import load_location

    try:
        return load_location(args.config_file).require()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None


def default_tables_dir() -> Path | None:
    """Where the Parquet IO manager keeps tables for the instance in DAGSTER_HOME."""
    if not os.environ.get("DAGSTER_HOME"):
        return None
    from hidebound_dagster.core.layout import tables_directory

    return tables_directory(storage_directory())


def fitted(table: pd.DataFrame, width: int) -> str:
    """The table as text no wider than `width` where it can be: long cells are cut with '…',
    widest columns first; one line per row (multi-line errors joined as the UI shows them)."""
    shown = table.astype("string").fillna("").replace("\n", " · ", regex=True)
    limits = {
        column: max(len(column), int(shown[column].str.len().max() or 0))
        for column in shown.columns
    }
    while sum(limits.values()) + 2 * len(limits) > width:
        widest = max(limits, key=lambda column: limits[column])
        floor = max(len(widest), 8)
        if limits[widest] <= floor:
            break
        limits[widest] = max(floor, limits[widest] - 1)
    for column, limit in limits.items():
        too_long = shown[column].str.len() > limit
        shown.loc[too_long, column] = shown.loc[too_long, column].str[: limit - 1] + "…"
        shown[column] = shown[column].str.ljust(limit)
    header = "  ".join(column[:limit].ljust(limit) for column, limit in limits.items())
    rows = shown.agg("  ".join, axis=1)
    return "\n".join([header.rstrip(), *rows.str.rstrip()])


def run_search(args: argparse.Namespace) -> int:
    from hidebound_dagster.asset_keys import Keys
    from hidebound_dagster.core.search import SearchError, search_tables

    tables = args.tables or default_tables_dir()
    if tables is None:
        print("error: set DAGSTER_HOME or pass --tables DIR", file=sys.stderr)
        return 2
    config = loaded_config(args)
    if config is None:
        return 1
    try:
        prefix = Keys.of(config.key_prefix).prefix
        result = search_tables(
            args.query, Path(tables), args.group_by, prefix, config.search_timeout
        )
    except SearchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(result.to_json(orient="records", indent=2))
    elif args.format == "csv":
        print(result.to_csv(index=False), end="")
    else:
        width = shutil.get_terminal_size().columns
        print(fitted(result.head(args.limit), width) if len(result) else "(no rows)")
        if len(result) > args.limit:
            print(
                f"({len(result) - args.limit} more rows not shown: raise --limit, or use "
                "--format csv or json for all of them)",
                file=sys.stderr,
            )
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Print where the last update's ingest report is, and open it in a browser."""
    import webbrowser

    from hidebound_dagster.core.layout import report_directory
    from hidebound_dagster.report import PAGE

    if not os.environ.get("DAGSTER_HOME"):
        print(
            "error: set DAGSTER_HOME (the instance whose update wrote the report)", file=sys.stderr
        )
        return 2
    config = loaded_config(args)
    if config is None:
        return 1
    from hidebound_dagster.asset_keys import Keys

    page = report_directory(storage_directory(), Keys.of(config.key_prefix).prefix) / PAGE
    if not page.is_file():
        print(f"error: no report at {page}; run update first", file=sys.stderr)
        return 1
    print(page)
    if not args.no_open:
        webbrowser.open(page.as_uri())
    return 0


def run_config(args: argparse.Namespace) -> int:
    import yaml

    from hidebound_dagster.core.redaction import redacted

    config = loaded_config(args)
    if config is None:
        return 1
    print(yaml.safe_dump(redacted(config), sort_keys=False), end="")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="hidebound-dagster", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)
    search = commands.add_parser(
        "search",
        help="SQL over the file or asset table (`FROM data`)",
        epilog=COLUMNS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    search.add_argument("query")
    search.add_argument("--group-by", choices=["file", "asset"], default="file")
    search.add_argument("--format", choices=["table", "json", "csv"], default="table")
    search.add_argument(
        "--limit", type=int, default=1000, help="rows shown in the table format (default 1000)"
    )
    search.add_argument(
        "--tables",
        help="directory of the Parquet tables "
        "(default: the tables of the instance in $DAGSTER_HOME)",
    )
    search.add_argument(
        "--config-file",
        help="the config whose tables to search "
        "(default: $HIDEBOUND_CONFIG_FILEPATH, else the bundled example)",
    )
    search.set_defaults(run=run_search)
    config = commands.add_parser("config", help="print the effective config, redacted")
    config.add_argument("--config-file", help="default: $HIDEBOUND_CONFIG_FILEPATH")
    config.set_defaults(run=run_config)
    report = commands.add_parser("report", help="open the last update's ingest report")
    report.add_argument("--no-open", action="store_true", help="only print where it is")
    report.add_argument("--config-file", help="default: $HIDEBOUND_CONFIG_FILEPATH")
    report.set_defaults(run=run_report)
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script: "
        'eval "$(hidebound-dagster completion bash)" (zsh: after bashcompinit)',
    )
    completion.add_argument("shell", choices=["bash"])
    completion.set_defaults(run=run_completion)
    return main


def run_completion(args: argparse.Namespace) -> int:
    print(bash_completion(parser()))
    return 0


def bash_completion(main: argparse.ArgumentParser) -> str:
    """A bash completion function for the commands and their options, read from the parser
    (argparse has no public way to list them: its _actions are read here only)."""
    [commands] = [a for a in main._actions if isinstance(a, argparse._SubParsersAction)]
    cases = []
    for name, sub in commands.choices.items():
        words = [o for action in sub._actions for o in action.option_strings]
        choices = [
            c
            for action in sub._actions
            if action.choices and not action.option_strings
            for c in action.choices
        ]
        cases.append(f'        {name}) words="{" ".join([*words, *choices])}" ;;')
    return "\n".join(
        [
            "_hidebound_dagster() {",
            '    local current="${COMP_WORDS[COMP_CWORD]}" words',
            '    if [ "$COMP_CWORD" -eq 1 ]; then',
            f'        words="{" ".join(commands.choices)} -h --help"',
            "    else",
            '        case "${COMP_WORDS[1]}" in',
            *cases,
            "        esac",
            "    fi",
            '    COMPREPLY=($(compgen -W "$words" -- "$current"))',
            "}",
            "complete -o default -F _hidebound_dagster hidebound-dagster",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
