"""Monitoring-period rules: one set per 30-day period, and no overlapping sets across providers.

Medicare's common working file checks ambulatory-monitoring sets nationwide: a set may not start within
29 days of another set of the patient (coding.md 2.3). The history gives the earlier claims.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from ecgdesk.coding.codes import AMBULATORY_FAMILIES, CodeInfo, code_table, separate_sets
from ecgdesk.coding.results import Finding, Severity
from ecgdesk.coding.scrub.context import ScrubContext

WINDOW_DAYS = 30


@dataclass(frozen=True)
class _Set:
    line: int | None
    code: str
    info: CodeInfo
    day: date
    provider: str | None
    claim_id: str | None


def _sets(ctx: ScrubContext) -> tuple[list[_Set], list[_Set]]:
    table = code_table()
    current = [
        _Set(i, line.code, info, line.date_of_service, ctx.claim.provider_id, ctx.claim.claim_id)
        for i, (line, info) in enumerate(zip(ctx.claim.lines, ctx.infos, strict=True))
        if info is not None and info.family in AMBULATORY_FAMILIES
    ]
    earlier: list[_Set] = []
    if current:
        for claim in ctx.history:
            for line in claim.lines:
                info = table.get(line.code)
                if info is not None and info.family in AMBULATORY_FAMILIES:
                    earlier.append(
                        _Set(None, line.code, info, line.date_of_service, claim.provider_id, claim.claim_id)
                    )
    return current, earlier


def monitoring_period(ctx: ScrubContext) -> Iterator[Finding]:
    current, earlier = _sets(ctx)
    if not current:
        return
    for k, this in enumerate(current):
        for other in (*current[:k], *earlier):
            gap = abs((this.day - other.day).days)
            if other.line is not None and gap == 0:
                continue  # the same day on this claim: PTP and MUE rules judge it
            if gap >= WINDOW_DAYS or not separate_sets(this.info, other.info):
                continue
            where = (
                f"claim {other.claim_id}"
                if other.claim_id
                else ("this claim" if other.line is not None else "an earlier claim")
            )
            same = this.provider == other.provider
            if same and this.code == other.code and gap == 0:
                # the same provider's same code on the same day again is a resubmission: payers deny it as
                # a duplicate (CARC 18, coding.md 5), not as a second set in the period
                yield Finding(
                    "monitoring_period",
                    Severity.ERROR,
                    this.line,
                    this.code,
                    "18",
                    f"{this.code} on {this.day.isoformat()} duplicates {other.code} billed by the same "
                    f"provider on the same day ({where}).",
                    "Do not bill it again; if something changed, correct the earlier claim instead.",
                )
            elif same:
                yield Finding(
                    "monitoring_period",
                    Severity.ERROR,
                    this.line,
                    this.code,
                    "119",
                    f"{this.code} on {this.day.isoformat()} falls in the same 30-day monitoring period "
                    f"as {other.code} on {other.day.isoformat()} ({where}).",
                    "Bill one set per 30-day period; a new set may start 30 days after the last.",
                )
            else:
                carc = "18" if this.code == other.code and gap == 0 else "B20"
                yield Finding(
                    "monitoring_overlap",
                    Severity.ERROR,
                    this.line,
                    this.code,
                    carc,
                    f"{this.code} on {this.day.isoformat()} overlaps {other.code} billed by another "
                    f"provider ({other.provider or 'unknown'}) on {other.day.isoformat()}: Medicare "
                    "denies overlapping monitoring sets, with no appeal rights.",
                    "Check with the other provider who bills this period; do not bill an overlapping set.",
                )
            break


RULES = {"monitoring_period": monitoring_period}
