"""The ``dask`` executor: leased jobs run as tasks on a Dask distributed cluster.

The worker loop leases jobs in the database and submits each as one task
(:func:`run_on_dask_worker`); the task opens the same store (database URL and shared home folder), runs
the job's work function with heartbeats and writes its result through the store. The Dask scheduler keeps
no state across restarts (dask/distributed#1072), so nothing depends on it: a task whose Dask worker
dies is rescheduled by Dask (counted as another attempt in the job table); if the scheduler itself
goes, the tasks' leases expire and the jobs are queued again for the next scheduler.

Several hosts cannot share a SQLite file, so a cluster needs PostgreSQL; SQLite is accepted only when the
scheduler listens on this machine's loopback interface (every worker is then on this machine).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import ecgdesk
from ecgdesk.errors import InputError, check_positive
from ecgdesk.jobs.executor import Ended, store_address
from ecgdesk.jobs.queue import Claim
from ecgdesk.jobs.runner import Kinds, execute, store_for
from ecgdesk.store import Store
from ecgdesk.store.db import URL_ENV

log = logging.getLogger(__name__)

#: Dask's nanny starts its worker processes with ``MALLOC_TRIM_THRESHOLD_=65536`` (distributed's default
#: ``pre-spawn-environ``). Setting it turns off glibc's adaptive mmap threshold, so every large NumPy
#: temporary is mapped and unmapped afresh: one 24 h analysis took 46 s instead of 27 s in a plain process,
#: and a Dask worker ran it 2.3x slower than a local worker. ECG Desk's workers leave the variable unset
#: (docs/jobs.md shows the worker configuration; :func:`local_cluster` applies it).
WORKER_CONFIG: dict[str, Any] = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def local_cluster(n_workers: int, **kwargs: Any) -> Any:
    """A ``distributed.LocalCluster`` of ``n_workers`` single-threaded worker processes on 127.0.0.1 with
    ECG Desk's worker configuration, every port chosen free (tests, benches, one-machine clusters)."""
    import dask
    import distributed

    with dask.config.set(WORKER_CONFIG):
        return distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            **kwargs,
        )


def is_loopback(address: str) -> bool:
    """Whether a scheduler address (``tcp://HOST:PORT``, ``inproc://...``) is on this machine only."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme == "inproc":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_cluster_store(store: Store, scheduler: str) -> None:
    """Refuse a SQLite store for a cluster that may span hosts (see the module docstring)."""
    if store.engine.dialect.name == "sqlite" and not is_loopback(scheduler):
        raise InputError(
            URL_ENV,
            f"the dask executor with scheduler {scheduler} runs jobs on several hosts, which cannot share "
            "a SQLite file; set ECGDESK_DATABASE_URL to a PostgreSQL database (postgresql+psycopg://...) "
            "that every worker reaches, and ECGDESK_HOME to a folder on shared storage",
        )


@functools.cache
def _warn_trim_threshold() -> None:
    """Once per worker process: the analysis runs about 2x slower there (see WORKER_CONFIG)."""
    log.warning(
        "this Dask worker runs with MALLOC_TRIM_THRESHOLD_ set (Dask's default), which makes the "
        "analysis about 2x slower: start the workers with the configuration of docs/jobs.md"
    )


def run_on_dask_worker(url: str, home: str, kinds: dict[str, str], claim: Claim, version: str) -> str:
    """The task: run ``claim`` on this Dask worker (same work function as a local worker)."""
    if version != ecgdesk.__version__:
        raise RuntimeError(
            f"this Dask worker runs ecgdesk {ecgdesk.__version__}, the worker loop {version}: install the "
            "same version on every host"
        )
    if "MALLOC_TRIM_THRESHOLD_" in os.environ:
        _warn_trim_threshold()
    return execute(store_for(url, home), claim, kinds)


class DaskExecutor:
    """Submits claims to the Dask scheduler at ``scheduler``; takes as many as the cluster has threads
    (or ``concurrency``)."""

    name = "dask"

    def __init__(
        self,
        store: Store,
        kinds: Kinds,
        scheduler: str,
        concurrency: int | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        check_cluster_store(store, scheduler)
        if concurrency is not None:
            check_positive("concurrency", concurrency)
        self._url, self._home = store_address(store)
        self._kinds = dict(kinds)
        self._concurrency = concurrency
        self._scheduler, self._timeout_s = scheduler, timeout_s
        self._futures: dict[Any, Claim] = {}
        self._lost: list[Claim] = []
        self._ended = threading.Event()
        self._threads = 0
        self._threads_at = 0.0
        self._retry_at = 0.0
        try:
            self.client = self._connect()
        except OSError as error:
            raise InputError("scheduler", f"cannot reach the Dask scheduler: {error}", scheduler) from None

    def _connect(self) -> Any:
        from distributed import Client

        return Client(self._scheduler, timeout=f"{self._timeout_s}s", set_as_default=False)

    def _connected(self) -> bool:
        """Whether the client talks to a scheduler; if it gave up (the scheduler was gone longer than
        Dask's reconnect timeout), try a new client now and then."""
        if self.client.status == "running":
            return True
        if self.client.status not in ("connecting", "newly-created") and time.monotonic() >= self._retry_at:
            self._retry_at = time.monotonic() + 5.0
            self._lost += list(self._futures.values())  # the old scheduler took them with it
            self._futures.clear()
            try:
                self.client = self._connect()
            except (OSError, TimeoutError) as error:
                log.warning("Dask scheduler %s still unreachable: %s", self._scheduler, error)
                return False
            self._threads_at = 0.0
            log.warning("reconnected to the Dask scheduler %s", self._scheduler)
            return True
        return False

    def _cluster_threads(self) -> int:
        if time.monotonic() - self._threads_at > 2.0:
            self._threads = int(sum(self.client.nthreads().values()))
            self._threads_at = time.monotonic()
        return self._threads

    def capacity(self) -> int:
        if not self._connected():
            return 0  # take no job while no scheduler can run it
        total = self._concurrency if self._concurrency is not None else self._cluster_threads()
        return max(0, int(total) - len(self._futures))

    def submit(self, claim: Claim) -> None:
        tag = claim.owner.rsplit("/", 1)[-1]
        future = self.client.submit(
            run_on_dask_worker,
            self._url,
            self._home,
            self._kinds,
            claim,
            ecgdesk.__version__,
            key=f"ecgdesk-job-{claim.job_id}-{tag}",
            pure=False,
        )
        self._futures[future] = claim
        future.add_done_callback(lambda _future: self._ended.set())

    def wait(self, timeout: float) -> list[Ended]:
        if not self._lost and not any(f.done() for f in self._futures):
            self._ended.wait(timeout)
        self._ended.clear()
        gone = "Dask: the scheduler was lost"
        ended = [Ended(claim, gone, blameless=True) for claim in self._lost]
        self._lost.clear()
        for future in [f for f in self._futures if f.done()]:
            claim = self._futures.pop(future)
            if future.status == "finished":
                ended.append(Ended(claim))
            elif future.status == "error":  # the task raised, or Dask gave up after its workers died
                ended.append(Ended(claim, f"Dask: {future.exception()!r}"))
            else:  # cancelled: the scheduler restarted or was lost, not the job's doing
                ended.append(Ended(claim, f"{gone} (task {future.status})", blameless=True))
            future.release()
        return ended

    def close(self) -> None:
        if self._futures and self.client.status == "running":
            self.client.cancel(list(self._futures))
        self._futures.clear()
        self.client.close()
