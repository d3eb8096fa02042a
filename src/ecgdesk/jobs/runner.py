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
    """Extends the lease of ``claim`` every ``lease_s / 3`` seconds in a daemon thread.

    With ``parent_pid``, the process exits when its parent (the ``ecgdesk worker`` that started it) is
    gone, so a killed worker does not leave jobs running unseen: their leases expire and they run again.
    """

    def __init__(self, store: Store, claim: Claim, parent_pid: int | None = None) -> None:
        self.store = store
        self.claim = claim
        self.parent_pid = parent_pid
        self.progress: float | None = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-job-{claim.job_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = max(0.05, self.claim.lease_s / 3)
        while not self._stop.wait(interval):
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                os._exit(70)  # orphaned: the worker that owns this process is gone
            try:
                with self.store.transaction() as session:
                    held = queue.heartbeat(session, self.claim, self.progress)
            except SQLAlchemyError as error:  # a busy or restarting database: try again next beat
                log.warning("job %s: heartbeat failed: %s", self.claim.job_id, error)
                continue
            if not held:
                self.lost.set()
                return


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
        if self.heartbeat.lost.is_set():
            raise LeaseLostError(f"job {self.job_id}: lease {self.claim.owner} was lost")

    def progress(self, fraction: float) -> None:
        """Report progress (0..1); it reaches the database with the next heartbeat."""
        self.check()
        self.heartbeat.progress = fraction
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
    try:
        with store.transaction() as session:
            attempt = queue.begin(session, claim)
    except LeaseLostError:
        return "lost"
    if not attempt:
        return JobStatus.FAILED.value
    beat = Heartbeat(store, claim, parent_pid)
    beat.start()
    context = JobContext(store, claim, beat, attempt=attempt, on_progress=on_progress)
    try:
        try:
            outcome = resolve(kinds, claim.kind)(context)
        finally:
            beat.stop()
        if context.finished:
            return JobStatus.DONE.value
        context.check()
        with store.transaction() as session:
            if isinstance(outcome, Spawn):
                queue.spawn(session, claim, outcome.parts)
                return JobStatus.QUEUED.value
            if not context.finished:
                queue.finish(session, claim, outcome.result)
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
