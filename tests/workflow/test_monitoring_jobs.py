"""Strip classification as a job of the durable queue (``monitor.classify``): queued with its item in one
transaction, ahead of analyses, keyed by the transmission and the classifier's version, and classified
exactly once even when its worker is killed with SIGKILL in the middle of a classification."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from monitoring_builders import START, Strips, make_strips
from monitoring_stall_kinds import LOG_ENV
from sqlalchemy import func, select

from ecgdesk.coding import Service
from ecgdesk.jobs import queue
from ecgdesk.store import Store
from ecgdesk.store.jobs_models import Job, Priority
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.monitoring_models import QueueItem, Transmission
from ecgdesk.workflow.monitoring import EnrolmentRequest, classify_pending, enroll, ingest_file
from ecgdesk.workflow.monitoring_jobs import KIND, classifier_version, enqueue_classification
from ecgdesk.workflow.monitoring_queue import list_queue


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("monitoring-jobs"))


def _enroll(store: Store, serial: str = "DEV-1") -> None:
    request = EnrolmentRequest("M1", "Roe, Rita", date(1950, 5, 6), "F", serial, Service.EVENT_MONITOR,
                               START.date(), "1245319599", ("R00.2",))
    enroll(store, request, "tech")


def _jobs(store: Store) -> list[Job]:
    with store.transaction() as session:
        rows = list(session.scalars(select(Job).where(Job.kind == KIND).order_by(Job.id)))
        session.expunge_all()
        return rows


def _audits(store: Store, action: str, entity_id: int | None = None) -> list[str]:
    query = select(AuditEntry.after_json).where(AuditEntry.action == action).order_by(AuditEntry.seq)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == str(entity_id))
    with store.transaction() as session:
        return list(session.scalars(query))


def test_each_strip_is_queued_with_one_classification_job(store: Store, strips: Strips) -> None:
    _enroll(store)
    first = ingest_file(store, strips.pause, "DEV-1", "device", message_id="m1")
    again = ingest_file(store, strips.pause, "DEV-1", "device", message_id="m2")
    other = ingest_file(store, strips.pause, "DEV-2", "device")  # same content, another device
    assert (first.status, first.priority, again.status) == ("queued", "urgent", "duplicate")
    jobs = _jobs(store)
    assert [j.id for j in jobs] == [first.job_id, other.job_id] and first.job_id != other.job_id
    assert {(j.status, j.priority, j.attempts, j.algorithm_version) for j in jobs} == {
        ("done", Priority.TRIAGE, 1, classifier_version())
    }
    assert Priority.TRIAGE > Priority.STAT > Priority.BATCH
    # the key is the transmission: enqueueing its job again is the same job, and its result is reused
    assert classify_pending(store) == 0
    with store.transaction() as session:
        item = session.get(QueueItem, first.item_id)
        assert item is not None
        sent = session.get(Transmission, item.transmission_id)
        assert sent is not None
        assert enqueue_classification(session, item.id, sent.id, sent.sha256, "x") == first.job_id
    assert len(_audits(store, "monitor:classify")) == 2


def test_a_worker_killed_during_classification_leaves_the_item_queued_and_classified_once(
    store: Store, strips: Strips, tmp_path: Path
) -> None:
    _enroll(store)
    outcome = ingest_file(store, strips.pause, "DEV-1", "device", classify=False)
    assert outcome.job_id is not None and outcome.item_id is not None
    log = tmp_path / "stalled.log"
    env = dict(os.environ)
    env.update({
        "ECGDESK_DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
        "ECGDESK_HOME": str(store.home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")])),
        LOG_ENV: str(log),
    })
    command = [sys.executable, "-m", "ecgdesk.cli.main", "worker", "--kinds-module", "monitoring_stall_kinds",
               "--lease-s", "2", "--poll-s", "0.1"]
    worker = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and log.read_text().strip()):
            assert time.monotonic() < deadline and worker.poll() is None, "the worker never classified"
            time.sleep(0.05)
        job_id, child_pid, attempt = map(int, log.read_text().split())
        assert (job_id, attempt) == (outcome.job_id, 1)
        worker.send_signal(signal.SIGKILL)  # the worker loop; its job process is orphaned mid-way
        worker.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child_pid):
            assert time.monotonic() < deadline, "the orphaned job process did not exit"
            time.sleep(0.05)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=10)
        assert worker.stderr is not None
        worker.stderr.close()
    (row,) = list_queue(store)
    assert (row.id, row.priority) == (outcome.item_id, "unclassified")  # still queued, nothing written
    assert _jobs(store)[0].status == "running"
    # any worker (here this process) queues the job again once its lease expires, and runs it
    assert classify_pending(store) == 1
    (row,) = list_queue(store)
    assert (row.id, row.priority) == (outcome.item_id, "urgent")
    (job,) = _jobs(store)
    assert (job.status, job.attempts) == ("done", 2)
    assert len(_audits(store, "monitor:classify", outcome.item_id)) == 1
    assert any("expired" in after for after in _audits(store, "job:queued", job.id))
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(QueueItem)) == 1
        assert queue.count_by_status(session) == {"done": 1}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_pressing_strip_heads_the_queue_behind_any_backlog(store: Store, strips: Strips) -> None:
    """The queue is ordered in the database: the newest urgent strip behind a long backlog of routine
    ones still comes first, whatever the listing's limit."""
    from datetime import UTC, datetime, timedelta

    _enroll(store)
    first = ingest_file(store, strips.normal, "DEV-1", "device", classify=False)
    stamp = datetime.now(UTC) - timedelta(hours=1)
    with store.transaction() as session:
        sent = session.get(Transmission, first.transmission_id)
        assert sent is not None
        for i in range(12):  # older routine items (copies of the first strip's row, as if received before)
            copy = Transmission(**{c.key: getattr(sent, c.key) for c in Transmission.__table__.columns
                                   if c.key != "id"} | {"sha256": f"{i:064d}", "message_id": f"old{i}"})
            session.add(copy)
            session.flush()
            session.add(QueueItem(
                transmission_id=copy.id, enrolment_id=copy.enrolment_id, priority="routine", reason="routine",
                received_at=stamp + timedelta(minutes=i), due_at=stamp + timedelta(days=1),
                classified_at=stamp, status="open", note=""))
    vt = ingest_file(store, strips.vt, "DEV-1", "device")
    assert vt.priority == "urgent"
    rows = list_queue(store, limit=2)
    assert [(r.id, r.priority) for r in rows] == [(first.item_id, "unclassified"), (vt.item_id, "urgent")]
    assert [r.priority for r in list_queue(store)][2:] == ["routine"] * 12


