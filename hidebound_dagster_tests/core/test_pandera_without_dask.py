"""Building and using a specification's schema never imports dask.dataframe (0.9 s a step)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from pathlib import Path
import pandas as pd
from hidebound_dagster.core.specification_files import load_specifications
from hidebound_dagster.core.specification import validation_failures
specs = load_specifications([Path("specs")])
rows = pd.DataFrame({"project": ["cat001"], "specification": ["img001"], "descriptor": ["x"],
                     "version": [1], "extension": ["png"], "width": [1], "height": [1],
                     "channels": [2], "asset_path": ["a"], "filename": ["f"]})
failures = validation_failures(specs["img001"], rows)
print(",".join(sorted(failures["message"].str.split(" ").str[0])), "dask.dataframe" in sys.modules)
"""


def test_validation_without_dask_dataframe() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["channels,height,width", "False"]  # every rule still ran
