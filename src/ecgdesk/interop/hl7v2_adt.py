"""HL7 v2 patient administration in: ADT^A08 / ADT^A31 (the patient's demographics changed) and ADT^A40
(merge patient: MRG-1's record is now PID-3's), as every EHR interface sends them beside its orders.

Read as orders are (the same header checks, PID read field by field and checked, the record number chosen
by identifier type); what they do to the record is the workflow's (``workflow.interop_patients``).
"""

from __future__ import annotations

from ecgdesk.errors import InputError
from ecgdesk.interop import authority
from ecgdesk.interop.hl7v2 import (
    PATIENT_TYPES,
    _patient_identifier,
    only_one,
    read_header,
    read_patient,
)
from ecgdesk.interop.hl7v2_text import component, field_at
from ecgdesk.interop.model import MAX_ID, PatientEvent, PatientUpdate, within

_READ_FROM = (("patient-id", "PID-3"), ("name", "PID-5"), ("birth-date", "PID-7"), ("sex", "PID-8"))


def parse_patient_message(text: str, source: str = "HL7 message") -> PatientUpdate:
    """An ADT^A08, ADT^A31 or ADT^A40 as a :class:`PatientUpdate` (every field we use checked)."""
    segments, kind, control_id = read_header(text, source, PATIENT_TYPES)
    event = PatientEvent(component(kind, 2))
    if "PID" not in segments:
        raise InputError("PID", f"an ADT^{event.value} needs a PID segment", source)
    if not event.is_merge:  # a merge's PID/MRG pairs are counted below
        only_one(segments, "PID", "patients", source)
    patient = read_patient(segments["PID"][0], source)
    if not event.is_merge:
        return PatientUpdate(event, control_id, patient, None, source, _READ_FROM)
    merges = segments.get("MRG") or []
    if not merges:
        raise InputError("MRG", "a merge (ADT^A40) needs an MRG segment: MRG-1 the prior patient id", source)
    if len(merges) > 1 or len(segments["PID"]) > 1:
        # 2.5.1 allows several PID/MRG pairs; taking the first would leave the others unmerged, unanswered
        count = max(len(merges), len(segments["PID"]))
        raise InputError("MRG[2]", f"{count} merges in one message; ECG Desk takes one merge (one PID and "
                                   "one MRG) per message", source)
    prior_cx = _patient_identifier(field_at(merges[0], 1), source, "MRG-1")
    prior = component(prior_cx, 1)
    if not prior:
        raise InputError("MRG-1", "the prior patient identifier is empty", source)
    within(prior, MAX_ID, "MRG-1", source)
    return PatientUpdate(event, control_id, patient, prior, source, (*_READ_FROM, ("prior-id", "MRG-1")),
                         authority.from_cx(prior_cx))
