"""The Dask executor for real: a LocalCluster of two worker processes on loopback, one killed mid-job; a
batch of recordings (one corrupt) on the cluster; SQLite refused for a cluster beyond this machine."""

from __future__ import annotations

import csv
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from job_kinds import KINDS
from jobs_builders import BACKENDS, cluster, make_store
from sqlalchemy import select

from ecgdesk.errors import InputError
from ecgdesk.jobs import queue
from ecgdesk.jobs.dask_executor import DaskExecutor, is_loopback
from ecgdesk.jobs.queue import JobSpec
from ecgdesk.jobs.worker import serve
from ecgdesk.records import write_recording
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.batch import batch_analyze
from ecgdesk.workflow.demo import synthetic_recording
from ecgdesk.workflow.jobs import KINDS as ANALYSIS_KINDS

pytest.importorskip("distributed")

__all__ = ["cluster"]  # the module's cluster fixture


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = make_store(tmp_path, request.param)
    yield store
    store.close()


def test_sqlite_is_refused_for_a_cluster_beyond_this_machine(tmp_path: Path) -> None:
    store = make_store(tmp_path, "sqlite")
    with pytest.raises(InputError, match=r"cannot share a SQLite file.*PostgreSQL") as info:
        DaskExecutor(store, KINDS, "tcp://10.20.30.40:8786")
    assert info.value.field == "ECGDESK_DATABASE_URL"
    store.close()
    assert is_loopback("tcp://127.0.0.1:8786") and is_loopback("localhost:8786") and is_loopback("tcp://[::1]:1")
    assert not is_loopback("tcp://scheduler.lab:8786") and not is_loopback("tcp://192.168.1.5:8786")


def test_a_dask_worker_killed_mid_job(store: Store, cluster: str, tmp_path: Path) -> None:
    log = tmp_path / "starts.log"
    with store.transaction() as session:
        job_id = queue.enqueue(
            session, JobSpec("test.sleep", {"seconds": 60, "then": 0.2, "log": str(log)}, "d", "t1"), "tech"
        )[0].id
    killed: list[int] = []

    def step() -> bool:
        if not killed and log.exists() and log.read_text().strip():
            killed.append(int(log.read_text().split()[1]))
            os.kill(killed[0], signal.SIGKILL)  # the Dask worker process running the job
        with store.transaction() as session:
            return queue.get_job(session, job_id).status == "done"

    stats = serve(store, DaskExecutor(store, KINDS, cluster), KINDS, stop=step, lease_s=20, poll_s=0.1)
    with store.transaction() as session:
        info = queue.info(session, queue.get_job(session, job_id))
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "job", AuditEntry.entity_id == str(job_id))
            .order_by(AuditEntry.seq)
        ).all()
    # Dask ran the task again on the other worker: one lease, two starts, one result
    assert (info.status, info.attempts, stats.leased) == ("done", 2, 1)
    assert info.result is not None and info.result["pid"] != killed[0]
    assert actions == ["job:queued", "job:running", "job:restarted", "job:done"]


def test_batch_on_the_cluster_one_corrupt_recording(store: Store, cluster: str, tmp_path: Path) -> None:
    paths = [
        write_recording(synthetic_recording(3.0, seed=seed), tmp_path / f"r{seed}", "wfdb", f"rec{seed}")
        for seed in (1, 2)
    ]
    broken = tmp_path / "broken.hea"
    broken.write_text("this is not a recording\n")
    out = tmp_path / "out"
    executor = DaskExecutor(store, ANALYSIS_KINDS, cluster)
    result = batch_analyze(store, [paths[0], broken, paths[1]], out, executor, "tech", lease_s=30)
    with open(result.summary, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["done", "failed", "done"]
    assert "broken.hea" in rows[1]["error"] and rows[1]["attempts"] == "1"
    for row in (rows[0], rows[2]):
        assert int(row["total_beats"]) > 100
        assert (Path(row["output"]) / "findings.json").exists()


def test_an_unreachable_scheduler_is_reported_within_the_connect_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens on port 1: the worker gives up after its connect timeout (a setting, here from the
    environment), not after Dask's 30 s, with a message naming the scheduler; exit 2 from the command."""
    import subprocess
    import sys
    import time

    from jobs_builders import worker_env

    from ecgdesk.jobs.settings import CONNECT_TIMEOUT_ENV, WorkerSettings
    from ecgdesk.workflow.jobs import make_executor

    assert WorkerSettings().connect_timeout_s == 10.0
    store = make_store(tmp_path, "sqlite")
    try:
        monkeypatch.setenv(CONNECT_TIMEOUT_ENV, "0.3")
        started = time.monotonic()
        with pytest.raises(InputError, match=r"scheduler.*cannot reach the Dask scheduler") as info:
            make_executor(store, "dask", scheduler="tcp://127.0.0.1:1")
        assert time.monotonic() - started < 5.0
        assert "tcp://127.0.0.1:1" in str(info.value)
        monkeypatch.setenv(CONNECT_TIMEOUT_ENV, "soon")
        with pytest.raises(InputError, match=f"{CONNECT_TIMEOUT_ENV}.*number of seconds, got 'soon'"):
            make_executor(store, "dask", scheduler="tcp://127.0.0.1:1")
        monkeypatch.delenv(CONNECT_TIMEOUT_ENV)
        command = [sys.executable, "-m", "ecgdesk.cli.main", "worker", "--executor", "dask",
                   "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout-s", "0.5"]
        done = subprocess.run(command, env=worker_env(store), capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "cannot reach the Dask scheduler" in done.stderr and "tcp://127.0.0.1:1" in done.stderr
        # the flag reached the client: Dask names the timeout it gave up after (30 s before the setting)
        assert "after 0.5 s" in done.stderr
    finally:
        store.close()
