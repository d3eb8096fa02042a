"""The Dask executor's failure paths on a real loopback cluster: a worker killed in the middle of a study's
analysis (one run stored), a stalled worker whose lease expires (the job runs again elsewhere, the late
result is discarded), a job cancelled while its task runs (nothing written after), tasks that raise
(the job fails with the reason, at once or after its attempts), and the scheduler gone (the jobs given
back, queued, and finished by a local run)."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from job_kinds import KINDS, SLOW_STUDY_KINDS
from jobs_builders import BACKENDS, cluster, make_store
from sqlalchemy import func, select

import ecgdesk
from ecgdesk.coding import Service, Setting
from ecgdesk.jobs import queue
from ecgdesk.jobs.dask_executor import DaskExecutor, local_cluster
from ecgdesk.jobs.executor import Ended
from ecgdesk.jobs.queue import JobSpec
from ecgdesk.jobs.worker import serve
from ecgdesk.records import write_recording
from ecgdesk.store import Store
from ecgdesk.store.models import AnalysisRun, AuditEntry
from ecgdesk.workflow.analysis_jobs import analysis_spec
from ecgdesk.workflow.demo import synthetic_recording
from ecgdesk.workflow.jobs import cancel_job, run_inline
from ecgdesk.workflow.studies import StudyRequest, create_study, get_study, import_recording

pytest.importorskip("distributed")

__all__ = ["cluster"]  # the module's cluster fixture


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = make_store(tmp_path, request.param)
    yield store
    store.close()


def _enqueue(store: Store, spec: JobSpec) -> int:
    with store.transaction() as session:
        return queue.enqueue(session, spec, "tech")[0].id


def _job(store: Store, job_id: int) -> queue.JobInfo:
    with store.transaction() as session:
        return queue.info(session, queue.get_job(session, job_id))


def _actions(store: Store, job_id: int) -> list[str]:
    with store.transaction() as session:
        return list(session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "job", AuditEntry.entity_id == str(job_id))
            .order_by(AuditEntry.seq)
        ))


def _started(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def _recording_ended(executor: DaskExecutor) -> list[Ended]:
    """The runs ``executor`` reports ended, as the loop sees them."""
    ended: list[Ended] = []
    wait = executor.wait

    def recorded(timeout: float) -> list[Ended]:
        ends = wait(timeout)
        ended.extend(ends)
        return ends

    executor.wait = recorded  # type: ignore[method-assign]
    return ended


def test_a_dask_worker_killed_mid_analysis_stores_one_run(store: Store, cluster: str, tmp_path: Path) -> None:
    record = write_recording(synthetic_recording(2.0, seed=3), tmp_path / "rec", "wfdb", "tiny")
    study = StudyRequest("P1", "Doe, Jane", date(1950, 1, 2), "F", Service.AMBULATORY_ECG, "1245319599",
                         ("R00.2",), 1.0, Setting.PRACTITIONER, "11")
    study_id = create_study(store, study, "tech")
    import_recording(store, study_id, record, "tech")
    log = tmp_path / "starts.log"
    with store.transaction() as session:
        spec = analysis_spec(session, store, study_id, "tech")
    slow = {**spec.payload, "seconds": 60, "log": str(log)}
    job_id = _enqueue(store, dataclasses.replace(spec, payload=slow))
    killed: list[int] = []

    def step() -> bool:
        if not killed and _started(log):
            killed.append(int(_started(log)[1]))
            os.kill(killed[0], signal.SIGKILL)  # the Dask worker process in the middle of the analysis
        return _job(store, job_id).status == "done"

    serve(store, DaskExecutor(store, SLOW_STUDY_KINDS, cluster), SLOW_STUDY_KINDS, stop=step, lease_s=20,
          poll_s=0.1)
    info = _job(store, job_id)
    assert (info.status, info.attempts) == ("done", 2) and killed
    with store.transaction() as session:
        runs = session.scalars(select(AnalysisRun).where(AnalysisRun.study_id == study_id)).all()
        assert [run.id for run in runs] == [info.result["run_id"]] if info.result else False
        assert str(get_study(session, study_id).status) == "analyzed"
        stored = select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "analysis:run", AuditEntry.entity_id == str(study_id))
        assert session.scalar(stored) == 1


def test_a_stalled_dask_worker_loses_its_lease_and_its_late_result(
    store: Store, cluster: str, tmp_path: Path
) -> None:
    """A worker that stops (SIGSTOP: swapped out, a frozen VM) stops heartbeating: its lease expires, the job
    runs again on the other worker and ends once; resumed, the stalled task finds its lease gone and writes
    nothing."""
    log = tmp_path / "starts.log"
    job_id = _enqueue(store, JobSpec("test.sleep", {"seconds": 60, "then": 0.2, "log": str(log)}, "h", "t1"))
    executor = DaskExecutor(store, KINDS, cluster)
    ended = _recording_ended(executor)
    stalled: list[int] = []

    def step() -> bool:
        if not stalled and _started(log):
            stalled.append(int(_started(log)[1]))
            os.kill(stalled[0], signal.SIGSTOP)
        if stalled and _job(store, job_id).status == "done" and len(ended) == 1:
            os.kill(stalled[0], signal.SIGCONT)  # the stalled task goes on, and must find its lease gone
        return len(ended) == 2

    try:
        stats = serve(store, executor, KINDS, stop=step, lease_s=2, poll_s=0.05)
    finally:
        if stalled:
            os.kill(stalled[0], signal.SIGCONT)
    info = _job(store, job_id)
    assert (info.status, info.attempts, stats.leased, stats.requeued_expired) == ("done", 2, 2, 1)
    assert info.result is not None and info.result["pid"] != stalled[0]
    assert [end.crash for end in ended] == [None, None]
    assert _actions(store, job_id) == ["job:queued", "job:running", "job:queued", "job:running", "job:done"]


def test_a_job_cancelled_while_its_dask_task_runs_writes_nothing_after(
    store: Store, cluster: str, tmp_path: Path
) -> None:
    log = tmp_path / "starts.log"
    job_id = _enqueue(store, JobSpec("test.sleep", {"seconds": 60, "log": str(log)}, "c", "t1"))
    executor = DaskExecutor(store, KINDS, cluster)
    ended = _recording_ended(executor)
    cancelled: list[float] = []

    def step() -> bool:
        if not cancelled and _started(log):
            cancel_job(store, job_id, "tech")
            cancelled.append(time.monotonic())
        return bool(ended)

    serve(store, executor, KINDS, stop=step, lease_s=3, poll_s=0.1)
    assert time.monotonic() - cancelled[0] < 10  # the task stopped at its next heartbeat, not after 60 s
    assert [end.crash for end in ended] == [None]
    info = _job(store, job_id)
    assert (info.status, info.result, info.attempts) == ("cancelled", None, 1)
    assert _actions(store, job_id) == ["job:queued", "job:running", "job:cancelled"]


def test_dask_tasks_that_raise_fail_their_jobs_with_the_reason(store: Store, cluster: str) -> None:
    crash = _enqueue(store, JobSpec("test.crash", {}, "x", "t1"))
    bad = _enqueue(store, JobSpec("test.bad_input", {}, "b", "t1"))
    unknown = _enqueue(store, JobSpec("test.unknown", {}, "u", "t1"))  # leased by a loop with a wider table

    def ended() -> bool:
        with store.transaction() as session:
            return queue.count_by_status(session) == {"failed": 3}

    wider = {**KINDS, "test.unknown": "job_kinds:no_such_function"}
    serve(store, DaskExecutor(store, wider, cluster), wider, stop=ended, lease_s=10, poll_s=0.05)
    crashed, refused, missing = (_job(store, j) for j in (crash, bad, unknown))
    assert crashed.attempts == 3 and crashed.error is not None
    assert crashed.error.startswith("gave up after 3 attempts: RuntimeError: simulated transient failure")
    assert (refused.attempts, refused.error) == (1, "/data/broken.hea: field 'path': not a recording")
    assert missing.attempts == 3 and "no_such_function" in (missing.error or "")


def test_a_transient_error_on_dask_waits_its_backoff_before_the_next_attempt(
    store: Store, cluster: str
) -> None:
    """The task records the failure with the loop's backoff (it travels in the claim); the loop leases the
    job again only after it: the attempts start at least 0.4 s, then 0.8 s, apart."""
    from datetime import datetime, timedelta

    from ecgdesk.jobs.settings import Backoff

    crash = _enqueue(store, JobSpec("test.crash", {}, "slow-retry", "t1"))

    def ended() -> bool:
        with store.transaction() as session:
            return queue.count_by_status(session) == {"failed": 1}

    serve(store, DaskExecutor(store, KINDS, cluster), KINDS, stop=ended, lease_s=10, poll_s=0.05,
          backoff=Backoff(base_s=0.4, cap_s=5.0, jitter=0.0))
    assert _job(store, crash).attempts == 3
    with store.transaction() as session:
        starts = [datetime.fromisoformat(at) for at in session.scalars(select(AuditEntry.at).where(
            AuditEntry.entity == "job", AuditEntry.entity_id == str(crash), AuditEntry.action == "job:running"
        ).order_by(AuditEntry.seq))]
    first, second, third = starts
    assert second - first >= timedelta(seconds=0.4) and third - second >= timedelta(seconds=0.8)


def test_a_job_that_kills_its_dask_worker_fails_after_its_attempts(store: Store, cluster: str) -> None:
    """Dask starts the task again on the other worker; with no attempt left that start fails the job,
    which keeps its attempts within the limit (it said "attempt 2 of 1")."""
    job_id = _enqueue(store, JobSpec("test.kill_worker", {}, "k", "t1", max_attempts=1))

    def ended() -> bool:
        return _job(store, job_id).status == "failed"

    serve(store, DaskExecutor(store, KINDS, cluster), KINDS, stop=ended, lease_s=10, poll_s=0.05)
    info = _job(store, job_id)
    assert (info.attempts, info.error) == (1, "gave up after 1 attempts: its worker stopped each time")


def test_a_worker_with_another_ecgdesk_version_fails_the_job_with_that_reason(
    store: Store, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _enqueue(store, JobSpec("test.sleep", {"seconds": 0}, "v", "t1"))
    monkeypatch.setattr(ecgdesk, "__version__", "0.0.0-other")  # the loop's version, sent with each task

    def ended() -> bool:
        return _job(store, job_id).status == "failed"

    serve(store, DaskExecutor(store, KINDS, cluster), KINDS, stop=ended, lease_s=10, poll_s=0.05)
    info = _job(store, job_id)
    assert info.attempts == 3 and info.error is not None
    assert "the worker loop 0.0.0-other: install the same version on every host" in info.error


def test_the_scheduler_gone_gives_the_jobs_back_for_a_local_worker(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "starts.log"
    job_id = _enqueue(store, JobSpec("test.sleep", {"seconds": 60, "then": 0.1, "log": str(log)}, "s", "t1"))
    local = local_cluster(1)
    executor = DaskExecutor(store, KINDS, local.scheduler_address, timeout_s=2)
    ended = _recording_ended(executor)

    def step() -> bool:
        if _started(log) and local.status.name == "running":
            local.close()  # the scheduler and its worker go
        return bool(ended)

    try:
        stats = serve(store, executor, KINDS, stop=step, lease_s=3, poll_s=0.1)
    finally:
        local.close()
    assert [(end.crash or "", end.blameless) for end in ended] == [(stats.crashes[0].split(": ", 1)[1], True)]
    assert "the scheduler was lost" in stats.crashes[0]
    info = _job(store, job_id)
    assert (info.status, info.attempts) == ("queued", 0)  # given back: no attempt used
    done = run_inline(store, job_id, kinds=KINDS, lease_s=3)  # a local worker finishes it
    assert (done.status, done.attempts) == ("done", 1)
