"""Read-only views of studies for ``study show`` / ``study list`` (plain data, JSON-ready)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select

from ecgdesk.jobs.queue import list_jobs
from ecgdesk.store import Store
from ecgdesk.store.models import (
    Addendum,
    AnalysisRun,
    AuditEntry,
    CodingRecord,
    ComponentPerformance,
    Interpretation,
    Order,
    Patient,
    RecordingBlob,
    ReportVersion,
    Signature,
    Study,
)
from ecgdesk.workflow.reporting import signature_state
from ecgdesk.workflow.studies import get_study


@dataclass(frozen=True)
class StudyRow:
    id: int
    status: str
    patient_id: str
    patient_name: str
    service: str
    created_at: str


@dataclass
class StudyView:
    """Everything known about one study."""

    id: int
    status: str
    patient: dict[str, Any]
    order: dict[str, Any]
    recording: dict[str, Any] | None = None
    analysis: dict[str, Any] | None = None
    components: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    interpretation: dict[str, Any] | None = None
    signatures: list[dict[str, Any]] = field(default_factory=list)
    addenda: list[dict[str, Any]] = field(default_factory=list)
    coding: dict[str, Any] | None = None
    signature_state: str = "unsigned"
    audit_rows: int = 0
    jobs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_studies(store: Store) -> list[StudyRow]:
    with store.transaction() as session:
        rows = session.execute(
            select(Study, Patient, Order)
            .join(Patient, Study.patient_id == Patient.id)
            .join(Order, Study.order_id == Order.id)
            .order_by(Study.id)
        ).all()
        return [
            StudyRow(s.id, s.status, p.external_id, p.name, o.service, s.created_at.isoformat())
            for s, p, o in rows
        ]


def show_study(store: Store, study_id: int) -> StudyView:
    with store.transaction() as session:
        study = get_study(session, study_id)
        patient = session.get(Patient, study.patient_id)
        order = session.get(Order, study.order_id)
        assert patient is not None and order is not None
        view = StudyView(
            id=study.id,
            status=study.status,
            patient={
                "id": patient.external_id,
                "name": patient.name,
                "birth_date": patient.birth_date.isoformat(),
                "sex": patient.sex,
            },
            order={
                "service": order.service,
                "ordering_npi": order.ordering_npi,
                "indications": json.loads(order.indications_json),
                "duration_days": order.duration_days,
                "setting": order.setting,
                "place_of_service": order.place_of_service,
            },
        )
        if study.recording_id is not None:
            rec = session.get(RecordingBlob, study.recording_id)
            assert rec is not None
            view.recording = {
                "sha256": rec.sha256,
                "format": rec.format,
                "fs": rec.fs,
                "n_leads": rec.n_leads,
                "duration_h": round(rec.duration_s / 3600, 3),
                "start_time": rec.start_time.isoformat() if rec.start_time else None,
                "path": str(store.blob_root / rec.blob_dir / rec.main_file),
            }
        run = session.scalar(
            select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.is_current.is_(True))
        )
        if run is not None:
            findings = json.loads(run.findings_json)
            summary = findings.get("summary", {})
            view.analysis = {
                "run_id": run.id,
                "algorithm_version": run.algorithm_version,
                "input_hash": run.input_hash,
                "edited": run.parent_run_id is not None,
                "analyzable_h": round(run.analyzable_s / 3600, 3),
                "wear_h": round(run.wear_s / 3600, 3),
                "total_beats": summary.get("total_beats"),
                "beats_by_class": summary.get("beats_by_class"),
                "af_burden_pct": summary.get("af_burden_pct"),
                "beats_file": str(store.resolve(run.beats_path)),
            }
        view.components = [
            {
                "component": c.component,
                "performer": c.performer,
                "npi": c.npi,
                "setting": c.setting,
                "place_of_service": c.place_of_service,
                "performed_at": c.performed_at.isoformat(),
            }
            for c in session.scalars(
                select(ComponentPerformance)
                .where(ComponentPerformance.study_id == study_id)
                .order_by(ComponentPerformance.id)
            )
        ]
        view.reports = [
            {
                "version": r.version,
                "content_sha256": r.content_sha256,
                "pdf": str(store.resolve(r.pdf_path)),
                "html": str(store.resolve(r.html_path)) if r.html_path else None,
                "reviewed_by": r.reviewed_by,
                "created_at": r.created_at.isoformat(),
            }
            for r in session.scalars(
                select(ReportVersion)
                .where(ReportVersion.study_id == study_id)
                .order_by(ReportVersion.version)
            )
        ]
        interp = session.scalar(select(Interpretation).where(Interpretation.study_id == study_id))
        if interp is not None:
            view.interpretation = {
                "text": interp.text,
                "author": interp.author,
                "updated_at": interp.updated_at.isoformat(),
            }
        view.signatures = [
            {
                "printed_name": s.printed_name,
                "meaning": s.meaning,
                "content_sha256": s.content_sha256,
                "signed_at": s.signed_at.isoformat(),
                "report_version_id": s.report_version_id,
            }
            for s in session.scalars(
                select(Signature).where(Signature.study_id == study_id).order_by(Signature.id)
            )
        ]
        view.addenda = [
            {"text": a.text, "author": a.author, "created_at": a.created_at.isoformat()}
            for a in session.scalars(
                select(Addendum).where(Addendum.study_id == study_id).order_by(Addendum.id)
            )
        ]
        coding = session.scalar(
            select(CodingRecord)
            .where(CodingRecord.study_id == study_id)
            .order_by(CodingRecord.id.desc())
            .limit(1)
        )
        if coding is not None:
            view.coding = {
                "facts": json.loads(coding.facts_json),
                "result": json.loads(coding.result_json),
                "claim": json.loads(coding.claim_json),
                "scrub": json.loads(coding.scrub_json),
            }
        view.jobs = [
            {
                "id": j.id,
                "kind": j.kind,
                "status": j.status,
                "attempts": j.attempts,
                "max_attempts": j.max_attempts,
                "progress": j.progress,
                "error": j.error,
                "result": j.result,
                "created_at": j.created_at,
            }
            for j in list_jobs(session, study_id=study_id)
        ]
        view.audit_rows = int(
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.entity == "study", AuditEntry.entity_id == str(study_id))
            )
            or 0
        )
    view.signature_state = signature_state(store, study_id)
    return view
