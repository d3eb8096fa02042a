"""Monitoring-period rules: one set per 30-day period, and no overlapping sets across providers.

Medicare's common working file checks ambulatory-monitoring sets nationwide: a Holter, patch, event or
telemetry set may not *complete* within 29 days of another set of the patient (Noridian; shared/reference/
monitoring.md section 5 rule 1, coding.md 2.3). Sets are compared by the day they completed (a line's
``completed_on``: a period's end or early stop, a recording's last day), not by the day they began: a
period stopped early leaves room for the next one sooner, and a new period begun 30 days after a full one
and stopped early completes too close to it. The history gives the earlier claims.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from ecgdesk.coding.codes import AMBULATORY_FAMILIES, CodeInfo, Part, code_table, separate_sets
from ecgdesk.coding.facts import Component
from ecgdesk.coding.results import Finding, Severity
from ecgdesk.coding.scrub.context import ScrubContext
from ecgdesk.monitoring.periods import MAX_DAYS, OVERLAP_DAYS, overlap_conflict


@dataclass(frozen=True)
class _Set:
    line: int | None
    code: str
    info: CodeInfo
    day: date  # the line's own date of service
    completed: date  # the day its set completed
    provider: str | None
    claim_id: str | None
    per_period: bool  # a monitoring period's line: dated by its part (hook-up, end, signed read)


def _sets(ctx: ScrubContext) -> tuple[list[_Set], list[_Set]]:
    table = code_table()
    claim_id = ctx.claim.claim_id
    current = [
        _Set(
            i,
            line.code,
            info,
            line.date_of_service,
            line.completed_on,
            ctx.claim.provider_id,
            claim_id,
            line.period_end is not None,
        )
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
                        _Set(
                            None,
                            line.code,
                            info,
                            line.date_of_service,
                            line.completed_on,
                            claim.provider_id,
                            claim.claim_id,
                            line.period_end is not None,
                        )
                    )
    return current, earlier


def _where(other: _Set) -> str:
    if other.claim_id:
        return f"claim {other.claim_id}"
    return "this claim" if other.line is not None else "an earlier claim"


def monitoring_period(ctx: ScrubContext) -> Iterator[Finding]:
    current, earlier = _sets(ctx)
    if not current:
        return
    for k, this in enumerate(current):
        for other in (*current[:k], *earlier):
            if other.line is not None and this.completed == other.completed:
                continue  # the same set on this claim: PTP and MUE rules judge its lines
            if not separate_sets(this.info, other.info):
                continue
            why = overlap_conflict(this.completed, [(f"{other.code} of {_where(other)}", other.completed)])
            if why is None:
                continue
            same = this.provider == other.provider
            same_period = this.completed == other.completed
            # two periods' reads signed on the same day share that date of service, yet they are two sets,
            # not one billed twice: periods are the same service only when they are the same period
            same_day = this.day == other.day and not (this.per_period and other.per_period)
            again = "day" if same_day else ("period" if same_period else "")
            if same and this.code == other.code and again:
                # the same provider's same code for the same day or the same period again is a resubmission:
                # payers deny it as a duplicate (CARC 18, coding.md 5), not as a second set in the period
                yield Finding(
                    "monitoring_period",
                    Severity.ERROR,
                    this.line,
                    this.code,
                    "18",
                    f"{this.code} on {this.day.isoformat()} duplicates {other.code} billed by the same "
                    f"provider for the same {again} ({_where(other)}).",
                    "Do not bill it again; if something changed, correct the earlier claim instead.",
                )
            elif same:
                yield Finding(
                    "monitoring_period",
                    Severity.ERROR,
                    this.line,
                    this.code,
                    "119",
                    f"{this.code}'s set completing on {this.completed.isoformat()} is a second set in the "
                    f"period: {why}.",
                    f"Bill one set per period; a new set may complete {OVERLAP_DAYS} days or more after the "
                    "last one did.",
                )
            else:
                carc = "18" if this.code == other.code and same_day else "B20"
                yield Finding(
                    "monitoring_overlap",
                    Severity.ERROR,
                    this.line,
                    this.code,
                    carc,
                    f"{this.code}'s set completing on {this.completed.isoformat()} overlaps a set billed by "
                    f"another provider ({other.provider or 'unknown'}): {why}. Medicare denies overlapping "
                    "monitoring sets, with no appeal rights.",
                    "Check with the other provider who bills this period; do not bill an overlapping set.",
                )
            break


def monitoring_global_with_part(ctx: ScrubContext) -> Iterator[Finding]:
    """A global code and one of its own parts for the same period on one claim (93268 with 93270, 93271 or
    93272; reference monitoring.md section 5 rule 2). Each part is dated by its part (rule 4: the hook-up on
    the first day, the technical part on the end, the read on its signature), so the NCCI edit, which pairs
    codes of the same day, does not meet them; on the same day it does, and this rule leaves it to it."""
    current, _ = _sets(ctx)
    for this in current:
        if this.info.part is Part.GLOBAL:
            continue
        whole = next(
            (
                other
                for other in current
                if other.info.part is Part.GLOBAL
                and other.info.family is this.info.family
                and other.completed == this.completed
                and other.day != this.day
                and other.info.components & this.info.components
            ),
            None,
        )
        if whole is None:
            continue
        yield Finding(
            "monitoring_global_with_part",
            Severity.ERROR,
            this.line,
            this.code,
            "236",
            f"{this.code} ({this.info.part.value} part, {this.day.isoformat()}) is billed with the global "
            f"{whole.code} ({whole.day.isoformat()}) for the same period, which ends on "
            f"{this.completed.isoformat()}: the global code already includes every part.",
            f"Bill either {whole.code} alone (one entity furnished every part) or the parts alone, "
            "each by whoever furnished it.",
        )


def _part_date_problem(this: _Set) -> str | None:
    """Why a period line's own date does not fit its part (reference monitoring.md section 5 rule 4)."""
    end = this.completed  # the period's end, or its documented early stop
    if this.info.part is not Part.TECHNICAL:  # the read, the global service: the signature's day
        if this.day < end:
            return (
                f"the read's date (the signature) cannot be before the end of monitoring ({end.isoformat()})"
            )
        return None
    if Component.MONITORING in this.info.components:  # 93271, 93229
        if this.day != end:
            return (
                f"the technical part is dated on the end of monitoring or its documented early stop "
                f"({end.isoformat()})"
            )
        return None
    first = end - timedelta(days=MAX_DAYS - 1)
    if not first <= this.day <= end:  # the hook-up, 93270
        return (
            f"the hook-up is dated on the first day of the period, which ends on {end.isoformat()} and "
            f"lasts at most {MAX_DAYS} days (so from {first.isoformat()})"
        )
    return None


def monitoring_part_date(ctx: ScrubContext) -> Iterator[Finding]:
    """A period line (one carrying its ``period_end``) dated against its part: the hook-up outside the period,
    the technical part off its end, the read or the global code before it. Coding dates its own lines so;
    a claim made elsewhere may not."""
    current, _ = _sets(ctx)
    for this in current:
        if not this.per_period:
            continue  # a recording's span, or an older record: its date is the recording's
        why = _part_date_problem(this)
        if why is not None:
            yield Finding(
                "monitoring_part_date",
                Severity.ERROR,
                this.line,
                this.code,
                "16",
                f"{this.code} is dated {this.day.isoformat()}: {why}.",
                "Date each part by its part: the hook-up on the first day, the technical part on the end or "
                "the documented early stop, the read and the global code on the day the read was signed.",
            )


RULES = {
    "monitoring_period": monitoring_period,
    "monitoring_global_with_part": monitoring_global_with_part,
    "monitoring_part_date": monitoring_part_date,
}
