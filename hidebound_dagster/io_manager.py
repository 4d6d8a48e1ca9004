"""Tables between assets are Parquet files under the instance's storage, so search can read
them without re-running anything; each is conformed to its declared schema (core/schemas.py)
when it is written and when it is read."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from hidebound_dagster.core.layout import table_path, tables_directory
from hidebound_dagster.core.schemas import TABLES, arrow_fields, conform
from hidebound_dagster.core.tables import read_table, write_table


class ParquetIOManager(dg.ConfigurableIOManagerFactory):
    """Stores each DataFrame asset as <base_dir>/<asset key>.parquet; base_dir defaults to
    <instance storage>/tables."""

    base_dir: str | None = None

    def create_io_manager(self, context: dg.InitResourceContext) -> ParquetTables:
        if self.base_dir:
            return ParquetTables(Path(self.base_dir))
        assert context.instance is not None  # Dagster always inits resources with an instance
        return ParquetTables(tables_directory(context.instance.storage_directory()))


class ParquetTables(dg.IOManager):
    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir

    def path(self, context: dg.InputContext | dg.OutputContext) -> Path:
        return table_path(self.base_dir, context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        path = self.path(context)
        name = context.asset_key.path[-1]
        schema = TABLES.get(name, {})
        table = conform(obj, schema, name)
        write_table(table, path, arrow_fields(table, schema))
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        name = context.asset_key.path[-1]
        return conform(read_table(self.path(context)), TABLES.get(name, {}), name)
