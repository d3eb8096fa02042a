"""Account security settings: idle logoff, absolute session lifetime and lockout after failed logins.

Defaults follow common practice for clinical workstations (15 minutes idle, a working day of absolute
lifetime, 5 failures lock the account for 15 minutes). They are also administrator settings
(:data:`SECURITY_SETTINGS`, stored in ``app_settings`` and changed through ``workflow.app_settings``): the
login and session code read them in the transaction of each login and each request
(:meth:`SecurityPolicy.current`), so a change applies at once, without a restart. Where the environment
variable of one is set, the environment wins (:attr:`SecurityPolicy.pinned`): it is the host operator's
decision, made outside the application, and an administrator account (which may be the one an attacker
holds) cannot loosen it; the settings page says so and a change of it is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import InputError
from ecgdesk.store.enums import Role
from ecgdesk.store.models import AppSetting


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
class SecuritySetting:
    """A security setting an administrator changes: its ``app_settings`` name, the environment variable
    that wins over it, and the whole numbers it may take (docs/workstation.md says why these)."""

    name: str
    label: str
    env: str
    low: int
    high: int


#: The sign-in settings an administrator changes, in the order the settings page shows them. Ranges: NIST
#: SP 800-63B (rev. 3) section 5.2.2 caps consecutive failed attempts at 100 and warns that a lockout is a
#: denial of service on the account; a lock here ends by itself and the count starts again, so an attacker
#: gets ``attempts`` guesses per ``minutes``: 3 to 10 attempts (below 3 a typo locks a clinician out; 10 is
#: the usual ceiling in HIPAA practice, PCI DSS 8.3.4 too) and 5 minutes to a day. Idle logoff (HIPAA
#: 164.312(a)(2)(iii)): 800-63B section 4.2.3 asks re-authentication after 30 minutes of inactivity at
#: AAL2 (15 at AAL3), review-ui.md section 4 cites 30 minutes generally and STIG 5/10/15: 2 to 30 minutes.
#: Absolute session lifetime: 800-63B section 4.2.3 asks re-authentication at least once every 12 hours at
#: AAL2 whatever the activity; under an hour a physician is logged off in the middle of a day's reading.
_ROLE_NAMES = {Role.TECHNICIAN: "a technician's", Role.PHYSICIAN: "a physician's", Role.BILLER: "a biller's",
               Role.ADMIN: "an administrator's"}
#: A role's own idle limit (review-ui.md section 4: shorter for the heaviest users of patient data) has the
#: same range; until one is set, the role has the general limit.
SECURITY_SETTINGS = (
    SecuritySetting(
        "lockout_attempts", "Wrong passwords in a row that lock an account", "ECGDESK_LOCKOUT_ATTEMPTS", 3, 10
    ),
    SecuritySetting(
        "lockout_minutes", "Minutes a locked account stays locked", "ECGDESK_LOCKOUT_MINUTES", 5, 1440
    ),
    SecuritySetting(
        "idle_minutes",
        "Minutes without activity after which a session is logged off (roles without their own limit)",
        "ECGDESK_IDLE_MINUTES",
        2,
        30,
    ),
    SecuritySetting(
        "session_hours",
        "Hours after logging in at which a session ends, active or not (a new login is needed)",
        "ECGDESK_SESSION_HOURS",
        1,
        12,
    ),
    *(
        SecuritySetting(
            f"idle_minutes_{role.value}",
            f"Minutes without activity after which {_ROLE_NAMES[role]} session is logged off (this role)",
            f"ECGDESK_IDLE_MINUTES_{role.name}",
            2,
            30,
        )
        for role in Role
    ),
)
_NAMES = tuple(s.name for s in SECURITY_SETTINGS)
#: The setting of each role's own idle limit, by role.
ROLE_IDLE = {f"idle_minutes_{role.value}": role.value for role in Role}


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
    #: The :data:`SECURITY_SETTINGS` whose environment variable is set: the stored setting does not apply.
    pinned: frozenset[str] = frozenset()
    #: Refused logins from one client address, whatever the user names, within ``address_window_s``
    #: before that address is refused for a while (429): password spraying tries one password on many
    #: accounts and never trips an account's lockout. 30 in 15 minutes leaves a clinic behind one NAT
    #: address room for its typos; 0 turns the limit off.
    address_attempts: int = 30
    address_window_s: float = 15 * 60.0

    def idle_for(self, role: str) -> float:
        """The idle limit, in seconds, of a session of ``role``."""
        return next((seconds for name, seconds in self.idle_by_role if name == role), self.idle_s)

    def value_of(self, name: str) -> float:
        """The value of security setting ``name`` in this policy (attempts, minutes or hours)."""
        if name in ROLE_IDLE:
            return self.idle_for(ROLE_IDLE[name]) / 60
        values = {
            "lockout_attempts": float(self.lockout_attempts),
            "lockout_minutes": self.lockout_s / 60,
            "idle_minutes": self.idle_s / 60,
            "session_hours": self.absolute_s / 3600,
        }
        return values[name]

    def with_values(self, values: dict[str, int | None]) -> SecurityPolicy:
        """This policy with the stored ``values`` of the settings the environment does not pin (``None``:
        an administrator set it back to its default)."""
        free = {
            name: value
            for name, value in values.items()
            if name in _NAMES and name not in self.pinned and value is not None
        }
        if not free:
            return self
        own = {ROLE_IDLE[name]: minutes * 60.0 for name, minutes in free.items() if name in ROLE_IDLE}
        by_role = tuple(pair for pair in self.idle_by_role if pair[0] not in own) + tuple(own.items())
        return replace(
            self,
            lockout_attempts=free.get("lockout_attempts", self.lockout_attempts),
            lockout_s=free["lockout_minutes"] * 60.0 if "lockout_minutes" in free else self.lockout_s,
            idle_s=free["idle_minutes"] * 60.0 if "idle_minutes" in free else self.idle_s,
            absolute_s=free["session_hours"] * 3600.0 if "session_hours" in free else self.absolute_s,
            idle_by_role=by_role,
        )

    def current(self, session: Session) -> SecurityPolicy:
        """The policy in force now: this one with the administrator's stored settings (read in
        ``session``'s transaction, so a change applies from the next request on)."""
        if self.pinned.issuperset(_NAMES):
            return self
        query = select(AppSetting.name, AppSetting.value_json).where(AppSetting.name.in_(_NAMES))
        rows = session.execute(query)
        stored = {name: json.loads(value) for name, value in rows}
        return self.with_values({name: None if v is None else int(v) for name, v in stored.items()})

    @classmethod
    def from_env(cls) -> SecurityPolicy:
        """``ECGDESK_IDLE_MINUTES``, ``ECGDESK_IDLE_MINUTES_<ROLE>`` (``_TECHNICIAN``, ``_PHYSICIAN``,
        ``_BILLER``, ``_ADMIN``: that role's limit), ``ECGDESK_SESSION_HOURS``, ``ECGDESK_LOCKOUT_ATTEMPTS``,
        ``ECGDESK_LOCKOUT_MINUTES`` (defaults above; a set one of :data:`SECURITY_SETTINGS` is pinned),
        and the per-address login limit ``ECGDESK_LOGIN_ADDRESS_ATTEMPTS`` (0: off),
        ``ECGDESK_LOGIN_ADDRESS_MINUTES``."""
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
            pinned=frozenset(s.name for s in SECURITY_SETTINGS if os.environ.get(s.env, "").strip()),
            address_attempts=_address_attempts(),
            address_window_s=env_number(ADDRESS_MINUTES_ENV, 15) * 60,
        )


ADDRESS_ATTEMPTS_ENV = "ECGDESK_LOGIN_ADDRESS_ATTEMPTS"
ADDRESS_MINUTES_ENV = "ECGDESK_LOGIN_ADDRESS_MINUTES"


def _address_attempts() -> int:
    """``ECGDESK_LOGIN_ADDRESS_ATTEMPTS``: a whole number, 0 (the per-address limit off) or more."""
    text = os.environ.get(ADDRESS_ATTEMPTS_ENV, "").strip()
    if not text:
        return SecurityPolicy.address_attempts
    if not text.isascii() or not text.isdigit():
        raise InputError(ADDRESS_ATTEMPTS_ENV, f"must be a whole number, 0 (off) or more, got {text!r}")
    return int(text)
