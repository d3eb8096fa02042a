"""The job queue in the database: enqueue, lease, heartbeat, finish, retry, cancel; each change audited.

Every function here works inside the caller's session (one transaction), so a status change and its
audit row commit together. Leases are taken in one transaction: on PostgreSQL with ``SELECT ... FOR
UPDATE SKIP LOCKED`` (two workers never lock the same queued row), on SQLite under the write lock the
store takes at ``BEGIN IMMEDIATE``. Writes that belong to a lease (heartbeat, finish, fail, spawn) are
conditional on the lease owner, so a worker that lost its lease (it stalled past the expiry and someone
else took the job) can no longer change the job: its result is discarded, and each result is written
exactly once.

Times are the workers' clocks in UTC (keep the hosts on NTP); a lease lasts ``lease_s`` seconds from the
last heartbeat. A job queued again after a transient error waits for its backoff (``not_before``,
:class:`~ecgdesk.jobs.settings.Backoff`): no worker leases it before then, unless someone retries it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from ecgdesk.errors import ConflictError, EcgDeskError, InputError
from ecgdesk.jobs.info import GAVE_UP, iso
from ecgdesk.jobs.info import JobInfo as JobInfo  # where it is read by the commands
from ecgdesk.jobs.info import aware as aware
from ecgdesk.jobs.info import count_jobs as count_jobs
from ecgdesk.jobs.info import info as info
from ecgdesk.jobs.info import list_jobs as list_jobs
from ecgdesk.jobs.settings import Backoff
from ecgdesk.store import append, append_many, append_or_defer, canonical_json
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.jobs_models import ENDED, Job, JobStatus, Priority

DEFAULT_LEASE_S = 60.0
DEFAULT_MAX_ATTEMPTS = 3


class LeaseLostError(EcgDeskError):
    """This worker no longer holds the job's lease (it expired and was requeued, or the job was
    cancelled): whatever it computed is discarded."""


def now() -> datetime:
    return datetime.now(UTC)


def input_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value`` (what identifies a job's input)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def owner_name(role: str = "worker") -> str:
    """A lease owner: host, process and a random tag, unique per lease taken."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}/{uuid.uuid4().hex[:8]}"


def _actor(owner: str) -> str:
    return owner[:64]


@dataclass(frozen=True)
class JobSpec:
    """What to enqueue: ``(kind, input_hash, algorithm_version)`` is the idempotency key."""

    kind: str
    payload: dict[str, Any]
    input_hash: str
    algorithm_version: str
    priority: int = Priority.ROUTINE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    study_id: int | None = None
    recording_id: int | None = None


@dataclass(frozen=True)
class Claim:
    """A lease on one job, handed to an executor; the run heartbeats and finishes under ``owner``."""

    job_id: int
    kind: str
    owner: str
    payload: dict[str, Any]
    lease_s: float
    attempts: int
    max_attempts: int
    input_hash: str = ""
    priority: int = Priority.ROUTINE
    #: the leasing loop's backoff, applied where the run's failure is recorded
    backoff: Backoff = field(default_factory=Backoff)


def _change(
    session: Session,
    job: Job,
    status: JobStatus,
    actor: str,
    audit: list[NewAuditRow] | None = None,
    **details: Any,
) -> None:
    """Move ``job`` to ``status`` and audit the change (before and after) in the same transaction; with
    ``audit``, the row is added to that list, for the caller to write with the others of its transaction
    (:func:`~ecgdesk.store.audit.append_many`)."""
    before = {"status": job.status, "attempts": job.attempts}
    job.status = status.value
    job.updated_at = now()
    after: dict[str, Any] = {"status": status.value, "attempts": job.attempts, "kind": job.kind}
    after.update({k: v for k, v in details.items() if v is not None})
    append_or_defer(session, (actor, f"job:{status.value}", "job", job.id, before, after), audit)


def _clear_lease(job: Job) -> None:
    job.lease_owner = None
    job.lease_expires_at = None


def get_job(session: Session, job_id: int, *, lock: bool = False) -> Job:
    job = session.get(Job, job_id, with_for_update=lock)
    if job is None:
        raise InputError("job", f"no job with id {job_id}")
    return job


