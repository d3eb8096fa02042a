"""One process at a time per study: a lock row in the database, and a sweep of what a killed run left.

``study analyze`` twice at once (two terminals, a script and a person) used to collide on the unique run
of the same inputs; the loser deleted the winner's run folder on its way out and the study's report failed
for good. Steps that write a study's runs or reports now run inside :func:`study_lock`: the second waits
for the first, then finds its run and reuses it. Temporary folders are removed by the step that made them
on any error or SIGTERM; after a SIGKILL they are swept by the next step on that study, under its lock.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ecgdesk.errors import ConflictError, InputError
from ecgdesk.store import Store
from ecgdesk.store.lock_models import StudyLock
from ecgdesk.workflow.lifecycle import now

#: How often a holder renews its claim (``acquired_at``) while its step runs.
RENEW_S = 30.0
#: A claim not renewed for this long is taken over whatever its process: its process is dead or cut off
#: (a worker host killed mid-analysis: its job runs again elsewhere once its lease expires, and its death
#: cannot be seen from another host; a claim that only aged used to hold the study for 6 h, so that run
#: waited an hour and failed). Long against :data:`RENEW_S`, so a busy database delays no renewal past it.
STALE_AFTER_S = 600.0
#: How long a step waits for another process working on the same study before it gives up.
WAIT_S = 3600.0
_POLL_S = 0.5
#: (home, study, thread) -> depth: a step called inside another step of the same thread holds the lock
_held: dict[tuple[str, int, int], int] = {}
_held_guard = threading.Lock()
P = ParamSpec("P")
R = TypeVar("R")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user: alive
        return True
    return True


def _as_utc(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=now().tzinfo)


def _stale(row: StudyLock, host: str) -> bool:
    if now() - _as_utc(row.acquired_at) > timedelta(seconds=STALE_AFTER_S):
        return True
    return row.host == host and row.pid != os.getpid() and not _alive(row.pid)


def _try_acquire(store: Store, study_id: int, action: str, host: str) -> StudyLock | None:
    """Take the lock (returns None) or return the row of the process that holds it."""
    try:
        with store.transaction() as session:
            row = session.get(StudyLock, study_id)
            if row is not None and not _stale(row, host):
                session.expunge(row)
                return row
            if row is not None:
                session.delete(row)
                session.flush()
            session.add(StudyLock(study_id=study_id, action=action, host=host, pid=os.getpid(),
                                  acquired_at=now()))
    except IntegrityError:  # another process took it between our read and our insert (PostgreSQL)
        with store.transaction() as session:
            held = session.get(StudyLock, study_id)
            if held is None:
                return _try_acquire(store, study_id, action, host)
            session.expunge(held)
            return held
    return None


@contextmanager
def study_lock(store: Store, study_id: int, action: str, wait_s: float | None = None,
               on_wait: Callable[[str], object] | None = None,
               busy_if: frozenset[str] = frozenset()) -> Iterator[None]:
    """Hold the study's lock while the block runs; wait (up to ``wait_s``, default :data:`WAIT_S`) for
    another holder to finish.

    ``on_wait`` is told once, in words, whom we are waiting for. Giving up is an :class:`InputError`
    naming the holder, so the user can see which process to wait for or end. A holder whose action is in
    ``busy_if`` is not waited for: :class:`ConflictError` at once (a technician's edit during an analysis
    of minutes, which the edit could not apply to anyway: it makes a new run).
    """
    from ecgdesk.workflow.lifecycle import get_study

    key = (str(store.home), study_id, threading.get_ident())
    with _held_guard:
        if _held.get(key):
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    with store.transaction() as session:
        get_study(session, study_id)  # an unknown study is named as such, not as a lock problem
    host = socket.gethostname()[:255]
    deadline = time.monotonic() + (WAIT_S if wait_s is None else wait_s)
    told = False
    while (holder := _try_acquire(store, study_id, action, host)) is not None:
        who = (f"'{holder.action}' by process {holder.pid} on {holder.host} since "
               f"{_as_utc(holder.acquired_at).isoformat(timespec='seconds')}")
        if holder.action in busy_if:
            raise ConflictError(
                "study", f"study {study_id} is busy: {who}; nothing was changed: try again when it has "
                "finished (reload first: it may change what the page shows)", source=f"study {study_id}",
            )
        if time.monotonic() >= deadline:
            raise InputError("study", f"study {study_id} is busy: {who}; try again when it has finished")
        if on_wait is not None and not told:
            on_wait(f"waiting for {who}")
            told = True
        time.sleep(_POLL_S)
    with _held_guard:
        _held[key] = 1
    renewing = threading.Event()
    renewer = threading.Thread(target=_renew, args=(store, study_id, host, renewing), daemon=True,
                               name=f"study-lock-{study_id}")
    renewer.start()
    try:
        sweep_temporary(store, study_id)
        yield
    finally:
        renewing.set()
        renewer.join(timeout=10)
        with _held_guard:
            _held.pop(key, None)
        with store.transaction() as session:
            session.execute(delete(StudyLock).where(StudyLock.study_id == study_id,
                                                    StudyLock.pid == os.getpid(), StudyLock.host == host))


def _renew(store: Store, study_id: int, host: str, stop: threading.Event) -> None:
    """Renew this process's claim on ``study_id`` every :data:`RENEW_S` until ``stop`` (a thread)."""
    while not stop.wait(RENEW_S):
        try:
            with store.transaction() as session:
                session.execute(update(StudyLock).where(
                    StudyLock.study_id == study_id, StudyLock.pid == os.getpid(), StudyLock.host == host,
                ).values(acquired_at=now()))
        except SQLAlchemyError:  # a busy or restarting database: the next renewal tries again
            continue


def locked(action: str, busy_if: frozenset[str] = frozenset()) -> Callable[
        [Callable[Concatenate[Store, int, P], R]], Callable[Concatenate[Store, int, P], R]]:
    """Decorate a workflow step ``step(store, study_id, ...)`` to run under :func:`study_lock`."""

    def wrap(step: Callable[Concatenate[Store, int, P], R]) -> Callable[Concatenate[Store, int, P], R]:
        @functools.wraps(step)
        def run(store: Store, study_id: int, /, *args: P.args, **kwargs: P.kwargs) -> R:
            with study_lock(store, study_id, action, busy_if=busy_if):
                return step(store, study_id, *args, **kwargs)

        return run

    return wrap


def sweep_temporary(store: Store, study_id: int) -> int:
    """Remove the temporary folders a killed step left in the study's folders (call under its lock)."""
    removed = 0
    for sub in ("runs", "reports"):
        folder = store.studies_root / str(study_id) / sub
        if not folder.is_dir():
            continue
        for child in folder.iterdir():
            if child.name.startswith(".") and child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
                removed += 1
    return removed
