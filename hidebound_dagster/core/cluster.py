"""Dask-backed mappers: the configured cluster really runs the work (threads in-process by
default, a local cluster, an existing scheduler, or a dask-gateway cluster). Dask is imported
when a mapper is made, not with this module: a code location loads without it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import cloudpickle

from hidebound_dagster.core.config import DaskConfig
from hidebound_dagster.core.parallel import Mapper


def threaded_mapper(workers: int | None) -> Mapper:
    """Dask's in-process threaded scheduler: no start-up cost."""
    import dask
    import dask.threaded

    def mapper(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        # traverse=False: do not walk every path of every chunk looking for dask objects
        tasks = [
            dask.delayed(func, pure=False)(dask.delayed(item, traverse=False)) for item in items
        ]
        # the scheduler itself, not its name: a name makes dask import distributed (0.1 s) to
        # look for a client it would not use
        return list(dask.compute(*tasks, scheduler=dask.threaded.get, num_workers=workers))

    return mapper


class ByValue:
    """A function that always travels by value (cloudpickle): distributed pickles tasks by
    reference first, and functions from spec files live in modules workers cannot import."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def __call__(self, item: Any) -> Any:
        return self.func(item)

    def __reduce__(self) -> tuple[Callable[[bytes], Any], tuple[bytes]]:
        return cloudpickle.loads, (cloudpickle.dumps(self.func),)


def client_mapper(client: Any) -> Mapper:
    """Run every item as a task on a distributed client's cluster."""

    def mapper(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return client.gather(client.map(ByValue(func), list(items), pure=False))

    return mapper


@contextmanager
def dask_mapper(config: DaskConfig) -> Iterator[Mapper]:
    """A mapper for the configured cluster, started on entry and closed on exit."""
    if config.cluster_type == "threads":
        # Header reads on a warm cache hold the GIL, so one thread is fastest by default;
        # raise local_num_workers for slow (network) storage.
        yield threaded_mapper(config.local_num_workers * config.local_threads_per_worker)
        return
    from distributed import Client

    if config.cluster_type == "distributed":
        with Client(config.scheduler_address, timeout=config.gateway_timeout) as client:
            yield client_mapper(client)
        return
    with cluster(config) as running, Client(running) as client:
        yield client_mapper(client)


@contextmanager
def cluster(config: DaskConfig) -> Iterator[Any]:
    """A LocalCluster or a dask-gateway cluster, per config."""
    if config.cluster_type == "local":
        from distributed import LocalCluster

        network = {} if config.local_multiprocessing else {"protocol": "tcp://"}
        with LocalCluster(
            n_workers=config.local_num_workers,
            threads_per_worker=config.local_threads_per_worker,
            processes=config.local_multiprocessing,
            host="127.0.0.1",
            dashboard_address=None,
            **network,
        ) as local:
            yield local
        return
    with gateway_cluster(config) as remote:
        yield remote


@contextmanager
def gateway_cluster(config: DaskConfig) -> Iterator[Any]:
    """A dask-gateway cluster sized by the gateway_* settings."""
    import dask

    try:
        import aiohttp
        import dask_gateway
    except ImportError:
        raise RuntimeError(
            "cluster_type 'gateway' needs the dask-gateway package: pip install dask-gateway"
        ) from None
    token = config.gateway_api_token.get_secret_value() if config.gateway_api_token else None
    auth = (
        dask_gateway.BasicAuth(username=config.gateway_api_user, password=token)
        if config.gateway_auth_type == "basic"
        else dask_gateway.JupyterHubAuth(api_token=token)
    )
    with (
        dask.config.set({"distributed.comm.timeouts.connect": config.gateway_timeout}),
        dask_gateway.Gateway(
            address=config.gateway_address,
            proxy_address=config.gateway_proxy_address,
            public_address=config.gateway_public_address,
            auth=auth,
        ) as gateway,
    ):
        # dask-gateway sets no timeout on its HTTP calls (aiohttp would wait 300 s)
        gateway._request_kwargs["timeout"] = aiohttp.ClientTimeout(total=config.gateway_timeout)
        options = gateway.cluster_options()
        for option in config.gateway_cluster_options:
            setattr(options, option.field, option.default)
        remote = gateway.new_cluster(options, shutdown_on_close=config.gateway_shutdown_on_close)
        try:
            remote.adapt(minimum=config.gateway_min_workers, maximum=config.gateway_max_workers)
            yield remote
        finally:
            remote.close()
