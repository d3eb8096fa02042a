"""Settings of the HTTP service, from the environment (defaults for a workstation on loopback)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from ecgdesk.errors import InputError
from ecgdesk.workflow.policy import SecurityPolicy, env_number

UPLOAD_LIMIT_ENV = "ECGDESK_UPLOAD_LIMIT_MB"
COOKIE_SECURE_ENV = "ECGDESK_COOKIE_SECURE"
JOBS_ENV = "ECGDESK_SERVICE_JOBS"
MONITORING_TIMER_ENV = "ECGDESK_MONITORING_TIMER_S"
TRUSTED_PROXIES_ENV = "ECGDESK_TRUSTED_PROXIES"


def trusted_proxies(text: str) -> tuple[str, ...]:
    """The reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: a comma-separated
    list of addresses and networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``), ``*`` (every peer: only where
    nothing but the proxy can reach the service) or empty (none)."""
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False) if "/" in item else ipaddress.ip_address(item)
        except ValueError:
            raise InputError(
                TRUSTED_PROXIES_ENV, f"{item!r} is not an IP address, a network (10.0.0.0/8) or *"
            ) from None
    return items


@dataclass(frozen=True)
class ServiceSettings:
    #: Largest accepted upload (all files of one recording together).
    upload_limit_bytes: int = 8 * 1024**3
    #: ``auto``: Secure cookies when the request came over HTTPS (directly, or as the reverse proxy says
    #: with X-Forwarded-Proto and uvicorn's --proxy-headers); ``always`` or ``never`` force it.
    cookie_secure: str = "auto"
    policy: SecurityPolicy = field(default_factory=SecurityPolicy)
    #: The jobs the service queues (upload import, analysis): ``inline``, run in this process's threads
    #: too; ``queue``, only queued, for ``ecgdesk worker`` processes (``ecgdesk serve`` starts one).
    jobs: str = "inline"
    #: Seconds between two passes of the monitoring timers (late emergent notifications escalate); 0: off.
    monitoring_timer_s: float = 30.0
    #: Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (:func:`trusted_proxies`): the client
    #: address (the per-address login limit, the audit) and the scheme (Secure cookies, the login form's
    #: Origin check) come from them only; any other peer's forwarded headers are ignored.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")

    @classmethod
    def from_env(cls) -> ServiceSettings:
        limit = int(env_number(UPLOAD_LIMIT_ENV, cls.upload_limit_bytes / 1024**2) * 1024**2)
        secure = os.environ.get(COOKIE_SECURE_ENV, "auto").strip().lower() or "auto"
        if secure not in ("auto", "always", "never"):
            raise InputError(COOKIE_SECURE_ENV, f"use auto, always or never, got {secure!r}")
        jobs = os.environ.get(JOBS_ENV, "inline").strip().lower() or "inline"
        if jobs not in ("inline", "queue"):
            raise InputError(JOBS_ENV, f"use inline or queue, got {jobs!r}")
        timer = os.environ.get(MONITORING_TIMER_ENV, "").strip() or "30"
        try:
            timer_s = float(timer)
        except ValueError:
            raise InputError(MONITORING_TIMER_ENV, f"must be a number of seconds, got {timer!r}") from None
        if not timer_s >= 0:
            raise InputError(MONITORING_TIMER_ENV, f"must be 0 (off) or more, got {timer!r}")
        proxies = os.environ.get(TRUSTED_PROXIES_ENV)
        return cls(
            trusted_proxies=cls.trusted_proxies if proxies is None else trusted_proxies(proxies),
            upload_limit_bytes=limit,
            cookie_secure=secure,
            policy=SecurityPolicy.from_env(),
            jobs=jobs,
            monitoring_timer_s=timer_s,
        )
