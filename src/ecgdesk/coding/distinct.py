"""A distinct service (modifier 59 or X{EPSU}) put on the line a PTP pair needs it on, and only there.

NCCI lets an NCCI-associated modifier bypass a procedure-to-procedure edit with modifier indicator 1 when
the column-2 service was distinct (its own order, tracing and report; reference coding.md 2.4, 2.7: an ECG
at a Holter's hook-up). The modifier belongs on the column-2 line: appended anywhere else it bypasses
nothing and draws audits, and it never bypasses an indicator-0 edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ecgdesk.coding.facts import DISTINCT_MODIFIERS, Claim
from ecgdesk.coding.refdata import RefData
from ecgdesk.coding.results import ClaimLineOut, CodingResult, Finding, Severity
from ecgdesk.coding.scrub import default_refdata
from ecgdesk.coding.scrub.context import ScrubContext
from ecgdesk.coding.tables import day_int

__all__ = ["DISTINCT_MODIFIERS", "apply_distinct"]


def apply_distinct(
    modifier: str,
    result: CodingResult,
    claim: Claim,
    history: Sequence[Claim],
    refdata: RefData | None = None,
) -> CodingResult:
    """``result`` with ``modifier`` on each line that is the column-2 code of an indicator-1 PTP edit in force
    with another line of ``claim`` or a same-day line of the same provider's ``history`` claims.

    ``claim`` is the claim of ``result`` (its lines dated). A line bundled only by an indicator-0 edit keeps
    no modifier (it cannot bypass it: the scrubber refuses the pair); with no pair at all the mark changes
    nothing. Either way a finding says so, so a mark on the wrong study is not silently ignored.
    """
    context = ScrubContext(claim, history, refdata if refdata is not None else default_refdata())
    others = [
        past
        for old in history
        if old.provider_id == claim.provider_id and old.setting is claim.setting
        for past in old.lines
    ] + list(claim.lines)
    lines: list[ClaimLineOut] = []
    explanations = list(result.explanations)
    findings = list(result.findings)
    for out, line in zip(result.lines, claim.lines, strict=True):
        table = context.ptp(line.date_of_service)
        when = day_int(line.date_of_service)
        one: list[str] = []
        zero: list[str] = []
        for other in others:
            if other.date_of_service != line.date_of_service or other.code == line.code:
                continue
            edit = table.edit(claim.setting, other.code, line.code, when)
            if edit is not None and edit.indicator == 1:
                one.append(other.code)
            # an indicator-0 pair binds whichever way round it is listed (mutually exclusive codes)
            elif any(
                e is not None and e.indicator == 0
                for e in (edit, table.edit(claim.setting, line.code, other.code, when))
            ):
                zero.append(other.code)
        if one and modifier not in out.modifiers:
            lines.append(replace(out, modifiers=(*out.modifiers, modifier)))
            explanations.append(
                f"{line.code} is bundled into {', '.join(sorted(set(one)))} on the same day (NCCI modifier "
                f"indicator 1) and the study is marked a distinct service: modifier {modifier}."
            )
            continue
        lines.append(out)
        if zero and not one:
            findings.append(
                Finding(
                    "distinct_mark",
                    Severity.WARNING,
                    len(lines) - 1,
                    line.code,
                    None,
                    f"The study is marked a distinct service ({modifier}), but {line.code} is never paid "
                    "with "
                    f"{', '.join(sorted(set(zero)))} on the same day (an indicator-0 edit, which no modifier "
                    "bypasses): "
                    f"{modifier} was not appended.",
                    "Bill one of the two codes (the scrubber refuses the pair).",
                )
            )
    if not any(modifier in line.modifiers for line in lines) and not any(
        f.rule == "distinct_mark" for f in findings
    ):
        findings.append(
            Finding(
                "distinct_mark",
                Severity.WARNING,
                None,
                None,
                None,
                f"The study is marked a distinct service ({modifier}), but none of its lines is bundled into "
                "another service of the same provider on its day (no NCCI pair with indicator 1 on this "
                f"claim or the provider's coded claims for the day): {modifier} was not appended.",
                "Code the other study of that day first, then code this one again; or, if its service is "
                "the one other codes are bundled into, mark the study whose code is bundled instead.",
            )
        )
    return CodingResult(lines=lines, explanations=explanations, findings=findings)
