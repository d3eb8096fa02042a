"""Executors: where leased jobs run. One small protocol, two implementations.

The worker loop (:mod:`ecgdesk.jobs.worker`) leases jobs in the database and hands each
:class:`~ecgdesk.jobs.queue.Claim` to an executor; the run itself (:func:`ecgdesk.jobs.runner.execute`)
heartbeats and records the outcome in the database. The executor only reports runs that ended, and
whether they *crashed* (ended without recording anything: a killed process, a Dask worker lost too often)
so the loop can queue the job again.

- :class:`LocalExecutor` (``local``, the default): ``concurrency`` long-lived worker processes on this
  machine, each running one job at a time; a process that dies is replaced. It also holds up to
  ``concurrency`` leased runs not yet started, handed to the first process that comes free, so a process
  never waits for the loop's next lease between two short jobs, and the loop leases in batches (one
  transaction for several jobs: the triage of monitoring strips runs in tens of milliseconds). Jobs of a
  kind whose work function is a :class:`~ecgdesk.jobs.runner.BatchWork` go to a process several at a
  time (:attr:`LocalExecutor.batch`), begun and finished together: a backlog of strips costs the
  database a few transactions per batch, not per strip.
- :class:`~ecgdesk.jobs.dask_executor.DaskExecutor` (``dask``): tasks on a Dask cluster.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from ecgdesk.errors import check_positive
from ecgdesk.jobs.queue import Claim
from ecgdesk.jobs.runner import BatchWork, Kinds, execute_many, resolve, store_for
from ecgdesk.store import Store


@dataclass(frozen=True)
class Ended:
    """A run that ended; ``crash`` says why it ended without recording its outcome (None: it did).

    ``blameless``: the run was lost for a reason that is not the job's (the Dask scheduler went away): the
    job is given back without using an attempt.
    """

    claim: Claim
    crash: str | None = None
    blameless: bool = False


class Executor(Protocol):
    """Runs claims somewhere; the worker loop asks how many more it can take."""

    name: str

    def capacity(self) -> int:
        """How many more claims it can run now."""
        ...

    def submit(self, claim: Claim) -> None:
        """Start running ``claim`` (returns at once)."""
        ...

    def wait(self, timeout: float) -> list[Ended]:
        """The runs that ended, waiting up to ``timeout`` seconds for one when none has."""
        ...

    def close(self) -> None:
        """Stop: running claims are abandoned (the loop gives their jobs back first)."""
        ...


def store_address(store: Store) -> tuple[str, str]:
    """(database URL with its password, home folder): what another process needs to open ``store``."""
    return store.engine.url.render_as_string(hide_password=False), str(store.home)


def _batch_size(kinds: Kinds, kind: str) -> int:
    """How many jobs of ``kind`` a process runs at once: its :class:`BatchWork`'s size, else 1 (and 1
    when its module does not import here: the process that runs it reports why)."""
    try:
        work = resolve(kinds, kind)
    except Exception:
        return 1
    return max(1, work.size) if isinstance(work, BatchWork) else 1


def _slot_main(conn: Any, url: str, home: str, kinds: dict[str, str], parent_pid: int) -> None:
    """A local worker process: run the claims it is sent (a list: one run, or a batch of one kind),
    until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the worker loop, which stops us
    import importlib

    store = store_for(url, home)
    for target in set(kinds.values()):  # import the work functions before the first job (warm start)
        importlib.import_module(target.partition(":")[0])
    conn.send("ready")
    while True:
        try:
            claims = conn.recv()
        except (EOFError, OSError):  # the worker loop is gone
            return
        if claims is None:
            return
        statuses = execute_many(store, claims, kinds, parent_pid=parent_pid)
        conn.send([(c.job_id, status) for c, status in zip(claims, statuses, strict=True)])


@dataclass
class _Slot:
    process: Any
    conn: Any
    claims: list[Claim] = field(default_factory=list)  # what it runs now
    ready: bool = False  # started and warm: only then does it take jobs


