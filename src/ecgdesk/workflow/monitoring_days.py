"""The days of a monitoring period are the patient's calendar days in the zone of the enrolment
(``enrolments.time_zone``, the zone of the recorder's clock; UTC where none was given): a strip's day, the
bounds of a day or of the whole period as instants, and the patient's today. A day in a zone that changes
its clocks that night is 23 or 25 hours long."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from ecgdesk.monitoring.periods import Period
from ecgdesk.store.monitoring_models import Enrolment


def zone_of(time_zone: str | None) -> tzinfo:
    return ZoneInfo(time_zone) if time_zone else UTC


def zone_name(time_zone: str | None) -> str:
    return time_zone or "UTC"


def period_day(enrolment: Enrolment, moment: datetime) -> date:
    """The day of the period ``moment`` falls on: the patient's calendar day in the enrolment's zone (UTC
    without one). A strip from 08:00 in Tokyo on the first day is 23:00 UTC the day before: by the UTC
    date it was outside the enrolment."""
    instant = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return instant.astimezone(zone_of(enrolment.time_zone)).date()


def day_start(day: date, time_zone: str | None = None) -> datetime:
    """The instant (UTC) the patient's ``day`` begins: its midnight in the zone."""
    return datetime.combine(day, time(0), tzinfo=zone_of(time_zone)).astimezone(UTC)


def days_span(first: date, last: date, time_zone: str | None) -> tuple[datetime, datetime]:
    """From the start of the patient's ``first`` day to the end of their ``last`` (instants, UTC)."""
    return day_start(first, time_zone), day_start(last + timedelta(days=1), time_zone)


def period_span(period: Period, time_zone: str | None) -> tuple[datetime, datetime]:
    """A period's first to its last (or documented early stop) day, as the patient lived them."""
    return days_span(period.start, period.end, time_zone)


def period_seconds(period: Period, time_zone: str | None) -> float:
    """The seconds of the period's days as the patient lived them, to its end or documented stop: a day on
    which the clocks changed is 23 or 25 hours long (until 2026-12-07 coding counted 86,400 a day)."""
    start, end = period_span(period, time_zone)
    return (end - start).total_seconds()


def local_today(time_zone: str | None, at: datetime) -> date:
    """The patient's calendar day at the instant ``at``."""
    instant = at if at.tzinfo else at.replace(tzinfo=UTC)
    return instant.astimezone(zone_of(time_zone)).date()


def local_clock(moment: datetime, time_zone: str | None) -> datetime:
    """A stored instant (naive: UTC) on the patient's clock."""
    instant = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return instant.astimezone(zone_of(time_zone))
