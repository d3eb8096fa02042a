"""Code selection: from :class:`ServiceFacts` to claim lines, each choice explained in a sentence.

One small selector per service (a ``{Service: function}`` registry) finds the code family; one shared
routine then picks the global code or the parts this billing entity furnished, applies the place of
service, and adds the modifiers (52, 76/77, 26/TC for PC/TC-1 codes, GA with an ABN).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from ecgdesk.coding.codes import CodeInfo, Family, Part, code_info, family_codes
from ecgdesk.coding.facts import (
    PERIOD_DAYS,
    Claim,
    ClaimLine,
    Component,
    Repeat,
    Service,
    ServiceFacts,
    Setting,
)
from ecgdesk.coding.necessity import indication_list, screening_rule
from ecgdesk.coding.results import ClaimLineOut, CodingResult, Finding, Severity
from ecgdesk.errors import InputError
from ecgdesk.monitoring.periods import Period, service_dates

# CMS places of service paid at the facility rate (a practitioner there bills professional parts only).
FACILITY_POS = frozenset(
    {"02", "10", "19", "21", "22", "23", "24", "26", "31", "34", "41", "42", "51", "52", "53", "56", "61"}
)
HOLTER_MAX_H = 48.0
SHORT_HOLTER_H = 12.0
SEVEN_DAYS_H = 7 * 24.0
FIFTEEN_DAYS_H = 15 * 24.0
THIRTY_DAYS_H = 30 * 24.0
LEGACY_MAX_H = 21 * 24.0  # 0295T-0298T, before 2021
UNLISTED = "93799"


@dataclass
class _Work:
    """What the selectors accumulate."""

    facts: ServiceFacts
    family: Family | None = None
    modifiers: list[str] = field(default_factory=list)
    lines: list[ClaimLineOut] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def explain(self, sentence: str) -> None:
        self.explanations.append(sentence)

    def warn(
        self,
        rule: str,
        message: str,
        fix: str | None = None,
        severity: Severity = Severity.WARNING,
        code: str | None = None,
        carc: str | None = None,
    ) -> None:
        self.findings.append(Finding(rule, severity, None, code, carc, message, fix))


def _family_by_hours(work: _Work) -> None:
    facts = work.facts
    hours = facts.recorded_hours
    if hours is None:
        raise InputError(
            "recorded_hours", "is required for ambulatory_ecg: the recorded hours choose the code family"
        )
    if hours <= 0:
        # coding.md 2.2: the family follows the hours of analysable recording actually obtained, and 52 marks
        # a reduced (< 12 h) recording; none at all is no recording service (nothing to scan or read)
        raise InputError(
            "recorded_hours",
            "is 0: no analysable recording was obtained, so there is no ambulatory ECG service to code "
            "(a recording under 12 h is billed with modifier 52; none at all is not billed)",
        )
    day = facts.date_of_service
    if hours <= HOLTER_MAX_H:
        work.family = Family.HOLTER
        work.explain(f"{hours:g} h recorded is at most 48 h: the Holter family 93224-93227 applies.")
        if hours < SHORT_HOLTER_H:
            work.modifiers.append("52")
            work.explain(
                f"{hours:g} h is under 12 h: modifier 52 (reduced service) goes on every Holter line."
            )
    elif _valid(Family.EXTENDED_7D, day):
        if hours <= SEVEN_DAYS_H:
            work.family = Family.EXTENDED_7D
            work.explain(f"{hours:g} h is more than 48 h and at most 7 days (168 h): 93241-93244 apply.")
        elif hours <= FIFTEEN_DAYS_H:
            work.family = Family.EXTENDED_15D
            work.explain(
                f"{hours:g} h is more than 7 days and at most 15 days (360 h): 93245-93248 apply "
                "(no rounding to the nearest day)."
            )
        elif _valid(Family.EXTENDED_30D, day):
            work.family = Family.EXTENDED_30D
            work.explain(
                f"{hours:g} h is more than 15 days: the Category III codes 0937T-0940T (in force on "
                f"{day.isoformat()}) apply."
            )
            work.warn(
                "uncertain_code",
                "0937T-0940T have an uncertain effective date and component order; check the payer's policy.",
                severity=Severity.INFO,
                code="0937T",
            )
            if hours > THIRTY_DAYS_H:
                work.warn(
                    "over_30_days",
                    f"{hours:g} h exceeds the 30-day band; a second period needs documented justification.",
                    "Bill one period; justify any further monitoring.",
                )
        else:
            work.family = Family.UNLISTED
            work.explain(
                f"{hours:g} h is more than 15 days and no specific code is in force on "
                f"{day.isoformat()}: the unlisted code 93799 is the only option."
            )
            work.warn(
                "unlisted_code",
                "93799 is contractor priced; attach a description and documentation.",
                "Describe the >15-day recording on the claim.",
                code=UNLISTED,
            )
    elif _valid(Family.EXTENDED_21D_LEGACY, day) and hours <= LEGACY_MAX_H:
        work.family = Family.EXTENDED_21D_LEGACY
        work.explain(
            f"{hours:g} h is more than 48 h and the date of service {day.isoformat()} is before 2021: "
            "the Category III codes 0295T-0298T (more than 48 h up to 21 days) apply."
        )
    else:
        work.family = Family.UNLISTED
        work.explain(f"No specific code covers {hours:g} h on {day.isoformat()}: unlisted 93799.")
        work.warn("unlisted_code", "93799 is contractor priced; attach a description.", code=UNLISTED)
    if facts.prescribed_days is not None and _band(facts.prescribed_days * 24, day) != _band(hours, day):
        work.warn(
            "prescribed_vs_recorded",
            f"The monitor was prescribed for {facts.prescribed_days:g} days but recorded {hours:g} h; "
            "codes follow the hours actually recorded, and payers may differ on this.",
            "Keep the recorded hours in the report; review before submission.",
        )


def _band(hours: float, day: date) -> int:
    """Which duration band ``hours`` falls in on ``day``: up to 48 h, 7 d, 15 d or beyond (before 2021: up to
    48 h, 21 d (0295T-0298T) or beyond)."""
    edges: tuple[float, ...] = (HOLTER_MAX_H, SEVEN_DAYS_H, FIFTEEN_DAYS_H)
    if not _valid(Family.EXTENDED_7D, day):
        edges = (HOLTER_MAX_H, LEGACY_MAX_H)
    return sum(hours > edge for edge in edges)


def _valid(family: Family, day: date) -> bool:
    return any(info.valid_on(day) for info in family_codes(family))


def _fixed(family: Family, sentence: str) -> Callable[[_Work], None]:
    def select(work: _Work) -> None:
        work.family = family
        work.explain(sentence)

    return select


def _event_or_mct(family: Family, name: str) -> Callable[[_Work], None]:
    def select(work: _Work) -> None:
        facts = work.facts
        if family is Family.EVENT_MONITOR and _valid(Family.TRANSTELEPHONIC_LEGACY, facts.date_of_service):
            _transtelephonic_legacy(work)
            return
        work.family = family
        work.explain(f"{name} is reported once per period of up to 30 days, whatever the recorded hours.")
        if facts.end is not None:
            days = (facts.end - facts.start).days + 1
            if days > PERIOD_DAYS:
                periods = math.ceil(days / PERIOD_DAYS)
                work.warn(
                    "monitoring_period",
                    f"The service spans {days} days ({periods} periods of 30 days); "
                    "these lines cover the first period only.",
                    "Bill each further 30-day period on its own claim dated in that period.",
                )

    return select


def _transtelephonic_legacy(work: _Work) -> None:
    """Dates of service before 2011: the post-symptom strips sent by telephone with 24-hour attended
    monitoring were 93012 (tracing and monitoring) and 93014 (physician review), per 30 days; both were
    deleted with the 2011 revision (their PTP edits end 2010-12-31) and 93268-93272 report it since."""
    work.family = Family.TRANSTELEPHONIC_LEGACY
    work.explain(
        f"The period completed on {work.facts.date_of_service.isoformat()}, before 2011: transtelephonic "
        "post-symptom rhythm strips with 24-hour attended monitoring were reported per 30 days as 93012 "
        "(the tracing and the monitoring) and 93014 (the physician's review); both were deleted from 2011, "
        "when 93268-93272 took their place (coding.md 0.2, 1.1)."
    )
    work.warn(
        "legacy_event_codes",
        "Before 2011 a looping memory recorder was already reported with 93268-93272; 93012/93014 are for "
        "post-symptom (non-looping) transtelephonic strips.",
        "Check the device type before submitting a claim for a pre-2011 date of service.",
        severity=Severity.INFO,
    )


SELECTORS: dict[Service, Callable[[_Work], None]] = {
    Service.RESTING_ECG: _fixed(Family.RESTING_ECG, "A resting 12-lead ECG is coded 93000/93005/93010."),
    Service.RHYTHM_STRIP: _fixed(Family.RHYTHM_STRIP, "A 1-3 lead rhythm strip is coded 93040/93041/93042."),
    Service.STRESS_TEST: _fixed(Family.STRESS_TEST, "A cardiovascular stress test is coded 93015-93018."),
    Service.AMBULATORY_ECG: _family_by_hours,
    Service.MOBILE_TELEMETRY: _event_or_mct(
        Family.MOBILE_TELEMETRY, "Mobile cardiac telemetry (93228/93229)"
    ),
    Service.EVENT_MONITOR: _event_or_mct(Family.EVENT_MONITOR, "Event monitoring (93268-93272)"),
    Service.IPPE_SCREENING_ECG: _fixed(
        Family.IPPE_ECG, "The Welcome-to-Medicare screening ECG is coded G0403/G0404/G0405, not 93000."
    ),
    Service.ARTERIAL_WAVEFORM: _fixed(Family.ARTERIAL_WAVEFORM, "Arterial waveform analysis is coded 93050."),
}

# scanning and monitoring are one part there
_EQUIVALENT = {Family.EVENT_MONITOR, Family.MOBILE_TELEMETRY, Family.TRANSTELEPHONIC_LEGACY}


def _furnished(work: _Work, codes: list[CodeInfo]) -> frozenset[Component]:
    facts = work.facts
    furnished = set(facts.components)
    if work.family in _EQUIVALENT and furnished & {Component.SCANNING, Component.MONITORING}:
        furnished |= {Component.SCANNING, Component.MONITORING}
    known = frozenset().union(*(info.components for info in codes))
    for extra in sorted(set(facts.components) - known):
        work.warn(
            "component_not_in_family",
            f"'{extra.value}' is not a part of this service and is ignored.",
            severity=Severity.INFO,
        )
    return frozenset(furnished & known)


def _pick_codes(work: _Work) -> list[tuple[CodeInfo, tuple[str, ...]]]:
    """Global code or parts, with their 26/TC modifiers (only for PC/TC-1 codes)."""
    assert work.family is not None
    codes = [info for info in family_codes(work.family) if info.valid_on(work.facts.date_of_service)]
    if work.family is Family.UNLISTED:
        return [(c, ()) for c in codes]
    furnished = _furnished(work, codes)
    if not furnished:
        raise InputError("components", "none of the listed components is a part of this service")
    facts = work.facts
    global_code = next((c for c in codes if c.part is Part.GLOBAL), None)
    facility = facts.setting is Setting.PRACTITIONER and facts.place_of_service in FACILITY_POS
    hospital = facts.setting is Setting.HOSPITAL_OUTPATIENT
    if hospital:
        professional = {c for c in furnished if c in (Component.INTERPRETATION, Component.SUPERVISION)}
        if professional:
            work.warn(
                "hospital_professional",
                "An outpatient hospital claim carries only the technical part; "
                "the physician bills the professional part on a practitioner claim.",
                "Bill the interpretation/supervision on the physician's claim.",
            )
        furnished = frozenset(furnished - professional)
        if not furnished:
            raise InputError(
                "components",
                "an outpatient hospital claim needs a technical component "
                "(recording, scanning or monitoring)",
            )
    if facility:
        technical = {c for c in furnished if c not in (Component.INTERPRETATION, Component.SUPERVISION)}
        if technical:
            work.warn(
                "facility_technical",
                f"Place of service {facts.place_of_service} is a facility: the "
                "technical part is paid to the facility, so the practitioner bills the professional part "
                "only.",
                "Let the facility bill the technical part.",
                carc="5",
            )
        furnished = frozenset(furnished - technical)
        if not furnished:
            raise InputError(
                "components",
                f"a practitioner in facility place of service {facts.place_of_service} "
                "can bill only professional components (interpretation, supervision)",
            )
    if global_code is not None and global_code.components <= furnished:
        work.explain(
            f"The same entity furnished every part ({_names(global_code.components)}): the global code "
            f"{global_code.code} is billed."
        )
        return [(global_code, ())]
    if global_code is not None and global_code.allows_26_tc:
        if furnished <= {Component.INTERPRETATION, Component.SUPERVISION}:
            work.explain(f"Only the professional part was furnished: {global_code.code}-26.")
            return [(global_code, ("26",))]
        work.explain(f"Only the technical part was furnished: {global_code.code}-TC.")
        return [(global_code, ("TC",))]
    chosen: list[CodeInfo] = []
    for component in sorted(furnished):
        for info in codes:
            if info.part is not Part.GLOBAL and component in info.components and info not in chosen:
                chosen.append(info)
    chosen = _attended(work, chosen, furnished)
    chosen.sort(key=lambda c: c.code)
    word = "Only some parts were" if global_code is not None else "This family has no global code; the parts"
    work.explain(
        f"{word} furnished by this entity ({_names(furnished)}): "
        f"{', '.join(c.code for c in chosen)} (component codes, never with modifier 26/TC)."
    )
    return [(info, ()) for info in chosen]


def _attended(work: _Work, chosen: list[CodeInfo], furnished: frozenset[Component]) -> list[CodeInfo]:
    """Drop part codes that include the attended monitoring when this entity did not furnish it.

    MCT's technical code 93229 (and the pre-2011 93012) bundles the hook-up with the attended surveillance
    (coding.md 1.1, 2.7): an entity that only connected the device has not furnished it, and the
    monitoring centre bills that code for the period. Picking it for the hook-up alone would bill the same
    period twice.
    """
    if Component.MONITORING in furnished:
        return chosen
    dropped = [c for c in chosen if Component.MONITORING in c.components]
    if not dropped:
        return chosen
    codes = ", ".join(c.code for c in dropped)
    kept = [c for c in chosen if c not in dropped]
    if not kept:
        raise InputError(
            "components",
            f"{codes} includes the attended monitoring (surveillance centre), which this entity did not "
            "furnish; the connection of the device alone is not billable here (the monitoring centre bills "
            f"{codes} for the period)",
        )
    work.warn(
        "attended_monitoring",
        f"{codes} includes the attended monitoring, which this entity did not furnish: not billed here.",
        f"Let the monitoring centre bill {codes}; list 'monitoring' in the components if this entity ran it.",
        code=dropped[0].code,
    )
    return kept


def _names(components: frozenset[Component]) -> str:
    return ", ".join(sorted(c.value for c in components))


def _repeat_modifier(work: _Work) -> None:
    repeat = work.facts.repeat
    if repeat is None:
        return
    assert work.family is not None
    if work.family in (Family.RESTING_ECG, Family.RHYTHM_STRIP, Family.ARTERIAL_WAVEFORM, Family.STRESS_TEST):
        modifier = "76" if repeat is Repeat.SAME_PHYSICIAN else "77"
        who = "the same" if repeat is Repeat.SAME_PHYSICIAN else "another"
        work.modifiers.append(modifier)
        work.explain(
            f"This is a repeat of the same test on the same day by {who} physician: modifier {modifier}."
        )
    else:
        work.warn(
            "repeat_not_allowed",
            "A monitoring service is reported once per monitoring period; a repeat "
            "in the same period is denied.",
            "Do not bill the repeat; document it in the report.",
            severity=Severity.ERROR,
            carc="119",
        )


def _necessity(work: _Work) -> None:
    facts = work.facts
    assert work.family is not None
    rule = screening_rule()
    if work.family in rule.diagnostic_families and rule.only_screening(facts.diagnoses):
        fix = (
            "If this is the Welcome-to-Medicare ECG, code ippe_screening_ecg (G0403-G0405); otherwise add "
            "the sign or symptom, or append GY for a screening ECG the patient pays."
        )
        work.warn(
            "screening_diagnosis",
            "Only screening or routine-exam diagnoses are given: Medicare does not "
            "cover a diagnostic ECG as screening (NCD 20.15).",
            fix,
            carc="50",
        )
    indications = indication_list(work.family, facts.date_of_service)
    if indications is not None and facts.diagnoses and not indications.supports(facts.diagnoses):
        if facts.abn_on_file:
            work.modifiers.append("GA")
            work.explain(
                f"No diagnosis is on the indication list {indications.id}, and an ABN is on file: "
                "modifier GA makes a denial the patient's liability."
            )
        else:
            work.warn(
                "indication_list",
                f"No diagnosis is on the indication list {indications.id}; expect a "
                "medical-necessity denial.",
                "Add the supporting diagnosis, or obtain an ABN (GA); without one append GZ.",
                carc="50",
            )


def select_codes(facts: ServiceFacts) -> CodingResult:
    """Choose the CPT/HCPCS lines (code, modifiers, units) for the furnished service."""
    work = _Work(facts)
    SELECTORS[facts.service](work)
    picked = _pick_codes(work)
    _repeat_modifier(work)
    _necessity(work)
    for info, own in picked:
        modifiers = tuple(dict.fromkeys((*own, *work.modifiers)))
        work.lines.append(ClaimLineOut(info.code, modifiers, 1))
    if not work.lines:
        raise InputError("start", f"no code of this service is valid on {facts.date_of_service.isoformat()}")
    if facts.service is Service.IPPE_SCREENING_ECG:
        work.warn(
            "ippe_once",
            "The IPPE screening ECG is covered once, with the IPPE visit (G0402) in the first "
            "12 months of Part B.",
            severity=Severity.INFO,
        )
    if facts.per_period:
        work.explain(
            f"The codes are those in force on {facts.date_of_service.isoformat()}, when the period completed "
            "(the end of monitoring or its documented early stop). Each line is dated by its part: the "
            "hook-up on the first day, the technical part on the completion date, the reading and the global "
            "service on the day the physician signed the read, never before the completion date."
        )
    elif facts.service is Service.AMBULATORY_ECG:
        work.warn(
            "dos_convention",
            f"Date of service {facts.date_of_service.isoformat()} is the start of monitoring; some MACs want "
            "the date of the physician's review (global) or of each part instead.",
            "Follow the beneficiary's MAC billing article for multi-day monitors.",
            severity=Severity.INFO,
        )
    known = code_info(work.lines[0].code)
    if known is not None and known.uncertain:
        work.explain(
            f"{known.code} is dated from {known.valid_from}; set ECGDESK_0937T_EFFECTIVE to change it."
        )
    return CodingResult(work.lines, work.explanations, work.findings)


def _period_line_date(facts: ServiceFacts, code: str) -> date:
    """The date of service of one line of a monitoring period (shared/reference/monitoring.md section 5,
    rule 4): the hook-up (93270) on the first day; the technical part (93271, 93229) on the end of
    monitoring or its documented early stop (L34573); the reading and the global service (93272, 93228,
    93268) on the day the physician signed it, never before that end (SE17023, Transmittal 1873).

    Without a signature date (facts given by hand) the reading is dated at the end, the earliest day it may
    carry.
    """
    completed = facts.completed_on
    period = Period(facts.start, (completed - facts.start).days + 1)
    dates = service_dates(period, facts.signed_on)
    info = code_info(code)
    if info is None or info.part is not Part.TECHNICAL:
        return dates.professional or dates.technical
    return dates.technical if Component.MONITORING in info.components else dates.hookup


MAX_POINTERS = 4  # an 837P service line points to at most four of the claim's diagnoses (SV107)
MAX_DIAGNOSES = 12  # of the claim's (HI): a pointer past them points to nothing


def _pointers(facts: ServiceFacts, code: str) -> tuple[int, ...]:
    """The (at most four) diagnoses a line points to: those that support it first, in the order given.

    A payer checks coverage (NCD 20.15 screening rule, the LCD's indication list, coding.md 4.1-4.3) on the
    diagnoses the line points to, not on every one the claim lists: until 2026-12-07 the first four were
    taken, so a study ordered with the supporting symptom fifth was coded clean and the claim denied.
    """
    numbered = list(enumerate(facts.diagnoses[:MAX_DIAGNOSES], start=1))
    if len(numbered) <= MAX_POINTERS:
        return tuple(n for n, _ in numbered)
    info = code_info(code)
    listed = indication_list(info.family, facts.date_of_service) if info is not None else None
    rule = screening_rule()

    def supports(diagnosis: str) -> bool:
        if rule.only_screening((diagnosis,)):
            return False
        return listed is None or listed.supports((diagnosis,))

    ranked = [n for n, dx in numbered if supports(dx)] + [n for n, dx in numbered if not supports(dx)]
    return tuple(sorted(ranked[:MAX_POINTERS]))


def claim_for(facts: ServiceFacts, result: CodingResult) -> Claim:
    """The claim that bills ``result`` for ``facts`` (ready for :func:`~ecgdesk.coding.scrub.scrub`).

    Lines point to at most four diagnoses, those that support the service first (:func:`_pointers`). A
    monitoring period's lines are dated part by part (:func:`_period_line_date`) and carry the period's end as
    ``period_end``; any other line is dated at the start of the service, with its end as
    ``date_of_service_end`` (the payer's convention picks the date the claim form shows, ``workflow.claims``).
    """
    lines = tuple(
        ClaimLine(
            code=line.code,
            date_of_service=_period_line_date(facts, line.code) if facts.per_period else facts.start,
            modifiers=line.modifiers,
            units=line.units,
            diagnosis_pointers=_pointers(facts, line.code),
            date_of_service_end=None if facts.per_period else facts.end,
            recorded_hours=facts.recorded_hours,
            period_end=facts.completed_on if facts.per_period else None,
        )
        for line in result.lines
    )
    return Claim(
        setting=facts.setting,
        place_of_service=facts.place_of_service,
        lines=lines,
        diagnoses=facts.diagnoses,
        provider_id=facts.provider_id,
        ordering_provider_npi=facts.ordering_provider_npi,
        abn_on_file=facts.abn_on_file,
        interpretation_signed=facts.interpretation_signed,
        recorded_hours=facts.recorded_hours,
    )