class LocalExecutor:
    """``concurrency`` worker processes on this machine (started with ``spawn``: no shared state)."""

    name = "local"

    def __init__(self, store: Store, kinds: Kinds, concurrency: int = 1) -> None:
        check_positive("concurrency", concurrency)
        self._url, self._home = store_address(store)
        self._kinds = dict(kinds)
        self._context = multiprocessing.get_context("spawn")
        self._slots = [self._start() for _ in range(int(concurrency))]
        self._waiting: deque[Claim] = deque()  # leased, not yet handed to a process
        #: kind -> how many of its jobs a process runs at once (the loop leases accordingly)
        self.batch = {kind: size for kind in self._kinds if (size := _batch_size(self._kinds, kind)) > 1}

    def _start(self) -> _Slot:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_slot_main,
            args=(child, self._url, self._home, self._kinds, os.getpid()),
            name="ecgdesk-job-worker",
            daemon=True,
        )
        process.start()
        child.close()
        return _Slot(process, parent)

    @property
    def pids(self) -> list[int]:
        return [int(s.process.pid) for s in self._slots]

    def capacity(self) -> int:
        """Free processes, plus as many claims to hold in waiting once none waits (a batch)."""
        if self._waiting:
            return 0
        free = sum(1 for s in self._slots if not s.claims and s.ready)
        return free + len(self._slots) if any(s.ready for s in self._slots) else 0

    def submit(self, claim: Claim) -> None:
        self._waiting.append(claim)
        self._hand_over()

    def _hand_over(self) -> None:
        for slot in self._slots:
            if not self._waiting:
                return
            if not slot.claims and slot.ready:
                slot.claims = self._next_run()
                slot.conn.send(slot.claims)

    def _next_run(self) -> list[Claim]:
        """The first waiting claim, with the waiting claims of its kind up to the kind's batch size."""
        first = self._waiting.popleft()
        run, others = [first], deque[Claim]()
        size = self.batch.get(first.kind, 1)
        while self._waiting and len(run) < size:
            claim = self._waiting.popleft()
            (run if claim.kind == first.kind else others).append(claim)
        self._waiting.extendleft(reversed(others))
        return run

    def wait(self, timeout: float) -> list[Ended]:
        handles: list[Any] = [s.conn for s in self._slots if s.claims or not s.ready]
        handles += [s.process.sentinel for s in self._slots]
        ready = set(multiprocessing.connection.wait(handles, timeout))
        ended: list[Ended] = []
        for i, slot in enumerate(self._slots):
            if slot.conn in ready:
                try:
                    message = slot.conn.recv()
                except (EOFError, OSError):
                    pass  # it died while reporting: its sentinel says so below
                else:
                    if message == "ready":
                        slot.ready = True
                    elif slot.claims:
                        ended.extend(Ended(claim) for claim in slot.claims)
                        slot.claims = []
            if slot.process.sentinel in ready or not slot.process.is_alive():
                slot.process.join(timeout=1)
                why = f"worker process {slot.process.pid} died (exit code {slot.process.exitcode})"
                ended.extend(Ended(claim, why) for claim in slot.claims)
                slot.conn.close()
                self._slots[i] = self._start()
        self._hand_over()
        return ended

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every process has started (benches time jobs, not Python start-up)."""
        deadline = time.monotonic() + timeout
        while not all(s.ready for s in self._slots) and time.monotonic() < deadline:
            for end in self.wait(0.1):  # nothing runs yet; a crash here is a start-up failure
                raise RuntimeError(f"a worker process failed to start: {end.crash}")

    def close(self) -> None:
        self._waiting.clear()  # never started: the loop gives their jobs back
        for slot in self._slots:
            try:
                if not slot.claims:
                    slot.conn.send(None)
                else:
                    slot.process.terminate()
            except OSError:
                pass
        for slot in self._slots:
            slot.process.join(timeout=10)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(timeout=5)
            slot.conn.close()
        self._slots = []
