"""Read-only views of studies and of the audit log (the schema models of :mod:`ecgdesk.workflow.schemas`).

Each view that shows patient data takes the acting user and writes one audit row in the transaction that
reads (``read:study``, ``read:worklist``, ``read:audit``); internal callers that only need a value pass no
actor.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from ecgdesk.interop.model import OrderPriority
from ecgdesk.store import Store
from ecgdesk.store.enums import StudyStatus
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
    User,
)
from ecgdesk.workflow.audit_chain import check_audit_chain
from ecgdesk.workflow.billing_distinct import distinct_out
from ecgdesk.workflow.lifecycle import get_study, import_warnings, order_state
from ecgdesk.workflow.permissions import Action, Principal, allowed, audit_read
from ecgdesk.workflow.report_files import signature_state
from ecgdesk.workflow.schemas import (
    AddendumOut,
    AnalysisOut,
    AuditPage,
    AuditRowOut,
    AuditVerifyOut,
    CodingOut,
    ComponentOut,
    InterpretationOut,
    JobOut,
    OrderOut,
    PatientOut,
    RecordingOut,
    ReportOut,
    SignatureOut,
    StudyDetail,
    StudyPage,
    StudyRow,
    UploadOut,
)
from ecgdesk.workflow.worklist import MAX_PAGE, study_entries

if TYPE_CHECKING:
    from ecgdesk.jobs.queue import JobInfo
    from ecgdesk.store.service_models import Upload


def study_page(
    store: Store,
    actor: str | None = None,
    status: StudyStatus | None = None,
    offset: int = 0,
    limit: int = 50,
) -> StudyPage:
    """One page of the worklist (newest first), optionally of one status (the HTTP worklist)."""
    entries, total = study_entries(store, actor, status, offset, limit)
    items = [StudyRow(**asdict(entry)) for entry in entries]
    return StudyPage(items=items, total=total, offset=max(0, offset), limit=max(1, min(limit, MAX_PAGE)))


def _analysis(store: Store, run: AnalysisRun) -> AnalysisOut:
    findings = json.loads(run.findings_json)
    summary = findings.get("summary", {})
    return AnalysisOut(
        run_id=run.id,
        algorithm_version=run.algorithm_version,
        input_hash=run.input_hash,
        edited=run.parent_run_id is not None,
        analyzable_h=round(run.analyzable_s / 3600, 3),
        wear_h=round(run.wear_s / 3600, 3),
        total_beats=summary.get("total_beats"),
        beats_by_class=summary.get("beats_by_class"),
        af_burden_pct=summary.get("af_burden_pct"),
        beats_file=str(store.resolve(run.beats_path)),
        warnings=[m.get("text", "") for m in findings.get("messages", [])
                  if m.get("code") == "recording" and m.get("level") == "warning"],
    )


def _lists(store: Store, session: Session, study_id: int) -> dict[str, Any]:
    def where(model: Any) -> Any:
        return select(model).where(model.study_id == study_id).order_by(model.id)

    numbered = select(ReportVersion.id, ReportVersion.version).where(ReportVersion.study_id == study_id)
    versions = {row_id: number for row_id, number in session.execute(numbered)}
    authors = select(Addendum.author).where(Addendum.study_id == study_id)
    named = select(User.username, User.display_name).where(User.username.in_(authors))
    names = {username: name for username, name in session.execute(named)}

    return {
        "components": [
            ComponentOut(
                component=c.component,
                performer=c.performer,
                npi=c.npi,
                setting=c.setting,
                place_of_service=c.place_of_service,
                performed_at=c.performed_at,
            )
            for c in session.scalars(where(ComponentPerformance))
        ],
        "reports": [
            ReportOut(
                version=r.version,
                content_sha256=r.content_sha256,
                pdf=str(store.resolve(r.pdf_path)),
                html=str(store.resolve(r.html_path)) if r.html_path else None,
                reviewed_by=r.reviewed_by,
                created_at=r.created_at,
            )
            for r in session.scalars(
                select(ReportVersion)
                .where(ReportVersion.study_id == study_id)
                .order_by(ReportVersion.version)
            )
        ],
        "signatures": [
            SignatureOut(
                printed_name=s.printed_name,
                meaning=s.meaning,
                content_sha256=s.content_sha256,
                signed_at=s.signed_at,
                report_version_id=s.report_version_id,
                version=versions.get(s.report_version_id),
            )
            for s in session.scalars(where(Signature))
        ],
        "addenda": [
            AddendumOut(
                text=a.text,
                author=a.author,
                created_at=a.created_at,
                printed_name=names.get(a.author, a.author),
            )
            for a in session.scalars(where(Addendum))
        ],
    }


def show_study(store: Store, study_id: int, who: Principal | None = None) -> StudyDetail:
    """Everything about one study. With ``who`` (a user's read: the API, the pages, ``study show``) the read
    is audited and what the view embeds of another kind follows ``who``'s role in the permission table:
    the study's jobs only for ``job:read`` (``jobs`` is None otherwise), its coding (facts, codes, the claim,
    the scrubber's findings) only for ``study:billing``. Internal callers pass no one."""
    from ecgdesk.jobs.queue import list_jobs  # the job and upload tables: not for a list or the audit
    from ecgdesk.store.service_models import Upload

    with store.transaction() as session:
        study = get_study(session, study_id)
        patient = session.get(Patient, study.patient_id)
        order = session.get(Order, study.order_id)
        assert patient is not None and order is not None
        view = StudyDetail(
            id=study.id,
            status=StudyStatus(study.status),
            patient=PatientOut(
                id=patient.external_id, name=patient.name, birth_date=patient.birth_date, sex=patient.sex
            ),
            order=OrderOut(
                service=order.service,
                ordering_npi=order.ordering_npi,
                ordering_name=order.ordering_name,
                indications=json.loads(order.indications_json),
                duration_days=order.duration_days,
                setting=order.setting,
                place_of_service=order.place_of_service,
                priority=OrderPriority(order.priority),
                state=order_state(order.cancelled_at, order.held_at),
            ),
            **_lists(store, session, study_id),
        )
        if study.recording_id is not None:
            rec = session.get(RecordingBlob, study.recording_id)
            assert rec is not None
            view.recording = RecordingOut(
                sha256=rec.sha256,
                format=rec.format,
                fs=rec.fs,
                n_leads=rec.n_leads,
                n_samples=rec.n_samples,
                duration_h=round(rec.duration_s / 3600, 3),
                start_time=rec.start_time,
                path=str(store.blob_root / rec.blob_dir / rec.main_file),
                import_warnings=list(import_warnings(study)),
            )
        run = session.scalar(
            select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.is_current.is_(True))
        )
        if run is not None:
            view.analysis = _analysis(store, run)
        interp = session.scalar(select(Interpretation).where(Interpretation.study_id == study_id))
        if interp is not None:
            view.interpretation = InterpretationOut(
                text=interp.text, author=interp.author, updated_at=interp.updated_at
            )
        coding = session.scalar(
            select(CodingRecord)
            .where(CodingRecord.study_id == study_id)
            .order_by(CodingRecord.id.desc())
            .limit(1)
        )
        if coding is not None and (who is None or allowed(who.role, Action.STUDY_BILLING)):
            view.coding = CodingOut(
                facts=json.loads(coding.facts_json),
                result=json.loads(coding.result_json),
                claim=json.loads(coding.claim_json),
                scrub=json.loads(coding.scrub_json),
            )
        upload = session.scalar(
            select(Upload).where(Upload.study_id == study_id).order_by(Upload.id.desc()).limit(1)
        )
        if upload is not None:
            view.upload = upload_out(upload, session)
        # until 2026-12-07 the mark was on the billing page only: `study show` and the API did not show it
        view.distinct = distinct_out(session, study)
        view.jobs = None if who is not None and not allowed(who.role, Action.JOB_READ) else [
            job_out(j) for j in list_jobs(session, study_id=study_id)
        ]
        view.audit_rows = int(
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.entity == "study", AuditEntry.entity_id == str(study_id))
            )
            or 0
        )
        if who is not None:
            audit_read(session, who.actor, "study", "study", study_id)
    view.signature_state = signature_state(store, study_id)
    return view


