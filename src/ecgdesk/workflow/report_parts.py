"""What every report of a study shows whatever its kind: the identification header, the physician's text
and the addenda, read from the store for the current analysis run."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import ConflictError
from ecgdesk.records import Recording
from ecgdesk.reports.context import Addendum as AddendumBlock
from ecgdesk.reports.context import ReportHeader
from ecgdesk.store import Store
from ecgdesk.store.models import (
    Addendum,
    AnalysisRun,
    Interpretation,
    Order,
    Patient,
    RecordingBlob,
    Study,
    User,
)
from ecgdesk.workflow.lifecycle import import_warnings
from ecgdesk.workflow.studies import open_study_recording

FACILITY_ENV = "ECGDESK_FACILITY"


@dataclass(frozen=True)
class ReportParts:
    run: AnalysisRun
    row: RecordingBlob
    recording: Recording
    header: ReportHeader
    interpretation: str
    addenda: list[AddendumBlock]


def current_run(session: Session, study_id: int) -> AnalysisRun:
    run = session.scalar(
        select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.is_current.is_(True))
    )
    if run is None:
        raise ConflictError(
            "study", "has no analysis yet; run 'study analyze' first", source=f"study {study_id}"
        )
    return run


def author_name(session: Session, username: str) -> str:
    user = session.scalar(select(User).where(User.username == username))
    return user.display_name if user else username


def report_parts(store: Store, session: Session, study: Study, version: int) -> ReportParts:
    """The header, interpretation and addenda of ``study`` as stored now, labelled as report ``version``."""
    run = current_run(session, study.id)
    patient = session.get(Patient, study.patient_id)
    order = session.get(Order, study.order_id)
    row = session.get(RecordingBlob, run.recording_id)
    assert patient is not None and order is not None and row is not None
    recording = open_study_recording(store, row, import_warnings(study))
    interpretation = session.scalar(select(Interpretation).where(Interpretation.study_id == study.id))
    addenda = [
        AddendumBlock(a.text, author_name(session, a.author), a.created_at)
        for a in session.scalars(select(Addendum).where(Addendum.study_id == study.id).order_by(Addendum.id))
    ]
    header = ReportHeader(
        patient_name=patient.name,
        patient_id=patient.external_id,
        birth_date=patient.birth_date,
        sex=patient.sex,
        ordering_physician=order.ordering_name or "",
        ordering_npi=order.ordering_npi,
        indications=tuple(json.loads(order.indications_json)),
        device=recording.device or "",
        recording_start=recording.start_time,
        recording_end=recording.end_time,
        wear_time_s=run.wear_s,
        analyzable_time_s=run.analyzable_s,
        facility=os.environ.get(FACILITY_ENV, ""),
        study_id=str(study.id),
        report_version=version,
    )
    return ReportParts(run, row, recording, header, interpretation.text if interpretation else "", addenda)
