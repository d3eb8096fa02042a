"""The monitoring roster: shifts of technicians and on-call physicians, and the hours they leave uncovered
(reference section 5, rule 5). The roster is only added to, never edited."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import InputError
from ecgdesk.monitoring.periods import Period
from ecgdesk.monitoring.roster import Gap, Shift, coverage_gaps
from ecgdesk.reports.fonts import check_printable
from ecgdesk.store import Store, append
from ecgdesk.store.monitoring_models import RosterShift
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.monitoring_days import period_span
from ecgdesk.workflow.users import aware


def shift_of(row: RosterShift) -> Shift:
    # a blank name stored before add_shift refused it covers nobody
    technicians = tuple(name for name in json.loads(row.technicians_json) if name.strip())
    return Shift(aware(row.start), aware(row.end), technicians, (row.on_call_physician or "").strip() or None)


def _person(field: str, name: str) -> str:
    name = name.strip()
    if len(name) > 64:  # the column's width (PostgreSQL refuses more)
        raise InputError(field, f"a name of at most 64 characters, got {len(name)}")
    return check_printable(field, name)


def add_shift(
    store: Store, start: datetime, end: datetime, technicians: list[str], on_call: str | None, actor: str
) -> int:
    if end <= start or end - start > timedelta(hours=24):
        raise InputError("end", "a shift ends after it starts and lasts at most 24 hours")
    # A blank name covered the hours: coverage found no gap and escalation called "" (rules 5 and 9).
    technicians = [_person("technicians", name) for name in technicians if name.strip()]
    on_call = _person("on-call", on_call) if on_call and on_call.strip() else None
    if not technicians and not on_call:
        raise InputError("technicians", "a shift names its technicians and/or the on-call physician")
    with store.transaction() as session:
        row = RosterShift(
            start=start,
            end=end,
            technicians_json=json.dumps(technicians),
            on_call_physician=on_call,
            created_by=actor,
            created_at=now(),
        )
        session.add(row)
        session.flush()
        append(
            session,
            actor,
            "monitor:roster-add",
            "roster_shift",
            row.id,
            None,
            {"start": start, "end": end, "technicians": technicians, "on_call": on_call},
        )
        return row.id


def _gaps(session: Session, start: datetime, end: datetime) -> list[Gap]:
    rows = session.scalars(select(RosterShift).where(RosterShift.end > start, RosterShift.start < end))
    return coverage_gaps([shift_of(r) for r in rows], start, end)


def coverage(store: Store, start: datetime, end: datetime) -> list[Gap]:
    with store.transaction() as session:
        return _gaps(session, start, end)


def period_gaps(session: Session, period: Period, time_zone: str | None = None) -> list[Gap]:
    """The stretches of a period's days (the patient's, in the enrolment's zone ``time_zone``; UTC without
    one), its first to its last or documented early stop, that the roster leaves without a technician or
    an on-call physician, as the roster stands now: the closing summary keeps those of its day, and coding
    reads the roster again, so a shift worked but entered late counts once it is entered. Until 2026-12-07
    the days were UTC's: a Tokyo patient's first nine hours were never looked at, and a gap found on
    the UTC night before the period began."""
    return _gaps(session, *period_span(period, time_zone))
