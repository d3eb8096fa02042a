"""Running one leased job: the same function wherever it runs (a local worker process or a Dask worker).

A *work function* takes a :class:`JobContext` and returns :class:`Done` (with a small result reference,
e.g. an analysis run id or a results folder) or :class:`Spawn` (split into part jobs; the function runs
again once they are all done, and reads their results with :meth:`JobContext.parts`). Work functions are
named in a *kinds* table, ``{kind: "package.module:function"}``, resolved by import where the job runs,
so the jobs package knows nothing of what the work is.

While the function runs, a heartbeat thread extends the lease every third of its length and records the
progress. If the lease is lost (it expired and someone else took the job, or it was cancelled), the next
progress report raises :class:`~ecgdesk.jobs.queue.LeaseLostError` and nothing the run computed is
kept. Errors: an :class:`~ecgdesk.errors.EcgDeskError` (bad input, e.g. a corrupt recording) fails the
job at once with its message; anything else is retried until ``max_attempts``.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ecgdesk.errors import EcgDeskError, InputError
from ecgdesk.jobs import queue
from ecgdesk.jobs.queue import Claim, JobSpec, LeaseLostError
from ecgdesk.store import Store, open_store
from ecgdesk.store.jobs_models import JobStatus

log = logging.getLogger(__name__)

#: kind -> "package.module:function" of its work function.
Kinds = Mapping[str, str]


@dataclass(frozen=True)
class Done:
    """The job finished; ``result`` is stored as the job's result reference (small JSON)."""

    result: dict[str, Any]


@dataclass(frozen=True)
class Spawn:
    """The job splits into these part jobs and runs again, to merge, when they are all done."""

    parts: Sequence[JobSpec]


Outcome = Done | Spawn


@dataclass(frozen=True)
class PartResult:
    """A finished part job as its parent's merge step sees it."""

    job_id: int
    payload: dict[str, Any]
    result: dict[str, Any]


class Heartbeat:
    """Extends the leases of ``claims`` (one run's, or a batch's) every ``lease_s / 3`` seconds in a
    daemon thread.

    With ``parent_pid``, the process exits when its parent (the ``ecgdesk worker`` that started it) is
    gone, so a killed worker does not leave jobs running unseen: their leases expire and they run again.
    """

    def __init__(self, store: Store, claims: Claim | Sequence[Claim], parent_pid: int | None = None) -> None:
        self.store = store
        self.claims = [claims] if isinstance(claims, Claim) else list(claims)
        self.parent_pid = parent_pid
        self.progress: dict[int, float] = {}
        self._lost: set[int] = set()
        self._stop = threading.Event()
        first = self.claims[0].job_id if self.claims else 0
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-job-{first}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def is_lost(self, job_id: int) -> bool:
        return job_id in self._lost

    def _run(self) -> None:
        interval = max(0.05, min(c.lease_s for c in self.claims) / 3) if self.claims else 1.0
        while not self._stop.wait(interval):
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                os._exit(70)  # orphaned: the worker that owns this process is gone
            live = [c for c in self.claims if c.job_id not in self._lost]
            if not live:
                return
            try:
                with self.store.transaction() as session:
                    lost = [c.job_id for c in live
                            if not queue.heartbeat(session, c, self.progress.get(c.job_id))]
            except SQLAlchemyError as error:  # a busy or restarting database: try again next beat
                log.warning("jobs %s: heartbeat failed: %s", [c.job_id for c in live], error)
                continue
            self._lost.update(lost)  # a set's update is atomic under the GIL: the run reads it


@dataclass
class JobContext:
    """What a work function gets: the store, its job and payload, progress and the parts' results."""

    store: Store
    claim: Claim
    heartbeat: Heartbeat
    attempt: int = 1  # this run's attempt (1 the first time)
    finished: bool = field(default=False)
    on_progress: Callable[[float], object] | None = None

    @property
    def job_id(self) -> int:
        return self.claim.job_id

    @property
    def payload(self) -> dict[str, Any]:
        return self.claim.payload

    @property
    def actor(self) -> str:
        return self.claim.owner[:64]

    def check(self) -> None:
        """Raise :class:`LeaseLostError` if another worker owns this job now (stop working)."""
        if self.heartbeat.is_lost(self.job_id):
            raise LeaseLostError(f"job {self.job_id}: lease {self.claim.owner} was lost")

    def progress(self, fraction: float) -> None:
        """Report progress (0..1); it reaches the database with the next heartbeat."""
        self.check()
        self.heartbeat.progress[self.job_id] = fraction
        if self.on_progress is not None:
            self.on_progress(fraction)

    def parts(self) -> list[PartResult]:
        """The results of this job's parts, in order (empty before it has split)."""
        import json

        with self.store.transaction() as session:
            rows = queue.parts_of(session, self.job_id)
            return [
                PartResult(r.id, json.loads(r.payload_json), json.loads(r.result_json or "{}"))
                for r in rows
                if r.status == JobStatus.DONE
            ]

    def finish_in(self, session: Session, result: dict[str, Any]) -> None:
        """Mark the job done inside the caller's transaction, the one that writes its result, so the
        result and the job's status commit together (or not at all, if the lease was lost)."""
        queue.finish(session, self.claim, result)
        self.finished = True


#: What a batch function returns for each of its contexts: the outcome, or the error that run ended in.
BatchResult = Outcome | BaseException


@dataclass(frozen=True)
class BatchWork:
    """A work function that can also run several jobs of its kind at once (``many``, at most ``size``):
    for short jobs whose cost is mostly the database's (strip triage), a batch begins, and ``many``
    finishes, its runs in one transaction each. Called with one context it is ``one``."""

    one: Callable[[JobContext], Outcome]
    many: Callable[[Sequence[JobContext]], list[BatchResult]]
    size: int = 8

    def __call__(self, context: JobContext) -> Outcome:
        return self.one(context)


