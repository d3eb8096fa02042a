"""Settings of the job workers, from the environment (each has a command-line flag that overrides it).

``ECGDESK_DASK_CONNECT_TIMEOUT_S`` (default 10): how long ``--executor dask`` tries to reach its scheduler
before giving up (exit 2). Dask's own default is 30 s, long for a mistyped address or a scheduler not
started: an operator should learn it at once.

``ECGDESK_JOB_RETRY_BASE_S`` (30), ``ECGDESK_JOB_RETRY_CAP_S`` (600), ``ECGDESK_JOB_RETRY_JITTER`` (0.5):
the backoff of a job that failed on a transient error (:class:`Backoff`). Retrying at once would spend
every attempt within a second on a database restart, a full disk or a share that is briefly away; the
delay doubles from the base at each attempt up to the cap (as Celery's ``retry_backoff`` /
``retry_backoff_max`` and Dramatiq's ``min_backoff`` / ``max_backoff`` do), and the jitter spreads the
retries of many jobs that failed together (one database blip) so they do not all come back at once.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass, field

from ecgdesk.errors import InputError

CONNECT_TIMEOUT_ENV = "ECGDESK_DASK_CONNECT_TIMEOUT_S"
RETRY_BASE_ENV = "ECGDESK_JOB_RETRY_BASE_S"
RETRY_CAP_ENV = "ECGDESK_JOB_RETRY_CAP_S"
RETRY_JITTER_ENV = "ECGDESK_JOB_RETRY_JITTER"


def env_seconds(name: str, default: float, *, zero: bool = False) -> float:
    """The number of seconds in environment variable ``name`` (``default`` when unset or empty); a clear
    error naming the variable when it is not a finite number > 0 (>= 0 with ``zero``)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(name, f"must be a number of seconds, got {raw!r}") from None
    return check_seconds(name, value, zero=zero)


def check_seconds(name: str, value: float, *, zero: bool = False) -> float:
    """``value`` if it is a finite number of seconds > 0 (>= 0 with ``zero``), else :class:`InputError`."""
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        least = "0 or more" if zero else "more than 0"
        raise InputError(name, f"must be {least} seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Backoff:
    """How long a job that failed on a transient error waits before its next attempt.

    After attempt ``n`` failed: ``min(cap_s, base_s * 2 ** (n - 1))`` seconds, less a random share of up
    to ``jitter`` of it (0.5: between half and all of it). Unlike Celery's full jitter (anywhere from 0),
    a retry never comes back at once: the point is to outwait a blip. ``base_s`` 0 retries at once (the
    behaviour before backoff). It travels in each :class:`~ecgdesk.jobs.queue.Claim`, so the process that
    records the failure (a local worker process, a Dask task) applies the settings of the loop that
    leased the job.
    """

    base_s: float = 30.0
    cap_s: float = 600.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        check_seconds("retry-base-s", self.base_s, zero=True)
        check_seconds("retry-cap-s", self.cap_s, zero=True)
        if not 0.0 <= self.jitter <= 1.0:
            raise InputError("retry-jitter", f"must be between 0 and 1, got {self.jitter!r}")

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt ``attempt`` (1 the first) failed."""
        full = min(self.cap_s, self.base_s * 2.0 ** max(0, min(attempt - 1, 60)))
        share = (rng or random).random() * self.jitter
        return full * (1.0 - share)

    @classmethod
    def from_env(cls) -> Backoff:
        jitter = os.environ.get(RETRY_JITTER_ENV, "").strip()
        try:
            share = float(jitter) if jitter else cls.jitter
        except ValueError:
            raise InputError(RETRY_JITTER_ENV, f"must be a number between 0 and 1, got {jitter!r}") from None
        if not 0.0 <= share <= 1.0:
            raise InputError(RETRY_JITTER_ENV, f"must be between 0 and 1, got {jitter!r}")
        return cls(
            base_s=env_seconds(RETRY_BASE_ENV, cls.base_s, zero=True),
            cap_s=env_seconds(RETRY_CAP_ENV, cls.cap_s, zero=True),
            jitter=share,
        )


@dataclass(frozen=True)
class WorkerSettings:
    """What an ``ecgdesk worker`` (or ``batch analyze``) loop is configured with."""

    #: Seconds to reach the Dask scheduler before giving up.
    connect_timeout_s: float = 10.0
    #: The wait before a job's next attempt after a transient error.
    backoff: Backoff = field(default_factory=Backoff)

    @classmethod
    def from_env(cls) -> WorkerSettings:
        return cls(connect_timeout_s=env_seconds(CONNECT_TIMEOUT_ENV, cls.connect_timeout_s),
                   backoff=Backoff.from_env())
