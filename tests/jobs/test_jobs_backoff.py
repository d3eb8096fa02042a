"""Retries with backoff: a job that failed on a transient error is queued again with a time before which no
worker leases it (doubling from a base delay, capped, with jitter); ``jobs retry`` runs it now; an
``--until-idle`` worker waits for it; a local worker and a Dask cluster both keep the wait."""

from __future__ import annotations

import json
import random
import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from job_kinds import KINDS
from jobs_builders import any_store
from sqlalchemy import select, update

from ecgdesk.errors import InputError
from ecgdesk.jobs import queue
from ecgdesk.jobs.executor import LocalExecutor
from ecgdesk.jobs.info import aware
from ecgdesk.jobs.queue import JobSpec
from ecgdesk.jobs.runner import execute
from ecgdesk.jobs.settings import RETRY_JITTER_ENV, Backoff
from ecgdesk.store import Store
from ecgdesk.store.jobs_models import Job
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.jobs import run_worker

__all__ = ["any_store"]

WAIT = re.compile(r"retry after (\d\d:\d\d:\d\d) UTC \(attempt (\d) of (\d)\): (.*)")


def enqueue(store: Store, spec: JobSpec) -> int:
    with store.transaction() as session:
        return queue.enqueue(session, spec, "tech")[0].id


def lease(store: Store, backoff: Backoff) -> list[queue.Claim]:
    with store.transaction() as session:
        return queue.claim(session, "w1", KINDS, 1, 30.0, backoff=backoff)


def job(store: Store, job_id: int) -> queue.JobInfo:
    with store.transaction() as session:
        return queue.info(session, queue.get_job(session, job_id))


def not_before(store: Store, job_id: int) -> datetime:
    with store.transaction() as session:
        when = aware(session.scalar(select(Job.not_before).where(Job.id == job_id)))
    assert when is not None
    return when


def running_times(store: Store, job_id: int) -> list[datetime]:
    """When each attempt of ``job_id`` was leased (its ``job:running`` audit rows)."""
    with store.transaction() as session:
        rows = session.scalars(select(AuditEntry.at).where(
            AuditEntry.entity == "job", AuditEntry.entity_id == str(job_id),
            AuditEntry.action == "job:running",
        ).order_by(AuditEntry.seq))
        return [datetime.fromisoformat(at) for at in rows]


def test_the_backoff_doubles_from_its_base_up_to_its_cap_less_its_jitter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Backoff() == Backoff(30.0, 600.0, 0.5)  # the defaults an operator gets
    assert [Backoff(30, 600, 0).delay_s(n) for n in range(1, 8)] == [30, 60, 120, 240, 480, 600, 600]
    assert Backoff(0, 600, 0.5).delay_s(3) == 0  # base 0: at once, as before backoff
    rng = random.Random(7)
    delays = [Backoff(30, 600, 0.5).delay_s(2, rng) for _ in range(200)]
    assert 30 <= min(delays) < 35 and 55 < max(delays) <= 60  # between half and all of it: never at once
    monkeypatch.setenv("ECGDESK_JOB_RETRY_BASE_S", "0.25")
    monkeypatch.setenv("ECGDESK_JOB_RETRY_CAP_S", "2")
    monkeypatch.setenv(RETRY_JITTER_ENV, "0")
    assert Backoff.from_env() == Backoff(0.25, 2.0, 0.0)
    monkeypatch.setenv(RETRY_JITTER_ENV, "1.5")
    with pytest.raises(InputError, match=f"{RETRY_JITTER_ENV}.*between 0 and 1"):
        Backoff.from_env()
    monkeypatch.setenv(RETRY_JITTER_ENV, "0.5")
    monkeypatch.setenv("ECGDESK_JOB_RETRY_CAP_S", "-1")
    with pytest.raises(InputError, match=r"ECGDESK_JOB_RETRY_CAP_S.*0 or more seconds"):
        Backoff.from_env()


