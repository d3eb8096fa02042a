"""The assigning authority of a patient's record number (HL7 v2 PID-3.4, FHIR Patient.identifier.system).

A patient is keyed by the record number alone (``patients.external_id``, unique: ``study create
--patient-id``, claims and every view name a patient by it), so it cannot hold the same number under two
authorities. The authority the first order named is kept with the patient (``patients.id_issuer``) and
named back in every result; an order naming another authority for that number is refused naming the
authority's field (it is another patient, whose orders would otherwise be filed, reported and billed
under this one), and an update (ADT^A08/A31) from another authority is not for this patient. An order or
update naming no authority matches by number, as before; a patient on record without one (a study made
here, one stored before migration 0026) takes the authority of the first order that names one.
"""

from __future__ import annotations

import re

from ecgdesk.errors import InputError
from ecgdesk.interop import authority
from ecgdesk.store.models import Patient

#: The longest authority kept (``patients.id_issuer``): longer is refused, never cut (cut, it names another)
MAX_ISSUER = 200


def issuer_field(where: str) -> str:
    """The field of an identifier's authority: ``PID-3.4``, ``MRG-1.4`` (HL7 v2 CX-4), else the FHIR
    identifier's ``.system``."""
    return f"{where}.4" if re.fullmatch(r"[A-Z][A-Z0-9]{2}-\d+", where) else f"{where}.system"


def same_patient(patient: Patient, issuer: str | None) -> bool:
    """Whether a number given under ``issuer`` is this patient's: either names no authority, or both one."""
    return not issuer or not patient.id_issuer or authority.same(patient.id_issuer, issuer)


def check_issuer(patient: Patient | None, issuer: str | None, where: str, source: str = "") -> None:
    """Refuse, naming the authority's field, a number given under another authority than the patient's."""
    if issuer and len(issuer) > MAX_ISSUER:
        raise InputError(issuer_field(where), f"the assigning authority has {len(issuer)} characters; at "
                                              f"most {MAX_ISSUER} are kept", source)
    if patient is None or same_patient(patient, issuer):
        return
    # the authority on record is not named: the sender may not learn whose number it is elsewhere
    raise InputError(issuer_field(where), (
        f"patient {patient.external_id} is on record under another assigning authority than {issuer!r}: "
        "the same number from two authorities is two patients, and ECG Desk keys a patient by the number "
        "alone, so it cannot file this one (nothing was created; send the order under the number's own "
        "authority, or have the record number changed)"), source)
