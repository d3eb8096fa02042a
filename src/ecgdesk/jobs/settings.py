"""Settings of the job workers, from the environment (each has a command-line flag that overrides it).

``ECGDESK_DASK_CONNECT_TIMEOUT_S`` (default 10): how long ``--executor dask`` tries to reach its scheduler
before giving up (exit 2). Dask's own default is 30 s, long for a mistyped address or a scheduler not
started: an operator should learn it at once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ecgdesk.errors import InputError

CONNECT_TIMEOUT_ENV = "ECGDESK_DASK_CONNECT_TIMEOUT_S"


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
class WorkerSettings:
    """What an ``ecgdesk worker`` (or ``batch analyze``) loop is configured with."""

    #: Seconds to reach the Dask scheduler before giving up.
    connect_timeout_s: float = 10.0

    @classmethod
    def from_env(cls) -> WorkerSettings:
        return cls(connect_timeout_s=env_seconds(CONNECT_TIMEOUT_ENV, cls.connect_timeout_s))
