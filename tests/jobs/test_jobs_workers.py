"""Jobs across processes: competing workers never lease one job twice; a worker killed with SIGKILL in the
middle of a job loses it only until its lease expires, and the job then completes once elsewhere."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from job_kinds import KINDS
from jobs_builders import any_store, worker_env
from sqlalchemy import select

from ecgdesk.jobs import queue
from ecgdesk.jobs.executor import LocalExecutor, store_address
from ecgdesk.jobs.queue import JobSpec
from ecgdesk.jobs.worker import serve
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.jobs import run_inline

__all__ = ["any_store"]


def enqueue_many(store: Store, specs: list[JobSpec]) -> list[int]:
    with store.transaction() as session:
        return [queue.enqueue(session, spec, "tech")[0].id for spec in specs]


def job(store: Store, job_id: int) -> queue.JobInfo:
    with store.transaction() as session:
        return queue.info(session, queue.get_job(session, job_id))


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_competing_workers_never_lease_one_job_twice(any_store: Store) -> None:
    ids = enqueue_many(any_store, [JobSpec("test.sleep", {}, f"k{i}", "t1") for i in range(45)])
    from job_kinds import claim_all

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    results = context.Queue()
    url, home = store_address(any_store)
    workers = [
        context.Process(target=claim_all, args=(url, home, barrier, results, batch)) for batch in (1, 2, 5)
    ]
    for w in workers:
        w.start()
    got = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    leased = Counter(i for ids_of_one in got for i in ids_of_one)
    assert sorted(leased) == sorted(ids) and set(leased.values()) == {1}
    assert all(got)  # every worker leased jobs in the same rounds: they competed
    with any_store.transaction() as session:
        running = session.scalars(
            select(AuditEntry.entity_id).where(AuditEntry.action == "job:running")
        ).all()
    assert len(running) == 45


def test_a_worker_killed_mid_job_loses_it_until_the_lease_expires(any_store: Store, tmp_path: Path) -> None:
    log = tmp_path / "starts.log"
    (job_id,) = enqueue_many(
        any_store, [JobSpec("test.sleep", {"seconds": 60, "then": 0.2, "log": str(log)}, "kill", "t1")]
    )
    command = [sys.executable, "-m", "ecgdesk.cli.main", "worker", "--kinds-module", "job_kinds",
               "--lease-s", "2", "--poll-s", "0.1"]
    env = worker_env(any_store)
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: log.exists() and log.read_text().strip(), 90, "the first worker to start the job")
        _, child_pid, attempt = log.read_text().split()
        assert attempt == "1" and job(any_store, job_id).status == "running"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        # its job process sees its parent gone at the next heartbeat and exits; the job is not finished
        wait_for(lambda: not _alive(int(child_pid)), 10, "the orphaned job process to exit")
        assert job(any_store, job_id).status == "running"
        # another worker (this process) finds the lease expired, queues the job again and runs it
        run_inline(any_store, job_id, kinds=KINDS, wait_s=0.1)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(timeout=10)
        assert first.stderr is not None
        first.stderr.close()
    info = job(any_store, job_id)
    assert (info.status, info.attempts) == ("done", 2)
    assert info.result is not None and info.result["pid"] != int(child_pid)
    assert [line.split()[2] for line in log.read_text().splitlines()] == ["1", "2"]
    with any_store.transaction() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "job", AuditEntry.entity_id == str(job_id))
            .order_by(AuditEntry.seq)
        ).all()
        expired = session.scalars(
            select(AuditEntry.after_json)
            .where(AuditEntry.action == "job:queued", AuditEntry.entity_id == str(job_id))
        ).all()
    assert actions == ["job:queued", "job:running", "job:queued", "job:running", "job:done"]
    assert "expired" in expired[-1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): it is gone for our purpose once it no longer runs
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_job_process_is_replaced_and_its_job_runs_again(any_store: Store, tmp_path: Path) -> None:
    """The local executor itself: SIGKILL of the process running a job; the loop queues the job again at
    once (no lease wait) and a fresh process runs it."""
    log = tmp_path / "starts.log"
    (job_id,) = enqueue_many(
        any_store, [JobSpec("test.sleep", {"seconds": 60, "then": 0.1, "log": str(log)}, "slot", "t1")]
    )
    executor = LocalExecutor(any_store, KINDS, concurrency=1)
    killed: list[int] = []

    def step() -> bool:
        if not killed and log.exists() and log.read_text().strip():
            killed.append(int(log.read_text().split()[1]))
            os.kill(killed[0], signal.SIGKILL)
        return job(any_store, job_id).status == "done"

    stats = serve(any_store, executor, KINDS, stop=step, lease_s=30, poll_s=0.1)
    info = job(any_store, job_id)
    assert (info.status, info.attempts, stats.crashed) == ("done", 2, 1)
    assert "died (exit code -9)" in stats.crashes[0]
    assert info.result is not None and info.result["pid"] != killed[0]
