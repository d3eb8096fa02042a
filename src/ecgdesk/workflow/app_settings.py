"""Application settings an administrator changes: the escalation minutes of the attended queue and the
sign-in settings (lockout, idle logoff).

Reference monitoring.md section 5 rule 9: "escalate to on-call when not acknowledged in N min (N
configurable; design decision)". N was only in the packaged ``monitoring/data/queue_policy.json``: changing
it meant editing a file inside the installed package, unaudited and lost at the next upgrade. Now each
tier's N is a stored setting (``app_settings``, migration 0021) that an administrator changes (the
permission table's ``settings:manage``); every change is audited with the value before, a value that is no
whole number of minutes from 1 to 1440 is refused naming the setting, and the escalation code reads the
setting (the packaged table stays the default).

The sign-in settings (:data:`~ecgdesk.workflow.policy.SECURITY_SETTINGS`: wrong passwords before a lockout,
its minutes, the idle logoff minutes) were read from the environment at start only: a change needed a
restart and was not audited. They are stored settings too, each with its own range, and the login and
session code read them at every login and request (``SecurityPolicy.current``). Where the environment
variable of one is set in this process, it still wins (``SecurityPolicy.pinned``): the settings show it as
fixed by that variable and a change is refused (409), since it would have no effect here.

Until 2026-12-07 a role's own idle limit (``ECGDESK_IDLE_MINUTES_<ROLE>``) was an environment variable
only; it is a setting per role now (``idle_minutes_technician`` ...), whose default is the general idle
limit in force. Any setting is set back to its default with the value ``default`` (audited, the stored
value becoming ``null``): a role's own limit could otherwise never again follow the general one.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecgdesk.errors import ConflictError, InputError, NotFoundError
from ecgdesk.monitoring.policy import queue_policy
from ecgdesk.monitoring.triage import Priority
from ecgdesk.store import Store, append
from ecgdesk.store.models import AppSetting
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.permissions import Action, Principal, authorize
from ecgdesk.workflow.policy import ROLE_IDLE, SECURITY_SETTINGS, SecurityPolicy
from ecgdesk.workflow.users import aware

MAX_MINUTES = 24 * 60  # a day: a notice unacknowledged longer is no longer being attended
DIGITS = re.compile(r"[0-9]+", re.ASCII)
RESET = "default"  # the value that sets a setting back to its default


def _unit(name: str) -> str:
    return next(unit for unit in ("attempts", "minutes", "hours") if unit in name.split("_"))


@dataclass(frozen=True)
class SettingSpec:
    name: str
    label: str
    low: int
    high: int
    unit: str  # what the number counts, for the refusal's wording
    tier: Priority | None = None  # an escalation setting: its notification tier
    env: str | None = None  # a sign-in setting: the environment variable that wins over it
    default: int | None = None  # a setting of neither kind: its default


#: How old an inbound message may be for its application ACK, recorded not sendable, to be queued once a
#: target names its sender (or is enabled): an HL7 interface engine still waits for the ACK of a message of
#: the last hours; one to a message days old is noise it files as unexpected (0: none sent late).
LATE_ACK_HOURS = "late_app_ack_hours"
LATE_ACK_DEFAULT_HOURS = 24
#: The settings, in the order the settings page shows them.
SPECS = (
    SettingSpec(
        "escalate_emergent_minutes",
        "Escalate an unacknowledged emergent notification to the on-call physician after (minutes)",
        1,
        MAX_MINUTES,
        "minutes",
        tier=Priority.EMERGENT,
    ),
    SettingSpec(
        "escalate_urgent_minutes",
        "Escalate an unacknowledged urgent notification to the on-call physician after (minutes)",
        1,
        MAX_MINUTES,
        "minutes",
        tier=Priority.URGENT,
    ),
    *(
        SettingSpec(s.name, s.label, s.low, s.high, _unit(s.name), env=s.env)
        for s in SECURITY_SETTINGS
    ),
    SettingSpec(
        LATE_ACK_HOURS,
        "Send an HL7 application ACK that was not sendable once a target takes it, for messages received "
        "in the last (hours; 0: never)",
        0,
        7 * 24,
        "hours",
        default=LATE_ACK_DEFAULT_HOURS,
    ),
)
_BY_NAME = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class SettingValue:
    name: str
    label: str
    value: int | float  # the value in force (a pinned one: the environment's, which may be fractional)
    default: int | float
    changed_by: str | None  # None: the default applies
    changed_at: datetime | None
    low: int
    high: int
    fixed_by: str | None = None  # the environment variable that wins over the stored setting, if set


def _whole(number: float) -> int | float:
    return int(number) if number == int(number) else number


def _default(spec: SettingSpec, policy: SecurityPolicy) -> int | float:
    if spec.tier is not None:
        return int(queue_policy().escalate_after_minutes[spec.tier])
    if spec.default is not None:
        return spec.default
    return _whole(policy.value_of(spec.name))


def _shown(value: object) -> str:
    """``value`` as a refusal may say it: a number as sent, other text not (it may be a password typed
    into the wrong field; the refusal is answered and audited)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)[:30]
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return "text that is not a number"
        return repr(value.strip()[:30])
    return type(value).__name__


