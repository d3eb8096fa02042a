"""The strips a scanning report prints, as a technician (or the physician) chose them.

The report proposes strips (:mod:`ecgdesk.reports.events`: the most significant episode of each kind and one
per patient-triggered event). On the workstation a person includes or leaves out each of them and adds
strips anywhere in the recording with a caption; from the first such choice on, the report prints exactly
the selection (:func:`selected_strips`, read by the report's context). Rows live in ``report_strips``:
one per proposed strip whose inclusion was set (``key`` ``event:<title>`` or ``patient:<seconds>``) and one
per added strip (``manual:<n>``). Choices are refused once the study is signed (the report is frozen then;
an addendum amends it), and every change is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ecgdesk.analysis.findings import Findings
from ecgdesk.errors import InputError, NotFoundError
from ecgdesk.reports.events import EventStrip, patient_event_strips, select_event_strips
from ecgdesk.reports.scanning_pdf import STRIP_S
from ecgdesk.store import Store, append
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.workstation_models import ReportStrip
from ecgdesk.workflow.lifecycle import now, require_status
from ecgdesk.workflow.permissions import audit_read
from ecgdesk.workflow.review_schemas import StripItem, StripSelectionOut
from ecgdesk.workflow.studies import get_study

SELECTABLE = {StudyStatus.ANALYZED, StudyStatus.REPORTED}
MANUAL_NOTE = "strip chosen by"


@dataclass(frozen=True)
class _Proposed:
    key: str
    kind: str
    strip: EventStrip


def _proposed(findings: Findings) -> list[_Proposed]:
    events = [_Proposed(f"event:{s.title}", "event", s) for s in select_event_strips(findings, STRIP_S)]
    patient = [
        _Proposed(f"patient:{s.focus_s:.1f}", "patient", s) for s in patient_event_strips(findings, STRIP_S)
    ]
    return events + patient


def _manual_strip(row: ReportStrip) -> EventStrip:
    start, length = float(row.start_s or 0.0), float(row.duration_s or STRIP_S)
    return EventStrip(
        row.caption or "Selected strip",
        "Strip selected on the workstation",
        f"{MANUAL_NOTE} {row.created_by}",
        start,
        length,
        start + length / 2,
    )


def _rows(session: Session, study_id: int) -> list[ReportStrip]:
    query = select(ReportStrip).where(ReportStrip.study_id == study_id).order_by(ReportStrip.id)
    return list(session.scalars(query))


def _row(session: Session, study_id: int, key: str) -> ReportStrip | None:
    return session.scalar(select(ReportStrip).where(ReportStrip.study_id == study_id, ReportStrip.key == key))


def selection_inputs(session: Session, study_id: int) -> list[list[object]]:
    """The choice as plain values, for the digest of what a report version is rendered from."""
    return [
        [r.key, bool(r.included), r.start_s, r.duration_s, r.caption, r.lead]
        for r in sorted(_rows(session, study_id), key=lambda r: r.key)
    ]


def selected_strips(
    session: Session, study_id: int, findings: Findings
) -> tuple[list[EventStrip], list[EventStrip]] | None:
    """The event and patient-event strips the report prints, or ``None`` when nobody chose (the report
    then prints what it proposes)."""
    rows = _rows(session, study_id)
    if not rows:
        return None
    chosen = {r.key: r.included for r in rows}
    proposed = _proposed(findings)
    events = [p.strip for p in proposed if p.kind == "event" and chosen.get(p.key, True)]
    manual = sorted(
        (r for r in rows if r.key.startswith("manual:") and r.included), key=lambda r: r.start_s or 0
    )
    events += [_manual_strip(r) for r in manual]
    patient = [p.strip for p in proposed if p.kind == "patient" and chosen.get(p.key, True)]
    return events, patient


def _findings(session: Session, study_id: int) -> Findings:
    import json

    from ecgdesk.analysis.findings import findings_from_dict
    from ecgdesk.workflow.report_parts import current_run

    return findings_from_dict(json.loads(current_run(session, study_id).findings_json))


def strip_selection(store: Store, study_id: int, actor: str | None = None) -> StripSelectionOut:
    """Every proposed and added strip with whether the report prints it (with ``actor``: audited read)."""
    with store.transaction() as session:
        study = get_study(session, study_id)
        findings = _findings(session, study_id)
        rows = _rows(session, study_id)
        chosen = {r.key: r.included for r in rows}
        items = [
            StripItem(
                key=p.key,
                kind=p.kind,  # type: ignore[arg-type]
                title=p.strip.title,
                rhythm=p.strip.rhythm,
                detail=p.strip.detail,
                start_s=p.strip.start_s,
                duration_s=p.strip.duration_s,
                focus_s=p.strip.focus_s,
                included=chosen.get(p.key, True),
            )
            for p in _proposed(findings)
        ]
        for r in rows:
            if r.key.startswith("manual:"):
                s = _manual_strip(r)
                items.append(
                    StripItem(
                        key=r.key,
                        kind="manual",
                        title=s.title,
                        rhythm=s.rhythm,
                        detail=s.detail,
                        start_s=s.start_s,
                        duration_s=s.duration_s,
                        focus_s=s.focus_s,
                        included=r.included,
                    )
                )
        editable = StudyStatus(study.status) in SELECTABLE
        if actor is not None:
            audit_read(session, actor, "strips", "study", study_id)
    return StripSelectionOut(items=items, customised=bool(rows), editable=editable, strip_s=round(STRIP_S, 3))


def set_strip_included(store: Store, study_id: int, key: str, included: bool, actor: str) -> None:
    """Include or leave out one strip (a proposed one by its key, or one that was added)."""
    with store.transaction() as session:
        study = get_study(session, study_id, for_update=True)  # a signature being recorded waits, or refuses
        require_status(study, "change the report strips of", SELECTABLE)
        row = _row(session, study_id, key)
        if row is None:
            if key not in {p.key for p in _proposed(_findings(session, study_id))}:
                raise NotFoundError(
                    "strip", f"no strip {key!r} in this study's report", source=f"study {study_id}"
                )
            row = ReportStrip(study_id=study_id, key=key, created_by=actor, updated_at=now())
            session.add(row)
        before = None if row.included is None else {"included": bool(row.included)}
        row.included, row.updated_at = included, now()
        append(session, actor, "report:strips", "study", study_id, before, {"key": key, "included": included})


def add_strip(
    store: Store, study_id: int, start_s: float, caption: str, actor: str, lead: str | None = None
) -> str:
    """Add a strip from ``start_s`` (seconds from the recording's start) with a caption; returns its key."""
    caption = caption.strip()
    if not caption:
        raise InputError("caption", "write a caption for the strip (what it shows)")
    if len(caption) > 200:
        raise InputError("caption", f"at most 200 characters, got {len(caption)}")
    with store.transaction() as session:
        study = get_study(session, study_id, for_update=True)  # as set_strip_included
        require_status(study, "add a report strip to", SELECTABLE)
        duration = _findings(session, study_id).summary.recording.duration_s
        if not 0 <= start_s < duration:
            raise InputError(
                "start_s", f"must be within the recording (0 to {duration:.1f} s), got {start_s}"
            )
        start = max(0.0, min(start_s, duration - STRIP_S))
        n = 1 + sum(1 for r in _rows(session, study_id) if r.key.startswith("manual:"))
        key = f"manual:{n}"
        while _row(session, study_id, key) is not None:
            n += 1
            key = f"manual:{n}"
        session.add(
            ReportStrip(
                study_id=study_id,
                key=key,
                included=True,
                start_s=start,
                duration_s=min(STRIP_S, duration),
                caption=caption,
                lead=lead,
                created_by=actor,
                updated_at=now(),
            )
        )
        after = {"key": key, "start_s": round(start, 3), "caption": caption}
        append(session, actor, "report:strip-add", "study", study_id, None, after)
    return key


def remove_strip(store: Store, study_id: int, key: str, actor: str) -> None:
    """Remove an added strip (a proposed one is left out instead: :func:`set_strip_included`)."""
    if not key.startswith("manual:"):
        raise InputError("key", "only an added strip can be removed; leave a proposed strip out instead")
    with store.transaction() as session:
        study = get_study(session, study_id, for_update=True)  # a signature being recorded waits, or refuses
        require_status(study, "change the report strips of", SELECTABLE)
        row = _row(session, study_id, key)
        if row is None:
            raise NotFoundError("strip", f"no added strip {key!r}", source=f"study {study_id}")
        before = {"key": key, "start_s": row.start_s, "caption": row.caption}
        session.execute(delete(ReportStrip).where(ReportStrip.id == row.id))
        append(session, actor, "report:strip-remove", "study", study_id, before, None)
