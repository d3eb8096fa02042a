"""Coverage of the attended monitoring: every hour of a period needs a technician on shift and an on-call
physician (NCD 20.15; an answering service or a gap is not attended monitoring)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Shift:
    start: datetime
    end: datetime
    technicians: tuple[str, ...]
    on_call_physician: str | None


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime
    missing: str  # "technician", "on-call physician" or both

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def _covered(
    shifts: Iterable[Shift], start: datetime, end: datetime, role: str
) -> list[tuple[datetime, datetime]]:
    spans = sorted(
        (max(s.start, start), min(s.end, end))
        for s in shifts
        if s.end > start
        and s.start < end
        and (s.technicians if role == "technician" else s.on_call_physician)
    )
    merged: list[tuple[datetime, datetime]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _holes(
    covered: list[tuple[datetime, datetime]], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    holes, cursor = [], start
    for a, b in covered:
        if a > cursor:
            holes.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        holes.append((cursor, end))
    return holes


def coverage_gaps(shifts: Iterable[Shift], start: datetime, end: datetime) -> list[Gap]:
    """The stretches of [start, end) without a technician or without an on-call physician."""
    shifts = list(shifts)
    gaps = [
        Gap(a, b, "technician") for a, b in _holes(_covered(shifts, start, end, "technician"), start, end)
    ]
    gaps += [
        Gap(a, b, "on-call physician")
        for a, b in _holes(_covered(shifts, start, end, "physician"), start, end)
    ]
    return sorted(gaps, key=lambda g: (g.start, g.missing))


def on_call_at(shifts: Iterable[Shift], when: datetime) -> str | None:
    """The on-call physician of the shift covering ``when`` (the latest-starting one on overlaps)."""
    current = [s for s in shifts if s.start <= when < s.end and s.on_call_physician]
    return max(current, key=lambda s: s.start).on_call_physician if current else None
