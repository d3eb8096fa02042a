"""Rules about each line by itself: code valid on the date, modifiers 26/TC, 52, 76/77, place of service,
units and diagnosis pointers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from ecgdesk.coding.codes import DURATION_FAMILIES, CodeInfo, Family, Part, code_table, family_codes
from ecgdesk.coding.facts import Component, Setting
from ecgdesk.coding.results import Finding, Severity
from ecgdesk.coding.scrub.context import ScrubContext
from ecgdesk.coding.selection import FACILITY_POS, SHORT_HOLTER_H

REPEATABLE = frozenset({Family.RESTING_ECG, Family.RHYTHM_STRIP, Family.ARTERIAL_WAVEFORM})


def _err(
    rule: str,
    line: int | None,
    code: str | None,
    carc: str | None,
    message: str,
    fix: str | None,
    severity: Severity = Severity.ERROR,
) -> Finding:
    return Finding(rule, severity, line, code, carc, message, fix)


def code_known(ctx: ScrubContext) -> Iterator[Finding]:
    """A code in none of the tables we ship may not exist at all (``12345``): say so, never pass it clean.

    A warning, not an error: the built-in tables hold the ECG family and its PTP partners, so a real code
    billed beside an ECG (an E/M visit) can be missing from them until the full CMS files are imported.
    """
    for i, (line, info) in enumerate(zip(ctx.claim.lines, ctx.infos, strict=True)):
        day = line.date_of_service
        if info is not None or ctx.rvu(day).value(line.code) is not None or \
                ctx.mue(day).limit(ctx.claim.setting, line.code) is not None or ctx.ptp(day).knows(line.code):
            continue
        yield _err("code_unknown", i, line.code, "181",
                   f"{line.code} is in none of the code tables in force on {day.isoformat()} (the ECG code "
                   "table, the CMS RVU, MUE and NCCI PTP rows): it may not exist, and nothing else about it "
                   "can be checked", "Check the code against the CPT/HCPCS code set of the date of service.",
                   Severity.WARNING)


def code_valid_on_dos(ctx: ScrubContext) -> Iterator[Finding]:
    for i, (line, info) in enumerate(zip(ctx.claim.lines, ctx.infos, strict=True)):
        # a monitoring period's codes are those in force when it completes, even on its hook-up line
        # (shared/reference/monitoring.md section 5: a code change mid-period follows the completion date)
        coded_on = line.coded_on
        if info is None or info.valid_on(coded_on):
            continue
        day = coded_on.isoformat()
        hours = ctx.hours(line)
        same_part = (
            _band_code(info, hours, coded_on)
            if hours is not None and info.family in DURATION_FAMILIES
            else None
        )
        if info.valid_to is not None and coded_on > info.valid_to:
            message = f"{info.code} was deleted after {info.valid_to.isoformat()}; it is invalid on {day}."
            fix = (
                f"Bill {' or '.join(info.replaced_by)} instead (the code of the same part)."
                if info.replaced_by
                else "Bill the code in force on the date of service."
            )
        else:
            assert info.valid_from is not None
            message = f"{info.code} takes effect on {info.valid_from.isoformat()}; it is invalid on {day}."
            fix = "Bill the code in force on the date of service."
        if same_part is not None:
            fix = f"Bill {same_part} instead: the same part for {hours:g} h, in force on {day}."
        yield _err("code_valid_on_dos", i, info.code, "181", message, fix)


def _component_fix(info: CodeInfo, modifier: str) -> str:
    wanted = Part.PROFESSIONAL if modifier == "26" else Part.TECHNICAL
    parts = [c.code for c in family_codes(info.family) if c.part is wanted]
    if info.part is wanted:
        return f"Remove {modifier}: {info.code} already is the {wanted.value} part."
    if parts:
        return f"Remove {modifier} and bill {' + '.join(parts)} (the {wanted.value} code of the family)."
    return f"Remove modifier {modifier}."


def pctc_modifiers(ctx: ScrubContext) -> Iterator[Finding]:
    for i, (line, info) in enumerate(zip(ctx.claim.lines, ctx.infos, strict=True)):
        used = [m for m in line.modifiers if m in ("26", "TC")]
        if not used:
            continue
        pctc = info.pctc if info is not None else None
        if pctc is None:
            rvu = ctx.rvu(line.date_of_service).value(line.code)
            pctc = rvu.pctc if rvu is not None else None
        if pctc is None or pctc == 1:
            continue
        meaning = {
            2: "a professional-only code",
            3: "a technical-only code",
            4: "a global-test-only code",
        }.get(pctc, f"PC/TC indicator {pctc}")
        fix = _component_fix(info, used[0]) if info is not None else f"Remove modifier {used[0]}."
        yield _err(
            "pctc_modifier",
            i,
            line.code,
            "4",
            f"Modifier {used[0]} is not allowed on {line.code}: it is {meaning} (PC/TC {pctc}).",
            fix,
        )


def holter_modifier_52(ctx: ScrubContext) -> Iterator[Finding]:
    for i, (line, info) in enumerate(zip(ctx.claim.lines, ctx.infos, strict=True)):
        if info is None or info.family not in DURATION_FAMILIES:
            if (
                "52" in line.modifiers
                and info is not None
                and info.family in (Family.EVENT_MONITOR, Family.MOBILE_TELEMETRY)
            ):
                yield _err(
                    "modifier_52",
                    i,
                    line.code,
                    "4",
                    f"Modifier 52 is not used on {line.code}: event and "
                    "telemetry codes are per period, not by hours.",
                    "Remove modifier 52.",
                    Severity.WARNING,
                )
            continue
        hours = ctx.hours(line)
        if hours is None:
            continue
        has_52 = "52" in line.modifiers
        if info.family is Family.HOLTER:
            if hours < SHORT_HOLTER_H and not has_52:
                yield _err(
                    "modifier_52",
                    i,
                    line.code,
                    "4",
                    f"Only {hours:g} h were recorded (under 12 h): {line.code} needs modifier 52.",
                    f"Bill {line.code}-52.",
                )
            elif hours >= SHORT_HOLTER_H and has_52:
                yield _err(
                    "modifier_52",
                    i,
                    line.code,
                    "4",
                    f"{hours:g} h were recorded (12 h or more): modifier 52 is not due.",
                    "Remove modifier 52.",
                    Severity.WARNING,
                )
        elif has_52:
            yield _err(
                "modifier_52",
                i,
                line.code,
                "4",
                f"Modifier 52 does not shorten {line.code}: a shorter "
                "recording belongs to a lower duration band.",
                "Bill the code of the recorded hours.",
            )


def duration_band(ctx: ScrubContext) -> Iterator[Finding]:
    for i, (line, info) in enumerate(zip(ctx.claim.lines, ctx.infos, strict=True)):
        if info is None or info.family not in DURATION_FAMILIES or info.max_hours is None:
            continue
        hours = ctx.hours(line)
        low = info.min_hours or 0.0
        if hours is not None and hours <= 0:
            yield _err(
                "duration_band",
                i,
                line.code,
                "16",
                f"0 h recorded: {line.code} bills a recording, and no analysable recording was obtained "
                "(coding.md 2.2: the code follows the hours actually recorded; under 12 h is 52, none is no "
                "service).",
                "Do not bill it: no recording was obtained to scan or read.",
            )
            continue
        if hours is None or (low < hours <= info.max_hours) or (info.family is Family.HOLTER and hours <= 48):
            continue
        if info.family is Family.EXTENDED_30D and hours > info.max_hours:
            yield _err(
                "duration_band",
                i,
                line.code,
                None,
                f"{hours:g} h is beyond the 30-day band of "
                f"{line.code}: monitoring past 30 days needs documented justification.",
                "Keep the justification in the record.",
                Severity.WARNING,
            )
            continue
        right = _band_code(info, hours, line.date_of_service)
        fix = f"Bill {right}." if right else "Bill the code of the band the recorded hours fall in."
        yield _err(
            "duration_band",
            i,
            line.code,
            "16",
            f"{hours:g} h recorded is outside the band of "
            f"{line.code} (more than {low:g} h up to {info.max_hours:g} h).",
            fix,
        )


def _band_code(info: CodeInfo, hours: float, day: date) -> str | None:
    for other in code_table().values():
        if (
            other.family in DURATION_FAMILIES
            and other.part is info.part
            and other.components == info.components
            and other.max_hours is not None
            and (other.min_hours or 0.0) < hours <= other.max_hours
            and other.valid_on(day)
        ):
            return other.code
    return None


def repeat_modifiers(ctx: ScrubContext) -> Iterator[Finding]:
    seen: dict[tuple[object, str], int] = {}
    for claim in ctx.history:
        if claim.provider_id == ctx.claim.provider_id:
            for old in claim.lines:
                seen[(old.date_of_service, old.code)] = seen.get((old.date_of_service, old.code), 0) + 1
    for i, (line, info) in enumerate(zip(ctx.claim.lines, ctx.infos, strict=True)):
        key = (line.date_of_service, line.code)
        earlier = seen.get(key, 0)
        seen[key] = earlier + 1
        repeat = [m for m in line.modifiers if m in ("76", "77")]
        if info is not None and info.family not in REPEATABLE and info.family is not Family.STRESS_TEST:
            if repeat:
                yield _err(
                    "repeat_modifier",
                    i,
                    line.code,
                    "4",
                    f"Modifier {repeat[0]} does not apply to "
                    f"{line.code}: it is reported once per service or monitoring period.",
                    "Remove the modifier; bill the service once.",
                )
            continue
        if earlier and not repeat:
            yield _err(
                "repeat_modifier",
                i,
                line.code,
                "18",
                f"{line.code} is billed again on "
                f"{line.date_of_service.isoformat()} without a repeat modifier: it looks like a duplicate.",
                "Append 76 (same physician) or 77 (another physician) if it was a separate test.",
            )
        elif repeat and not earlier and line.units < 2:
            yield _err(
                "repeat_modifier",
                i,
                line.code,
                "4",
                f"Modifier {repeat[0]} marks a repeat, but no earlier {line.code} is billed that day.",
                "Put 76/77 only on the repeated test.",
                Severity.WARNING,
            )


def place_of_service(ctx: ScrubContext) -> Iterator[Finding]:
    claim = ctx.claim
    if claim.setting is not Setting.PRACTITIONER or claim.place_of_service not in FACILITY_POS:
        return
    for i, (line, info) in enumerate(zip(claim.lines, ctx.infos, strict=True)):
        modifier = "26" if "26" in line.modifiers else ("TC" if "TC" in line.modifiers else "")
        rvu = ctx.rvu(line.date_of_service).value(line.code, modifier)
        if rvu is not None:
            no_facility = rvu.facility_na
        elif info is not None and info.family is not Family.RELATED:
            no_facility = info.part is not Part.PROFESSIONAL and modifier != "26"
            if info.family is Family.ARTERIAL_WAVEFORM:
                no_facility = modifier != "26"
        else:
            continue
        if not no_facility:
            continue
        pro = [c.code for c in family_codes(info.family) if c.part is Part.PROFESSIONAL] if info else []
        fix = (
            f"Bill {line.code}-26."
            if info is not None and info.allows_26_tc
            else f"Bill the professional code {' / '.join(pro)}; the facility bills the technical part."
            if pro
            else "Let the facility bill it."
        )
        yield _err(
            "place_of_service",
            i,
            line.code,
            "5",
            f"{line.code} has no facility payment (facility PE NA): "
            f"a practitioner cannot bill it in place of service {claim.place_of_service} (CARC 5/58).",
            fix,
        )


def units_and_pointers(ctx: ScrubContext) -> Iterator[Finding]:
    count = len(ctx.claim.diagnoses)
    if count == 0:
        yield _err(
            "diagnosis_pointers",
            None,
            None,
            "16",
            "The claim has no diagnosis.",
            "Add the ICD-10-CM diagnoses that support the services.",
        )
    for i, line in enumerate(ctx.claim.lines):
        if line.units < 1:
            yield _err(
                "units", i, line.code, "16", f"Units must be 1 or more, got {line.units}.", "Bill 1 unit."
            )
        bad = [p for p in line.diagnosis_pointers if not 1 <= p <= count]
        if not line.diagnosis_pointers or bad:
            shown = ", ".join(str(p) for p in bad) or "none"
            yield _err(
                "diagnosis_pointers",
                i,
                line.code,
                "16",
                f"Diagnosis pointers must point to one of the "
                f"{count} claim diagnoses (1-{count}); invalid: {shown}.",
                "Fix the diagnosis pointers.",
            )
        elif len(line.diagnosis_pointers) > 4:
            yield _err(
                "diagnosis_pointers",
                i,
                line.code,
                "16",
                "A line may point to at most 4 diagnoses.",
                "Keep the 4 most relevant pointers.",
            )


def professional_part(info: CodeInfo | None, modifiers: tuple[str, ...]) -> bool:
    """Whether a line bills a physician's interpretation or supervision."""
    if info is None:
        return False
    if info.allows_26_tc:
        return "TC" not in modifiers
    return bool(info.components & {Component.INTERPRETATION, Component.SUPERVISION})


RULES = {
    "code_unknown": code_known,
    "code_valid_on_dos": code_valid_on_dos,
    "pctc_modifier": pctc_modifiers,
    "modifier_52": holter_modifier_52,
    "duration_band": duration_band,
    "repeat_modifier": repeat_modifiers,
    "place_of_service": place_of_service,
    "units_and_pointers": units_and_pointers,
}
