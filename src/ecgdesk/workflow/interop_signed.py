"""The signed result of a study as the interfaces send it (:class:`SignedResult`): one signed, immutable
report version with its patient, order, signatures, addenda and key measurements, read from the database."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import ConflictError, InputError
from ecgdesk.interop import authority
from ecgdesk.interop.model import (
    Measurement,
    PatientInfo,
    Provider,
    ResultStatus,
    SignatureEntry,
    SignedResult,
)
from ecgdesk.names import without_credentials
from ecgdesk.store import Store, file_sha256
from ecgdesk.store.models import (
    Addendum,
    AnalysisRun,
    Order,
    Patient,
    RecordingBlob,
    ReportVersion,
    Signature,
    User,
)
from ecgdesk.workflow.studies import get_study


def _split_name(name: str) -> tuple[str, str]:
    family, _, given = name.partition(",")
    return family.strip(), given.strip()


def _provider(user: User) -> Provider:
    # the credentials have a field of their own (XCN-7, HumanName.suffix): "Demo, Dana, MD" named the
    # given name "Dana, MD" and printed "Dana, MD Demo, MD"
    family, given = _split_name(without_credentials(user.display_name, user.credentials))
    if not given and " " in family:  # "Ana Lee, MD" style display names: the credentials follow the comma
        given, family = family.rsplit(" ", 1)
    return Provider(user.npi, family, given, user.credentials or "")


def _measurements(document: dict[str, Any]) -> tuple[Measurement, ...]:
    """The key numeric results of an analysis run's document, by service."""
    picks: list[tuple[str, Any, str]] = []
    kind = document.get("kind")
    if kind == "resting_ecg":
        qtc = document.get("qtc_ms") or {}
        picks = [
            ("hr", document.get("hr_bpm"), "/min"),
            ("pr", document.get("pr_ms"), "ms"),
            ("qrs", document.get("qrs_ms"), "ms"),
            ("qt", document.get("qt_ms"), "ms"),
            ("qtc", qtc.get("bazett") if isinstance(qtc, dict) else None, "ms"),
            ("p_axis", document.get("p_axis_deg"), "deg"),
            ("qrs_axis", document.get("qrs_axis_deg"), "deg"),
            ("t_axis", document.get("t_axis_deg"), "deg"),
        ]
    elif kind == "stress_test":
        seconds = document.get("exercise_time_s")
        picks = [
            ("exercise_time", None if seconds is None else round(seconds / 60, 2), "min"),
            ("mets", document.get("mets"), "{MET}"),
            ("peak_hr", document.get("peak_hr_bpm"), "/min"),
            ("max_st_depression", document.get("max_st_depression_mm"), "mm"),
            ("duke_score", document.get("duke_score"), "{score}"),
        ]
    elif "summary" in document:
        summary = document["summary"]
        hr = summary.get("heart_rate") or {}
        beats = summary.get("beats_by_class") or {}
        pauses = summary.get("pauses") or {}
        analyzable = summary.get("analyzable_time_s")
        picks = [
            ("hr_min", (hr.get("min") or {}).get("bpm"), "/min"),
            ("hr_mean", hr.get("mean_bpm"), "/min"),
            ("hr_max", (hr.get("max") or {}).get("bpm"), "/min"),
            ("af_burden", summary.get("af_burden_pct"), "%"),
            ("longest_pause", pauses.get("longest_s"), "s"),
            ("pause_count", pauses.get("count"), "{count}"),
            ("v_beats", beats.get("V"), "{beats}"),
            ("s_beats", beats.get("S"), "{beats}"),
            ("analyzable_time", None if analyzable is None else round(analyzable / 3600, 2), "h"),
        ]
    return tuple(
        Measurement(key, float(value), unit)
        for key, value, unit in picks
        if isinstance(value, int | float) and value == value
    )


def _signed_version(
    session: Session, study_id: int, version_id: int | None
) -> tuple[ReportVersion, Signature]:
    query = select(ReportVersion, Signature).join(Signature, Signature.report_version_id == ReportVersion.id)
    query = query.where(ReportVersion.study_id == study_id)
    if version_id is not None:
        query = query.where(ReportVersion.id == version_id)
    row = session.execute(query.order_by(ReportVersion.version.desc()).limit(1)).first()
    if row is None:
        reason = f"study {study_id} has no signed report: results go out once it is signed"
        raise ConflictError("study", reason)
    return row[0], row[1]


