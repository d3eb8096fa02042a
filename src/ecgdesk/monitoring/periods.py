"""Monitoring periods: at most 30 days, their dates of service per component, and the 29-day rule.

Dates of service (shared/reference/monitoring.md section 5, rule 4): the hook-up (93270) on the start
date; the technical part (93271, 93229) on the end of monitoring or its documented early stop; the
professional part and the global service (93272, 93228, 93268) on the date of the signed read, never before
the end. A monitoring set (Holter, event, telemetry) may not complete within 29 days of another one of the
same patient (Noridian; Medicare checks nationwide).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ecgdesk.errors import InputError

MAX_DAYS = 30
OVERLAP_DAYS = 29


@dataclass(frozen=True)
class Period:
    start: date
    days: int
    stopped_early_on: date | None = None

    @property
    def planned_end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    @property
    def end(self) -> date:
        return self.stopped_early_on or self.planned_end

    @property
    def monitored_days(self) -> int:
        """The days from its start to its end, both counted: fewer than ``days`` when stopped early."""
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def check_period(start: date, days: int) -> Period:
    if not 1 <= days <= MAX_DAYS:
        raise InputError("days", f"a monitoring period is 1 to {MAX_DAYS} days, got {days}")
    return Period(start, days)


@dataclass(frozen=True)
class ServiceDates:
    hookup: date
    technical: date
    professional: date | None


def service_dates(period: Period, signed_on: date | None) -> ServiceDates:
    """The dates of service of each component of a closed period."""
    professional = None
    if signed_on is not None:
        if signed_on < period.end:
            raise InputError(
                "signed",
                f"the read was signed on {signed_on}, before the end of monitoring "
                f"({period.end}): the professional date of service cannot precede the end",
            )
        professional = signed_on
    return ServiceDates(period.start, period.end, professional)


def completes_too_close(end: date, other: date) -> bool:
    """Whether sets completing on ``end`` and ``other`` complete within 29 days of each other (the one
    rule behind the claim's check, :func:`overlap_conflict`, and the order's, :func:`too_close`)."""
    return abs((end - other).days) < OVERLAP_DAYS


def overlap_conflict(end: date, other_ends: list[tuple[str, date]]) -> str | None:
    """Why a set completing on ``end`` would be denied: another set of the patient ends within 29 days."""
    for what, other in other_ends:
        if completes_too_close(end, other):
            return (
                f"{what} completed on {other}, {abs((end - other).days)} days from {end}: monitoring sets "
                f"may not complete within {OVERLAP_DAYS} days of each other"
            )
    return None


@dataclass(frozen=True)
class PriorSet:
    """An earlier (or still running) monitoring set of a patient, as the 29-day rule compares it."""

    what: str  # e.g. "event_monitor enrolment 3 (study 12)", "ambulatory_ecg study 7"
    start: date
    end: date  # the day it completed, or will complete: a running period's planned end

    @property
    def next_completion(self) -> date:
        """The first day another set may complete after this one."""
        return self.end + timedelta(days=OVERLAP_DAYS)


def too_close(completes_on: date, priors: list[PriorSet]) -> PriorSet | None:
    """The prior set that a new set completing on ``completes_on`` would complete within 29 days of."""
    close = [p for p in priors if completes_too_close(completes_on, p.end)]
    return max(close, key=lambda p: p.end) if close else None  # the latest decides when a new set may be
