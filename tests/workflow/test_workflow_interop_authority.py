"""The assigning authority of the patient's record number (PID-3.4, Patient.identifier.system) is kept with
the patient and named back in every result; the same number from another authority is refused (a patient is
keyed by the number alone), and an update from another authority changes no one. Orders taken as MLLP and
HTTP take them (receive_order), HL7 v2 and FHIR, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import sys
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import hl7
import pydicom
import pytest
from sqlalchemy import func, select
from workflow_builders import PHYSICIAN_NPI, PIN, fake_analyzer, request

from ecgdesk.interop import authority, dicom, fhir, hl7v2
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry, Patient, Study
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.interop_orders import receive_order
from ecgdesk.workflow.interop_results import signed_result
from ecgdesk.workflow.reporting import interpret, report_study, sign
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.users import add_user

pytest.importorskip("ecgdesk.reports.scanning")

sys.path.insert(0, str(Path(__file__).parents[1] / "interop"))
from interop_builders import contained_service_request

ORM = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|P|2.5.1\r"
    "PID|1||MRN7^^^{authority}^MR||Roe^Rita||19560314|F\r"
    "ORC|NW|{placer}||||||||||1245319599^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93245^Extended ECG monitoring^C4\r"
    "DG1|1||R00.2^Palpitations^I10\r"
)
ADT = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261207090000||ADT^A08^ADT_A01|{control}|P|2.5.1\r"
    "EVN|A08|20261207090000\r"
    "PID|1||MRN7^^^{authority}^MR||Roe-Smith^Rita||19560314|F\r"
    "PV1|1|O\r"
)
WEST = "WEST&2.16.840.1.113883.19.5&ISO"
EAST = "EAST&2.16.840.1.113883.19.6&ISO"


def _sign(store: Store, study_id: int, record: Path) -> None:
    add_user(store, "dr.a", "physician", PIN, "Lee, Ana", npi=PHYSICIAN_NPI, credentials="MD")
    import_recording(store, study_id, record, "tech")
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    report_study(store, study_id, "tech")
    interpret(store, study_id, "dr.a", "Sinus rhythm.")
    sign(store, study_id, "dr.a", PIN)


def _results(store: Store, study_id: int) -> tuple[str, dict[str, object], str]:
    """(ORU PID-3, FHIR Patient.identifier, its conditional create's key) of the study's result."""
    with store.transaction() as session:
        result = signed_result(store, session, study_id)
    oru = hl7.parse(hl7v2.build_oru(result, "R1"))
    entry = next(e for e in fhir.build_bundle(result)["entry"] if e["resource"]["resourceType"] == "Patient")
    key = unquote(entry["request"]["ifNoneExist"])
    return str(oru.segment("PID")[3]), entry["resource"]["identifier"][0], key


def _count(store: Store, table: type) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_an_hl7_order_s_authority_goes_back_in_the_result_and_another_authority_is_refused(
    store: Store, tiny_record: Path
) -> None:
    first = receive_order(store, ORM.format(control="C1", authority=WEST, placer="PL-1"), "peer", "interface")
    assert first.ack.code == "AA" and first.study_id is not None
    _sign(store, first.study_id, tiny_record)
    pid3, identifier, key = _results(store, first.study_id)
    # the result went back as MRN7^^^^MR, and FHIR under urn:ecgdesk:patient-id: the EHR could not file it
    assert pid3 == f"MRN7^^^{WEST}^MR"
    assert identifier["system"] == "urn:oid:2.16.840.1.113883.19.5" and identifier["value"] == "MRN7"
    assert key == "identifier=urn:oid:2.16.840.1.113883.19.5|MRN7"
    with store.transaction() as session:
        pdf = dicom.encapsulated_pdf(signed_result(store, session, first.study_id))
    assert pydicom.dcmread(io.BytesIO(pdf)).IssuerOfPatientID == "WEST"
    # longer than the record keeps: refused naming the field, not cut (PostgreSQL refused it mid-transaction)
    long = receive_order(store, ORM.format(control="C9", authority="W" * 201, placer="PL-9"), "peer", "i")
    assert long.ack.code == "AE" and "PID-3.4" in long.ack_text and "201 characters" in long.ack.text
    # the same number from another authority is another patient: it was filed (and reported) under this one
    other = receive_order(store, ORM.format(control="C2", authority=EAST, placer="PL-2"), "peer", "interface")
    ack = hl7.parse(other.ack_text)
    assert other.ack.code == "AE" and str(ack.segment("ERR")[2]) == "PID^1^3^1^4", other.ack_text
    assert "another assigning authority" in other.ack.text and _count(store, Study) == 1
    # the same authority by its namespace alone, or without any, is this patient (as before)
    for control, given in (("C3", "WEST"), ("C4", "")):
        again = receive_order(store, ORM.format(control=control, authority=given, placer=f"PL-{control}"),
                              "peer", "interface")
        assert again.ack.code == "AA", again.ack.text
    # an update from the other authority changes no one; from this one it does
    east = receive_order(store, ADT.format(control="A1", authority=EAST), "peer", "interface")
    assert east.ack.code == "AA" and "not known here" in east.ack.text
    with store.transaction() as session:
        assert session.scalars(select(Patient.name)).one() == "Roe, Rita"
    west = receive_order(store, ADT.format(control="A2", authority=WEST), "peer", "interface")
    assert west.ack.code == "AA" and "updated" in west.ack.text
    with store.transaction() as session:
        assert session.scalars(select(Patient.name)).one() == "Roe-Smith, Rita"


def test_a_fhir_order_s_system_goes_back_and_a_patient_made_here_takes_the_first_authority(
    store: Store, tiny_record: Path
) -> None:
    made = request(patient_id="MRN9", name="Poe, Ed", birth_date=date(1940, 1, 19), sex="M")
    study_id = create_study(store, made, "tech")
    _sign(store, study_id, tiny_record)
    pid3, identifier, _ = _results(store, study_id)
    assert pid3 == "MRN9^^^^MR" and identifier["system"] == authority.PATIENT_SYSTEM  # none: as before
    document = contained_service_request("FH-1")
    document["contained"][0]["identifier"][0]["system"] = "http://west.example.org/mrn"
    outcome = receive_order(store, json.dumps(document), "fhir", "interface")
    assert outcome.ack.code == "AA", outcome.ack.text
    # the patient made here takes the authority the first order names (audited), and results carry it
    pid3, identifier, key = _results(store, study_id)
    assert identifier["system"] == "http://west.example.org/mrn" and pid3 == (
        "MRN9^^^&http://west.example.org/mrn&URI^MR")
    assert key == "identifier=http://west.example.org/mrn|MRN9"
    with store.transaction() as session:
        assert session.scalars(select(Patient.id_issuer)).one() == "http://west.example.org/mrn"
        filled = select(AuditEntry.after_json).where(AuditEntry.action == "patient:authority")
        audited = session.scalars(filled)
        assert any("west.example.org" in (after or "") for after in audited)
    document["contained"][0]["identifier"][0]["system"] = "http://east.example.org/mrn"
    document["identifier"][0]["value"] = "FH-2"
    refused = receive_order(store, json.dumps(document), "fhir", "interface")
    assert refused.ack.code == "AE" and "Patient.identifier.system" in refused.ack.text
    assert _count(store, Study) == 2
    # a Patient update (FHIR's ADT^A08) of the other system's MRN9 is not this patient's
    east = {"system": "http://east.example.org/mrn", "value": "MRN9"}
    update = {"resourceType": "Patient", "identifier": [east],
              "name": [{"family": "Poe", "given": ["Edgar"]}], "gender": "male", "birthDate": "1940-01-19"}
    outcome = receive_order(store, json.dumps(update), "fhir", "interface")
    assert outcome.ack.code == "AA" and "not known here" in outcome.ack.text
    with store.transaction() as session:
        assert session.scalars(select(Patient.name)).one() == "Poe, Ed"


@pytest.mark.parametrize(("a", "b", "same"), [
    ("WEST", "WEST&2.16.840.1&ISO", True),
    ("WEST&2.16.840.1&ISO", "urn:oid:2.16.840.1", True),
    ("OTHER&2.16.840.1&ISO", "WEST&2.16.840.1&ISO", True),  # the universal id decides, not the label
    ("WEST&2.16.840.1&ISO", "WEST&2.16.840.2&ISO", False),
    ("WEST", "EAST", False),
    ("urn:oid:2.16.840.1", "WEST", True),  # a namespace alone and a system alone: not comparable, not refused
])
def test_authorities_are_one_by_universal_id_else_namespace(a: str, b: str, same: bool) -> None:
    assert authority.same(a, b) is same and authority.same(b, a) is same