def _is_reset(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() == RESET


def check_number(spec: SettingSpec, value: object) -> int:
    """``value`` as a whole number from ``spec.low`` to ``spec.high``, else :class:`InputError` naming
    the setting."""
    name, what = spec.name, f"a whole number of {spec.unit}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(name, f"must be {what}, got {_shown(value)}")
    if isinstance(value, str) and not DIGITS.fullmatch(value.strip()):
        # float() alone would read "1e3" as 1000, "1_0" as 10 and other scripts' digits: a typo or a
        # trick taken as a valid number of minutes
        raise InputError(name, f"must be {what} written in the digits 0-9, got {_shown(value)}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise InputError(name, f"must be {what}, got {_shown(value)}") from None
    if not math.isfinite(number) or number != int(number) or not spec.low <= number <= spec.high:
        raise InputError(name, f"must be {what} from {spec.low} to {spec.high}, got {_shown(value)}")
    return int(number)


def check_minutes(name: str, value: object) -> int:
    """``value`` as whole minutes from 1 to a day, else :class:`InputError` naming the setting."""
    return check_number(SettingSpec(name, name, 1, MAX_MINUTES, "minutes"), value)


def _stored(session: Session) -> dict[str, AppSetting]:
    names = [spec.name for spec in SPECS]
    return {row.name: row for row in session.scalars(select(AppSetting).where(AppSetting.name.in_(names)))}


def escalation_minutes(session: Session) -> dict[Priority, float]:
    """Each notification tier's minutes before escalation: the administrator's setting, else the default."""
    stored = _stored(session)
    minutes = dict(queue_policy().escalate_after_minutes)
    for spec in SPECS:
        row = stored.get(spec.name)
        if row is not None and spec.tier is not None and json.loads(row.value_json) is not None:
            minutes[spec.tier] = float(json.loads(row.value_json))
    return minutes


def late_ack_hours(session: Session) -> int:
    """The administrator's :data:`LATE_ACK_HOURS`, else its default."""
    row = session.get(AppSetting, LATE_ACK_HOURS)
    value = json.loads(row.value_json) if row is not None else None
    return LATE_ACK_DEFAULT_HOURS if value is None else int(value)


def _values(session: Session, policy: SecurityPolicy) -> list[SettingValue]:
    stored = _stored(session)
    general = _whole(policy.current(session).idle_s / 60)  # a role's own idle limit's default, as set now
    out = []
    for spec in SPECS:
        row = stored.get(spec.name)
        fixed_by = spec.env if spec.name in policy.pinned else None
        default = general if spec.name in ROLE_IDLE and not fixed_by else _default(spec, policy)
        own = None if fixed_by or row is None else json.loads(row.value_json)
        value = default if own is None else int(own)
        out.append(
            SettingValue(
                spec.name,
                spec.label,
                value,
                default,
                row.changed_by if row else None,
                aware(row.changed_at) if row else None,
                spec.low,
                spec.high,
                fixed_by,
            )
        )
    return out


def _locked(session: Session, spec: SettingSpec, policy: SecurityPolicy, actor: str) -> AppSetting:
    """The setting's row, locked until the transaction ends: a change made at the same moment waits, so
    the value before that each audit row records is the value that change replaced (unlocked, two changes
    on PostgreSQL both read the same old value). A setting not stored yet is stored with its default
    first; where a concurrent first change stored it, this one waits for it and changes it after."""
    row = session.get(AppSetting, spec.name, with_for_update=True, populate_existing=True)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            value = json.dumps(None if spec.name in ROLE_IDLE else _default(spec, policy))
            session.add(AppSetting(name=spec.name, value_json=value, changed_by=actor, changed_at=now()))
    except IntegrityError:
        pass  # the concurrent change's row, committed now: locked below like any other
    row = session.get(AppSetting, spec.name, with_for_update=True, populate_existing=True)
    assert row is not None  # inserted here or by the concurrent change (rows are never deleted)
    return row


def list_settings(store: Store, who: Principal, policy: SecurityPolicy | None = None) -> list[SettingValue]:
    """The settings as they stand; ``policy``: the caller's sign-in settings (its defaults and the
    environment variables that pin some), read from this process's environment if not given."""
    authorize(store, who, Action.SETTINGS_MANAGE)
    policy = policy or SecurityPolicy.from_env()
    with store.transaction() as session:
        return _values(session, policy)


def change_setting(
    store: Store, who: Principal, name: str, value: object, policy: SecurityPolicy | None = None
) -> SettingValue:
    """Set ``name`` to ``value`` (audited with the value before; :data:`RESET` sets it back to its default,
    stored as ``null``); the setting as it now stands. A sign-in setting pinned by ``policy``'s environment
    is refused (:class:`ConflictError`)."""
    authorize(store, who, Action.SETTINGS_MANAGE, "setting", name)
    policy = policy or SecurityPolicy.from_env()
    try:
        spec = _BY_NAME.get(name)
        if spec is None:
            raise NotFoundError("setting", f"no setting {name[:60]!r} (settings: {', '.join(_BY_NAME)})")
        if spec.env is not None and name in policy.pinned:
            raise ConflictError(
                name,
                f"set by the environment variable {spec.env}, which wins over this setting; unset it "
                "(and restart) to change it here",
            )
        number = None if _is_reset(value) else check_number(spec, value)
    except InputError as error:  # an administrator's refused change is audited like another role's
        with store.transaction() as session:
            refusal = {"field": error.field, "reason": error.reason, "kind": type(error).__name__}
            append(session, who.actor, "settings:refused", "setting", name, None, refusal)
        raise
    with store.transaction() as session:
        row = _locked(session, spec, policy, who.actor)
        before = json.loads(row.value_json)
        row.value_json, row.changed_by, row.changed_at = json.dumps(number), who.actor, now()
        append(session, who.actor, "settings:change", "setting", name, {"value": before}, {"value": number})
        session.flush()
        return next(v for v in _values(session, policy) if v.name == name)
