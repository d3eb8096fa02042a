"""The job queue in one process: idempotency, priority, leases, retries, parts, cancel; all audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from job_kinds import KINDS
from jobs_builders import any_store
from sqlalchemy import select, update

from ecgdesk.errors import InputError
from ecgdesk.jobs import queue
from ecgdesk.jobs.queue import JobSpec, LeaseLostError, Priority
from ecgdesk.jobs.runner import execute
from ecgdesk.store import Store, verify
from ecgdesk.store.jobs_models import Job
from ecgdesk.store.models import AuditEntry

__all__ = ["any_store"]


def sleep_spec(key: str, max_attempts: int = 3, **payload: object) -> JobSpec:
    return JobSpec("test.sleep", {"seconds": 0.0, **payload}, key, "t1", max_attempts=max_attempts)


def expire(store: Store, job_id: int) -> list[int]:
    """The lease of ``job_id`` ran out (its worker stalled); the sweep requeues it."""
    with store.transaction() as session:
        past = queue.now() - timedelta(seconds=1)
        session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=past))
        return queue.requeue_expired(session, "sweeper")


def enqueue(store: Store, spec: JobSpec) -> int:
    with store.transaction() as session:
        return queue.enqueue(session, spec, "tech")[0].id


def lease(store: Store, limit: int = 1, lease_s: float = 30.0, **kw: object) -> list[queue.Claim]:
    with store.transaction() as session:
        return queue.claim(session, "w1", KINDS, limit, lease_s, **kw)  # type: ignore[arg-type]


def job(store: Store, job_id: int) -> queue.JobInfo:
    with store.transaction() as session:
        return queue.info(session, queue.get_job(session, job_id))


def audit_actions(store: Store, job_id: int) -> list[str]:
    with store.transaction() as session:
        rows = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "job", AuditEntry.entity_id == str(job_id))
            .order_by(AuditEntry.seq)
        )
        return list(rows)


def test_same_key_is_one_job_and_its_result_is_reused(any_store: Store) -> None:
    first = enqueue(any_store, sleep_spec("k1", value=1))
    assert enqueue(any_store, sleep_spec("k1", value=1)) == first
    assert execute(any_store, lease(any_store)[0], KINDS) == "done"
    with any_store.transaction() as session:
        again, created = queue.enqueue(session, sleep_spec("k1", value=1), "tech")
    assert (again.id, created, again.status) == (first, False, "done")
    assert job(any_store, first).result == {"pid": job(any_store, first).result["pid"], "value": 1}  # type: ignore[index]
    assert audit_actions(any_store, first) == ["job:queued", "job:running", "job:done"]
    with any_store.transaction() as session:
        assert verify(session).ok


def test_higher_priority_first_then_oldest(any_store: Store) -> None:
    batch = enqueue(any_store, JobSpec("test.sleep", {}, "b", "t1", priority=Priority.BATCH))
    routine = enqueue(any_store, JobSpec("test.sleep", {}, "r", "t1", priority=Priority.ROUTINE))
    stat = enqueue(any_store, JobSpec("test.sleep", {}, "s", "t1", priority=Priority.STAT))
    routine2 = enqueue(any_store, JobSpec("test.sleep", {}, "r2", "t1", priority=Priority.ROUTINE))
    order = [c.job_id for c in lease(any_store, limit=4)]
    assert order == [stat, routine, routine2, batch]


def test_transient_errors_retry_until_max_attempts(any_store: Store) -> None:
    job_id = enqueue(any_store, JobSpec("test.crash", {}, "c", "t1", max_attempts=2))
    assert execute(any_store, lease(any_store)[0], KINDS) == "queued"
    assert job(any_store, job_id).error == "RuntimeError: simulated transient failure"
    assert execute(any_store, lease(any_store)[0], KINDS) == "failed"
    info = job(any_store, job_id)
    assert (info.status, info.attempts) == ("failed", 2)
    assert info.error == "gave up after 2 attempts: RuntimeError: simulated transient failure"
    assert lease(any_store) == []


def test_bad_input_fails_at_once_with_the_message(any_store: Store) -> None:
    job_id = enqueue(any_store, JobSpec("test.bad_input", {}, "b", "t1"))
    assert execute(any_store, lease(any_store)[0], KINDS) == "failed"
    info = job(any_store, job_id)
    assert info.attempts == 1 and info.error == "/data/broken.hea: field 'path': not a recording"


def test_expired_lease_is_requeued_and_the_late_result_discarded(any_store: Store) -> None:
    job_id = enqueue(any_store, sleep_spec("e", value=5))
    stale = lease(any_store, lease_s=30)[0]
    assert expire(any_store, job_id) == [job_id]
    info = job(any_store, job_id)
    assert info.status == "queued" and "expired" in (info.error or "")
    fresh = lease(any_store)[0]
    assert fresh.attempts == 2 and fresh.owner != stale.owner
    with pytest.raises(LeaseLostError), any_store.transaction() as session:
        queue.finish(session, stale, {"from": "stale"})
    with any_store.transaction() as session:
        assert not queue.heartbeat(session, stale)
        assert queue.heartbeat(session, fresh, 0.5)
        queue.finish(session, fresh, {"from": "fresh"})
    info = job(any_store, job_id)
    assert (info.status, info.result, info.attempts) == ("done", {"from": "fresh"}, 2)
    assert audit_actions(any_store, job_id).count("job:done") == 1


def test_a_job_queued_again_after_a_lost_lease_shows_no_progress(any_store: Store) -> None:
    """The next attempt starts from the beginning: the queued job does not show the 80 % of the attempt
    that was lost (it used to, then fell to 0 when the next attempt began)."""
    job_id = enqueue(any_store, sleep_spec("p"))
    stale = lease(any_store)[0]
    with any_store.transaction() as session:
        assert queue.heartbeat(session, stale, 0.8)
    assert job(any_store, job_id).progress == pytest.approx(0.8)
    expire(any_store, job_id)
    info = job(any_store, job_id)
    assert info.status == "queued" and info.progress == 0.0


def test_lost_lease_at_the_last_attempt_fails_the_job(any_store: Store) -> None:
    job_id = enqueue(any_store, JobSpec("test.sleep", {}, "x", "t1", max_attempts=1))
    lease(any_store)
    expire(any_store, job_id)
    info = job(any_store, job_id)
    assert info.status == "failed" and info.error.startswith("gave up after 1 attempts: lease of w1/")  # type: ignore[union-attr]


def test_a_split_job_waits_for_its_parts_then_merges(any_store: Store) -> None:
    parent = enqueue(any_store, JobSpec("test.split", {"n": 3}, "p", "t1"))
    assert execute(any_store, lease(any_store)[0], KINDS) == "queued"
    assert job(any_store, parent).parts == {"queued": 3}
    claims = lease(any_store, limit=10)
    assert sorted(c.kind for c in claims) == ["test.sleep"] * 3  # the parent waits
    for claim in claims:
        execute(any_store, claim, KINDS)
    (merge,) = lease(any_store)
    assert merge.job_id == parent and merge.attempts == 1
    assert execute(any_store, merge, KINDS) == "done"
    assert job(any_store, parent).result == {"sum": 3, "n": 3}


def test_a_split_job_s_progress_does_not_drop_when_its_merge_starts(any_store: Store) -> None:
    parent = enqueue(any_store, JobSpec("test.split", {"n": 2}, "p", "t1"))
    execute(any_store, lease(any_store)[0], KINDS)
    (first,) = lease(any_store)
    execute(any_store, first, KINDS)
    assert job(any_store, parent).progress == pytest.approx(0.475)
    (second,) = lease(any_store)
    execute(any_store, second, KINDS)
    assert job(any_store, parent).progress == pytest.approx(0.95)
    (merge,) = lease(any_store)
    assert merge.job_id == parent
    assert job(any_store, parent).progress == pytest.approx(0.95)  # merging: not back to 0
    execute(any_store, merge, KINDS)
    assert job(any_store, parent).progress == 1.0


def test_a_failed_part_fails_its_parent_and_retry_runs_them_again(any_store: Store) -> None:
    parent = enqueue(any_store, JobSpec("test.split", {"n": 2}, "p", "t1"))
    execute(any_store, lease(any_store)[0], KINDS)
    first, second = lease(any_store, limit=2)
    with any_store.transaction() as session:
        queue.fail(session, first, "disk full", permanent=True)
    info = job(any_store, parent)
    assert info.status == "failed" and info.error == "part 0 failed: disk full"
    with any_store.transaction() as session:  # the sibling still running is not needed any more
        assert not queue.heartbeat(session, second)
    with any_store.transaction() as session:
        queue.retry(session, parent, "tech")
    assert job(any_store, parent).status == "queued"
    for claim in lease(any_store, limit=5):
        execute(any_store, claim, KINDS)
    execute(any_store, lease(any_store)[0], KINDS)
    assert job(any_store, parent).result == {"sum": 1, "n": 2}


def test_a_cancelled_part_cancels_its_parent_instead_of_leaving_it_waiting(any_store: Store) -> None:
    parent = enqueue(any_store, JobSpec("test.split", {"n": 2}, "p", "t1"))
    execute(any_store, lease(any_store)[0], KINDS)
    first, second = lease(any_store, limit=2)
    with any_store.transaction() as session:
        queue.cancel(session, first.job_id, "tech")
    info = job(any_store, parent)
    assert info.status == "cancelled" and info.parts == {"cancelled": 2}  # not queued for ever
    with any_store.transaction() as session:  # the sibling still running is not needed any more
        assert not queue.heartbeat(session, second)
    assert "job:cancelled" in audit_actions(any_store, parent)
    with any_store.transaction() as session:
        queue.retry(session, parent, "tech")
    for claim in lease(any_store, limit=5):
        execute(any_store, claim, KINDS)
    execute(any_store, lease(any_store)[0], KINDS)
    assert job(any_store, parent).result == {"sum": 1, "n": 2}


def test_cancel_stops_a_running_job_and_retry_queues_it(any_store: Store) -> None:
    job_id = enqueue(any_store, sleep_spec("c"))
    claim = lease(any_store)[0]
    with any_store.transaction() as session:
        queue.cancel(session, job_id, "tech")
    with any_store.transaction() as session:
        assert not queue.heartbeat(session, claim)
    with pytest.raises(InputError, match="already cancelled"), any_store.transaction() as session:
        queue.cancel(session, job_id, "tech")
    with any_store.transaction() as session:
        queue.retry(session, job_id, "tech")
    with pytest.raises(InputError, match="only failed or cancelled"), any_store.transaction() as session:
        queue.retry(session, job_id, "tech")
    assert execute(any_store, lease(any_store)[0], KINDS) == "done"
    assert audit_actions(any_store, job_id) == [
        "job:queued", "job:running", "job:cancelled", "job:queued", "job:running", "job:done"
    ]


def test_a_stopping_worker_gives_jobs_back_without_using_an_attempt(any_store: Store) -> None:
    job_id = enqueue(any_store, sleep_spec("g", max_attempts=1))
    claim = lease(any_store)[0]
    with any_store.transaction() as session:
        assert queue.give_back(session, claim, "the worker stopped")
    assert job(any_store, job_id).attempts == 0
    assert execute(any_store, lease(any_store)[0], KINDS) == "done"


def test_a_second_start_of_one_claim_counts_as_an_attempt(any_store: Store) -> None:
    """Dask runs a task again when its worker died: the job table counts that attempt."""
    job_id = enqueue(any_store, sleep_spec("d", max_attempts=2))
    claim = lease(any_store)[0]
    with any_store.transaction() as session:
        assert queue.begin(session, claim)
    with any_store.transaction() as session:
        assert queue.begin(session, claim)
    assert job(any_store, job_id).attempts == 2
    with any_store.transaction() as session:
        assert not queue.begin(session, claim)  # a third start: no attempt left
    info = job(any_store, job_id)
    assert (info.status, info.attempts) == ("failed", 2)  # not "attempt 3 of 2"
    assert info.error == "gave up after 2 attempts: its worker stopped each time"
    assert audit_actions(any_store, job_id).count("job:restarted") == 1


def test_unknown_kind_and_status_are_refused(any_store: Store) -> None:
    from ecgdesk.jobs.runner import resolve
    from ecgdesk.workflow.jobs import list_jobs

    with pytest.raises(InputError, match="unknown job kind 'nope'"):
        resolve(KINDS, "nope")
    with pytest.raises(InputError, match="field 'status'"):
        list_jobs(any_store, status="finished")