def resolve(kinds: Kinds, kind: str) -> Callable[[JobContext], Outcome]:
    """The work function of ``kind`` (imported where the job runs)."""
    try:
        target = kinds[kind]
    except KeyError:
        known = ", ".join(sorted(kinds))
        raise InputError("kind", f"unknown job kind {kind!r}; known kinds are {known}") from None
    module, _, name = target.partition(":")
    function: Callable[[JobContext], Outcome] = getattr(importlib.import_module(module), name)
    return function


def execute(
    store: Store,
    claim: Claim,
    kinds: Kinds,
    *,
    parent_pid: int | None = None,
    on_progress: Callable[[float], object] | None = None,
) -> str:
    """Run the job under ``claim`` to its end and record the outcome; returns the job's new status
    (or ``"lost"`` when the lease was lost and nothing was recorded). ``on_progress`` also gets the
    progress reports (a job run inline by a command with a progress bar)."""
    statuses, attempts = _begin(store, [claim])
    if claim.job_id in statuses:
        return statuses[claim.job_id]
    attempt = attempts[claim.job_id]
    beat = Heartbeat(store, claim, parent_pid)
    beat.start()
    context = JobContext(store, claim, beat, attempt=attempt, on_progress=on_progress)
    result: BatchResult
    try:
        try:
            result = resolve(kinds, claim.kind)(context)
        finally:
            beat.stop()
    except Exception as error:
        result = error
    return _conclude(store, context, result)


def execute_many(
    store: Store, claims: Sequence[Claim], kinds: Kinds, *, parent_pid: int | None = None
) -> list[str]:
    """Run several claims (each job's new status, in order): together when they are of one kind whose
    work function is a :class:`BatchWork` (begun in one transaction, one heartbeat, finished by its
    ``many``), else one after the other. A batch function that fails as a whole runs its jobs one by one,
    so one strange input costs its own job only."""
    work = resolve(kinds, claims[0].kind) if claims else None
    if len(claims) < 2 or not isinstance(work, BatchWork) or any(c.kind != claims[0].kind for c in claims):
        return [execute(store, c, kinds, parent_pid=parent_pid) for c in claims]
    statuses, attempts = _begin(store, claims)
    live = [c for c in claims if c.job_id in attempts]
    beat = Heartbeat(store, live, parent_pid)
    contexts = [JobContext(store, c, beat, attempt=attempts[c.job_id]) for c in live]
    beat.start()
    try:
        try:
            results = list(work.many(contexts))
            if len(results) != len(contexts):
                raise RuntimeError(f"{len(results)} results for {len(contexts)} jobs")
        except Exception:
            log.error("jobs %s failed as a batch; running them one by one:\n%s",
                      [c.job_id for c in contexts], traceback.format_exc())
            results = [_run_one(work.one, c) for c in contexts]
    finally:
        beat.stop()
    for context, result in zip(contexts, results, strict=True):
        statuses[context.job_id] = _conclude(store, context, result)
    return [statuses[c.job_id] for c in claims]


def _begin(store: Store, claims: Sequence[Claim]) -> tuple[dict[int, str], dict[int, int]]:
    """Begin the runs of ``claims`` in one transaction: the attempt number of each run begun, and the
    final status of each that was not (``"lost"``: its lease was lost; failed: no attempt left)."""
    statuses: dict[int, str] = {}
    attempts: dict[int, int] = {}
    with store.transaction() as session:
        for claim in claims:
            try:
                attempt = queue.begin(session, claim)
            except LeaseLostError:  # raised before that run wrote anything: the others' begins stand
                statuses[claim.job_id] = "lost"
                continue
            if attempt:
                attempts[claim.job_id] = attempt
            else:
                statuses[claim.job_id] = JobStatus.FAILED.value
    return statuses, attempts


def _run_one(function: Callable[[JobContext], Outcome], context: JobContext) -> BatchResult:
    if context.finished:
        return Done({})  # finished by the batch before it failed: recorded already
    try:
        return function(context)
    except Exception as error:
        return error


def _conclude(store: Store, context: JobContext, result: BatchResult) -> str:
    """Record how the run under ``context`` ended (its outcome, or the error it raised); the new status."""
    claim = context.claim
    try:
        if isinstance(result, BaseException):
            raise result
        if context.finished:
            return JobStatus.DONE.value
        context.check()
        with store.transaction() as session:
            if isinstance(result, Spawn):
                queue.spawn(session, claim, result.parts)
                return JobStatus.QUEUED.value
            queue.finish(session, claim, result.result)
        return JobStatus.DONE.value
    except LeaseLostError:
        return "lost"
    except EcgDeskError as error:
        return _record_error(store, claim, str(error), permanent=True)
    except Exception as error:  # a bug or a transient failure: retried until max_attempts
        log.error("job %s failed:\n%s", claim.job_id, traceback.format_exc())
        return _record_error(store, claim, f"{type(error).__name__}: {error}", permanent=False)


def _record_error(store: Store, claim: Claim, error: str, *, permanent: bool) -> str:
    try:
        with store.transaction() as session:
            return queue.fail(session, claim, error, permanent=permanent).value
    except LeaseLostError:
        return "lost"


_STORES: dict[tuple[str, str], Store] = {}


def store_for(url: str, home: str) -> Store:
    """One open store per database and home in this process (worker processes run many jobs)."""
    key = (url, home)
    if key not in _STORES:
        from pathlib import Path

        _STORES[key] = open_store(url=url, home=Path(home))
    return _STORES[key]
