"""What the review workstation reads: the role's worklist, a study's overview and its template beats.

Each function that shows patient data takes the acting user and writes one audit row in the transaction
that reads (``read:worklist``, ``read:study`` through :func:`~ecgdesk.workflow.views.show_study`,
``read:templates``). The browser pages and the JSON routes call these same functions.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from ecgdesk.analysis.findings import Findings, findings_from_dict
from ecgdesk.errors import InputError, is_digits
from ecgdesk.interop.model import OrderPriority
from ecgdesk.reports.context import ReportHeader
from ecgdesk.reports.events import RHYTHM_NAMES, rhythm_name
from ecgdesk.reports.tables import Clock, Row, duration_text, header_rows, parse_iso, summary_sections
from ecgdesk.store import Store
from ecgdesk.store.enums import Role, StudyStatus
from ecgdesk.store.models import AnalysisRun, Order, Patient, RecordingBlob, ReportVersion, Study
from ecgdesk.workflow.analysis import BEATS_NPZ
from ecgdesk.workflow.lifecycle import order_state
from ecgdesk.workflow.permissions import Principal, audit_read
from ecgdesk.workflow.report_parts import current_run
from ecgdesk.workflow.review_schemas import (
    EpisodeOut,
    PatientEventOut,
    RowOut,
    SectionOut,
    StudyOverview,
    TemplateBeats,
    TemplateBeatsOut,
    TemplateOut,
    WorklistIn,
    WorklistOut,
    WorklistRow,
)
from ecgdesk.workflow.studies import get_study, open_study_recording
from ecgdesk.workflow.views import show_study

#: What each role works on next: the worklist opens on these statuses.
NEXT_FOR_ROLE: dict[Role, tuple[StudyStatus, ...]] = {
    Role.TECHNICIAN: (StudyStatus.ORDERED, StudyStatus.RECORDED, StudyStatus.ANALYZED),
    Role.PHYSICIAN: (StudyStatus.REPORTED,),
    Role.BILLER: (StudyStatus.SIGNED, StudyStatus.CODED),
    Role.ADMIN: (),
}
#: Until the physician signs, a more urgent order comes first; after, its priority no longer orders the list.
UNSIGNED = (StudyStatus.ORDERED, StudyStatus.RECORDED, StudyStatus.ANALYZED, StudyStatus.REPORTED)
SERVICES = ("ambulatory_ecg", "event_monitor", "mct", "resting_ecg", "stress_test")


def _filtered(query: Any, service: str | None, search: str) -> Any:
    if service:
        query = query.where(Order.service == service)
    text = search.strip().lower()
    if text:
        match = [
            func.lower(Patient.name).contains(text, autoescape=True),
            func.lower(Patient.external_id).contains(text, autoescape=True),
        ]
        if is_digits(text) and len(text) <= 9:
            match.append(Study.id == int(text))
        query = query.where(or_(*match))
    return query


def _assigned(session: Session, ids: list[int]) -> dict[int, str]:
    """Per study: the physician who reviewed its latest report, else who made its current analysis."""
    out: dict[int, str] = {}
    if not ids:
        return out
    runs = select(AnalysisRun.study_id, AnalysisRun.created_by).where(
        AnalysisRun.study_id.in_(ids), AnalysisRun.is_current.is_(True)
    )
    for study_id, who in session.execute(runs):
        out[study_id] = who
    reviews = (
        select(ReportVersion.study_id, ReportVersion.reviewed_by)
        .where(ReportVersion.study_id.in_(ids), ReportVersion.reviewed_by.is_not(None))
        .order_by(ReportVersion.version)
    )
    for study_id, reviewer in session.execute(reviews):
        if reviewer is not None:
            out[study_id] = reviewer
    return out


def _urgency() -> Any:
    """The worklist's first sort key: the order's priority rank while the study is unsigned and its order
    not withdrawn (a cancelled or held STAT order is no urgent work now), else 0."""
    ranks = {p.value: p.rank for p in OrderPriority if p.rank}
    open_order = Order.cancelled_at.is_(None) & Order.held_at.is_(None)
    unsigned = Study.status.in_([s.value for s in UNSIGNED]) & open_order
    return case(*((unsigned & (Order.priority == value), rank) for value, rank in ranks.items()), else_=0)


def changed_after_sending(session: Session, study_ids: Iterable[int]) -> set[int]:
    """Of ``study_ids``, the reported (unsigned) studies whose analysis changed after their first report
    version was sent to the physician: their report versions were rendered from more than one analysis run
    (a technician's beat edit makes a new run; a re-analysis a new run, or an earlier one current again),
    so the version to review now is not the analysis first sent. A study whose beats were edited before its
    first report, or whose report was rendered again for a comment or an interpretation, is not marked."""
    ids = list(study_ids)
    if not ids:
        return set()
    query = (
        select(ReportVersion.study_id)
        .join(Study, Study.id == ReportVersion.study_id)
        .where(ReportVersion.study_id.in_(ids), Study.status == StudyStatus.REPORTED.value)
        .group_by(ReportVersion.study_id)
        .having(func.count(func.distinct(ReportVersion.analysis_run_id)) > 1)
    )
    return set(session.scalars(query))


def worklist(store: Store, actor: str, role: Role, query: WorklistIn) -> WorklistOut:
    """A page of the worklist for ``role``: by default the statuses it works on next, the unsigned studies
    of urgent orders first (STAT, ASAP, urgent), then newest first, with the count of studies in every
    status (same service and search)."""
    default = list(NEXT_FOR_ROLE.get(role, ()))
    statuses = list(query.statuses) if query.statuses is not None else default
    if query.service and query.service not in SERVICES:
        raise InputError("service", f"unknown service {query.service!r}; one of {', '.join(SERVICES)}")
    base = (
        select(Study, Patient.external_id, Patient.name, Order.service, Order.priority, Order.cancelled_at,
               Order.held_at, RecordingBlob)
        .join(Patient, Study.patient_id == Patient.id)
        .join(Order, Study.order_id == Order.id)
        .outerjoin(RecordingBlob, Study.recording_id == RecordingBlob.id)
    )
    base = _filtered(base, query.service, query.search)
    counted = _filtered(
        select(Study.status, func.count())
        .select_from(Study)
        .join(Patient, Study.patient_id == Patient.id)
        .join(Order, Study.order_id == Order.id),
        query.service,
        query.search,
    ).group_by(Study.status)
    listed = base.where(Study.status.in_([s.value for s in statuses])) if statuses else base
    with store.transaction() as session:
        counts = {s.value: 0 for s in StudyStatus}
        counts.update({status: int(n) for status, n in session.execute(counted)})
        total = sum(counts[s.value] for s in statuses) if statuses else sum(counts.values())
        rows = session.execute(
            listed.order_by(_urgency().desc(), Study.updated_at.desc(), Study.id.desc())
            .offset(query.offset)
            .limit(query.limit)
        ).all()
        assigned = _assigned(session, [r[0].id for r in rows])
        changed = changed_after_sending(session, [r[0].id for r in rows])
        items = [
            WorklistRow(
                id=s.id,
                status=StudyStatus(s.status),
                patient_id=pid,
                patient_name=name,
                service=service,
                priority=OrderPriority(priority),
                order_state=order_state(cancelled, held),
                created_at=s.created_at,
                updated_at=s.updated_at,
                recording_start=rec.start_time if rec is not None else None,
                duration_h=round(rec.duration_s / 3600, 4) if rec is not None else None,  # 10 s ECGs too
                assigned=assigned.get(s.id),
                changed_after_sending=s.id in changed,
            )
            for s, pid, name, service, priority, cancelled, held, rec in rows
        ]
        detail = {
            "statuses": [s.value for s in statuses],
            "service": query.service,
            "searched": bool(query.search.strip()),  # what was searched is not logged: it may be a name
            "offset": query.offset,
            "ids": [r.id for r in items],
        }
        audit_read(session, actor, "worklist", "study", "*", detail)
    return WorklistOut(
        items=items,
        total=total,
        offset=query.offset,
        limit=query.limit,
        counts=counts,
        statuses=statuses,
        default_statuses=default,
        services=list(SERVICES),
    )


def _episode_rows(findings: Findings, clock: Clock) -> list[EpisodeOut]:
    from ecgdesk.reports.events import _detail

    rows = []
    for i, e in enumerate(sorted(findings.episodes, key=lambda e: e.start_s)):
        rows.append(
            EpisodeOut(
                index=i,
                type=e.type.value,
                name=RHYTHM_NAMES.get(e.type, e.type.value),
                start_s=e.start_s,
                end_s=e.end_s,
                at=clock.at(e.start_s),
                duration=f"{e.duration_s:.1f} s" if e.duration_s < 60 else duration_text(e.duration_s),
                detail=_detail(e),
            )
        )
    return rows


def _scanning(view: StudyOverview, findings: Findings, store: Store, study_id: int) -> None:
    s = findings.summary
    start = parse_iso(s.start_time) or (view.study.recording.start_time if view.study.recording else None)
    clock = Clock(start, s.recording.duration_s)
    order, patient = view.study.order, view.study.patient
    header = ReportHeader(
        patient_name=patient.name,
        patient_id=patient.id,
        birth_date=patient.birth_date,
        sex=patient.sex,
        ordering_physician=order.ordering_name or "",
        ordering_npi=order.ordering_npi,
        indications=tuple(order.indications),
        device=s.recording.device or "",
        recording_start=start,
        wear_time_s=s.wear_time_s,
        analyzable_time_s=s.analyzable_time_s,
        study_id=str(study_id),
        report_version=max(1, len(view.study.reports)),
    )
    left, right = header_rows(header, clock, findings)
    if not view.study.reports:  # the report's header says version 1 at least; the page has none to name yet
        right = [Row(r.label, f"{study_id} (no report yet)") if r.label == "Study" else r for r in right]
    view.header_left = [RowOut(label=r.label, value=r.value) for r in left]
    view.header_right = [RowOut(label=r.label, value=r.value) for r in right]
    view.sections = [
        SectionOut(title=sec.title, rows=[RowOut(label=r.label, value=r.value) for r in sec.rows])
        for sec in summary_sections(findings, clock)
    ]
    view.trend_interval_s = findings.hr_trend.interval_s
    view.trend_bpm = [None if b is None else round(b, 1) for b in findings.hr_trend.bpm]
    view.episodes = _episode_rows(findings, clock)
    view.patient_events = [
        PatientEventOut(
            time_s=e.time_s,
            at=clock.at(e.time_s),
            source=e.source.value,
            symptom=e.symptom or "",
            rhythm=rhythm_name(e),
            hr_bpm=e.hr_bpm,
        )
        for e in findings.patient_events
    ]
    view.quality_epoch_s, view.quality = findings.quality.epoch_s, findings.quality.states
    view.templates = [
        TemplateOut(template_id=t.template_id, label=t.label, n_beats=t.n_beats)
        for t in sorted(findings.templates, key=lambda t: -t.n_beats)
    ]
    view.beats_by_class = dict(s.beats_by_class)
    view.lead = s.recording.lead


def study_overview(store: Store, study_id: int, who: Principal) -> StudyOverview:
    """The study's detail with its findings laid out for the study page and the viewer (one audited read;
    the detail embeds what ``who``'s role may read, see :func:`~ecgdesk.workflow.views.show_study`)."""
    detail = show_study(store, study_id, who)
    view = StudyOverview(study=detail, kind="none")
    with store.transaction() as session:
        study = get_study(session, study_id)
        view.technician_comments = study.technician_comments or ""
        view.changed_after_sending = bool(changed_after_sending(session, [study_id]))
        order = session.get(Order, study.order_id)
        assert order is not None
        service = order.service
        rec = session.get(RecordingBlob, study.recording_id) if study.recording_id else None
        blob = None
        if rec is not None:
            view.fs, view.duration_s, view.recording_start = rec.fs, rec.duration_s, rec.start_time
            blob = (rec.blob_dir, rec.main_file)
        run = session.scalar(
            select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.is_current.is_(True))
        )
        kind_stress = service in ("resting_ecg", "stress_test")
        document = json.loads(run.findings_json) if run is not None and kind_stress else None
        findings = parsed_findings(store, run) if run is not None and not kind_stress else None
    if blob is not None:
        from ecgdesk.workflow.pyramids import open_blob_recording

        view.leads = list(open_blob_recording(store, *blob).lead_names)
    if kind_stress:
        view.kind = service  # type: ignore[assignment]
        view.measurements = document
        return view
    if findings is not None:
        view.kind = "scanning"
        _scanning(view, findings, store, study_id)
    return view


