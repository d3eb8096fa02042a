"""From a study to coding facts, codes, a claim and the scrubber's findings.

The coding engine never sees a recording: this module turns what the store knows into
:class:`~ecgdesk.coding.ServiceFacts`:

* ``recorded_hours``: the *analyzable* time of the current analysis run, in hours (the codes follow the
  hours actually recorded and analysable, not the prescribed days);
* ``components``: the components someone of this entity performed (recording at import, scanning at
  analysis, interpretation at signing);
* ``interpretation_signed``: whether the latest report version carries a signature over its content, and
  ``signed_on`` the day the read was first signed (a monitoring period's reading is dated on it);
* service, setting, place of service, indications and ordering NPI from the order; the interpreting
  physician's NPI as the rendering provider; start and end dates from the recording.

The facts, the codes, the claim and the findings are stored (JSON in the forms that ``facts_from_dict``
and ``claim_from_dict`` read back) and the study moves to ``coded``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.coding import (
    Claim,
    ClaimLine,
    CodingResult,
    Component,
    Finding,
    Repeat,
    Service,
    ServiceFacts,
    Setting,
    Severity,
    claim_for,
    claim_from_dict,
    facts_from_dict,
    scrub,
    select_codes,
)
from ecgdesk.coding.distinct import apply_distinct
from ecgdesk.coding.schemas import claim_to_dict, facts_to_dict
from ecgdesk.errors import InputError
from ecgdesk.monitoring.periods import Period
from ecgdesk.store import Store, append, canonical_json
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import (
    AnalysisRun,
    CodingRecord,
    ComponentPerformance,
    Order,
    RecordingBlob,
    ReportVersion,
    Signature,
    Study,
)
from ecgdesk.store.monitoring_models import Enrolment
from ecgdesk.workflow.lifecycle import move, now, require_status
from ecgdesk.workflow.monitoring import CLOSED
from ecgdesk.workflow.monitoring_days import period_seconds
from ecgdesk.workflow.monitoring_roster import period_gaps
from ecgdesk.workflow.studies import get_study


@dataclass(frozen=True)
class StudyFacts:
    """What the store knows about a study that matters for coding (plain values, no database rows)."""

    service: Service
    setting: Setting
    place_of_service: str
    start: date
    recording_s: float
    analyzable_s: float | None
    components: frozenset[Component]
    diagnoses: tuple[str, ...]
    signed: bool
    ordering_npi: str | None
    interpreting_npi: str | None
    prescribed_days: float | None
    signed_on: date | None = None
    repeat: Repeat | None = None
    distinct_modifier: str | None = None
    #: The last day of the service where it is known as a day (a monitoring period's end or documented
    #: stop), else the day ``recording_s`` after ``start`` reaches.
    end: date | None = None


def derive_facts(study: StudyFacts) -> ServiceFacts:
    """The coding facts of a study: recorded hours from the analyzable time.

    The hours are not rounded: 48 h and 10 s is more than 48 h, and rounding could move a study across a
    code boundary.
    """
    hours = None if study.analyzable_s is None else study.analyzable_s / 3600.0
    end = study.end or study.start + timedelta(seconds=max(0.0, study.recording_s - 1e-6))
    return ServiceFacts(
        service=study.service,
        setting=study.setting,
        place_of_service=study.place_of_service,
        start=study.start,
        end=end if end != study.start else None,
        recorded_hours=hours,
        components=study.components,
        diagnoses=study.diagnoses,
        interpretation_signed=study.signed,
        ordering_provider_npi=study.ordering_npi,
        provider_id=study.interpreting_npi,
        prescribed_days=study.prescribed_days,
        signed_on=study.signed_on,
        repeat=study.repeat,
        distinct_modifier=study.distinct_modifier,
    )


def signed_on(session: Session, study_id: int) -> date | None:
    """The day the read was signed (None: the latest report version is not signed over its content).

    The day of the study's first signature: an addendum is a later signed version, but the read it amends
    was done, and is dated (Transmittal 1873: the date of the interpretation), when the report was first
    signed; once signed, a report changes only by addenda.
    """
    latest = session.scalar(
        select(ReportVersion).where(ReportVersion.study_id == study_id).order_by(ReportVersion.version.desc())
    )
    if latest is None:
        return None
    signature = session.scalar(select(Signature).where(Signature.report_version_id == latest.id))
    if signature is None or signature.content_sha256 != latest.content_sha256:
        return None
    first = session.scalar(
        select(Signature.signed_at)
        .where(Signature.study_id == study_id)
        .order_by(Signature.signed_at)
        .limit(1)
    )
    return (first or signature.signed_at).date()


def study_facts(session: Session, study: Study) -> StudyFacts:
    """Gather :class:`StudyFacts` from the store."""
    order = session.get(Order, study.order_id)
    assert order is not None
    recording = session.get(RecordingBlob, study.recording_id) if study.recording_id else None
    run = session.scalar(
        select(AnalysisRun).where(AnalysisRun.study_id == study.id, AnalysisRun.is_current.is_(True))
    )
    performed = session.scalars(
        select(ComponentPerformance).where(ComponentPerformance.study_id == study.id)
    ).all()
    interpreting = [p for p in performed if p.component == Component.INTERPRETATION.value]
    start = _start_day(session, study)
    recording_s = recording.duration_s if recording else 0.0
    components = frozenset(Component(p.component) for p in performed)
    monitoring = session.scalar(select(Enrolment).where(Enrolment.study_id == study.id))
    end = None
    if monitoring is not None:  # event monitoring, telemetry: the service is the period, not the strips
        period = Period(monitoring.start_date, monitoring.days, monitoring.stopped_early_on)
        # the patient's days, 23 or 25 hours where the clocks changed (until 2026-12-07 86,400 s a day); the
        # end is the period's own last day, which a 25-hour day's seconds added to the start would pass
        start, end = period.start, period.end
        recording_s = period_seconds(period, monitoring.time_zone)
        if _attended_gaps(session, monitoring):
            # NCD 20.15 (reference section 1, rule 5): an hour without a technician or an on-call physician
            # makes it unattended monitoring, so its attended part is not billed (93268, 93271); telemetry's
            # technical code 93229 bundles the hook-up with the surveillance, so it goes too
            unattended = {Component.MONITORING, Component.SCANNING}
            if monitoring.service == Service.MOBILE_TELEMETRY.value:
                unattended.add(Component.RECORDING)
            components -= unattended
    signed_day = signed_on(session, study.id)
    interpreting_npi = interpreting[-1].npi if interpreting else None
    service = Service(order.service)
    return StudyFacts(
        service=Service(order.service),
        setting=Setting(order.setting),
        place_of_service=order.place_of_service,
        start=start,
        recording_s=recording_s,
        analyzable_s=run.analyzable_s if run else None,
        components=components,
        diagnoses=tuple(json.loads(order.indications_json)),
        signed=signed_day is not None,
        ordering_npi=order.ordering_npi,
        interpreting_npi=interpreting_npi,
        prescribed_days=order.duration_days,
        signed_on=signed_day,
        repeat=_repeat_of(session, study, service, start, interpreting_npi),
        distinct_modifier=study.distinct_modifier,
        end=end,
    )


#: Tests that may be repeated the same day with 76/77 (coding.md 2.4); a monitoring service may not.
REPEATABLE = frozenset(
    {Service.RESTING_ECG, Service.RHYTHM_STRIP, Service.STRESS_TEST, Service.ARTERIAL_WAVEFORM}
)


def _start_day(session: Session, study: Study) -> date:
    recording = session.get(RecordingBlob, study.recording_id) if study.recording_id else None
    return recording.start_time.date() if recording and recording.start_time else study.created_at.date()


def _repeat_of(
    session: Session, study: Study, service: Service, start: date, interpreting_npi: str | None
) -> Repeat | None:
    """76 or 77 when an earlier study of the patient is the same test on the same day (coding.md 2.4).

    Each study is its own order and tracing, so a second one that day is a repeat: 76 when the same
    physician read both, else 77. Until 2026-12-07 nothing set it, so the second ECG of a day was coded
    without 76/77 and refused as a duplicate of the first (CARC 18), with no way to say it was a repeat.
    """
    if service not in REPEATABLE:
        return None
    earlier = session.scalars(
        select(Study)
        .join(Order, Study.order_id == Order.id)
        .where(
            Study.patient_id == study.patient_id,
            Study.id < study.id,
            Study.recording_id.is_not(None),  # performed: an order never recorded is no first test
            Order.cancelled_at.is_(None),  # a cancelled order's study was not billed: no first test either
            Order.service == service.value,
        )
        .order_by(Study.id)
    ).all()
    if any(other.recording_id == study.recording_id for other in earlier):
        # the same tracing imported into another study is no second test: billed again, it is the
        # duplicate the scrubber must see, not a repeat to excuse with 76/77
        return None
    for other in earlier:
        if _start_day(session, other) != start:
            continue
        readers = session.scalars(
            select(ComponentPerformance.npi).where(
                ComponentPerformance.study_id == other.id,
                ComponentPerformance.component == Component.INTERPRETATION.value,
            )
        ).all()
        same = (readers[-1] if readers else None) == interpreting_npi
        return Repeat.SAME_PHYSICIAN if same else Repeat.DIFFERENT_PHYSICIAN
    return None


def _attended_gaps(session: Session, enrolment: Enrolment) -> list[dict[str, str]]:
    """The stretches of a closed monitoring period without a technician or an on-call physician, from the
    roster as it stands (the closing summary keeps those of its day; until 2026-12-07 coding read them
    there, so a shift entered after closing, as the finding below asks, changed nothing)."""
    if enrolment.status != CLOSED:
        return []
    period = Period(enrolment.start_date, enrolment.days, enrolment.stopped_early_on)
    return [
        {"start": g.start.isoformat(), "end": g.end.isoformat(), "missing": g.missing}
        for g in period_gaps(session, period, enrolment.time_zone)
    ]


def _attended_findings(session: Session, study: Study) -> list[Finding]:
    """Why a monitoring period's attended part is not billed: the hours its roster left uncovered."""
    enrolment = session.scalar(select(Enrolment).where(Enrolment.study_id == study.id))
    if enrolment is None:
        return []
    gaps = _attended_gaps(session, enrolment)
    if not gaps:
        return []
    first = gaps[0]
    return [
        Finding(
            "attended_coverage",
            Severity.WARNING,
            None,
            None,
            None,
            f"{len(gaps)} stretch(es) of the monitoring period had no technician or no on-call physician "
            f"(the first from {first['start']} to {first['end']}, no {first['missing']}): it was not 24-hour "
            "attended monitoring (NCD 20.15), so the attended part (93268, 93271, 93229) is not billed.",
            "Bill the parts furnished. If every hour was in fact covered, add the shifts worked to the "
            "roster and record the monitoring component ('ecgdesk study component'), then code again.",
        )
    ]


