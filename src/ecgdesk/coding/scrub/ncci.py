"""NCCI rules: procedure-to-procedure edits by setting and date, distinct-service modifiers, MUE limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from ecgdesk.coding.facts import Claim
from ecgdesk.coding.results import Finding, Severity
from ecgdesk.coding.scrub.context import DISTINCT, NCCI_BYPASS, ScrubContext
from ecgdesk.coding.tables import day_int

MAI_MEANING = {
    1: "a claim-line edit (units on one line)",
    2: "a per-day policy edit: absolute, units above it are never paid and cannot be appealed",
    3: "a per-day clinical edit: units above it are denied but may be paid on appeal with records",
}


def ptp_edits(ctx: ScrubContext) -> Iterator[Finding]:
    lines = ctx.claim.lines
    for pair in ctx.pairs:
        first, second = lines[pair.column1], lines[pair.column2]
        setting = ctx.claim.setting.value.replace("_", " ")
        why = f" ({pair.edit.rationale})" if pair.edit.rationale else ""
        if pair.edit.indicator == 0:
            bypass = [m for m in second.modifiers + first.modifiers if m in NCCI_BYPASS]
            note = f" Modifier {bypass[0]} cannot bypass an indicator-0 edit." if bypass else ""
            yield Finding(
                "ptp_edit",
                Severity.ERROR,
                pair.column2,
                second.code,
                "236",
                f"{second.code} is never paid with {first.code} on the same day ({setting} NCCI edit, "
                f"modifier indicator 0){why}.{note}",
                f"Do not bill {second.code} with {first.code}: keep the code that matches the service (the "
                "global code where one entity furnished every part).",
            )
            continue
        bypass = [m for m in second.modifiers + first.modifiers if m in NCCI_BYPASS]
        if bypass:
            yield Finding(
                "ptp_edit",
                Severity.INFO,
                pair.column2,
                second.code,
                None,
                f"{second.code} with {first.code} is an NCCI pair (indicator 1){why}; modifier "
                f"{bypass[0]} bypasses it.",
                "Keep documentation of a separate, distinct service (own order, own report).",
            )
        else:
            yield Finding(
                "ptp_edit",
                Severity.ERROR,
                pair.column2,
                second.code,
                "97",
                f"{second.code} is included in {first.code} on the same day ({setting} NCCI edit, "
                f"modifier indicator 1){why}.",
                f"Remove {second.code}, or append 59/XU to it if it was a distinct, separately "
                "documented service.",
            )


def ptp_with_history(ctx: ScrubContext) -> Iterator[Finding]:
    """PTP edits also bind separate claims of the same provider for the same patient and day."""
    claim = ctx.claim
    earlier = [
        (old, line)
        for old in ctx.history
        if old.provider_id == claim.provider_id and old.setting is claim.setting
        for line in old.lines
    ]
    if not earlier:
        return
    for i, line in enumerate(claim.lines):
        day = line.date_of_service
        when = day_int(day)
        table = ctx.ptp(day)
        for old, past in earlier:
            if past.date_of_service != day or past.code == line.code:
                continue
            name = f"claim {old.claim_id}" if old.claim_id else "an earlier claim"
            bundled = table.edit(claim.setting, past.code, line.code, when)
            if bundled is not None and bundled.indicator != 9:
                if bundled.indicator == 1 and any(m in NCCI_BYPASS for m in line.modifiers):
                    continue
                carc = "236" if bundled.indicator == 0 else "97"
                yield Finding(
                    "ptp_history",
                    Severity.ERROR,
                    i,
                    line.code,
                    carc,
                    f"{line.code} is bundled into {past.code} billed on {name} for the same day "
                    f"(NCCI modifier indicator {bundled.indicator}).",
                    "Do not bill it separately"
                    + (", or append 59/XU if it was distinct." if bundled.indicator == 1 else "."),
                )
            over = table.edit(claim.setting, line.code, past.code, when)
            if over is not None and over.indicator == 1 and any(m in NCCI_BYPASS for m in past.modifiers):
                # the earlier line says it was distinct (59/X, say an ECG at this Holter's hook-up): it is
                # paid as such, nothing to recoup; until 2026-12-07 this warned that it would be recouped
                continue
            if over is not None and over.indicator != 9:
                yield Finding(
                    "ptp_history",
                    Severity.WARNING,
                    i,
                    line.code,
                    None,
                    f"{past.code} on {name} is bundled into {line.code} on the same day; the earlier "
                    "payment may be recouped.",
                    f"Correct {name} (void {past.code}) or bill a replacement claim.",
                )


def distinct_modifiers(ctx: ScrubContext) -> Iterator[Finding]:
    in_pair = {p.column1 for p in ctx.pairs if p.edit.indicator == 1} | {
        p.column2 for p in ctx.pairs if p.edit.indicator == 1
    }
    only_zero = {p.column1 for p in ctx.pairs} | {p.column2 for p in ctx.pairs}
    for i, line in enumerate(ctx.claim.lines):
        used = [m for m in line.modifiers if m in DISTINCT]
        if not used or i in in_pair:
            continue
        if i in only_zero:
            continue  # reported by the PTP rule (indicator 0 cannot be bypassed)
        if _paired_on_earlier_claim(ctx, i):
            continue
        yield Finding(
            "distinct_modifier",
            Severity.WARNING,
            i,
            line.code,
            "236",
            f"Modifier {used[0]} on {line.code} bypasses nothing: no NCCI pair with indicator 1 is on "
            "this date of service. Unneeded 59/X modifiers draw audits.",
            f"Remove modifier {used[0]}.",
        )


def _paired_on_earlier_claim(ctx: ScrubContext, i: int) -> bool:
    """Whether line ``i`` makes an indicator-1 pair with a line of the same provider's earlier claim for the
    same day: PTP edits bind those claims too (``ptp_history``), so a 59/X there is what lets the line be
    paid (coding.md 2.7: an ECG at a Holter's hook-up billed on its own claim). Until 2026-12-07 only this
    claim's lines were looked at and the modifier was called needless."""
    claim = ctx.claim
    line = claim.lines[i]
    table = ctx.ptp(line.date_of_service)
    when = day_int(line.date_of_service)
    for old in ctx.history:
        if old.provider_id != claim.provider_id or old.setting is not claim.setting:
            continue
        for past in old.lines:
            if past.date_of_service != line.date_of_service or past.code == line.code:
                continue
            for first, second in ((past.code, line.code), (line.code, past.code)):
                edit = table.edit(claim.setting, first, second, when)
                if edit is not None and edit.indicator == 1:
                    return True
    return False


def mue_limits(ctx: ScrubContext) -> Iterator[Finding]:
    claim = ctx.claim
    same_provider = [
        c for c in ctx.history if c.provider_id == claim.provider_id and c.setting is claim.setting
    ]
    for day, indexes in ctx.by_day.items():
        table = ctx.mue(day)
        totals: dict[str, int] = {}
        last: dict[str, int] = {}
        for i in indexes:
            line = claim.lines[i]
            limit = table.limit(claim.setting, line.code)
            if limit is None:
                continue
            if limit.mai == 1:
                if line.units > limit.value:
                    yield _mue_finding(i, line.code, line.units, limit.value, limit.mai, "on this line")
                continue
            totals[line.code] = totals.get(line.code, 0) + line.units
            last[line.code] = i
        for code, total in totals.items():
            earlier = _history_units(same_provider, code, day)
            limit = table.limit(claim.setting, code)
            assert limit is not None
            if total + earlier > limit.value:
                where = f"on {day.isoformat()}" + (f" ({earlier} on earlier claims)" if earlier else "")
                yield _mue_finding(last[code], code, total + earlier, limit.value, limit.mai, where)


def _history_units(claims: list[Claim], code: str, day: date) -> int:
    return sum(
        line.units for c in claims for line in c.lines if line.code == code and line.date_of_service == day
    )


def _mue_finding(line: int, code: str, units: int, value: int, mai: int, where: str) -> Finding:
    fix = (
        "Bill at most the MUE; the excess is provider liability (no ABN)."
        if mai == 2
        else "Bill at most the MUE, or keep records to appeal the excess units."
        if mai == 3
        else "Split legitimately separate services over lines with 76/77/59, else reduce the units."
    )
    return Finding(
        "mue",
        Severity.ERROR,
        line,
        code,
        "151",
        f"{units} units of {code} {where} exceed the MUE of {value} (MAI {mai}: {MAI_MEANING[mai]}).",
        fix,
    )


RULES = {
    "ptp_edit": ptp_edits,
    "ptp_history": ptp_with_history,
    "distinct_modifier": distinct_modifiers,
    "mue": mue_limits,
}
