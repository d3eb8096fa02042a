"""Orders read as a hostile sender writes them and a strict receiver checks them: every refusal names the
field, nothing is cut short or silently dropped."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

import pytest
from interop_builders import orm, service_request

from ecgdesk.errors import InputError
from ecgdesk.interop import fhir, hl7v2, mllp


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (orm(name="D" * 199 + "^Jane"), "PID-5"),  # "family, given" is longer than a stored name
        (orm().replace("P123^^^HOSP^MR", "P" * 65 + "^^^HOSP^MR"), "PID-3"),
        (orm(placer="P" * 65), "ORC-2"),
        (orm().replace("^Smith^John^", "^" + "S" * 200 + "^John^"), "ORC-12"),
        (orm(control="C" * 101), "MSH-10"),
    ],
)
def test_an_hl7_value_longer_than_the_record_keeps_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(text, "o.hl7")
    assert caught.value.field == field and "characters" in caught.value.reason


def _set(document: dict[str, object], path: str, value: object) -> dict[str, object]:
    out = copy.deepcopy(document)
    target: object = out
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]  # type: ignore[index]
    target[int(keys[-1]) if isinstance(target, list) else keys[-1]] = value  # type: ignore[index]
    return out


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("entry.0.resource.identifier.0.value", "P" * 65, "ServiceRequest.identifier"),
        ("entry.1.resource.identifier.0.value", "M" * 65, "Patient.identifier"),
        ("entry.1.resource.name.0.family", "R" * 200, "Patient.name"),
        ("entry.2.resource.name.0.family", "S" * 201, "Practitioner.name"),
    ],
)
def test_a_fhir_value_longer_than_the_record_keeps_is_refused_naming_the_element(
    path: str, value: str, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request(_set(service_request(), path, value), "o.json")
    assert caught.value.field == field and "characters" in caught.value.reason


def _with_orc9(value: str) -> str:
    return orm().replace("ORC|NW|PL-100||||||||||", "ORC|NW|PL-100" + "|" * 7 + value + "|" * 3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=UTC)),  # a DTM of year precision: its first instant
        ("202612", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026120110", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("202612011030-0500", datetime(2026, 12, 1, 15, 30, tzinfo=UTC)),
        ("20261201103000.25+0100", datetime(2026, 12, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_an_order_time_of_any_dtm_precision_is_read(value: str, expected: datetime) -> None:
    """HL7 v2.5.1 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]; a year or month was refused (AE)
    for the optional ORC-9, while FHIR authoredOn of the same precision was taken."""
    assert hl7v2.parse_order(_with_orc9(value), "o.hl7").requested_at == expected


@pytest.mark.parametrize("value", ["2026120110300", "20261201 1030", "2026-12-01", "20261301", "202600",
                                   "20261201103000+1500", "20261201103000-1230", "20261201103000+0575"])
def test_a_malformed_order_time_is_refused_naming_orc_9(value: str) -> None:
    """Also an offset no place has (+1500 was applied; the shared parser of ecgdesk.utc_offset)."""
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(_with_orc9(value), "o.hl7")
    assert caught.value.field == "ORC-9"


@pytest.mark.parametrize("dob", ["19560314xyz", "195603141", "19560314+05"])
def test_a_birth_date_with_trailing_junk_is_refused(dob: str) -> None:
    """PID-7 was read from its first 8 characters: '19560314xyz' was taken as 14 March 1956."""
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(orm(dob=dob), "o.hl7")
    assert caught.value.field == "PID-7"


def test_a_birth_time_with_its_offset_keeps_the_date_the_sender_wrote() -> None:
    order = hl7v2.parse_order(orm(dob="195603142330-0500"), "o.hl7")
    assert order.patient.birth_date == date(1956, 3, 14)  # not moved to the UTC day


def _custom(text: str) -> str:
    """``text`` written with the delimiters * $ ? ! % (field, component, repetition, escape, subcomponent)."""
    return text.translate(str.maketrans({"|": "*", "^": "$", "~": "?", "\\": "!", "&": "%"}))


def test_a_message_with_its_own_delimiters_in_msh_1_and_msh_2_is_read_by_them() -> None:
    """HL7 v2.5.1 2.5.4: the receiver takes the delimiters from MSH-1 and MSH-2; any was refused (AE) but
    |^~\\& before. Characters that are delimiters elsewhere are data here, and an escape sequence stands for
    this message's delimiter (!F! is '*')."""
    standard = orm(name="Doe^Jane", extra="NTE|1||ok")
    text = _custom(standard).replace("Doe$Jane", "O|Brien^x!F!y!S!z$Jane").replace("*ok", "*a & b ~ c!E!")
    text = text.replace("P123$$$HOSP$MR", "999$$$SSA$SS?P123$$$HOSP%2.16.840.1%ISO$MR")
    order, expected = hl7v2.parse_order(text, "o.hl7"), hl7v2.parse_order(standard, "o.hl7")
    assert order.patient.family == "O|Brien^x*y$z" and order.patient.given == "Jane"
    assert order.patient.id == "P123" and order.patient.id_authority == "HOSP"
    assert order.notes == ("a & b ~ c!",)
    assert (order.placer_order_number, order.service, order.indications, order.ordering) == (
        expected.placer_order_number, expected.service, expected.indications, expected.ordering)