# ------------------------------------------------------------------------------------------ enqueue
def enqueue(
    session: Session,
    spec: JobSpec,
    actor: str,
    *,
    parent_id: int | None = None,
    again: bool = False,
    fresh: bool = False,
    audit: list[NewAuditRow] | None = None,
) -> tuple[Job, bool]:
    """The job of ``spec``'s key, created queued if new: ``(job, created)``.

    An existing job is returned as it is (its result is reused) unless it ended without a result
    (failed or cancelled: queued again), or ``again`` asks to run a finished one again (an explicit
    re-analysis; the work function decides what it can reuse). ``fresh``: the key names something
    created in this transaction (a strip just received), so no job can have it yet: it is created
    without looking. ``audit``: see :func:`_change`.
    """
    key = (Job.kind == spec.kind) & (Job.input_hash == spec.input_hash) & (
        Job.algorithm_version == spec.algorithm_version
    )
    existing = None if fresh else session.scalar(select(Job).where(key).with_for_update())
    if existing is None:
        stamp = now()
        job = Job(
            kind=spec.kind,
            payload_json=canonical_json(spec.payload),
            study_id=spec.study_id,
            recording_id=spec.recording_id,
            parent_id=parent_id,
            input_hash=spec.input_hash,
            algorithm_version=spec.algorithm_version,
            priority=int(spec.priority),
            status=JobStatus.QUEUED.value,
            attempts=0,
            max_attempts=max(1, int(spec.max_attempts)),
            progress=0.0,
            created_by=actor[:64],
            created_at=stamp,
            updated_at=stamp,
        )
        try:
            if fresh:  # a duplicate key is a bug of the caller's: it fails the whole transaction
                session.add(job)
                session.flush()
            else:
                with session.begin_nested():
                    session.add(job)
                    session.flush()
        except IntegrityError:  # someone enqueued the same key just now: theirs is the job
            if fresh:
                raise
            existing = session.scalar(select(Job).where(key).with_for_update())
            assert existing is not None
        else:
            queued = {"status": "queued", "kind": job.kind, "input_hash": job.input_hash,
                      "priority": job.priority, "parent_id": parent_id, "study_id": job.study_id}
            append_or_defer(session, (actor, "job:queued", "job", job.id, None, queued), audit)
            return job, True
    ended_without_result = existing.status in (JobStatus.FAILED, JobStatus.CANCELLED)
    if ended_without_result or (again and existing.status == JobStatus.DONE):
        _requeue(session, existing, actor, "enqueued again")
    return existing, False


def _requeue(session: Session, job: Job, actor: str, reason: str) -> None:
    job.attempts = 0
    job.not_before = None
    job.error = None
    job.progress = 0.0
    job.finished_at = None
    job.started_at = None
    _clear_lease(job)
    _change(session, job, JobStatus.QUEUED, actor, reason=reason)


# -------------------------------------------------------------------------------------------- leases
def claim(
    session: Session,
    owner_base: str,
    kinds: Iterable[str],
    limit: int,
    lease_s: float = DEFAULT_LEASE_S,
    *,
    job_id: int | None = None,
    roots: Sequence[int] | None = None,
    batch: Mapping[str, int] | None = None,
    backoff: Backoff | None = None,
) -> list[Claim]:
    """Lease up to ``limit`` runs' worth of queued jobs of ``kinds`` (highest priority, then oldest
    first).

    A job whose parts (child jobs) are not all done waits. ``job_id`` leases that one job only (running
    a job inline); ``roots`` only those jobs and their parts (a batch). ``batch`` gives the kinds whose
    jobs an executor runs several at a time (``{kind: n}``: n such jobs count as one run), so a backlog
    of short jobs is leased, begun and finished in few transactions. Each lease gets its own owner name
    (``owner_base/tag``); the audit rows of the leases are written together. A job waiting for its
    retry time (``not_before``) is not leased before it; ``backoff`` (default: the environment's,
    :meth:`Backoff.from_env`) is what a failure of these runs waits.
    """
    kinds = list(kinds)
    if limit <= 0 or not kinds:
        return []
    widths = {kind: max(1, int(n)) for kind, n in (batch or {}).items()}
    backoff = backoff or Backoff.from_env()
    stamp = now()
    part = aliased(Job)
    waiting = exists().where(part.parent_id == Job.id, part.status != JobStatus.DONE.value)
    query = (
        select(Job)
        .where(Job.status == JobStatus.QUEUED.value, Job.kind.in_(kinds), ~waiting, _due(stamp))
        .order_by(Job.priority.desc(), Job.id)
        .limit(limit * max([1, *widths.values()]))
    )
    if job_id is not None:
        query = query.where(Job.id == job_id)
    if roots is not None:
        query = query.where(Job.id.in_(roots) | Job.parent_id.in_(roots))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Job)
    claims = []
    audit: list[NewAuditRow] = []
    runs = 0.0
    for job in session.scalars(query).all():
        runs += 1.0 / widths.get(job.kind, 1)
        if runs > limit + 1e-9:  # in priority order: a job that does not fit ends the lease
            break
        owner = f"{owner_base}/{uuid.uuid4().hex[:8]}"
        job.lease_owner = owner
        job.lease_expires_at = stamp + timedelta(seconds=lease_s)
        job.heartbeat_at = stamp
        job.attempts += 1
        job.started_at = None
        job.not_before = None
        _change(session, job, JobStatus.RUNNING, _actor(owner_base), audit, owner=owner)
        claims.append(
            Claim(job.id, job.kind, owner, json.loads(job.payload_json), lease_s, job.attempts,
                  job.max_attempts, job.input_hash, job.priority, backoff)
        )
    session.flush()
    append_many(session, audit)
    return claims


