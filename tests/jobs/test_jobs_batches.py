"""Short jobs run in batches: leased, begun and finished in few transactions, each job still on its own."""

from __future__ import annotations

from datetime import timedelta

from job_kinds import KINDS
from jobs_builders import any_store
from sqlalchemy import select, update

from ecgdesk.jobs import queue
from ecgdesk.jobs.executor import LocalExecutor
from ecgdesk.jobs.queue import JobSpec, Priority
from ecgdesk.jobs.runner import execute_many
from ecgdesk.jobs.worker import serve
from ecgdesk.store import Store, verify
from ecgdesk.store.jobs_models import Job
from ecgdesk.store.models import AuditEntry

__all__ = ["any_store"]
BATCH = {"test.echo": 4}


def echo_spec(key: str, priority: int = Priority.ROUTINE, **payload: object) -> JobSpec:
    return JobSpec("test.echo", {"value": key, **payload}, key, "t1", priority=priority, max_attempts=2)


def enqueue(store: Store, *specs: JobSpec) -> list[int]:
    with store.transaction() as session:
        return [queue.enqueue(session, spec, "tech")[0].id for spec in specs]


def lease(store: Store, limit: int) -> list[queue.Claim]:
    with store.transaction() as session:
        return queue.claim(session, "w1", KINDS, limit, 30.0, batch=BATCH)


def jobs(store: Store, ids: list[int]) -> list[queue.JobInfo]:
    with store.transaction() as session:
        return [queue.info(session, queue.get_job(session, i)) for i in ids]


def test_a_batch_kind_is_leased_several_to_a_run_in_priority_order(any_store: Store) -> None:
    echoes = enqueue(any_store, *(echo_spec(f"e{i}") for i in range(6)))
    urgent_spec = JobSpec("test.sleep", {"seconds": 0.0}, "s", "t1", priority=Priority.TRIAGE)
    (urgent,) = enqueue(any_store, urgent_spec)
    first = lease(any_store, 1)
    assert [c.job_id for c in first] == [urgent]  # one run: the urgent job alone fills it
    second = lease(any_store, 1)
    assert [c.job_id for c in second] == echoes[:4]  # one run of the batch kind: 4 of its jobs
    assert [c.job_id for c in lease(any_store, 5)] == echoes[4:]
    with any_store.transaction() as session:
        assert verify(session).ok  # the leases' audit rows, written together, chain as one by one


def test_a_batch_runs_together_and_each_job_ends_on_its_own(any_store: Store) -> None:
    ids = enqueue(any_store, echo_spec("a"), echo_spec("b", bad=True), echo_spec("c"))
    claims = lease(any_store, 1)
    assert execute_many(any_store, claims, KINDS) == ["done", "failed", "done"]
    a, b, c = jobs(any_store, ids)
    assert a.result is not None and c.result is not None
    assert (a.result, c.result) == ({"value": "a", "batch": 3, "pid": a.result["pid"]},
                                    {"value": "c", "batch": 3, "pid": a.result["pid"]})
    assert (b.status, b.error) == ("failed", "field 'value': not a number")  # bad input fails at once, alone
    with any_store.transaction() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "job", AuditEntry.entity_id == str(ids[0]))
            .order_by(AuditEntry.seq)
        ).all()
        assert actions == ["job:queued", "job:running", "job:done"]
        assert verify(session).ok


def test_a_batch_that_fails_as_a_whole_runs_its_jobs_one_by_one(any_store: Store) -> None:
    ids = enqueue(any_store, echo_spec("a"), echo_spec("b", break_batch=True), echo_spec("c"))
    assert execute_many(any_store, lease(any_store, 1), KINDS) == ["done", "done", "done"]
    assert [j.result["batch"] for j in jobs(any_store, ids) if j.result] == [1, 1, 1]
    assert [j.attempts for j in jobs(any_store, ids)] == [1, 1, 1]  # a fallback is not a new attempt


def test_a_lost_lease_in_a_batch_writes_nothing_for_that_job(any_store: Store) -> None:
    ids = enqueue(any_store, echo_spec("a"), echo_spec("b"))
    claims = lease(any_store, 1)
    with any_store.transaction() as session:  # b's worker stalled: its lease expired and was requeued
        session.execute(update(Job).where(Job.id == ids[1])
                        .values(lease_expires_at=queue.now() - timedelta(seconds=1)))
        assert queue.requeue_expired(session, "sweeper") == [ids[1]]
    assert execute_many(any_store, claims, KINDS) == ["done", "lost"]
    a, b = jobs(any_store, ids)
    assert (a.status, b.status, b.result) == ("done", "queued", None)


def test_the_local_executor_hands_a_backlog_to_its_process_in_batches(any_store: Store) -> None:
    ids = enqueue(any_store, *(echo_spec(f"e{i}") for i in range(9)))
    executor = LocalExecutor(any_store, KINDS, concurrency=1)
    assert executor.batch == BATCH
    executor.wait_ready()

    def finished() -> bool:
        return all(j.status == "done" for j in jobs(any_store, ids))

    stats = serve(any_store, executor, KINDS, stop=finished, lease_s=30, poll_s=0.1)
    sizes = [j.result["batch"] for j in jobs(any_store, ids) if j.result]
    assert (stats.leased, stats.crashed, len(sizes)) == (9, 0, 9)
    assert max(sizes) == 4 and sum(1 for s in sizes if s == 4) >= 4  # 9 jobs in at most 4 per run
