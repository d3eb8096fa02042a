"""The worker loop: lease jobs from the database, hand them to an executor, requeue what was lost.

One loop per ``ecgdesk worker`` (and per ``ecgdesk batch analyze``): every pass it requeues jobs whose
lease expired (any worker may do this: the database decides), records runs the executor lost, and leases
as many queued jobs as the executor can take. On stop it gives its running jobs back (queued again,
their attempt not counted) before closing the executor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from ecgdesk.jobs import queue
from ecgdesk.jobs.executor import Executor
from ecgdesk.jobs.queue import Claim
from ecgdesk.jobs.runner import Kinds
from ecgdesk.jobs.settings import Backoff
from ecgdesk.store import Store

log = logging.getLogger(__name__)


@dataclass
class LoopStats:
    """What one loop did (for the CLI's summary line and the benches)."""

    leased: int = 0
    ended: int = 0
    crashed: int = 0
    requeued_expired: int = 0
    crashes: list[str] = field(default_factory=list)
    #: why an ``--until-idle`` loop stopped with jobs still waiting for their retry time
    waiting_note: str | None = None


def serve(
    store: Store,
    executor: Executor,
    kinds: Kinds,
    *,
    stop: Callable[[], bool] = lambda: False,
    lease_s: float = queue.DEFAULT_LEASE_S,
    poll_s: float = 1.0,
    sweep_s: float | None = None,
    owner: str | None = None,
    on_pass: Callable[[], object] | None = None,
    roots: Sequence[int] | None = None,
    backoff: Backoff | None = None,
    stats: LoopStats | None = None,
) -> LoopStats:
    """Run jobs of ``kinds`` on ``executor`` until ``stop()`` is true (checked once a pass); with
    ``roots``, only those jobs and their parts. ``backoff`` (default the environment's) is how long a
    job waits after a transient error before it is leased again."""
    backoff = backoff or Backoff.from_env()
    base = owner or queue.owner_name(executor.name).rsplit("/", 1)[0]
    sweep_every = sweep_s if sweep_s is not None else max(0.5, lease_s / 3)
    stats = stats or LoopStats()
    inflight: dict[int, Claim] = {}
    next_sweep = 0.0
    claimed_last = False
    try:
        while not stop():
            if time.monotonic() >= next_sweep:
                with store.transaction() as session:
                    stats.requeued_expired += len(queue.requeue_expired(session, base[:64], backoff))
                    queue.hold_unstarted(session, inflight.values())
                next_sweep = time.monotonic() + sweep_every
            for end in executor.wait(0.0 if claimed_last else poll_s):
                inflight.pop(end.claim.job_id, None)
                stats.ended += 1
                if end.crash is not None:
                    stats.crashed += 1
                    stats.crashes.append(f"job {end.claim.job_id}: {end.crash}")
                    log.warning("job %s: %s", end.claim.job_id, end.crash)
                    with store.transaction() as session:
                        if end.blameless:
                            queue.give_back(session, end.claim, end.crash)
                        else:
                            queue.release(session, end.claim, end.crash)
            claims: list[Claim] = []
            free = executor.capacity()
            if free:
                try:
                    with store.transaction() as session:
                        claims = queue.claim(session, base, kinds, free, lease_s, roots=roots,
                                             batch=getattr(executor, "batch", None), backoff=backoff)
                except OperationalError as error:  # database busy or restarting: next pass
                    log.warning("leasing jobs failed: %s", error)
            for claim in claims:
                executor.submit(claim)
                inflight[claim.job_id] = claim
            stats.leased += len(claims)
            claimed_last = bool(claims)
            if on_pass is not None:
                on_pass()
    finally:
        try:
            with store.transaction() as session:
                for claim in inflight.values():
                    queue.give_back(session, claim, "the worker stopped")
        finally:
            executor.close()
    return stats
