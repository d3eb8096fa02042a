"""Medical-necessity rules: valid billable ICD-10-CM, screening-only diagnoses, indication lists, ABN."""

from __future__ import annotations

from collections.abc import Iterator

from ecgdesk.coding.necessity import (
    ICD10CM_EFFECTIVE,
    ICD10CM_RELEASE,
    IcdStatus,
    icd_status,
    indication_list,
    screening_rule,
)
from ecgdesk.coding.results import Finding, Severity
from ecgdesk.coding.scrub.context import ScrubContext


def icd_codes(ctx: ScrubContext) -> Iterator[Finding]:
    for n, code in enumerate(ctx.claim.diagnoses, start=1):
        status = icd_status(code)
        if status is IcdStatus.UNKNOWN:
            yield Finding(
                "icd_valid",
                Severity.ERROR,
                None,
                None,
                "16",
                f"Diagnosis {n} {code!r} is not an ICD-10-CM code ({ICD10CM_RELEASE}).",
                "Correct the diagnosis code.",
            )
        elif status is IcdStatus.HEADER:
            yield Finding(
                "icd_billable",
                Severity.ERROR,
                None,
                None,
                "11",
                f"Diagnosis {n} {code} is a category, not a billable code: more characters are needed.",
                "Code to the highest specificity (a billable leaf code).",
            )


def icd_code_set(ctx: ScrubContext) -> Iterator[Finding]:
    """One warning where a line's date of service is outside the dates the one ICD-10-CM code set is in
    force on: until 2026-12-07 the diagnoses of any date passed (or failed) against it without a word."""
    first, last = ICD10CM_EFFECTIVE
    outside = sorted({line.coded_on for line in ctx.claim.lines if not first <= line.coded_on <= last})
    if not ctx.claim.diagnoses or not outside:
        return
    days = ", ".join(day.isoformat() for day in outside)
    yield Finding(
        "icd_code_set",
        Severity.WARNING,
        None,
        None,
        None,
        f"The diagnoses were checked against {ICD10CM_RELEASE}, in force on dates of service "
        f"{first.isoformat()} to {last.isoformat()}; {days} is outside it: a code added, deleted or split "
        "since is not judged for that date.",
        "Check the diagnosis codes against the ICD-10-CM code set in force on the date of service.",
    )


def screening_diagnoses(ctx: ScrubContext) -> Iterator[Finding]:
    rule = screening_rule()
    for i, (line, info) in enumerate(zip(ctx.claim.lines, ctx.infos, strict=True)):
        if info is None or info.family not in rule.diagnostic_families:
            continue
        pointed = ctx.pointed_diagnoses(line)
        if not rule.only_screening(pointed):
            continue
        if "GY" in line.modifiers:
            yield Finding(
                "screening_diagnosis",
                Severity.INFO,
                i,
                line.code,
                "96",
                f"{line.code} is a screening ECG (statutorily excluded) marked GY: expect a denial with "
                "patient liability.",
                None,
            )
        else:
            yield Finding(
                "screening_diagnosis",
                Severity.ERROR,
                i,
                line.code,
                "50",
                f"{line.code} points only to screening/routine-exam diagnoses "
                f"({', '.join(pointed)}); Medicare does not cover a diagnostic ECG as screening "
                "(NCD 20.15).",
                "Point to the sign, symptom or condition; for the Welcome-to-Medicare ECG bill "
                "G0403-G0405; else append GY (patient pays).",
            )


def indications(ctx: ScrubContext) -> Iterator[Finding]:
    claim = ctx.claim
    for i, (line, info) in enumerate(zip(claim.lines, ctx.infos, strict=True)):
        if info is None:
            continue
        listed = indication_list(info.family, line.coded_on)  # a period's LCD: the one in force at its end
        pointed = ctx.pointed_diagnoses(line)
        if listed is None or not pointed or listed.supports(pointed):
            continue
        base = f"No diagnosis of {line.code} is on the indication list {listed.id}"
        if "GA" in line.modifiers:
            if claim.abn_on_file:
                yield Finding(
                    "indication_list",
                    Severity.INFO,
                    i,
                    line.code,
                    "50",
                    f"{base}; GA with an ABN on file: a denial is the patient's liability (PR-50).",
                    None,
                )
            else:
                yield Finding(
                    "abn_missing",
                    Severity.ERROR,
                    i,
                    line.code,
                    "16",
                    f"{base}; modifier GA says an ABN is on file, but the claim has none.",
                    "Attach the signed ABN (abn_on_file) or use GZ.",
                )
        elif "GZ" in line.modifiers:
            yield Finding(
                "indication_list",
                Severity.WARNING,
                i,
                line.code,
                "50",
                f"{base}; GZ: expect a denial with provider liability (CO-50).",
                "Add a supporting diagnosis if the record has one.",
            )
        else:
            fix = (
                "Append GA (an ABN is on file)."
                if claim.abn_on_file
                else "Point to a supporting diagnosis; if none, obtain an ABN and append GA, or append GZ."
            )
            yield Finding(
                "indication_list",
                Severity.ERROR,
                i,
                line.code,
                "50",
                f"{base}: expect a medical-necessity denial.",
                fix,
            )


RULES = {
    "icd_valid": icd_codes,
    "icd_code_set": icd_code_set,
    "screening_diagnosis": screening_diagnoses,
    "indication_list": indications,
}
