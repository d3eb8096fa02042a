"""FHIR R4 patient updates in: a Patient resource (or a Bundle holding one Patient and nothing else), the FHIR
counterpart of ADT^A08, sent where orders are sent. Validated with ``fhir.resources.R4B`` and read as an
order's Patient is (the record number by identifier type, the official name, a full birth date).

A Patient with a ``link`` of type ``replaced-by`` (this record no longer stands: the linked one does) or
``replaces`` (this record stands, the linked one was merged into it) says two records were merged: FHIR's
ADT^A40, read as one (``PatientEvent.MERGE``: the prior record number, the surviving patient). The linked
Patient is named by a reference to a Patient in the same Bundle or by its identifier; ``refer`` and
``seealso`` links say no merge and are not read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
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
    _record_number,
    _refuse_control_characters,
)
from ecgdesk.interop.fhir_refs import find_reference
from ecgdesk.interop.model import MAX_ID, PatientEvent, PatientUpdate, within

#: Patient.link types (R4 link-type) that say two records are one: the merge's direction
_MERGE_LINKS = ("replaced-by", "replaces")
_OTHER = "Patient.link.other"


def _resources(document: dict[str, Any]) -> list[Any]:
    return [e.get("resource") if isinstance(e, dict) else None for e in document.get("entry") or []]


def _links(resource: dict[str, Any]) -> list[tuple[str, Any]]:
    """(type, other) of a Patient's merge links."""
    return [(str(link.get("type")), link.get("other")) for link in resource.get("link") or []
            if isinstance(link, dict) and link.get("type") in _MERGE_LINKS]


def _linked_id(other: Any, source: str) -> str:
    """The record number a link names by identifier alone (no Patient of it in the message)."""
    identifier = other.get("identifier") if isinstance(other, dict) else None
    if not isinstance(identifier, dict) or not identifier.get("value"):
        raise InputError(_OTHER, "names no Patient in the message and carries no identifier: which record "
                                 "is it?", source)
    try:
        return str(_record_number({"identifier": [identifier]}, source)["value"])
    except InputError as error:
        raise InputError(_OTHER, error.reason, source) from None


def _linked_system(patients: list[dict[str, Any]], value: str) -> str | None:
    """The system of the identifier a link names record ``value`` by (None: none given)."""
    for resource in patients:
        for _, other in _links(resource):
            identifier = other.get("identifier") if isinstance(other, dict) else None
            if isinstance(identifier, dict) and str(identifier.get("value")) == value:
                return str(identifier.get("system") or "") or None
    return None


def _merge(patients: list[dict[str, Any]], message_id: str, source: str) -> PatientUpdate:
    """The one merge the links of ``patients`` state (both directions of it may be given)."""
    # (prior id, surviving id) -> (prior Patient, surviving Patient: None where named by identifier alone,
    # the link type it was read from)
    merges: dict[tuple[str, str], tuple[dict[str, Any] | None, dict[str, Any] | None, str]] = {}
    for resource in patients:
        own = str(_record_number(resource, source)["value"])
        for kind, other in _links(resource):
            linked = find_reference(patients, other, "Patient", _OTHER, source)
            other_id = str(_record_number(linked, source)["value"]) if linked else _linked_id(other, source)
            if kind == "replaced-by":
                merges.setdefault((own, other_id), (resource, linked, kind))
            else:
                merges.setdefault((other_id, own), (linked, resource, kind))
    if len(merges) > 1:
        raise InputError("Patient.link", f"{len(merges)} merges in one message; send one merge (two records) "
                                         "per message", source)
    (prior_id, surviving_id), (prior, survivor, kind) = next(iter(merges.items()))
    if len(patients) > 2 or any(p is not prior and p is not survivor for p in patients):
        raise InputError("Bundle.entry", "a Patient that is not part of the merge; send one merge per "
                                         "message", source)
    within(prior_id, MAX_ID, _OTHER, source)
    if survivor is not None:
        patient = _order_patient(survivor, source)
    else:  # replaced-by an identifier alone: the record goes on under it, as this Patient describes it
        assert prior is not None
        patient = replace(_order_patient(prior, source), id=within(surviving_id, MAX_ID, _OTHER, source),
                          id_issuer=_linked_system(patients, surviving_id))
    # the prior record's system, matched as PID-3.4 is (interop_issuer): the same number of another system
    # is another patient
    prior_issuer = (str(_record_number(prior, source).get("system") or "") or None if prior is not None
                    else _linked_system(patients, prior_id))
    # where the sender finds each id: the linking Patient's own identifier, or its link
    prior_field, surviving_field = (("Patient.identifier", _OTHER) if kind == "replaced-by"
                                    else (_OTHER, "Patient.identifier"))
    read_from = (("patient-id", surviving_field), ("name", "Patient.name"),
                 ("birth-date", "Patient.birthDate"), ("sex", "Patient.gender"), ("prior-id", prior_field))
    return PatientUpdate(PatientEvent.MERGE, message_id, patient, prior_id, source, read_from, prior_issuer)


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
    if document.get("resourceType") == "Bundle":
        _check_entries(document.get("entry"), source)
        try:
            Bundle.model_validate(document)
        except pydantic.ValidationError as error:
            raise _error(error, source, "Bundle") from None
        if document.get("type") not in ORDER_BUNDLE_TYPES:
            raise InputError("Bundle.type", f"a {document.get('type')!r} Bundle is not an update (a server's "
                             f"answer, not a request); send it as {', '.join(ORDER_BUNDLE_TYPES)}", source)
        # each with its entry's fullUrl, which a link may reference it by
        patients = [{**entry["resource"], "_fullUrl": entry.get("fullUrl")} for entry in document["entry"]]
    else:
        patients = [document]
    for resource in patients:
        try:
            Patient.model_validate({k: v for k, v in resource.items() if k != "_fullUrl"})
        except pydantic.ValidationError as error:
            raise _error(error, source, "Patient") from None
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]
    if any(_links(p) for p in patients):
        return _merge(patients, f"fhir:{digest}", source)
    if len(patients) != 1:
        raise InputError("Bundle.entry", f"{len(patients)} Patients; send one patient update per message",
                         source)
    read_from = (("patient-id", "Patient.identifier"), ("name", "Patient.name"),
                 ("birth-date", "Patient.birthDate"), ("sex", "Patient.gender"))
    patient = _order_patient(patients[0], source)
    return PatientUpdate(PatientEvent.UPDATE, f"fhir:{digest}", patient, None, source, read_from)
