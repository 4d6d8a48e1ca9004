"""Specifications for the cluster tests: the example specifications with three more traits
that say where each file was read (process id, cluster tag, worker threads). They are written
to a file and loaded from it, so their functions travel to Dask workers by value."""

#: The environment variable a dask-gateway cluster carries its tag in.
TAG_VARIABLE = "HIDEBOUND_GATEWAY_TAG"

#: The example specifications with three more traits: the process that read the file, the tag
#: its cluster was started with and the threads of its Dask worker. Loaded from a file, so the
#: functions travel to the workers by value.
WHERE_SPECS = f'''
import os
import time

import pandera.pandas as pa
from pandera.typing import Series

from hidebound_dagster.core import traits
from hidebound_dagster.core.specification import (
    ComplexSpecification,
    FileSpecification,
    SequenceSpecification,
)


def reader_pid(path):
    """The process that read this file (slow enough that every worker gets some files)."""
    time.sleep(0.02)
    return os.getpid()


def cluster_tag(path):
    """The tag the gateway gave this cluster ("" outside a gateway cluster)."""
    return os.environ.get("{TAG_VARIABLE}", "")


def worker_threads(path):
    """Threads of the Dask worker that read this file (0 outside a worker)."""
    from distributed import get_worker

    try:
        return get_worker().state.nthreads
    except ValueError:
        return 0


WHERE = {{"pid": reader_pid, "tag": cluster_tag, "nthreads": worker_threads}}
IMAGE = {{
    "width": traits.image_width,
    "height": traits.image_height,
    "channels": traits.image_channels,
    **WHERE,
}}


class Raw001(SequenceSpecification):
    filename_fields = ("project", "specification", "descriptor", "version", "frame", "extension")
    asset_name_fields = ("project", "specification", "descriptor", "version")
    file_traits = IMAGE
    frame: Series[int] = pa.Field(is_frame=True)


class Img001(FileSpecification):
    file_traits = IMAGE


class Tex001(ComplexSpecification):
    filename_fields = (
        "project", "specification", "descriptor", "version", "coordinate", "extension",
    )
    file_traits = {{"width": traits.image_width, **WHERE}}
    coordinate: Series[object] = pa.Field(is_coordinate=True)
'''
WHERE_COLUMNS = ["pid", "tag", "nthreads"]
