"""Application settings an administrator changes: the escalation minutes of the attended queue.

Reference monitoring.md section 5 rule 9: "escalate to on-call when not acknowledged in N min (N
configurable; design decision)". N was only in the packaged ``monitoring/data/queue_policy.json``: changing
it meant editing a file inside the installed package, unaudited and lost at the next upgrade. Now each
tier's N is a stored setting (``app_settings``, migration 0021) that an administrator changes (the
permission table's ``settings:manage``); every change is audited with the value before, a value that is no
whole number of minutes from 1 to 1440 is refused naming the setting, and the escalation code reads the
setting (the packaged table stays the default).

The security settings (idle logoff, lockout) are still read from the environment at start
(:class:`~ecgdesk.workflow.policy.SecurityPolicy`): they bound the login itself, so they are not changed
from inside a session.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import InputError, NotFoundError
from ecgdesk.monitoring.policy import queue_policy
from ecgdesk.monitoring.triage import Priority
from ecgdesk.store import Store, append
from ecgdesk.store.models import AppSetting
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.permissions import Action, Principal, authorize
from ecgdesk.workflow.users import aware

MAX_MINUTES = 24 * 60  # a day: a notice unacknowledged longer is no longer being attended


@dataclass(frozen=True)
class SettingSpec:
    name: str
    label: str
    tier: Priority


#: The settings, in the order the settings page shows them.
SPECS = (
    SettingSpec(
        "escalate_emergent_minutes",
        "Escalate an unacknowledged emergent notification to the on-call physician after (minutes)",
        Priority.EMERGENT,
    ),
    SettingSpec(
        "escalate_urgent_minutes",
        "Escalate an unacknowledged urgent notification to the on-call physician after (minutes)",
        Priority.URGENT,
    ),
)
_BY_NAME = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class SettingValue:
    name: str
    label: str
    value: int
    default: int
    changed_by: str | None  # None: the default applies
    changed_at: datetime | None


def _default(spec: SettingSpec) -> int:
    return int(queue_policy().escalate_after_minutes[spec.tier])


def check_minutes(name: str, value: object) -> int:
    """``value`` as whole minutes from 1 to a day, else :class:`InputError` naming the setting."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(name, f"must be a whole number of minutes, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise InputError(name, f"must be a whole number of minutes, got {value!r}") from None
    if not math.isfinite(number) or number != int(number) or not 1 <= number <= MAX_MINUTES:
        raise InputError(name, f"must be a whole number of minutes from 1 to {MAX_MINUTES}, got {value!r}")
    return int(number)


def _stored(session: Session) -> dict[str, AppSetting]:
    names = [spec.name for spec in SPECS]
    return {row.name: row for row in session.scalars(select(AppSetting).where(AppSetting.name.in_(names)))}


def escalation_minutes(session: Session) -> dict[Priority, float]:
    """Each notification tier's minutes before escalation: the administrator's setting, else the default."""
    stored = _stored(session)
    minutes = dict(queue_policy().escalate_after_minutes)
    for spec in SPECS:
        row = stored.get(spec.name)
        if row is not None:
            minutes[spec.tier] = float(json.loads(row.value_json))
    return minutes


def _values(session: Session) -> list[SettingValue]:
    stored = _stored(session)
    out = []
    for spec in SPECS:
        row = stored.get(spec.name)
        default = _default(spec)
        out.append(
            SettingValue(
                spec.name,
                spec.label,
                int(json.loads(row.value_json)) if row else default,
                default,
                row.changed_by if row else None,
                aware(row.changed_at) if row else None,
            )
        )
    return out


def list_settings(store: Store, who: Principal) -> list[SettingValue]:
    authorize(store, who, Action.SETTINGS_MANAGE)
    with store.transaction() as session:
        return _values(session)


def change_setting(store: Store, who: Principal, name: str, value: object) -> SettingValue:
    """Set ``name`` to ``value`` (audited with the value before); the setting as it now stands."""
    authorize(store, who, Action.SETTINGS_MANAGE, "setting", name)
    spec = _BY_NAME.get(name)
    if spec is None:
        raise NotFoundError("setting", f"no setting {name!r} (settings: {', '.join(_BY_NAME)})")
    minutes = check_minutes(name, value)
    with store.transaction() as session:
        row = session.get(AppSetting, name)
        before = int(json.loads(row.value_json)) if row else _default(spec)
        if row is None:
            row = AppSetting(name=name, value_json="", changed_by="", changed_at=now())
            session.add(row)
        row.value_json, row.changed_by, row.changed_at = json.dumps(minutes), who.actor, now()
        append(session, who.actor, "settings:change", "setting", name, {"value": before}, {"value": minutes})
        session.flush()
        return next(v for v in _values(session) if v.name == name)