@dataclass(frozen=True)
class CodingOutcome:
    study_id: int
    facts: ServiceFacts
    result: CodingResult
    claim: Claim
    findings: list[Finding]

    def claim_lines(self) -> list[str]:
        return [_shown(line) for line in self.claim.lines]


def _history(session: Session, study: Study) -> list[Claim]:
    """The patient's earlier claims (from other studies' latest coding) for the scrubber."""
    others = session.scalars(
        select(CodingRecord)
        .join(Study, CodingRecord.study_id == Study.id)
        .where(Study.patient_id == study.patient_id, Study.id != study.id)
        .order_by(CodingRecord.id)
    ).all()
    latest = {row.study_id: row for row in others}
    return [claim_from_dict(json.loads(row.claim_json)) for row in latest.values()]


def _coded(
    session: Session, study: Study, facts: ServiceFacts, history: list[Claim] | None = None
) -> tuple[CodingResult, Claim]:
    """The codes and the claim of ``facts``.

    A study marked a distinct service gets its modifier on the line a same-day PTP pair with indicator 1
    bundles, with this claim's lines or the same provider's other coded claims (:func:`apply_distinct`);
    only then are the other claims read (``history``, else from the store), so an unmarked study's coding
    never depends on them.
    """
    result = select_codes(facts)
    claim = claim_for(facts, result)
    if facts.distinct_modifier is not None:
        others = _history(session, study) if history is None else history
        result = apply_distinct(facts.distinct_modifier, result, claim, others)
        claim = claim_for(facts, result)
    return result, claim


