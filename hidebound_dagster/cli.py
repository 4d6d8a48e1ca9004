"""Command line: `hidebound-dagster search` over the last update's tables, and
`hidebound-dagster config` to print the effective, redacted config."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import dagster as dg
import yaml

from hidebound_dagster.asset_keys import Keys
from hidebound_dagster.core.config import ConfigError
from hidebound_dagster.core.layout import tables_directory
from hidebound_dagster.core.redaction import redacted
from hidebound_dagster.core.search import SearchError, search_tables
from hidebound_dagster.location import load_location


def default_tables_dir() -> Path | None:
    """Where the Parquet IO manager keeps tables for the instance in DAGSTER_HOME."""
    if not os.environ.get("DAGSTER_HOME"):
        return None
    return tables_directory(dg.DagsterInstance.get().storage_directory())


def run_search(args: argparse.Namespace) -> int:
    tables = args.tables or default_tables_dir()
    if tables is None:
        print("error: set DAGSTER_HOME or pass --tables DIR", file=sys.stderr)
        return 2
    try:
        config = load_location(args.config_file).require()
    except ConfigError as error:
        print(error, file=sys.stderr)
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
        # one line per row: multi-line errors joined as the UI shows them
        shown = result.head(args.limit).replace("\n", " · ", regex=True)
        print(shown.to_string(index=False) if len(result) else "(no rows)")
        if len(result) > args.limit:
            print(
                f"({len(result) - args.limit} more rows not shown: raise --limit, or use "
                "--format csv or json for all of them)",
                file=sys.stderr,
            )
    return 0


def run_config(args: argparse.Namespace) -> int:
    try:
        config = load_location(args.config_file).require()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    print(yaml.safe_dump(redacted(config), sort_keys=False), end="")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="hidebound-dagster", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="SQL over the file or asset table (`FROM data`)")
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
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
