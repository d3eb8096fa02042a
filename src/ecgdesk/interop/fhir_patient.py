"""FHIR R4 patient updates in: a Patient resource (or a Bundle holding one Patient and nothing else), the FHIR
counterpart of ADT^A08, sent where orders are sent. Validated with ``fhir.resources.R4B`` and read as an
order's Patient is (the record number by identifier type, the official name, a full birth date)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pydantic
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient

from ecgdesk.errors import InputError
from ecgdesk.interop.fhir import (
    ORDER_BUNDLE_TYPES,
    _check_entries,
    _error,
    _order_patient,
    _refuse_control_characters,
)
from ecgdesk.interop.model import PatientEvent, PatientUpdate


def _resources(document: dict[str, Any]) -> list[Any]:
    return [e.get("resource") if isinstance(e, dict) else None for e in document.get("entry") or []]


def is_patient_document(document: Any) -> bool:
    """Whether a FHIR body is a patient update: a Patient, or a Bundle whose entries are all Patients."""
    if not isinstance(document, dict):
        return False
    if document.get("resourceType") == "Patient":
        return True
    resources = _resources(document) if isinstance(document.get("entry"), list) else []
    return (document.get("resourceType") == "Bundle" and bool(resources)
            and all(isinstance(r, dict) and r.get("resourceType") == "Patient" for r in resources))


def parse_patient(document: dict[str, Any], source: str = "FHIR resource") -> PatientUpdate:
    """A Patient (alone or the one entry of a Bundle) as an update of that patient's demographics."""
    _refuse_control_characters(document, source)
    resource = document
    if document.get("resourceType") == "Bundle":
        _check_entries(document.get("entry"), source)
        try:
            Bundle.model_validate(document)
        except pydantic.ValidationError as error:
            raise _error(error, source, "Bundle") from None
        if document.get("type") not in ORDER_BUNDLE_TYPES:
            raise InputError("Bundle.type", f"a {document.get('type')!r} Bundle is not an update (a server's "
                             f"answer, not a request); send it as {', '.join(ORDER_BUNDLE_TYPES)}", source)
        patients = _resources(document)
        if len(patients) != 1:
            raise InputError("Bundle.entry", f"{len(patients)} Patients; send one patient update per message",
                             source)
        resource = patients[0]
    try:
        Patient.model_validate(resource)
    except pydantic.ValidationError as error:
        raise _error(error, source, "Patient") from None
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]
    read_from = (("patient-id", "Patient.identifier"), ("name", "Patient.name"),
                 ("birth-date", "Patient.birthDate"), ("sex", "Patient.gender"))
    patient = _order_patient(resource, source)
    return PatientUpdate(PatientEvent.UPDATE, f"fhir:{digest}", patient, None, source, read_from)