def store_coding(session: Session, study: Study, actor: str, stale: tuple[str, ...] = ()) -> CodingOutcome:
    """Derive the facts, select codes, build the claim, scrub it and store all of it (a new record)."""
    facts = derive_facts(study_facts(session, study))
    history = _history(session, study)
    result, claim = _coded(session, study, facts, history)
    findings = [*result.findings, *scrub(claim, history)]
    findings += _attended_findings(session, study)
    record = CodingRecord(
        study_id=study.id,
        facts_json=canonical_json(facts_to_dict(facts)),
        result_json=canonical_json(result.to_dict()),
        claim_json=canonical_json(claim_to_dict(claim)),
        scrub_json=canonical_json([f.to_dict() for f in findings]),
        created_by=actor,
        created_at=now(),
    )
    session.add(record)
    session.flush()
    detail: dict[str, object] = {
        "coding_id": record.id,
        "facts": facts_to_dict(facts),
        "lines": [line.to_dict() for line in result.lines],
        "n_findings": len(findings),
    }
    if stale:
        detail["replaces_stale"] = list(stale)
    append(session, actor, "coding:code", "study", study.id, None, detail)
    return CodingOutcome(study.id, facts, result, claim, findings)


def code_study(store: Store, study_id: int, actor: str) -> CodingOutcome:
    """Derive the facts, select codes, build the claim, scrub it; store all of it and move to ``coded``."""
    with store.transaction() as session:
        study = get_study(session, study_id)
        require_status(study, "code", {StudyStatus.SIGNED, StudyStatus.CODED})
        latest = latest_coding(session, study_id)
        stale = coding_changes(session, study, latest) if latest is not None else ()
        outcome = store_coding(session, study, actor, stale)
        move(session, study, StudyStatus.CODED, actor, "code")
        return outcome