def _held(session: Session, claim: Claim) -> Job:
    """The job under ``claim``'s lease, locked; :class:`LeaseLostError` if the lease is gone."""
    job = session.get(Job, claim.job_id, with_for_update=True)
    if job is None or job.status != JobStatus.RUNNING or job.lease_owner != claim.owner:
        state = "deleted" if job is None else f"{job.status}, lease {job.lease_owner or 'none'}"
        raise LeaseLostError(f"job {claim.job_id}: lease {claim.owner} is no longer held ({state})")
    return job


def begin(session: Session, claim: Claim) -> int:
    """Mark the start of a run under ``claim``: its attempt number, or 0 (and the job failed) when no
    attempt is left.

    An executor may start the same claim twice (Dask reschedules a task whose worker died): the second
    start counts as another attempt. A start with no attempt left fails the job without counting one
    (its attempts stay at most ``max_attempts``, as ``jobs show`` says "attempt 3 of 3").
    """
    job = _held(session, claim)
    stamp = now()
    if job.started_at is not None:
        if job.attempts >= job.max_attempts:
            _fail(session, job, _actor(claim.owner),
                  GAVE_UP.format(attempts=job.attempts, error="its worker stopped each time"))
            return 0
        job.attempts += 1
        append(session, _actor(claim.owner), "job:restarted", "job", job.id, None,
               {"attempts": job.attempts, "owner": claim.owner})
    job.started_at = stamp
    job.heartbeat_at = stamp
    job.lease_expires_at = stamp + timedelta(seconds=claim.lease_s)
    job.updated_at = stamp
    return int(job.attempts)


