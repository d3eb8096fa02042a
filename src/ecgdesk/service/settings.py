"""Settings of the HTTP service, from the environment (defaults for a workstation on loopback)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ecgdesk.errors import InputError
from ecgdesk.workflow.policy import SecurityPolicy

UPLOAD_LIMIT_ENV = "ECGDESK_UPLOAD_LIMIT_MB"
COOKIE_SECURE_ENV = "ECGDESK_COOKIE_SECURE"
JOBS_ENV = "ECGDESK_SERVICE_JOBS"


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

    @classmethod
    def from_env(cls) -> ServiceSettings:
        limit = cls.upload_limit_bytes
        text = os.environ.get(UPLOAD_LIMIT_ENV)
        if text:
            try:
                megabytes = float(text)
            except ValueError:
                raise InputError(UPLOAD_LIMIT_ENV, f"must be a number of megabytes, got {text!r}") from None
            if not megabytes > 0:
                raise InputError(UPLOAD_LIMIT_ENV, f"must be greater than 0, got {text!r}")
            limit = int(megabytes * 1024**2)
        secure = os.environ.get(COOKIE_SECURE_ENV, "auto").strip().lower() or "auto"
        if secure not in ("auto", "always", "never"):
            raise InputError(COOKIE_SECURE_ENV, f"use auto, always or never, got {secure!r}")
        jobs = os.environ.get(JOBS_ENV, "inline").strip().lower() or "inline"
        if jobs not in ("inline", "queue"):
            raise InputError(JOBS_ENV, f"use inline or queue, got {jobs!r}")
        return cls(
            upload_limit_bytes=limit, cookie_secure=secure, policy=SecurityPolicy.from_env(), jobs=jobs
        )
