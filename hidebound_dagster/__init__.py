"""hidebound-dagster: validated, staged, exported assets from an ingress directory, on Dagster."""

import os

# pyarrow's default allocator, mimalloc, keeps freed pages for a while: each step reads whole
# tables, so a step would start hundreds of MiB above what it holds. mimalloc reads this when
# pyarrow loads, which is after this package in every process that runs our steps (Dagster
# does not import pyarrow). A value the user set wins.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