def signed_result(
    store: Store, session: Session, study_id: int, version_id: int | None = None
) -> SignedResult:
    """The :class:`SignedResult` of a study's latest (or a given) signed report version."""
    study = get_study(session, study_id)
    version, signature = _signed_version(session, study_id, version_id)
    patient_row = session.get(Patient, study.patient_id)
    order = session.get(Order, study.order_id)
    signer = session.get(User, signature.user_id)
    run = session.get(AnalysisRun, version.analysis_run_id)
    assert patient_row is not None and order is not None and signer is not None and run is not None
    issuer = patient_row.id_issuer
    pdf_path = store.resolve(version.pdf_path)
    if not pdf_path.is_file() or file_sha256(pdf_path) != version.pdf_sha256:
        raise InputError(
            "report",
            f"the signed PDF of version {version.version} is missing or changed on disk",
            source=str(pdf_path),
        )
    earlier = session.scalar(
        select(Signature.id)
        .join(ReportVersion, Signature.report_version_id == ReportVersion.id)
        .where(ReportVersion.study_id == study_id, ReportVersion.version < version.version)
        .limit(1)
    )
    family, given = _split_name(patient_row.name)
    ordering_family, ordering_given = _split_name(order.ordering_name or "")
    recording = session.get(RecordingBlob, study.recording_id) if study.recording_id else None
    start = recording.start_time if recording else None
    end = start + timedelta(seconds=recording.duration_s) if start and recording else None
    # every addendum up to this version, as its PDF prints them: a version holds its own addendum only, and
    # the second corrected result of a report went out without the first addendum (FHIR's updated the report
    # in place, so the EHR lost it)
    addenda = session.scalars(
        select(Addendum.text)
        .join(ReportVersion, Addendum.report_version_id == ReportVersion.id)
        .where(Addendum.study_id == study_id, ReportVersion.version <= version.version)
        .order_by(ReportVersion.version, Addendum.id)
    ).all()
    measurements = _measurements(json.loads(run.findings_json))
    text = "\n\n".join([version.interpretation_text.strip(), *(f"Addendum: {a}" for a in addenda)]).strip()
    return SignedResult(
        study_id=study.id,
        service=order.service,
        status=ResultStatus.CORRECTED if earlier is not None else ResultStatus.FINAL,
        report_version=version.version,
        patient=PatientInfo(patient_row.external_id, family, given, patient_row.birth_date, patient_row.sex,
                            issuer and authority.name(issuer), issuer),
        ordering=Provider(order.ordering_npi, ordering_family or "Unknown", ordering_given),
        interpreter=_provider(signer),
        signed_at=signature.signed_at,
        observed_start=start,
        observed_end=end,
        interpretation=text,
        pdf=pdf_path.read_bytes(),
        placer_order_number=order.placer_order_number,
        indications=tuple(json.loads(order.indications_json)),
        measurements=measurements,
        uid_seed=f"ecgdesk:{study.id}:{study.created_at.isoformat()}:{patient_row.external_id}",
        signed_by=signature.printed_name,
        signature_meaning=signature.meaning,
        earlier_signatures=_earlier_signatures(session, study_id, version.version),
        changed_measurements=_changed(session, study_id, version.version, measurements),
    )


def _changed(session: Session, study_id: int, version: int, current: tuple[Measurement, ...]
             ) -> frozenset[str]:
    """The measurements whose value or unit differs from one an earlier signed version of the report gave
    (a re-analysis before the addendum); until 2026-12-07 every Observation of an amended report was sent
    ``corrected``, which tells the EHR its value was wrong. One given first now (none before) is final."""
    run_ids = session.scalars(
        select(ReportVersion.analysis_run_id)
        .join(Signature, Signature.report_version_id == ReportVersion.id)
        .where(ReportVersion.study_id == study_id, ReportVersion.version < version)
        .distinct()
    ).all()
    earlier: dict[str, set[tuple[float, str]]] = {}
    for run_id in run_ids:
        run = session.get(AnalysisRun, run_id)
        assert run is not None
        for m in _measurements(json.loads(run.findings_json)):
            earlier.setdefault(m.key, set()).add((m.value, m.unit))
    return frozenset(m.key for m in current if earlier.get(m.key, {(m.value, m.unit)}) - {(m.value, m.unit)})


def _earlier_signatures(session: Session, study_id: int, version: int) -> tuple[SignatureEntry, ...]:
    rows = session.execute(
        select(Signature)
        .join(ReportVersion, Signature.report_version_id == ReportVersion.id)
        .where(Signature.study_id == study_id, ReportVersion.version < version)
        .order_by(ReportVersion.version, Signature.signed_at, Signature.id)
    ).scalars()
    return tuple(SignatureEntry(row.meaning, row.printed_name, row.signed_at) for row in rows)
