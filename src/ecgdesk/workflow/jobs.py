"""Jobs as people and commands use them: list, show, retry, cancel; run one inline; run a worker.

The kinds every worker runs are :data:`KINDS` (analyses, upload imports, strip triage). A command that
wants a job's result at once (``study analyze``, ``monitor ingest``) enqueues it and runs it inline with
:func:`run_inline`: the same work function a worker would run, so the result is the same, and it waits
instead when a worker already runs it.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from ecgdesk.errors import EXIT_USAGE, EcgDeskError, InputError, NotFoundError, check_option
from ecgdesk.jobs import queue
from ecgdesk.jobs.executor import Executor, LocalExecutor
from ecgdesk.jobs.queue import JobInfo
from ecgdesk.jobs.runner import Kinds, execute
from ecgdesk.jobs.settings import Backoff
from ecgdesk.jobs.worker import LoopStats, serve
from ecgdesk.store import Store
from ecgdesk.store.jobs_models import ENDED, Job, JobStatus
from ecgdesk.workflow.analysis_jobs import KINDS as ANALYSIS_KINDS
from ecgdesk.workflow.monitoring_jobs import KINDS as MONITORING_KINDS
from ecgdesk.workflow.report_jobs import KINDS as REPORT_KINDS

KINDS: dict[str, str] = {
    **ANALYSIS_KINDS,
    "upload.import": "ecgdesk.workflow.uploads:run_upload_job",
    **MONITORING_KINDS,
    **REPORT_KINDS,
}


class JobFailedError(EcgDeskError):
    """A job a command waited for ended failed or cancelled (the message has the job's error)."""

    exit_code = 1


class JobInputError(JobFailedError):
    """A job a command waited for failed on its input (the reader's or the engine's refusal of the data):
    bad input, as if the command had read it itself."""

    exit_code = EXIT_USAGE


def job_failed(message: str, job: JobInfo) -> JobFailedError:
    """The error of a command whose job ended without a result: bad input when the job failed on it."""
    return JobInputError(message) if job.failed_on_input else JobFailedError(message)

EXECUTORS = ("local", "dask")


def list_jobs(
    store: Store,
    *,
    status: str | None = None,
    kind: str | None = None,
    study_id: int | None = None,
    include_parts: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[JobInfo]:
    """A page of jobs, newest first (``limit`` 1 to :data:`MAX_PAGE`, from ``offset``)."""
    check_page(limit, offset)
    if status is not None:
        check_option("status", status, [s.value for s in JobStatus])
    with store.transaction() as session:
        return queue.list_jobs(
            session, status=status, kind=kind, study_id=study_id, include_parts=include_parts, limit=limit,
            offset=offset,
        )


#: The most jobs one page lists (one query, each job's parts counted).
MAX_PAGE = 1000


def check_page(limit: int, offset: int) -> None:
    # 0 listed nothing and said "no jobs"; a negative limit was no limit on SQLite, an error on PostgreSQL
    if not 1 <= limit <= MAX_PAGE:
        raise InputError("limit", f"must be a whole number of jobs from 1 to {MAX_PAGE}, got {limit}")
    if not 0 <= offset <= 2**31 - 1:
        raise InputError("offset", f"must be 0 or more (jobs to skip, newest first), got {offset}")


def count_jobs(
    store: Store, *, status: str | None = None, kind: str | None = None, study_id: int | None = None,
    include_parts: bool = False,
) -> int:
    """How many jobs :func:`list_jobs` pages through with these filters."""
    with store.transaction() as session:
        return queue.count_jobs(
            session, status=status, kind=kind, study_id=study_id, include_parts=include_parts
        )


@dataclass(frozen=True)
class JobDetail:
    job: JobInfo
    parts: list[JobInfo]


def show_job(store: Store, job_id: int) -> JobDetail:
    with store.transaction() as session:
        job = queue.get_job(session, job_id)
        parts = [queue.info(session, p) for p in queue.parts_of(session, job_id)]
        return JobDetail(queue.info(session, job), parts)


def retry_job(store: Store, job_id: int, actor: str) -> JobInfo:
    """Queue a failed or cancelled job again (audited)."""
    with store.transaction() as session:
        return queue.info(session, queue.retry(session, job_id, actor))


def cancel_job(store: Store, job_id: int, actor: str) -> JobInfo:
    """Cancel a queued or running job (audited); a running one stops at its next heartbeat."""
    with store.transaction() as session:
        return queue.info(session, queue.cancel(session, job_id, actor))


def cancel_study_job(store: Store, study_id: int, job_id: int, actor: str) -> JobInfo:
    """Cancel a queued or running job of ``study_id`` (the study page's and the API's cancel; audited): a
    running analysis stops at its next heartbeat and stores nothing, so the study stays as it was and a
    new analysis may be queued at once. A job of another study is not found here."""
    with store.transaction() as session:
        job = session.get(Job, job_id)
        if job is None or job.study_id != study_id:
            raise NotFoundError("job", f"study {study_id} has no job {job_id}")
        return queue.info(session, queue.cancel(session, job_id, actor))


def kinds_with(module: str | None) -> dict[str, str]:
    """:data:`KINDS` plus the ``KINDS`` table of ``module`` (a site's own job kinds), if given."""
    if not module:
        return dict(KINDS)
    try:
        extra = importlib.import_module(module).KINDS
    except (ImportError, AttributeError) as error:
        raise InputError("kinds-module", f"cannot load a KINDS table from {module!r}: {error}") from None
    return {**KINDS, **dict(extra)}


def make_executor(
    store: Store,
    name: str,
    *,
    concurrency: int | None = None,
    scheduler: str | None = None,
    kinds: Kinds = KINDS,
    connect_timeout_s: float | None = None,
) -> Executor:
    """``local`` (``concurrency`` processes, default 1) or ``dask`` (the cluster at ``scheduler``, reached
    within ``connect_timeout_s`` seconds, default the worker settings' ``connect_timeout_s``, or an
    :class:`InputError` saying it cannot be reached)."""
    check_option("executor", name, EXECUTORS)
    if name == "local":
        return LocalExecutor(store, kinds, concurrency or 1)
    if not scheduler:
        raise InputError("scheduler", "the dask executor needs --scheduler tcp://HOST:PORT")
    from ecgdesk.jobs.dask_executor import DaskExecutor
    from ecgdesk.jobs.settings import WorkerSettings, check_seconds

    if connect_timeout_s is None:
        connect_timeout_s = WorkerSettings.from_env().connect_timeout_s
    check_seconds("connect-timeout-s", connect_timeout_s)
    return DaskExecutor(store, kinds, scheduler, concurrency, timeout_s=connect_timeout_s)


def pending(store: Store) -> int:
    """How many jobs are queued or running."""
    with store.transaction() as session:
        counts = queue.count_by_status(session)
    return counts.get(JobStatus.QUEUED, 0) + counts.get(JobStatus.RUNNING, 0)


def idle(store: Store, horizon_s: float) -> tuple[bool, str | None]:
    """Whether an ``--until-idle`` worker may stop: no job can run now or runs, and none waits for a
    retry time within ``horizon_s`` seconds (the backoff cap: a wait this worker's own failures set).
    When it stops with jobs still waiting beyond that, the second item says so."""
    with store.transaction() as session:
        left = queue.backlog(session)
    if left.ready:
        return False, None
    if not left.waiting or left.first_at is None or left.last_at is None:
        return True, None
    if left.first_at <= queue.now() + timedelta(seconds=horizon_s):
        return False, None
    return True, (f"{left.waiting} job(s) wait for their retry time, the first at "
                  f"{left.first_at:%Y-%m-%d %H:%M:%S} UTC, the last at {left.last_at:%H:%M:%S} UTC "
                  f"(beyond the {horizon_s:g} s backoff cap); a worker runs them then")


def run_worker(
    store: Store,
    executor: Executor,
    *,
    lease_s: float = queue.DEFAULT_LEASE_S,
    poll_s: float = 1.0,
    until_idle: bool = False,
    stop: Callable[[], bool] = lambda: False,
    kinds: Kinds = KINDS,
    backoff: Backoff | None = None,
) -> LoopStats:
    """Run jobs until ``stop()`` (or, with ``until_idle``, until :func:`idle`: no job is queued or running
    but those waiting for a retry time beyond the backoff cap, which ``waiting_note`` names)."""
    backoff = backoff or Backoff.from_env()
    stats = LoopStats()

    def done() -> bool:
        if stop():
            return True
        if not until_idle:
            return False
        finished, stats.waiting_note = idle(store, backoff.cap_s)
        return finished

    return serve(store, executor, kinds, stop=done, lease_s=lease_s, poll_s=poll_s, backoff=backoff,
                 stats=stats)


def run_left(store: Store, **options: Any) -> list[JobInfo]:
    """Run the jobs left queued or running (their parts with them), most urgent first, one after the other,
    each to its end (:func:`run_chain`): a running one once its lease has expired (its process is gone), or
    waited for while its worker lives. For a service that runs its jobs in its own threads, when it starts:
    its jobs of before a restart have no other process to run them. The ended jobs."""
    live = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
    with store.transaction() as session:
        ids = list(session.scalars(select(Job.id).where(Job.parent_id.is_(None), Job.status.in_(live))
                                   .order_by(Job.priority.desc(), Job.id)))
    return [run_chain(store, job_id, **options) for job_id in ids]


def run_chain(store: Store, job_id: int, **options: Any) -> JobInfo:
    """:func:`run_inline`, then the job its result names as ``next_job`` (an upload's analysis), and so
    on; the last job's end."""
    info = run_inline(store, job_id, **options)
    while info.status == JobStatus.DONE and info.result and info.result.get("next_job"):
        info = run_inline(store, int(info.result["next_job"]), **options)
    return info


def run_inline(
    store: Store,
    job_id: int,
    *,
    on_progress: Callable[[float], object] | None = None,
    lease_s: float = queue.DEFAULT_LEASE_S,
    wait_s: float = 0.5,
    owner: str | None = None,
    kinds: Kinds = KINDS,
) -> JobInfo:
    """Run ``job_id`` (and its parts, if it splits) in this process until it ends; while a worker runs
    it, wait for that instead. Returns the ended job."""
    base = owner or queue.owner_name("inline").rsplit("/", 1)[0]
    while True:
        with store.transaction() as session:
            job = queue.get_job(session, job_id)
            if JobStatus(job.status) in ENDED:
                return queue.info(session, job)
            queue.requeue_expired(session, base[:64])
            claims = queue.claim(session, base, kinds, 1, lease_s, roots=[job_id])
        if claims:
            execute(store, claims[0], kinds, on_progress=on_progress)
        else:
            time.sleep(wait_s)
