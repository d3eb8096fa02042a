"""Patients from the EHR: ADT^A08/A31 update the demographics of a patient we keep (audited, AA), an
unknown patient is acknowledged and not created, a held order stays held, signed reports stay as signed;
taken over MLLP, the watched folder and HTTP like orders; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from sqlalchemy import select
from workflow_builders import PHYSICIAN_NPI, PIN, fake_analyzer, request

from ecgdesk.interop import hl7v2_adt
from ecgdesk.interop.model import PatientEvent
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry, Patient, ReportVersion
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.interop_orders import list_inbound, receive_message, receive_order
from ecgdesk.workflow.interop_results import signed_result
from ecgdesk.workflow.reporting import interpret, report_study, sign
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.users import add_user
from ecgdesk.workflow.views import show_study

ORM = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|P|2.5.1\r"
    "PID|1||{mrn}^^^HOSP^MR||{name}||{dob}|F\r"
    "ORC|NW|{placer}||||||||||1245319599^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93000^ECG^C4\r"
    "DG1|1||R00.2^Palpitations^I10\r"
)
# ADT^A08 as HL7 v2.5.1 structures it (ADT_A01: MSH, EVN, PID, PV1)
ADT = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261207090000||ADT^{event}^{structure}|{control}|P|2.5.1\r"
    "EVN|{event}|20261207090000\r"
    "PID|1||{mrn}^^^HOSP^MR~123-45-6789^^^SSA^SS||{name}||{dob}|{sex}\r"
    "PV1|1|O\r"
)


def orm(control: str, mrn: str = "MRN7", name: str = "Roe^Rita", dob: str = "19560314",
        placer: str = "PL-1") -> str:
    return ORM.format(control=control, mrn=mrn, name=name, dob=dob, placer=placer)


def adt(control: str, mrn: str = "MRN7", name: str = "Roe-Smith^Rita", dob: str = "19560314",
        sex: str = "F", event: str = "A08") -> str:
    structure = {"A08": "ADT_A01", "A31": "ADT_A05"}[event]
    return ADT.format(control=control, mrn=mrn, name=name, dob=dob, sex=sex, event=event, structure=structure)


def _patients(store: Store) -> dict[str, tuple[str, str, str]]:
    with store.transaction() as session:
        rows = session.scalars(select(Patient))
        return {p.external_id: (p.name, p.birth_date.isoformat(), p.sex) for p in rows}


def _versions(store: Store) -> list[tuple[int, str, str, bytes]]:
    with store.transaction() as session:
        rows = session.scalars(select(ReportVersion).order_by(ReportVersion.version))
        return [(v.version, v.pdf_sha256, v.content_sha256, store.resolve(v.pdf_path).read_bytes())
                for v in rows]


@pytest.mark.parametrize("event", ["A08", "A31"])
def test_an_update_changes_a_known_patient_audited_and_answered_aa(store: Store, event: str) -> None:
    """There was no ADT handling: an A08 was rejected (AR, 'not an order') and the patient kept the name,
    birth date and sex of their first order for good."""
    text = adt("A1", name="Roe-Smith^Rita", dob="19560315", event=event)
    parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()  # as sent
    update = hl7v2_adt.parse_patient_message(text, "ehr")
    assert (update.event, update.patient.id, update.prior_id) == (PatientEvent(event), "MRN7", None)
    study = receive_order(store, orm("O1"), "peer", "interface").study_id
    outcome = receive_order(store, text, "peer", "interface")
    ack = hl7.parse(outcome.ack_text)
    assert str(ack.segment("MSA")[1]) == "AA" and str(ack.segment("MSH")[9]) == f"ACK^{event}^ACK"
    assert "updated (name, birth date)" in outcome.ack.text
    assert _patients(store) == {"MRN7": ("Roe-Smith, Rita", "1956-03-15", "F")}
    assert study is not None and show_study(store, study).patient.name == "Roe-Smith, Rita"
    with store.transaction() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "patient:update")).one()
        before, after = json.loads(entry.before_json), json.loads(entry.after_json)
    assert (before["name"], before["birth_date"]) == ("Roe, Rita", "1956-03-14")
    assert (after["name"], after["birth_date"], after["message_id"]) == ("Roe-Smith, Rita", "1956-03-15",
                                                                        "A1")
    again = receive_order(store, text, "peer", "interface")
    assert again.status == "duplicate" and again.ack.code == "AA"
    same = receive_order(store, adt("A2", name="Roe-Smith^Rita", dob="19560315", event=event), "p", "i")
    assert same.ack.code == "AA" and "unchanged" in same.ack.text


def test_an_update_of_a_patient_we_do_not_keep_is_acknowledged_and_creates_nothing(store: Store) -> None:
    """The EHR's ADT feed sends every patient of the hospital; ECG Desk keeps only patients with orders."""
    outcome = receive_order(store, adt("A1", mrn="MRN-NEW"), "peer", "interface")
    assert outcome.ack.code == "AA" and "not known here" in outcome.ack.text
    assert _patients(store) == {}
    assert list_inbound(store)[0].status == "accepted"


