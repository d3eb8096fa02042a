"""Account security settings: idle logoff, absolute session lifetime and lockout after failed logins.

Defaults follow common practice for clinical workstations (15 minutes idle, a working day of absolute
lifetime, 5 failures lock the account for 15 minutes); each can be changed in the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ecgdesk.errors import InputError
from ecgdesk.store.enums import Role


def env_number(name: str, default: float) -> float:
    """The number > 0 in environment variable ``name``, else ``default``."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise InputError(name, f"must be a number, got {text!r}") from None
    if not value > 0:
        raise InputError(name, f"must be greater than 0, got {text!r}")
    return value


@dataclass(frozen=True)
class SecurityPolicy:
    idle_s: float = 15 * 60.0
    absolute_s: float = 12 * 3600.0
    lockout_attempts: int = 5
    lockout_s: float = 15 * 60.0
    #: A session's last-seen time is written at most this often (fewer writes; idle logoff stays exact
    #: to within this much).
    touch_s: float = 30.0
    #: Idle limits of particular roles, (role, seconds) pairs; a role not named has ``idle_s``. Heavy users
    #: of patient data may get a shorter limit than the rest (review-ui.md section 4: about 10 minutes for
    #: them against 30; STIG 5/10/15 by the value of what is reached).
    idle_by_role: tuple[tuple[str, float], ...] = ()

    def idle_for(self, role: str) -> float:
        """The idle limit, in seconds, of a session of ``role``."""
        return next((seconds for name, seconds in self.idle_by_role if name == role), self.idle_s)

    @classmethod
    def from_env(cls) -> SecurityPolicy:
        """``ECGDESK_IDLE_MINUTES``, ``ECGDESK_IDLE_MINUTES_<ROLE>`` (``_TECHNICIAN``, ``_PHYSICIAN``,
        ``_BILLER``, ``_ADMIN``: that role's limit), ``ECGDESK_SESSION_HOURS``, ``ECGDESK_LOCKOUT_ATTEMPTS``,
        ``ECGDESK_LOCKOUT_MINUTES`` (defaults above)."""
        by_role = tuple(
            (role.value, env_number(f"ECGDESK_IDLE_MINUTES_{role.name}", 0.0) * 60)
            for role in Role
            if os.environ.get(f"ECGDESK_IDLE_MINUTES_{role.name}", "").strip()
        )
        return cls(
            idle_s=env_number("ECGDESK_IDLE_MINUTES", 15) * 60,
            absolute_s=env_number("ECGDESK_SESSION_HOURS", 12) * 3600,
            lockout_attempts=int(env_number("ECGDESK_LOCKOUT_ATTEMPTS", 5)),
            lockout_s=env_number("ECGDESK_LOCKOUT_MINUTES", 15) * 60,
            idle_by_role=by_role,
        )
