"""pandera without its Dask types. The first schema pandera builds imports
`pandera.typing.dask`, which imports `dask.dataframe` (about 0.9 s) whenever dask is installed,
as it is here for the Dask resource. Specifications validate pandas tables only, so pandera is
told, through that one module, that Dask is not there. A process that imported it already
(it uses pandera's Dask types) is left as it is."""

from __future__ import annotations

import sys
import types

MODULE = "pandera.typing.dask"


def hide_dask_types() -> None:
    """Stand in for pandera's Dask typing module, unless it is loaded already."""
    if MODULE not in sys.modules:
        stand_in = types.ModuleType(MODULE, "pandera's Dask types, left out: see " + __name__)
        stand_in.DASK_INSTALLED = False  # type: ignore[attr-defined]
        sys.modules[MODULE] = stand_in