def test_a_held_order_is_not_released_by_an_update_and_the_hold_view_shows_it(store: Store) -> None:
    receive_order(store, orm("O1"), "peer", "interface")
    held = receive_order(store, orm("O2", name="Roe^Rosa", placer="PL-2"), "peer", "interface")
    assert held.status == "held"
    assert list_inbound(store, "held")[0].patient_now == ""
    update = receive_order(store, adt("A1", name="Roe^Rosa"), "peer", "interface")
    assert update.ack.code == "AA" and "1 held message(s)" in update.ack.text
    [still] = list_inbound(store, "held")
    assert still.message_id == "O2" and still.study_id is None  # a person resolves holds
    assert "Roe, Rosa" in still.patient_now and "now matches the held message" in still.patient_now


@pytest.mark.parametrize(
    ("text", "code", "location"),
    [
        (adt("A1").replace("MRN7^^^HOSP^MR~", ""), "AE", "PID^1^3"),  # only an SSN: no record number
        (adt("A1", dob="19561399"), "AE", "PID^1^7"),
        (adt("A1", sex="Q"), "AE", "PID^1^8"),
        (adt("A1").replace("ADT^A08^ADT_A01", "ADT^A01^ADT_A01"), "AR", "MSH^1^9^1^2"),  # an event not taken
        (adt("A1").replace("|P|2.5.1", "|T|2.5.1"), "AR", "MSH^1^11"),
    ],
)
def test_a_bad_update_is_refused_naming_the_field_and_changes_nothing(
    store: Store, text: str, code: str, location: str
) -> None:
    receive_order(store, orm("O1"), "peer", "interface")
    outcome = receive_order(store, text, "peer", "interface")
    err = hl7.parse(outcome.ack_text).segment("ERR")
    assert (outcome.ack.code, str(err[2])) == (code, location)
    assert _patients(store) == {"MRN7": ("Roe, Rita", "1956-03-14", "F")}


def test_a_signed_report_stays_as_signed_and_the_next_result_carries_the_update(
    store: Store, tiny_record: Path
) -> None:
    add_user(store, "dr.a", "physician", PIN, "Lee, Ana", npi=PHYSICIAN_NPI, credentials="MD")
    study_id = create_study(store, request(patient_id="MRN7", name="Roe, Rita"), "tech")
    import_recording(store, study_id, tiny_record, "tech")
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    report_study(store, study_id, "tech")
    interpret(store, study_id, "dr.a", "Sinus rhythm.")
    sign(store, study_id, "dr.a", PIN)
    versions = _versions(store)
    assert receive_order(store, adt("A1", dob="19500102"), "peer", "interface").ack.code == "AA"
    assert _versions(store) == versions  # nothing re-rendered, no file touched
    with store.transaction() as session:
        result = signed_result(store, session, study_id)
    assert (result.patient.family, result.patient.given) == ("Roe-Smith", "Rita")
    assert result.pdf == versions[-1][3]  # the signed PDF goes out as signed


def test_adt_comes_in_as_orders_do_batch_included(store: Store) -> None:
    """receive_message is what MLLP, the watched folder, interop import and HTTP call."""
    receive_message(store, orm("O1"), "peer", "interface")
    outcome = receive_message(store, adt("A1"), "mllp:peer", "interface")
    assert outcome.ack.code == "AA" and _patients(store)["MRN7"][0] == "Roe-Smith, Rita"
    refused = receive_message(store, orm("O9").replace("ORM^O01^ORM_O01", "ORU^R01^ORU_R01"), "p", "i")
    assert refused.ack.code == "AR" and "ADT^A08" in refused.ack.text


FHIR_PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                         "code": "MR"}]}, "value": "MRN7"}],
    "name": [{"use": "official", "family": "Roe-Smith", "given": ["Rita"]}, {"use": "old", "family": "Roe"}],
    "gender": "female",
    "birthDate": "1956-03-14",
}


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_fhir_patient_updates_the_patient_like_an_a08(store: Store, wrapped: bool) -> None:
    """A FHIR Patient (alone, or alone in a Bundle), sent where orders are sent, was refused ('expected
    ServiceRequest or Bundle', or 'expected one ServiceRequest, found 0')."""
    receive_order(store, orm("O1"), "peer", "interface")
    document: dict = FHIR_PATIENT
    if wrapped:
        document = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:22222222-2222-2222-2222-222222222222", "resource": FHIR_PATIENT,
             "request": {"method": "PUT", "url": "Patient?identifier=MRN7"}}]}
    outcome = receive_order(store, json.dumps(document), "fhir", "interface")
    assert outcome.ack.code == "AA" and "updated (name)" in outcome.ack.text, outcome.ack.text
    assert _patients(store) == {"MRN7": ("Roe-Smith, Rita", "1956-03-14", "F")}
    assert receive_order(store, json.dumps(document), "fhir", "interface").status == "duplicate"
    other = {**FHIR_PATIENT, "identifier": [{"value": "MRN-NEW"}]}
    assert "not known here" in receive_order(store, json.dumps(other), "fhir", "interface").ack.text
    bad = receive_order(store, json.dumps({**FHIR_PATIENT, "birthDate": "1956"}), "fhir", "interface")
    assert bad.ack.code == "AE" and "Patient.birthDate" in bad.ack.text
    assert set(_patients(store)) == {"MRN7"}