_PARSED: OrderedDict[tuple[str, int, str], Findings] = OrderedDict()
_PARSED_LOCK = threading.Lock()


def parsed_findings(store: Store, run: AnalysisRun) -> Findings:
    """The run's findings as objects, parsed once per run: a run never changes (an edit makes a new run), and
    parsing the findings of a 14-day recording (tens of thousands of episodes) takes most of a second, which
    every opening of the study page or the viewer would otherwise pay. Callers must not change the result."""
    key = (store.engine.url.render_as_string(hide_password=True), run.id, run.input_hash)
    with _PARSED_LOCK:
        if key in _PARSED:
            _PARSED.move_to_end(key)
            return _PARSED[key]
    findings = findings_from_dict(json.loads(run.findings_json))
    with _PARSED_LOCK:
        _PARSED[key] = findings
        while len(_PARSED) > 8:
            _PARSED.popitem(last=False)
    return findings


#: The window of a template beat shown superimposed: 0.25 s before the R peak to 0.45 s after.
BEFORE_S, AFTER_S = 0.25, 0.45


def template_beats(store: Store, study_id: int, actor: str, per_template: int = 12) -> TemplateBeatsOut:
    """For each template: its median beat and up to ``per_template`` of its beats, spread over the whole
    recording, in µV on the analysed lead (the read is audited)."""
    if not 1 <= per_template <= 50:
        raise InputError("per_template", f"must be 1 to 50, got {per_template}")
    with store.transaction() as session:
        get_study(session, study_id)
        run = current_run(session, study_id)
        row = session.get(RecordingBlob, run.recording_id)
        assert row is not None
        findings = parsed_findings(store, run)
        folder = store.resolve(run.beats_path).parent
        run_id = run.id
        audit_read(session, actor, "templates", "study", study_id, {"run_id": run.id})
    recording = open_study_recording(store, row)
    lead = findings.summary.recording.lead
    index = recording.lead_index(lead)
    fs = recording.fs
    before, after = int(round(BEFORE_S * fs)), int(round(AFTER_S * fs))
    with np.load(folder / BEATS_NPZ) as data:
        samples, ids, labels = data["samples"], data["template_ids"], data["labels"]
    out = []
    known = np.isin(ids, [t.template_id for t in findings.templates])
    for t in sorted(findings.templates, key=lambda t: -t.n_beats):
        own = ids == t.template_id
        mine = samples[own]
        mine = mine[(mine >= before) & (mine + after < recording.n_samples)]
        picks = (
            mine[np.linspace(0, mine.size - 1, min(per_template, mine.size)).astype(int)]
            if mine.size
            else mine
        )
        beats = []
        for peak in picks:
            seg = recording.read(int(peak) - before, int(peak) + after, [index])[:, 0]
            seg = seg - float(np.median(seg))
            beats.append(np.round(np.nan_to_num(seg) * 1000).astype(int).tolist())
        median, median_start = _median_window(t.waveform, t.fiducial, t.fs, fs, before, after, beats)
        out.append(
            TemplateBeats(
                template_id=t.template_id,
                label=t.label,
                n_beats=t.n_beats,
                beats_by_label=_label_counts(labels[own]),
                median_uv=median,
                median_start=median_start,
                beats_uv=beats,
            )
        )
    return TemplateBeatsOut(
        run_id=run_id,
        fs=fs,
        lead=lead,
        before_s=BEFORE_S,
        templates=out,
        beats_by_label=_label_counts(labels),
        outside_templates=_label_counts(labels[~known]),
    )