def job_out(j: JobInfo) -> JobOut:
    """A job of a study as the API and the study page show it."""
    return JobOut(
        id=j.id,
        kind=j.kind,
        status=j.status,  # type: ignore[arg-type]
        attempts=j.attempts,
        max_attempts=j.max_attempts,
        progress=j.progress,
        error=j.error,
        result=j.result,
        created_at=j.created_at,  # type: ignore[arg-type]
        not_before=j.not_before,  # type: ignore[arg-type]
        retry_wait=j.retry_wait,
    )


def upload_out(row: Upload, session: Session | None = None) -> UploadOut:
    """The upload's state: its import job's, then its analysis job's (the job table is the truth)."""
    from ecgdesk.store.jobs_models import Job

    state, progress, message, updated = row.state, row.progress, row.message, row.updated_at
    job = session.get(Job, row.job_id) if session is not None and row.job_id is not None else None
    if job is not None and job.status in ("failed", "cancelled") and row.state != "failed":
        what = "import" if job.kind == "upload.import" else "analysis"
        # the state says 'failed': the message names the job and why, without saying 'failed' again
        reason = " cancelled" if job.status == "cancelled" else f": {job.error}" if job.error else ""
        state, message = "failed", f"{what} job {job.id}{reason}"
    elif job is not None and session is not None and row.state == "analyzing":
        from ecgdesk.jobs.info import info  # a split analysis: the share of its parts done

        progress, updated = info(session, job).progress, job.updated_at
        if job.status == "done":
            run = json.loads(job.result_json or "{}").get("run_id")
            state, progress, message = "done", 1.0, f"imported and analysed (run {run}, job {job.id})"
        else:
            message = f"imported; analysis job {job.id} {job.status}"
    return UploadOut(
        id=row.id,
        state=state,  # type: ignore[arg-type]
        progress=progress,
        message=message,
        files=json.loads(row.files_json),
        size_bytes=row.size_bytes,
        updated_at=updated,
    )


