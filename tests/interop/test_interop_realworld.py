"""Orders, acknowledgements and aECG files as real senders write them (2026-12-07).

Each case is a small message of our own that reproduces what a probe found in public sample messages of
EHRs and interface engines (time zone offsets, subcomponents, several identifiers, coding systems, escape
sequences, partial FHIR dateTimes): read right, or refused with the field and the reason, never a wrong
value and never an internal error. (The aECG cases are in tests/records/test_hl7aecg.py.)
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from interop_builders import orm, service_request

from ecgdesk.errors import InputError
from ecgdesk.interop import fhir, hl7v2
from ecgdesk.interop.hl7v2_adt import parse_patient_message


def _with(text: str, segment: str, line: str) -> str:
    """``text`` with its ``segment`` line replaced by ``line``."""
    return "\r".join(line if part.startswith(segment + "|") else part for part in text.split("\r"))


def test_an_order_time_with_an_offset_is_converted_to_utc() -> None:
    text = _with(orm(), "ORC", "ORC|NW|PL-100|||||||20230506052913-0500|||1245319599^Smith^John^^^^^^^^^^NPI")
    assert hl7v2.parse_order(text).requested_at == datetime(2023, 5, 6, 10, 29, 13, tzinfo=UTC)
    # 2.3's TS carries its precision as a second component
    text = _with(orm(), "ORC", "ORC|NW|PL-100|||||||200401011230^M|||1245319599^Smith^John^^^^^^^^^^NPI")
    assert hl7v2.parse_order(text).requested_at == datetime(2004, 1, 1, 12, 30, tzinfo=UTC)


def test_name_and_authority_subcomponents_are_not_part_of_the_value() -> None:
    text = _with(orm(name="van Zorg&van&Zorg^Anna"), "PID",
                 "PID|1||MRN1^^^HospitalSystem&2.16.840.1.114222&ISO^MR||van Zorg&van&Zorg^Anna||19560314|F")
    patient = hl7v2.parse_order(text).patient
    assert (patient.family, patient.given, patient.id_authority) == ("van Zorg", "Anna", "HospitalSystem")
    only_oid = _with(orm(), "PID", "PID|1||MRN1^^^&2.16.840.1.114222&ISO^MR||Doe^Jane||19560314|F")
    assert hl7v2.parse_order(only_oid).patient.id_authority == "2.16.840.1.114222"


@pytest.mark.parametrize(("names", "read"), [
    ("Roe^Rita^^^^^L~ROE^R^^^^^A", ("Roe", "Rita")),
    ("Rivers^Rita^^^^^A~Roe^Rita^^^^^L", ("Roe", "Rita")),  # the alias was taken, stored as the patient's
    ("Smith^Rita^^^^^M~Roe^Rita", ("Roe", "Rita")),  # a maiden name sent first
    ("~Roe^Rita^^^^^D", ("Roe", "Rita")),  # no legal name (v2.5.1): was refused "family name is empty"
])
def test_the_patient_name_is_the_legal_one_among_repetitions(names: str, read: tuple[str, str]) -> None:
    """PID-5 repeats: the first repetition was read whatever its type (XPN-7), where FHIR takes the official
    name; an ADT is read alike."""
    pid = f"PID|1||MRN1^^^HOSP^MR||{names}||19560314|F"
    patient = hl7v2.parse_order(_with(orm(), "PID", pid)).patient
    assert (patient.family, patient.given) == read
    adt = ("MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ADT^A08^ADT_A01|A1|P|2.5.1\r"
           "EVN|A08|20261201120000\r" + pid + "\r")
    assert (parse_patient_message(adt, "a").patient.family) == read[0]


def test_the_medical_record_number_is_chosen_among_several_identifiers() -> None:
    text = _with(orm(), "PID", "PID|1||472916385^^^IL_MOH^NI~M10001^^^CLINIC^MR||Doe^Jane||19560314|F")
    patient = hl7v2.parse_order(text).patient
    assert (patient.id, patient.id_authority) == ("M10001", "CLINIC")


def test_sex_as_a_coded_element_and_a_byte_order_mark_are_read() -> None:
    text = "\ufeff" + _with(orm(), "PID", "PID|1||P123^^^HOSP^MR||Doe^Jane||19560314|F^Female^HL70001")
    assert hl7v2.parse_order(text).patient.sex == "F"


def test_escape_sequences_are_read_in_one_pass() -> None:
    assert hl7v2.unescape("A\\E\\F\\E\\B") == "A\\F\\B"
    assert hl7v2.unescape("Ren\\XC3A9\\") == "René"
    assert hl7v2.unescape("line\\.br\\two\\X0D0A\\three\\H\\bold\\N\\") == "line\ntwo\nthreebold"
    assert hl7v2.unescape("a\\X85\\b\\XC292\\c") == "abc"  # C1 controls as hex data: no text either
    for text in ("O|Brien^x & y ~ z \\ w", "plain", "a\nb"):
        assert hl7v2.unescape(hl7v2.escape(text)) == text


def test_a_code_of_another_coding_system_is_not_read_as_a_service() -> None:
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(_with(orm(), "OBR", "OBR|1|PL-100||93000^Urine culture^99LAB"))
    assert caught.value.field == "OBR-4" and "99LAB" in caught.value.reason
    # the alternate identifier (components 4-6) is read when the first one is a local code
    order = hl7v2.parse_order(_with(orm(), "OBR", "OBR|1|PL-100||ECG12^12 lead ECG^L^93000^ECG^C4"))
    assert order.service == "resting_ecg"


def test_several_orders_in_one_message_are_refused_not_dropped() -> None:
    text = orm(extra="ORC|NW|PL-2|||||||||||1245319599^Smith^John^^^^^^^^^^NPI\rOBR|2|PL-2||93000^ECG^C4")
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(text)
    assert caught.value.field == "OBR" and "2 orders" in caught.value.reason


@pytest.mark.parametrize(("extra", "field", "words"), [
    # a second PID: the order was filed under the first patient and the other dropped unsaid
    ("PID|2||OTHER^^^HOSP^MR||Roe^Rita||19600101|F", "PID[2]", "2 patients (PID segments)"),
    # a second ORC before the one OBR: its placer number and control were dropped unsaid
    ("ORC|CA|PL-9|||||||||||1245319599^Smith^John^^^^^^^^^^NPI", "ORC[2]", "2 order controls (ORC segments)"),
])
def test_a_segment_the_message_may_hold_once_is_refused_when_repeated(extra: str, field: str, words: str
                                                                      ) -> None:
    lines = orm().split("\r")
    at = {"PID": 2, "ORC": 3}[field[:3]]
    text = "\r".join([*lines[:at], extra, *lines[at:]])
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(text, "o.hl7")
    assert caught.value.field == field and words in caught.value.reason
    assert hl7v2.error_location(field) == f"{field[:3]}^2"
    adt = [*orm(kind="ADT^A08^ADT_A01").split("\r")[:2], "PID|2||OTHER^^^HOSP^MR||Roe^Rita||19600101|F"]
    with pytest.raises(InputError) as caught:
        parse_patient_message("\r".join(adt), "a08.hl7")  # the first PID was updated, the second dropped
    assert caught.value.field == "PID[2]"


@pytest.mark.parametrize(("text", "field"), [
    (orm(sex="F~M"), "PID-8"),  # read as F, the M dropped
    (orm(placer="PL-1~PL-2"), "ORC-2"),  # the placer number PL-1; a cancel naming PL-2 found no order
    (orm(code="93245^Holter^C4~93000^ECG^C4"), "OBR-4"),  # the second test dropped
    (orm(icd="R00.2^Palpitations^I10~I48.91^AF^I10"), "DG1-3"),  # the second indication dropped
    (orm(extra="DG1|2||I48.91^AF^I10~R55^Syncope^I10"), "DG1[2]-3"),
    (orm(extra="TQ1|1|||||14^d~2^d"), "TQ1-6"),
    (orm().replace("|P|2.5.1", "|P~T|2.5.1"), "MSH-11"),  # production, and training
    (orm(kind="ORM^O01~ADT^A08"), "MSH-9"),
])
def test_a_repetition_in_a_field_that_holds_one_value_is_refused_not_cut(text: str, field: str) -> None:
    """The first repetition was read and the others dropped unsaid; PID-3, PID-5, ORC-12 and OBR-31 repeat in
    2.5.1 and are read as before (the record number by type, the legal name first)."""
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(text, "o.hl7")
    assert caught.value.field == field and "repetitions" in caught.value.reason


def test_an_ordering_provider_id_of_another_type_is_not_taken_for_the_npi() -> None:
    text = _with(orm(), "ORC", "ORC|NW|PL-100||||||||||D3389^Smith^John^^^^^^^^^^DN")
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(text)
    assert caught.value.field == "ORC-12" and "DN" in caught.value.reason
    both = _with(orm(), "ORC", "ORC|NW|PL-100||||||||||D3389^Smith^John^^^^^^^^^^DN"
                               "~1245319599^Smith^John^^^^^^^^^^NPI")
    assert hl7v2.parse_order(both).ordering.npi == "1245319599"


def test_an_ack_reason_given_only_in_err_is_read() -> None:
    ack = ("MSH|^~\\&|EHR||ECGDESK||20261201120000||ACK^R01^ACK|A1|P|2.5.1\r"
           "MSA|AE|C9\rERR||PID^1^3|101^Required field missing^HL70357|E||||Patient ID missing\r")
    assert hl7v2.read_ack(ack) == hl7v2.AckResult("AE", "C9", "Patient ID missing", "101")
    old = "MSH|^~\\&|EHR||ECGDESK||200401011200||ACK|A2|P|2.3\rMSA|AR|C8\rERR|PID^1^3^102&Data type error\r"
    assert hl7v2.read_ack(old) == hl7v2.AckResult("AR", "C8", "Data type error", "102")


def _request(document: dict) -> dict:
    return next(e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "ServiceRequest")


@pytest.mark.parametrize(("authored", "expected"), [
    ("2017", datetime(2017, 1, 1, tzinfo=UTC)),
    ("2017-02", datetime(2017, 2, 1, tzinfo=UTC)),
    ("2017-02-03", datetime(2017, 2, 3, tzinfo=UTC)),
    ("2017-02-03T10:00:00+01:00", datetime(2017, 2, 3, 9, tzinfo=UTC)),
])
def test_fhir_authored_on_of_any_precision(authored: str, expected: datetime) -> None:
    document = service_request()
    _request(document)["authoredOn"] = authored
    assert fhir.parse_service_request(document, "sr.json").requested_at == expected


def test_fhir_names_codes_and_references_as_real_senders_write_them() -> None:
    document = service_request()
    request = _request(document)
    request["code"]["coding"] = [{"system": "http://loinc.org", "code": "34534-8"},
                                 {"system": "http://www.ama-assn.org/go/cpt", "code": "93000"}]
    request["subject"]["reference"] = "urn:uuid:22222222-2222-2222-2222-222222222222/_history/2"
    patient = document["entry"][1]["resource"]
    patient["name"] = [{"use": "nickname", "family": "Amy"},
                       {"use": "official", "family": "Shaw", "given": ["A"]}]
    patient["identifier"][0]["system"] = "http://hospital.example.org/mrn"
    order = fhir.parse_service_request(document, "sr.json")
    assert order.service == "resting_ecg" and order.patient.family == "Shaw"
    assert order.patient.id_authority == "http://hospital.example.org/mrn"
    snomed = copy.deepcopy(document)
    _request(snomed)["code"]["coding"] = [{"system": "http://snomed.info/sct", "code": "268400002"}]
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request(snomed, "sr.json")
    assert caught.value.field == "ServiceRequest.code" and "snomed" in caught.value.reason


def test_fhir_requester_as_a_practitioner_role() -> None:
    document = service_request()
    _request(document)["requester"]["reference"] = "urn:uuid:44444444-4444-4444-4444-444444444444"
    document["entry"].append({"fullUrl": "urn:uuid:44444444-4444-4444-4444-444444444444", "resource": {
        "resourceType": "PractitionerRole",
        "practitioner": {"reference": "urn:uuid:33333333-3333-3333-3333-333333333333"}}})
    assert fhir.parse_service_request(document, "sr.json").ordering.npi == "1245319599"


def test_fhir_indication_as_a_condition_the_order_references() -> None:
    """Many EHRs name the indication by a problem-list Condition (reasonReference), not a reasonCode: such
    an order was refused "an order needs at least one ICD-10-CM indication"."""
    document = service_request()
    request = _request(document)
    reason = request.pop("reasonCode")[0]
    request["reasonReference"] = [{"reference": "urn:uuid:c1"}, {"reference": "#c2"}]
    request["contained"] = [{"resourceType": "Condition", "id": "c2", "subject": request["subject"],
                             "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                                  "code": "I48.91"}]}}]
    document["entry"].append({"fullUrl": "urn:uuid:c1", "resource": {
        "resourceType": "Condition", "code": reason, "subject": request["subject"]}})
    assert fhir.parse_service_request(document, "sr.json").indications == ("R00.2", "I48.91")
    document["entry"].pop()  # a Condition not in the message: no indication, refused naming where it goes
    request["contained"] = []
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request(document, "sr.json")
    assert caught.value.field == "ServiceRequest.reasonCode" and "reasonReference" in caught.value.reason


def test_a_control_character_in_a_fhir_string_is_refused_naming_the_element() -> None:
    """FHIR strings allow no control character but tab, CR and LF; a NUL stored on SQLite and was a
    database error on PostgreSQL."""
    document = service_request()
    _request(document)["note"] = [{"text": "call \x00 back"}]
    with pytest.raises(InputError) as info:
        fhir.parse_service_request(document, "sr.json")
    assert info.value.field == "entry[0].resource.note[0].text" and "control character" in info.value.reason
    _request(document)["note"] = [{"text": "line one\r\n\tline two"}]
    assert fhir.parse_service_request(document, "sr.json").notes == ("line one\r\n\tline two",)