def latest_coding(session: Session, study_id: int) -> CodingRecord | None:
    return session.scalar(
        select(CodingRecord)
        .where(CodingRecord.study_id == study_id)
        .order_by(CodingRecord.id.desc())
        .limit(1)
    )


def _line_key(line: ClaimLine) -> tuple[str, tuple[str, ...], int]:
    return line.code, line.modifiers, line.units


def _numbers(values: tuple[int, ...]) -> str:
    return ", ".join(map(str, values)) or "none"


def coding_changes(session: Session, study: Study, record: CodingRecord) -> tuple[str, ...]:
    """What coding the study now would change in its stored coding ``record`` (empty: it stands).

    A coding record is never rewritten: one made under older rules (before a monitoring period's lines
    were dated part by part, say) or before the study changed (a component recorded, a report signed
    again) keeps its codes and line dates until the study is coded again, and a claim built from it would
    bill them. The codes, each line's dates and diagnosis pointers (until 2026-12-07 a line pointed to the
    first four diagnoses, not to those supporting it) and the facts are compared with what coding gives now.
    """
    try:
        facts = derive_facts(study_facts(session, study))
        claim = _coded(session, study, facts)[1]
    except InputError as error:  # the study as it is now cannot be coded: the page says why, not a 4xx
        return (f"coding the study now fails ({error})",)
    source = f"study {study.id} coding"
    try:
        stored = claim_from_dict(json.loads(record.claim_json), source=source)
        old_facts = facts_to_dict(facts_from_dict(json.loads(record.facts_json), source=source))
    except InputError as error:  # written by a version whose forms this one no longer reads
        return (f"the stored coding cannot be read any more ({error})",)
    new_facts = facts_to_dict(facts)
    changes: list[str] = []
    if [_line_key(x) for x in stored.lines] != [_line_key(x) for x in claim.lines]:
        shown = ", ".join(_shown(x) for x in claim.lines) or "none"
        changes.append(f"the codes are now {shown} (coded as {', '.join(_shown(x) for x in stored.lines)})")
    else:
        for old, new in zip(stored.lines, claim.lines, strict=True):
            for what, before, after in (
                ("date of service", old.date_of_service, new.date_of_service),
                ("end of service", old.date_of_service_end, new.date_of_service_end),
                ("period end", old.period_end, new.period_end),
            ):
                if before != after:
                    changes.append(
                        f"{new.code}'s {what} is now {after or 'none'} (coded as {before or 'none'})"
                    )
            if old.diagnosis_pointers != new.diagnosis_pointers:
                changes.append(
                    f"{new.code}'s diagnosis pointers are now {_numbers(new.diagnosis_pointers)} "
                    f"(coded as {_numbers(old.diagnosis_pointers)})"
                )
    if stored.diagnoses != claim.diagnoses:
        changes.append(f"the diagnoses are now {', '.join(claim.diagnoses)}")
    changed = sorted(k for k in new_facts.keys() | old_facts.keys() if new_facts.get(k) != old_facts.get(k))
    if changed:
        changes.append("the study's facts changed since it was coded: " + ", ".join(changed))
    return tuple(changes)


def _shown(line: ClaimLine) -> str:
    units = f" x{line.units}" if line.units != 1 else ""
    return line.code + "".join(f"-{m}" for m in line.modifiers) + units


def mark_billed(store: Store, study_id: int, actor: str, reference: str) -> None:
    """Record that the coded claim was submitted (``reference``: the claim or batch id); final status."""
    if not reference.strip():
        raise InputError("reference", "give the claim or batch id the claim was submitted under")
    with store.transaction() as session:
        # locked: the same submission recorded twice at once (a double click) was two 'coding:billed' rows
        study = get_study(session, study_id, for_update=True)
        require_status(study, "bill", {StudyStatus.CODED})
        latest = latest_coding(session, study_id)
        changes = coding_changes(session, study, latest) if latest is not None else ()
        if changes:  # what was submitted must be what coding gives: the record shown is out of date
            raise InputError(
                "coding",
                f"study {study_id}'s coding is out of date ({'; '.join(changes)}): code it again "
                f"('ecgdesk study code {study_id}') and submit that claim",
            )
        append(session, actor, "coding:billed", "study", study_id, None, {"reference": reference.strip()})
        move(session, study, StudyStatus.BILLED, actor, "bill")