def test_a_transient_error_waits_its_backoff_before_the_next_lease(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock is the queue's (moved forward here, not waited for)."""
    backoff = Backoff(base_s=30.0, cap_s=45.0, jitter=0.0)
    job_id = enqueue(any_store, JobSpec("test.crash", {}, "c", "t1", max_attempts=3))
    started = queue.now()
    assert execute(any_store, lease(any_store, backoff)[0], KINDS) == "queued"
    wait = not_before(any_store, job_id)
    assert timedelta(seconds=29) < wait - started < timedelta(seconds=31)
    info = job(any_store, job_id)
    assert info.status == "queued" and info.not_before is not None
    match = WAIT.fullmatch(info.retry_wait or "")
    assert match is not None, info.retry_wait
    assert match.groups() == (f"{wait:%H:%M:%S}", "2", "3", "RuntimeError: simulated transient failure")
    assert lease(any_store, backoff) == []  # no worker takes it before its time
    monkeypatch.setattr(queue, "now", lambda: wait - timedelta(seconds=1))
    assert lease(any_store, backoff) == []
    monkeypatch.setattr(queue, "now", lambda: wait + timedelta(seconds=1))
    (second,) = lease(any_store, backoff)
    assert second.attempts == 2 and job(any_store, job_id).retry_wait is None
    assert execute(any_store, second, KINDS) == "queued"
    # doubled, but no more than the cap: 45 s after the second failure
    assert not_before(any_store, job_id) - (wait + timedelta(seconds=1)) == timedelta(seconds=45)
    with any_store.transaction() as session:
        rows = session.scalars(select(AuditEntry.after_json).where(
            AuditEntry.entity == "job", AuditEntry.entity_id == str(job_id), AuditEntry.action == "job:queued"
        ).order_by(AuditEntry.seq)).all()
    assert json.loads(rows[-1])["not_before"] == not_before(any_store, job_id).isoformat()
    monkeypatch.setattr(queue, "now", lambda: wait + timedelta(seconds=47))
    assert execute(any_store, lease(any_store, backoff)[0], KINDS) == "failed"  # the last attempt: no wait
    info = job(any_store, job_id)
    assert (info.status, info.attempts, info.not_before, info.retry_wait) == ("failed", 3, None, None)


def test_an_expired_lease_waits_its_backoff_too(any_store: Store) -> None:
    backoff = Backoff(base_s=60.0, cap_s=600.0, jitter=0.0)
    job_id = enqueue(any_store, JobSpec("test.sleep", {}, "e", "t1"))
    lease(any_store, backoff)
    with any_store.transaction() as session:
        past = queue.now() - timedelta(seconds=1)
        session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=past))
        assert queue.requeue_expired(session, "sweeper", backoff) == [job_id]
    assert not_before(any_store, job_id) > queue.now() + timedelta(seconds=58)
    assert lease(any_store, backoff) == []


def test_an_operators_retry_runs_a_waiting_job_now(any_store: Store) -> None:
    backoff = Backoff(base_s=600.0, cap_s=600.0, jitter=0.0)
    job_id = enqueue(any_store, JobSpec("test.crash", {}, "r", "t1", max_attempts=3))
    execute(any_store, lease(any_store, backoff)[0], KINDS)
    assert lease(any_store, backoff) == []
    with any_store.transaction() as session:
        queue.retry(session, job_id, "tech")
    info = job(any_store, job_id)
    assert (info.status, info.attempts, info.not_before, info.retry_wait) == ("queued", 1, None, None)
    (claim,) = lease(any_store, backoff)
    assert claim.attempts == 2  # its attempts so far still count
    refused = "is running; only failed or cancelled jobs, or jobs waiting"
    with pytest.raises(InputError, match=refused), any_store.transaction() as session:
        queue.retry(session, job_id, "tech")
    with any_store.transaction() as session:
        rows = session.scalars(select(AuditEntry.after_json).where(
            AuditEntry.entity == "job", AuditEntry.entity_id == str(job_id), AuditEntry.actor == "tech"))
        reasons = [json.loads(a).get("reason") for a in rows]
    assert len(reasons) == 2 and reasons[0] is None  # queued by tech, then retried now
    assert reasons[1].startswith("retried now instead of after ")


