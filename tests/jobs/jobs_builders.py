"""Stores for the job tests on both backends (``tests/backends.py``) and the environment of a worker
subprocess that can import the test kinds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import BACKENDS, make_store
from ecgdesk.store import Store

__all__ = ["BACKENDS", "any_store", "cluster", "make_store", "worker_env"]


@pytest.fixture(params=BACKENDS)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = make_store(tmp_path, request.param)
    yield store
    store.close()


def worker_env(store: Store) -> dict[str, str]:
    """The environment of an ``ecgdesk worker`` subprocess on ``store`` that can import the test kinds."""
    env = dict(os.environ)
    env["ECGDESK_DATABASE_URL"] = store.engine.url.render_as_string(hide_password=False)
    env["ECGDESK_HOME"] = str(store.home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Two single-threaded Dask worker processes and a scheduler, all on 127.0.0.1 (one per test module).
    The scheduler's HTTP server (metrics, health) listens even without a dashboard, on 8787 unless told:
    a free port, so that two runs at once (two checkouts, CI jobs) do not collide."""
    distributed = pytest.importorskip("distributed")
    from ecgdesk.jobs.dask_executor import local_cluster

    with local_cluster(2) as local, distributed.Client(local, set_as_default=False) as client:
        trim_set = client.run(lambda: "MALLOC_TRIM_THRESHOLD_" in os.environ)
        assert set(trim_set.values()) == {False}  # ECG Desk's worker configuration reached the workers
        yield local.scheduler_address