@pytest.mark.parametrize("header", ["MSH*$$!%*", "MSH*$?!*", "MSH*$?A%*", "MSH*$?!%\r"])
def test_unusable_delimiters_are_refused_naming_msh_2(header: str) -> None:
    text = header + _custom(orm()).split("*", 2)[2]
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(text, "o.hl7")
    assert caught.value.field in {"MSH-1", "MSH-2"}


def _bytes(name: str, charset: str, encoding: str) -> bytes:
    return orm(name=name).replace("|P|2.5.1", f"|P|2.5.1||||||{charset}").encode(encoding)


@pytest.mark.parametrize(
    ("charset", "encoding", "name"),
    [
        ("8859/2", "iso8859-2", "Łukasiewicz^Michał"),  # read as 8859/1 it was '£ukasiewicz^Micha³'
        ("8859/15", "iso8859-15", "Œuvray^Zoë"),
        ("8859/7", "iso8859-7", "Παπαδόπουλος^Γιώργος"),
        ("UNICODE UTF-8", "utf-8", "Müller^Zoë"),
        ("8859/1", "utf-8", "Müller^Zoë"),  # UTF-8 under an 8859 label: the bytes say what they are
        ("", "latin-1", "Müller^Zoë"),  # no MSH-18: UTF-8 where the bytes are, else 8859/1
    ],
)
def test_names_are_decoded_in_the_character_set_msh_18_declares(
    charset: str, encoding: str, name: str
) -> None:
    order = hl7v2.parse_order(mllp.decode(_bytes(name, charset, encoding)), "o.hl7")
    family, given = name.split("^")
    assert (order.patient.family, order.patient.given) == (family, given)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_bytes("Müller^Zoë", "UNICODE UTF-8", "latin-1"), "PID-5"),  # not UTF-8: was read as 8859/1
        (_bytes("Doe^Jane", "EBCDIC", "ascii"), "MSH-18"),
        (_bytes("Doe^Jane", "UNICODE UTF-16", "ascii"), "MSH-18"),
    ],
)
def test_bytes_that_are_not_in_the_declared_character_set_are_refused(data: bytes, field: str) -> None:
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(mllp.decode(data), "o.hl7")
    assert caught.value.field == field and "MSH-18" in str(caught.value)