def test_a_local_worker_keeps_the_wait_and_until_idle_waits_for_it(any_store: Store) -> None:
    """A real worker process: the attempts of a failing job are at least the backoff apart, and
    ``--until-idle`` (run_worker) does not stop while the job waits for its retry time."""
    backoff = Backoff(base_s=0.4, cap_s=5.0, jitter=0.0)
    job_id = enqueue(any_store, JobSpec("test.crash", {}, "w", "t1", max_attempts=3))
    executor = LocalExecutor(any_store, KINDS, 1)
    executor.wait_ready()
    run_worker(any_store, executor, poll_s=0.05, until_idle=True, kinds=KINDS, backoff=backoff,
               lease_s=5.0)
    info = job(any_store, job_id)
    assert (info.status, info.attempts) == ("failed", 3)
    first, second, third = running_times(any_store, job_id)
    assert second - first >= timedelta(seconds=0.4) and third - second >= timedelta(seconds=0.8)


def test_until_idle_stops_saying_which_jobs_wait_beyond_the_cap(any_store: Store) -> None:
    """A retry time beyond the cap (set by a worker with a longer one): the loop stops at once and says so."""
    backoff = Backoff(base_s=0.1, cap_s=1.0, jitter=0.0)
    job_id = enqueue(any_store, JobSpec("test.sleep", {}, "far", "t1"))
    later = queue.now() + timedelta(hours=1)
    with any_store.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(not_before=later, error="OSError: full"))
    executor = LocalExecutor(any_store, KINDS, 1)
    deadline = time.monotonic() + 30
    stats = run_worker(any_store, executor, poll_s=0.05, until_idle=True, kinds=KINDS, backoff=backoff,
                       stop=lambda: time.monotonic() > deadline)
    assert time.monotonic() < deadline
    assert stats.leased == 0 and job(any_store, job_id).status == "queued"
    assert stats.waiting_note == (
        f"1 job(s) wait for their retry time, the first at {later:%Y-%m-%d %H:%M:%S} UTC, the last at "
        f"{later:%H:%M:%S} UTC (beyond the 1 s backoff cap); a worker runs them then")


def test_the_worker_command_says_what_waits_and_refuses_a_bad_setting(tmp_path: Path) -> None:
    """``ecgdesk worker --until-idle`` with a job waiting an hour beyond its 1 s cap: it stops (exit 0) and
    says so; a negative ``--retry-base-s`` is refused (exit 2) before any process starts. (The command, on
    SQLite: the queue's behaviour on both databases is above.)"""
    import subprocess
    import sys

    from jobs_builders import make_store, worker_env

    any_store = make_store(tmp_path, "sqlite")

    job_id = enqueue(any_store, JobSpec("test.sleep", {}, "cli", "t1"))
    later = queue.now() + timedelta(hours=1)
    with any_store.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(not_before=later))
    command = [sys.executable, "-m", "ecgdesk.cli.main", "worker", "--kinds-module", "job_kinds",
               "--until-idle", "--poll-s", "0.05", "--retry-cap-s", "1"]
    done = subprocess.run(command, env=worker_env(any_store), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"1 job(s) wait for their retry time, the first at {later:%Y-%m-%d %H:%M:%S} UTC" in done.stderr
    assert job(any_store, job_id).status == "queued"
    bad = subprocess.run([*command, "--retry-base-s", "-1"], env=worker_env(any_store), capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2
    assert "field 'retry-base-s': must be 0 or more seconds, got -1.0" in bad.stderr
    assert "local executor" not in bad.stderr  # refused before the worker started
    any_store.close()