def _label_counts(labels: np.ndarray) -> dict[str, int]:
    """Beats per label, most first (labels absent are left out)."""
    names, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {str(names[i]): int(counts[i]) for i in order}


def _median_window(
    waveform: list[float],
    fiducial: int,
    wave_fs: float,
    fs: float,
    before: int,
    after: int,
    beats: list[list[int]],
) -> tuple[list[int], int]:
    """The template's median beat in the beats' window (µV) and where in that window it starts.

    The median is kept only where it has samples (no padding), and shifted by up to 80 ms onto the mean of
    the shown beats: a template's fiducial and the detector's R sample need not be the same point of a
    ventricular beat, and a shifted median over its own beats would mislead the eye.
    """
    wave = np.asarray(waveform, dtype=float)
    if not wave.size or abs(wave_fs - fs) > 1e-6:
        return [], 0
    wave = wave - float(np.median(wave))
    start = before - fiducial  # where the median's first sample falls in the window
    if beats:
        mean = np.mean(np.asarray(beats, dtype=float), axis=0)
        best, best_score = 0, -np.inf
        for shift in range(-int(0.08 * fs), int(0.08 * fs) + 1):
            lo, hi = max(0, start + shift), min(before + after, start + shift + wave.size)
            if hi - lo < wave.size // 2:
                continue
            a = wave[lo - start - shift : hi - start - shift]
            b = mean[lo:hi] / 1000.0
            score = float(np.dot(a - a.mean(), b - b.mean()) / (np.std(a) * np.std(b) * a.size + 1e-12))
            if score > best_score:
                best, best_score = shift, score
        start += best
    lo, hi = max(0, start), min(before + after, start + wave.size)
    if hi <= lo:
        return [], 0
    part = wave[lo - start : hi - start]
    return np.round(part * 1000).astype(int).tolist(), lo