@dataclass(frozen=True)
class AuditFilter:
    """What the administrator narrows the audit log to (each empty field: no restriction).

    ``patient`` is the patient's identifier (MRN): the rows about any of that patient's studies, since the
    log names its targets by study."""

    study_id: int | None = None
    patient: str | None = None
    user: str | None = None
    action: str | None = None
    since: str | None = None
    until: str | None = None

    def as_detail(self) -> dict[str, Any]:
        """The filters as the audit row of a read records them (only those set)."""
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


def _audit_query(session: Session, where: AuditFilter) -> Any:
    query = select(AuditEntry)
    if where.study_id is not None:
        get_study(session, where.study_id)
        query = query.where(AuditEntry.entity == "study", AuditEntry.entity_id == str(where.study_id))
    if where.patient:
        studies = (
            select(cast(Study.id, String))
            .join(Patient, Patient.id == Study.patient_id)
            .where(Patient.external_id == where.patient)
        )
        query = query.where(AuditEntry.entity == "study", AuditEntry.entity_id.in_(studies))
    if where.user:
        query = query.where(AuditEntry.actor == where.user)
    if where.action:
        query = query.where(AuditEntry.action.startswith(where.action, autoescape=True))
    if where.since:
        query = query.where(AuditEntry.at >= _iso_bound("since", where.since))
    if where.until:
        query = query.where(AuditEntry.at < _iso_bound("until", where.until))
    return query


def _audit_row(e: AuditEntry) -> AuditRowOut:
    return AuditRowOut(
        seq=e.seq,
        at=e.at,
        actor=e.actor,
        action=e.action,
        entity=e.entity,
        entity_id=e.entity_id,
        before=json.loads(e.before_json),
        after=json.loads(e.after_json),
        hash=e.hash,
    )


def audit_page(
    store: Store,
    actor: str,
    study_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
    *,
    user: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
    patient: str | None = None,
    newest_first: bool = False,
) -> AuditPage:
    """Audit rows in order (all, or those about one study or one patient's studies; of one user; whose
    action starts with ``action``; at or after ``since`` and before ``until``, ISO dates or times); reading
    them is audited."""
    limit, offset = max(1, min(limit, MAX_PAGE)), max(0, offset)
    where = AuditFilter(study_id, patient, user, action, since, until)
    with store.transaction() as session:
        query = _audit_query(session, where)
        total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        items = [
            _audit_row(e)
            for e in session.scalars(
                query.order_by(AuditEntry.seq.desc() if newest_first else AuditEntry.seq)
                .offset(offset)
                .limit(limit)
            )
        ]
        # The filters are kept: a search by patient is itself a look at that patient's record.
        audit_read(
            session,
            actor,
            "audit",
            "study" if study_id is not None else "audit",
            study_id or "*",
            where.as_detail() or None,
        )
    return AuditPage(items=items, total=total, offset=offset, limit=limit)


#: The most rows one export carries; a larger selection is refused in words (narrow the dates).
EXPORT_MAX = 100_000


def audit_export(store: Store, actor: str, where: AuditFilter) -> list[AuditRowOut]:
    """Every row the filters select, oldest first, for a CSV export. The export is itself audited
    (``read:audit-export``, with the filters and the number of rows): a copy of the log leaving the system
    is a disclosure the log must show (HIPAA 164.312(b))."""
    from ecgdesk.errors import InputError

    with store.transaction() as session:
        query = _audit_query(session, where)
        total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        if total > EXPORT_MAX:
            raise InputError(
                "since", f"{total:,} rows match, an export carries at most {EXPORT_MAX:,}: narrow the dates"
            )
        rows = [_audit_row(e) for e in session.scalars(query.order_by(AuditEntry.seq))]
        audit_read(
            session,
            actor,
            "audit-export",
            "study" if where.study_id is not None else "audit",
            where.study_id or "*",
            {**where.as_detail(), "rows": len(rows), "format": "csv"},
        )
    return rows


def _iso_bound(field: str, value: str | None) -> str:
    """An ISO date or date-time as the audit log writes its times (UTC, ``YYYY-MM-DDTHH:MM:SS...``)."""
    from datetime import date, datetime

    from ecgdesk.errors import InputError

    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value) if "T" in value or " " in value else None
        day = date.fromisoformat(value) if moment is None else None
    except ValueError:
        raise InputError(field, f"use an ISO date (2026-12-04) or date-time, got {value[:40]!r}") from None
    return moment.isoformat() if moment is not None else f"{day}T00:00:00"


def verify_audit(store: Store, actor: str) -> AuditVerifyOut:
    """Walk the whole chain (``GET /api/v1/audit/verify``; the command calls :func:`check_audit_chain`)."""
    return AuditVerifyOut(**asdict(check_audit_chain(store, actor)))


def upload_state(store: Store, upload_id: int) -> UploadOut:
    from ecgdesk.store.service_models import Upload

    with store.transaction() as session:
        row = session.get(Upload, upload_id)
        assert row is not None
        return upload_out(row, session)


def study_status(store: Store, study_id: int) -> str:
    with store.transaction() as session:
        return get_study(session, study_id).status