def heartbeat(session: Session, claim: Claim, progress: float | None = None) -> bool:
    """Extend the lease (and record progress, 0..1); False if the lease is no longer held."""
    stamp = now()
    values: dict[str, Any] = {
        "lease_expires_at": stamp + timedelta(seconds=claim.lease_s),
        "heartbeat_at": stamp,
        "updated_at": stamp,
    }
    if progress is not None:
        values["progress"] = min(1.0, max(0.0, float(progress)))
    result = session.execute(
        update(Job)
        .where(Job.id == claim.job_id, Job.lease_owner == claim.owner, Job.status == JobStatus.RUNNING.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def hold_unstarted(session: Session, claims: Iterable[Claim]) -> int:
    """Extend the leases of handed-over claims whose run has not begun yet (a process still starting,
    a task waiting in Dask's queue): until it begins, the worker loop that holds them is their
    heartbeat. Returns how many were extended."""
    owners = {c.owner: c.lease_s for c in claims}
    if not owners:
        return 0
    stamp = now()
    extended = 0
    for lease_s in set(owners.values()):
        result = session.execute(
            update(Job)
            .where(
                Job.lease_owner.in_([o for o, s in owners.items() if s == lease_s]),
                Job.status == JobStatus.RUNNING.value,
                Job.started_at.is_(None),
            )
            .values(lease_expires_at=stamp + timedelta(seconds=lease_s), heartbeat_at=stamp)
            .execution_options(synchronize_session=False)
        )
        extended += int(getattr(result, "rowcount", 0) or 0)
    return extended


def held_jobs(session: Session, claims: Sequence[Claim]) -> dict[int, Job]:
    """The jobs whose leases ``claims`` still hold, locked for the transaction, by id (a batch of runs
    writes the results of these only; the others were lost)."""
    owners = {c.job_id: c.owner for c in claims}
    if not owners:
        return {}
    query = select(Job).where(Job.id.in_(owners)).with_for_update()
    return {
        job.id: job
        for job in session.scalars(query)
        if job.status == JobStatus.RUNNING and job.lease_owner == owners[job.id]
    }


def finish(
    session: Session,
    claim: Claim,
    result: dict[str, Any],
    *,
    audit: list[NewAuditRow] | None = None,
    job: Job | None = None,
) -> None:
    """The job is done with ``result`` (a reference to what it wrote); :class:`LeaseLostError` if the
    lease is gone, so the caller's transaction (and anything it wrote with it) rolls back. ``job``: the
    job as :func:`held_jobs` locked it; ``audit``: see :func:`_change`."""
    if job is None or job.status != JobStatus.RUNNING or job.lease_owner != claim.owner:
        job = _held(session, claim)
    job.result_json = canonical_json(result)
    job.progress = 1.0
    job.error = None
    job.finished_at = now()
    _clear_lease(job)
    _change(session, job, JobStatus.DONE, _actor(claim.owner), audit, result=result)


def fail(session: Session, claim: Claim, error: str, *, permanent: bool) -> JobStatus:
    """The run under ``claim`` ended in ``error``: queued again while attempts are left and the error is
    not ``permanent`` (bad input fails at once), else failed. Returns the new status."""
    job = _held(session, claim)
    return _after_error(session, job, _actor(claim.owner), error, permanent, claim.backoff)


def _after_error(
    session: Session, job: Job, actor: str, error: str, permanent: bool, backoff: Backoff
) -> JobStatus:
    """Fail ``job`` or queue it again, not before its backoff after this attempt."""
    job.error = error[:4000]
    if permanent or job.attempts >= job.max_attempts:
        if not permanent:
            job.error = GAVE_UP.format(attempts=job.attempts, error=error)[:4000]
        _fail(session, job, actor, job.error)
        return JobStatus.FAILED
    job.started_at = None
    job.progress = 0.0  # the next attempt starts from the beginning; the lost one's share would mislead
    _clear_lease(job)
    delay = backoff.delay_s(job.attempts)
    job.not_before = now() + timedelta(seconds=delay) if delay > 0 else None
    _change(session, job, JobStatus.QUEUED, actor, reason="retry after error", error=job.error,
            not_before=iso(job.not_before))
    return JobStatus.QUEUED


def _fail(session: Session, job: Job, actor: str, error: str) -> None:
    job.error = error[:4000]
    job.finished_at = now()
    _clear_lease(job)
    _change(session, job, JobStatus.FAILED, actor, error=job.error)
    if job.parent_id is not None:  # a failed part fails the whole: its other parts are not needed
        parent = session.get(Job, job.parent_id, with_for_update=True)
        if parent is not None and parent.status not in ENDED:
            index = json.loads(job.payload_json).get("index")
            what = f"part {index}" if index is not None else f"part job {job.id}"
            _fail(session, parent, actor, f"{what} failed: {error}"[:4000])
            _cancel_parts(session, parent, actor, "a sibling part failed")


def release(session: Session, claim: Claim, error: str) -> JobStatus | None:
    """The executor lost the run under ``claim`` (process died, Dask gave up): queue the job again or
    fail it when no attempt is left. Nothing happens if the run already ended the job."""
    try:
        return fail(session, claim, error, permanent=False)
    except LeaseLostError:
        return None


def give_back(session: Session, claim: Claim, reason: str) -> bool:
    """A worker stopping on purpose returns a job it holds: queued again, the attempt not counted."""
    try:
        job = _held(session, claim)
    except LeaseLostError:
        return False
    job.attempts = max(0, job.attempts - 1)
    job.started_at = None
    _clear_lease(job)
    _change(session, job, JobStatus.QUEUED, _actor(claim.owner), reason=reason)
    return True


def spawn(session: Session, claim: Claim, parts: Sequence[JobSpec]) -> list[Job]:
    """The job splits into ``parts`` (child jobs); it waits, queued, until they are all done, and then
    runs again to merge them. Its attempts start afresh (planning succeeded)."""
    job = _held(session, claim)
    children = [enqueue(session, spec, _actor(claim.owner), parent_id=job.id)[0] for spec in parts]
    job.attempts = 0
    job.started_at = None
    job.progress = 0.0
    _clear_lease(job)
    _change(session, job, JobStatus.QUEUED, _actor(claim.owner), reason="waiting for its parts",
            parts=[c.id for c in children])
    return children


def requeue_expired(session: Session, actor: str, backoff: Backoff | None = None) -> list[int]:
    """Jobs whose lease expired (their worker stopped heartbeating): queued again after their backoff
    (``backoff``, default the environment's), or failed when no attempt is left. Returns their ids."""
    backoff = backoff or Backoff.from_env()
    query = select(Job).where(Job.status == JobStatus.RUNNING.value, Job.lease_expires_at < now())
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = []
    for job in session.scalars(query).all():
        owner = job.lease_owner
        expired = iso(job.lease_expires_at)
        _after_error(session, job, actor, f"lease of {owner} expired at {expired} (worker stopped)", False,
                     backoff)
        ids.append(job.id)
    return ids


# ------------------------------------------------------------------------------ people's actions
def retry(session: Session, job_id: int, actor: str) -> Job:
    """Queue a failed or cancelled job (and its failed or cancelled parts) again; a job waiting for its
    retry time after a transient error runs now (its attempts so far still count)."""
    job = get_job(session, job_id, lock=True)
    if job.status == JobStatus.QUEUED and job.not_before is not None:
        waited = iso(job.not_before)
        job.not_before = None
        _change(session, job, JobStatus.QUEUED, actor, reason=f"retried now instead of after {waited}")
        return job
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise InputError("job", f"job {job_id} is {job.status}; only failed or cancelled jobs, or jobs "
                         "waiting for their retry time, can be retried")
    for part in session.scalars(select(Job).where(Job.parent_id == job.id)).all():
        if part.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            _requeue(session, part, actor, "retried with its parent")
    _requeue(session, job, actor, "retried")
    return job


def cancel(session: Session, job_id: int, actor: str) -> Job:
    """Cancel a queued or running job and its unfinished parts (a running one loses its lease: its
    worker stops at the next heartbeat and its result is discarded). A part cancels its parent too (and
    so the other parts), which could never merge without it; retrying the parent runs them again."""
    job = get_job(session, job_id, lock=True)
    if job.status in ENDED:  # a state the job is in, not a bad value: 409 over HTTP, exit 2 in the CLI
        raise ConflictError("job", f"job {job_id} is already {job.status}; nothing to cancel")
    job.finished_at = now()
    _clear_lease(job)
    _change(session, job, JobStatus.CANCELLED, actor)
    _cancel_parts(session, job, actor, "its parent was cancelled")
    if job.parent_id is not None:
        parent = session.get(Job, job.parent_id, with_for_update=True)
        if parent is not None and parent.status not in ENDED:
            index = json.loads(job.payload_json).get("index")
            what = f"part {index}" if index is not None else f"part job {job.id}"
            parent.finished_at = now()
            _clear_lease(parent)
            _change(session, parent, JobStatus.CANCELLED, actor, reason=f"{what} was cancelled")
            _cancel_parts(session, parent, actor, "a sibling part was cancelled")
    return job


def _cancel_parts(session: Session, job: Job, actor: str, reason: str) -> None:
    for part in session.scalars(select(Job).where(Job.parent_id == job.id)).all():
        if part.status not in ENDED:
            part.finished_at = now()
            _clear_lease(part)
            _change(session, part, JobStatus.CANCELLED, actor, reason=reason)


@dataclass(frozen=True)
class Backlog:
    """What is left to do: jobs that can run now (queued and due, or running), and jobs waiting for
    their retry time (how many, and the earliest and the latest of those times)."""

    ready: int
    waiting: int
    first_at: datetime | None
    last_at: datetime | None


def _due(stamp: datetime) -> ColumnElement[bool]:
    """A queued job may start at ``stamp``: it waits for no retry time, or that time has come."""
    return Job.not_before.is_(None) | (Job.not_before <= stamp)


def backlog(session: Session) -> Backlog:
    """The :class:`Backlog` of the whole queue now."""
    stamp = now()
    live = (Job.status == JobStatus.RUNNING.value) | ((Job.status == JobStatus.QUEUED.value) & _due(stamp))
    ready = int(session.scalar(select(func.count()).select_from(Job).where(live)) or 0)
    n, first, last = session.execute(
        select(func.count(), func.min(Job.not_before), func.max(Job.not_before))
        .where(Job.status == JobStatus.QUEUED.value, Job.not_before > stamp)
    ).one()
    return Backlog(ready, int(n or 0), aware(first), aware(last))


def count_by_status(session: Session, ids: Sequence[int] | None = None) -> dict[str, int]:
    """How many jobs are in each status (of ``ids`` only, when given)."""
    query = select(Job.status, func.count()).group_by(Job.status)
    if ids is not None:
        query = query.where(Job.id.in_(ids))
    return {str(status): int(n) for status, n in session.execute(query).all()}


def parts_of(session: Session, job_id: int) -> list[Job]:
    """The child jobs of ``job_id`` in creation order."""
    return list(session.scalars(select(Job).where(Job.parent_id == job_id).order_by(Job.id)).all())