V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
MRN5 = {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN5"}


def _typed(code: str) -> dict[str, object]:
    return {"coding": [{"system": V2_0203, "code": code}]}


@pytest.mark.parametrize(
    "identifiers",
    [
        # a national id listed first, the record number untyped: the SSN was taken as the patient id
        [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-99-9999"}, MRN5],
        [{"type": _typed("SS"), "value": "999-99-9999"}, MRN5],
        [{"type": _typed("DL"), "value": "D123"}, {"type": _typed("MR"), **MRN5}],
    ],
)
def test_the_patient_id_is_the_record_number_not_a_national_id(identifiers: list[dict[str, object]]) -> None:
    """Patient.identifier read as PID-3 is: by its type (MR, then PI ...), never a national, insurance or
    licence number (us-ssn, SS, NI, DL, PPN ...) that happened to be listed first."""
    document = _set(service_request(), "entry.1.resource.identifier", identifiers)
    order = fhir.parse_service_request(document, "o")
    assert (order.patient.id, order.patient.id_authority) == ("MRN5", "2.16.840.1.113883.19.5")


def test_a_patient_with_only_a_national_id_is_refused_naming_the_identifier() -> None:
    identifiers = [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-99-9999"}]
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request(_set(service_request(), "entry.1.resource.identifier", identifiers), "o")
    assert caught.value.field == "Patient.identifier"


def test_a_filler_identifier_is_not_taken_as_the_placer_order_number() -> None:
    """A ServiceRequest with only a FILL identifier had it stored as the placer order number: a later
    order of the EHR with that number would change or cancel this one."""
    identifiers = [{"type": _typed("FILL"), "system": "urn:oid:1.2.3", "value": "X1"}]
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request(_set(service_request(), "entry.0.resource.identifier", identifiers), "o")
    assert caught.value.field == "ServiceRequest.identifier"


@pytest.mark.parametrize(
    ("pid3", "expected"),
    [
        ("999-99-9999^^^SSA^SS~P777^^^HOSP", "P777"),  # the SSN first, the record number untyped
        ("D1234^^^DMV^DL~P777^^^HOSP^MR", "P777"),
    ],
)
def test_pid_3_never_takes_a_national_id_as_the_record_number(pid3: str, expected: str) -> None:
    order = hl7v2.parse_order(orm().replace("P123^^^HOSP^MR", pid3), "o.hl7")
    assert order.patient.id == expected and order.patient.id_authority == "HOSP"


def test_pid_3_with_only_a_national_id_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(orm().replace("P123^^^HOSP^MR", "999-99-9999^^^SSA^SS"), "o.hl7")
    assert caught.value.field == "PID-3" and "SS" in caught.value.reason


def test_a_reference_that_matches_two_resources_is_refused_not_guessed() -> None:
    """Two Patients with the id the ServiceRequest references (Patient/p1): the first was taken, so the
    order could be filed under either person depending on the entries' order."""
    document = service_request()
    entries = document["entry"]
    entries[0]["resource"]["subject"] = {"reference": "Patient/p1"}
    entries[1]["resource"]["id"] = "p1"
    other = copy.deepcopy(entries[1])
    other["fullUrl"] = "urn:uuid:44444444-4444-4444-4444-444444444444"
    other["resource"]["identifier"][0]["value"] = "P901"
    entries.append(other)
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request(document, "o.json")
    assert caught.value.field == "ServiceRequest.subject" and "2" in caught.value.reason


def test_a_bundle_whose_references_contradict_it_is_refused_naming_them() -> None:
    """Two entries under one fullUrl (FHIR bdl-7) were answered 'the Patient it references is not in the
    message', which sent the sender looking for a missing Patient; a subject whose Reference.type says Group
    (or a requester's PractitionerRole) while it names a Patient was taken as that Patient."""
    document = service_request()
    document["entry"][2]["fullUrl"] = document["entry"][1]["fullUrl"]
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request(document, "o.json")
    assert caught.value.field == "Bundle.entry[2].fullUrl" and "entry[1]" in caught.value.reason
    for element, kind in (("subject", "Group"), ("requester", "PractitionerRole")):
        document = service_request()
        document["entry"][0]["resource"][element]["type"] = kind
        with pytest.raises(InputError) as caught:
            fhir.parse_service_request(document, "o.json")
        assert caught.value.field == f"ServiceRequest.{element}.type" and kind in caught.value.reason
    document = service_request()
    document["entry"][0]["resource"]["subject"]["type"] = "Patient"  # consistent: read as before
    assert fhir.parse_service_request(document, "o.json").patient.id == "P900"
    # by identifier and typed: the Practitioner it names, not a PractitionerRole carrying the same NPI
    npi = document["entry"][2]["resource"]["identifier"][0]
    document["entry"][0]["resource"]["requester"] = {"identifier": npi, "type": "Practitioner"}
    document["entry"].append({"fullUrl": "urn:uuid:55555555-5555-5555-5555-555555555555", "resource": {
        "resourceType": "PractitionerRole", "identifier": [npi],
        "practitioner": {"reference": "urn:uuid:33333333-3333-3333-3333-333333333333"}}})
    assert fhir.parse_service_request(document, "o.json").ordering.family == "Smith"


def test_a_draft_service_request_creates_no_order() -> None:
    """FHIR request-status 'draft': created but not yet complete or ready for action. It was taken as a new
    order, so a study was set up for a request its author had not finished."""
    document = _set(service_request(), "entry.0.resource.status", "draft")
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request(document, "o.json")
    assert caught.value.field == "ServiceRequest.status" and "draft" in caught.value.reason