def test_a_backlog_is_classified_in_one_batch_each_item_once(store: Store, strips: Strips) -> None:
    """A worker with a backlog runs up to 8 strips as one batch (one transaction to read, one to write):
    each item gets the priority it gets alone, one audit row, and its job ends with it; a job whose
    lease was lost meanwhile writes nothing and its item is classified later, once."""
    from datetime import timedelta

    from sqlalchemy import update

    from ecgdesk.jobs.runner import execute_many
    from ecgdesk.store import verify
    from ecgdesk.workflow.monitoring_classify import read_pending, triage_strip
    from ecgdesk.workflow.monitoring_jobs import KINDS

    _enroll(store)
    outcomes = [ingest_file(store, path, "DEV-1", "device", classify=False)
                for path in (strips.normal, strips.vt, strips.pause, strips.flat)]
    with store.transaction() as session:
        claims = queue.claim(session, "w", KINDS, 1, 30.0, batch={KIND: 8})
        assert [c.job_id for c in claims] == [o.job_id for o in outcomes]
        stolen = claims[1].job_id  # its worker stalled: the lease expired and the sweep requeued it
        session.execute(update(Job).where(Job.id == stolen)
                        .values(lease_expires_at=queue.now() - timedelta(seconds=1)))
        assert queue.requeue_expired(session, "sweeper") == [stolen]
    assert execute_many(store, claims, KINDS) == ["done", "lost", "done", "done"]
    assert [row.priority for row in list_queue(store) if row.id == outcomes[1].item_id] == ["unclassified"]
    assert classify_pending(store) == 1
    rows = {row.id: row for row in list_queue(store)}
    with store.transaction() as session:
        for outcome in outcomes:
            alone = triage_strip(read_pending(session, store, outcome.item_id)).triage
            assert (rows[outcome.item_id].priority, rows[outcome.item_id].reason) == (
                alone.priority.value, alone.reason)
    assert [rows[o.item_id].priority for o in outcomes[2:]] == ["urgent", "unreadable"]
    assert {(j.status, j.attempts) for j in _jobs(store)} == {("done", 1), ("done", 2)}
    for outcome in outcomes:
        assert len(_audits(store, "monitor:classify", outcome.item_id)) == 1
    with store.transaction() as session:
        assert verify(session).ok
