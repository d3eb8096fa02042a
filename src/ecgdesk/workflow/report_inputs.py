"""What a report version is rendered from, as one SHA-256 read from the database alone.

A report's content is a function of: the current analysis run (its id and input hash, which pin the
recording, the algorithm and the technician's edits), the patient and the order, the technician's comments,
the physician's interpretation, the addenda, the facility line and the renderer's release. Each version
stores this digest when it is rendered (``report_versions.inputs_sha256``), so reviewing and signing can
tell whether anything changed by comparing digests: no findings rebuilt, no recording opened, no analysis
re-run, nothing rendered (issue 12, item 8).
"""

from __future__ import annotations

import hashlib
import json
import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk import __version__
from ecgdesk.store import canonical_json
from ecgdesk.store.models import Addendum, Interpretation, Order, Patient, Study
from ecgdesk.workflow.report_parts import FACILITY_ENV, current_run


def report_inputs_sha256(session: Session, study: Study) -> str:
    run = current_run(session, study.id)
    patient = session.get(Patient, study.patient_id)
    order = session.get(Order, study.order_id)
    assert patient is not None and order is not None
    interpretation = session.scalar(select(Interpretation.text).where(Interpretation.study_id == study.id))
    addenda = session.execute(
        select(Addendum.text, Addendum.author, Addendum.created_at)
        .where(Addendum.study_id == study.id)
        .order_by(Addendum.id)
    ).all()
    inputs = {
        "renderer": __version__,
        "run": [run.id, run.input_hash, run.recording_id],
        "patient": [patient.external_id, patient.name, patient.birth_date, patient.sex],
        "order": [order.service, order.ordering_npi, order.ordering_name, json.loads(order.indications_json)],
        "comments": study.technician_comments,
        "interpretation": interpretation or "",
        "addenda": [[text, author, str(at)] for text, author, at in addenda],
        "facility": os.environ.get(FACILITY_ENV, ""),
    }
    return hashlib.sha256(canonical_json(inputs).encode("utf-8")).hexdigest()
