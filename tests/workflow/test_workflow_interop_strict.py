"""Orders in, as a hostile sender writes them: every bad message is answered (AE/AR with ERR naming the
field), none raises out of ``receive_order`` (an MLLP peer would get no ACK, an HTTP caller a 500) and none
is half imported; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hl7
import pytest
from sqlalchemy import func, select
from workflow_builders import PHYSICIAN_NPI, PIN, fake_analyzer, request

from ecgdesk.interop import fhir, hl7v2, mllp
from ecgdesk.store import Store
from ecgdesk.store.interop_models import InboundMessage
from ecgdesk.store.models import AuditEntry, Patient, Study, User
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.interop_orders import receive_order
from ecgdesk.workflow.interop_results import signed_result
from ecgdesk.workflow.reporting import add_addendum, interpret, report_study, sign
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.users import add_user

sys.path.insert(0, str(Path(__file__).parents[1] / "interop"))
from interop_builders import contained_service_request

ORM = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|P|2.5.1\r"
    "PID|1||{patient}^^^HOSP^MR||{name}||19560314|F\r"
    "ORC|NW|{placer}||||||||||1245319599^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93245^Extended ECG monitoring^C4\r"
    "DG1|1||R00.2^Palpitations^I10\r"
)


def orm(control: str, placer: str = "PL-1", patient: str = "MRN7", name: str = "Roe^Rita") -> str:
    return ORM.format(control=control, placer=placer, patient=patient, name=name)


def _count(store: Store, table: type[Study] | type[Patient]) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (orm("C1", name="R" * 250 + "^Rita"), "PID-5"),
        (orm("C1", patient="M" * 70), "PID-3"),
        (orm("C1", placer="P" * 70), "ORC-2"),
        (orm("C" * 150), "MSH-10"),
    ],
)
def test_over_long_values_are_an_ae_naming_the_field_sent_twice_too(
    store: Store, text: str, field: str
) -> None:
    for _ in range(2):  # the resend of a refused message is answered again, never an exception
        outcome = receive_order(store, text, "peer", "interface")
        ack = hl7.parse(outcome.ack_text)
        assert str(ack.segment("MSA")[1]) == "AE" and field in outcome.ack.text
    assert _count(store, Study) == 0 and _count(store, Patient) == 0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (orm("C1").replace("|EHR|", "|" + "E" * 100_000 + "|", 1), "MSH-3"),
        (orm("C1").replace("|HOSP|ECGDESK", "|" + "H" * 100_000 + "|ECGDESK", 1), "MSH-4"),
        (orm("C1").replace("19560314", "1" * 100_000), "PID-7"),
        (orm("C1").replace("ORM^O01^ORM_O01", "X" * 100_000), "MSH-9"),
    ],
)
def test_a_huge_value_is_refused_without_being_echoed(store: Store, text: str, field: str) -> None:
    """A value of 100 kB (a 10 MB segment, in small) was copied whole into the answer and the record: an
    MSH-3/MSH-4 into the ACK's MSH-5/MSH-6 and the audit entry (the order accepted), a bad PID-7 or MSH-9
    into the reason (ERR-8, inbound_messages.reason, the audit entry)."""
    outcome = receive_order(store, text, "peer", "interface")
    assert outcome.ack.code in {"AE", "AR"} and f"'{field}'" in outcome.ack.text
    assert len(outcome.ack_text) < 3000
    with store.transaction() as session:
        stored = [len(m.reason) for m in session.scalars(select(InboundMessage))]
        stored += [len(a.after_json or "") for a in session.scalars(select(AuditEntry))]
    assert stored and max(stored) < 3000
    assert _count(store, Study) == 0 and _count(store, Patient) == 0


@pytest.mark.parametrize(
    ("text", "location", "code"),
    [
        (orm("C1").replace("19560314", "19561345"), "PID^1^7", "102"),  # a field the reader checks
        (orm("C1").replace("R00.2^", "Q99.999^"), "DG1^1^3", "103"),  # a code the workflow checks
        (orm("C1").replace("1245319599^", "1234567890^"), "ORC^1^12", "103"),  # an NPI's check digit
        (orm("C1").replace("DG1|1||R00.2^Palpitations^I10\r", ""), "DG1^1", "101"),  # a missing segment
        (orm("C1").replace("|F\r", "|Q\r"), "PID^1^8", "103"),
        # the study's checks name the field the value was read from (they named DG1-3 and ORC-12 always)
        (orm("C1").replace("DG1|1||R00.2^Palpitations^I10\r", "").replace(
            "^C4\r", "^C4" + "|" * 27 + "Q99.999^^I10\r"), "OBR^1^31", "103"),  # OBR-31 the reason for study
        (orm("C1") + "DG1|2||Q99.999^Unknown^I10\r", "DG1^2^3", "103"),  # the second DG1
        (orm("C1").replace("|1245319599^Smith^John^^^^^^^^^^NPI\r", "\r").replace(
            "^C4\r", "^C4" + "|" * 12 + "1234567890^Smith^John^^^^^^^^^^NPI\r"), "OBR^1^16", "103"),
    ],
)
def test_the_err_segment_names_the_segment_and_field_in_err_2(
    store: Store, text: str, location: str, code: str
) -> None:
    """HL7 v2.5.1 2.15.5: ERR-2 (error location) is segment^sequence^field, ERR-3 the code of table 0357;
    an interface engine routes and shows errors by ERR-2, the text in MSA-3 is for a person."""
    outcome = receive_order(store, text, "peer", "interface")
    err = hl7.parse(outcome.ack_text).segment("ERR")
    assert str(err[2]) == location and str(err[3][0][0]) == code and str(err[4]) == "E"


@pytest.mark.parametrize(
    ("header", "code", "location"),
    [
        ("ORM^O01^ORM_O01|C1|T|2.5.1", "202", "MSH^1^11"),  # a training message is no real order
        ("ORM^O01^ORM_O01|C1|D|2.5.1", "202", "MSH^1^11"),
        ("ORM^O01^ORM_O01|C1||2.5.1", "202", "MSH^1^11"),
        ("ORM^O01^ORM_O01|C1|P|3.0", "203", "MSH^1^12"),
        ("ORM^O01^ORM_O01|C1|P|", "203", "MSH^1^12"),
        ("OML^O33^OML_O33|C1|P|2.5.1", "201", "MSH^1^9^1^2"),  # our message code, another event
        ("ADT^A01^ADT_A01|C1|P|2.5.1", "201", "MSH^1^9^1^2"),  # ADT is taken for A08, A31 and A40 only
        ("ORU^R01^ORU_R01|C1|P|2.5.1", "200", "MSH^1^9"),
    ],
)
def test_a_message_the_header_rules_out_is_rejected_ar_with_the_code_for_why(
    store: Store, header: str, code: str, location: str
) -> None:
    """HL7 v2.5.1 2.9.2 (original acknowledgment): a message whose type, version (MSH-12) or processing id
    (MSH-11) the receiver does not take is rejected (AR) before any application processing, with table
    0357's 200-203."""
    text = orm("C1").replace("ORM^O01^ORM_O01|C1|P|2.5.1", header)
    outcome = receive_order(store, text, "peer", "interface")
    ack = hl7.parse(outcome.ack_text)
    err = ack.segment("ERR")
    assert str(ack.segment("MSA")[1]) == "AR" and str(err[3][0][0]) == code and str(err[2]) == location
    assert _count(store, Study) == 0


@pytest.mark.parametrize(
    "header", ["ORM^O01|C1|P|2.3", "ORM^O01^ORM_O01|C1|P^T|2.5.1^USA", "OML^O21|C1|P|2.8"]
)
def test_versions_2_x_and_production_messages_are_taken(store: Store, header: str) -> None:
    text = orm("C1").replace("ORM^O01^ORM_O01|C1|P|2.5.1", header)
    assert receive_order(store, text, "peer", "interface").ack.code == "AA"


ADT = ("MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ADT^A08^ADT_A01|C2|P|2.5.1\r"
       "PID|1||MRN7^^^HOSP^MR||Roe^Rosa||19560314|F\r")


@pytest.mark.parametrize("second", [ADT, orm("C2", placer="PL-2", patient="MRN8", name="Poe^Ed")])
def test_two_messages_in_one_frame_or_file_are_refused_not_half_taken(store: Store, second: str) -> None:
    """A frame (or file) holding a second message was answered AA for the first while the second was
    dropped unread (its sender waits for an ACK that never comes, or believes it was taken), or refused as
    an order with two OBR segments."""
    outcome = receive_order(store, orm("C1") + second, "peer", "interface")
    err = hl7.parse(outcome.ack_text).segment("ERR")
    assert outcome.ack.code == "AE" and str(err[2]) == "MSH^2" and "2 messages" in outcome.ack.text
    assert _count(store, Study) == 0 and _count(store, Patient) == 0


def test_results_carry_the_signature_as_signed_and_an_addendum_is_corrected(
    store: Store, tiny_record: Path
) -> None:
    """The result names the signer as the signature does (printed name, time, meaning), also after the
    user's name was changed; a signed addendum goes out as a corrected result (C, corrected)."""
    add_user(store, "dr.a", "physician", PIN, "Lee, Ana", npi=PHYSICIAN_NPI, credentials="MD")
    add_user(store, "tech", "technician", "9999-9999", "Terry Tech")
    study_id = create_study(store, request(placer_order_number="PL-77"), "tech")
    import_recording(store, study_id, tiny_record, "tech")
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    report_study(store, study_id, "tech")
    interpret(store, study_id, "dr.a", "Sinus rhythm.")
    signed = sign(store, study_id, "dr.a", PIN)
    with store.transaction() as session:
        user = session.scalar(select(User).where(User.username == "dr.a"))
        assert user is not None
        user.display_name = "Lee-Park, Ana"  # renamed after signing: the record keeps the name signed
    with store.transaction() as session:
        result = signed_result(store, session, study_id)
    assert (result.printed_name, result.signature_meaning) == (signed.printed_name, "Interpreted by")
    message = hl7.parse(hl7v2.build_oru(result, "C1"))
    note = hl7v2.unescape(str(message.segment("NTE")[3]))
    assert note.startswith("Interpreted by Lee, Ana, electronically signed")
    assert str(message.segment("OBR")[25]) == "F" and str(message.segment("ORC")[2]) == "PL-77"
    assert str(message.segment("OBR")[3][0][0]) == f"ECGDESK-{study_id}"
    add_addendum(store, study_id, "dr.a", PIN, "Correction: one 2.1 s pause at night.")
    with store.transaction() as session:
        corrected = signed_result(store, session, study_id)
    message = hl7.parse(hl7v2.build_oru(corrected, "C2"))
    # the interpretation and PDF are corrected; the numbers, unchanged since the first signature, stand (F)
    assert {str(s[2]): str(s[11]) for s in message if str(s[0]) == "OBX"} == {"TX": "C", "NM": "F", "ED": "C"}
    assert str(message.segment("OBR")[25]) == "C"
    # the corrected result names every signature, oldest first: the interpretation's as signed (before
    # the rename), then the addendum's own (after it)
    notes = [hl7v2.unescape(str(s[3])) for s in message if str(s[0]) == "NTE"]
    assert [str(s[1]) for s in message if str(s[0]) == "NTE"] == ["1", "2"]
    assert notes[0].startswith("Interpreted by Lee, Ana, electronically signed")
    assert notes[1].startswith("Addendum by Lee-Park, Ana, electronically signed")
    bundle = fhir.build_bundle(corrected)
    report = next(e["resource"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "DiagnosticReport")
    assert report["status"] == "corrected" and report["basedOn"][0]["identifier"]["value"] == "PL-77"
    # and so does its FHIR Bundle: a Provenance per signature (it had the addendum's alone)
    signers = [(p["agent"][0]["role"][0]["text"], p["signature"][0]["who"]["display"])
               for p in (e["resource"] for e in bundle["entry"]) if p["resourceType"] == "Provenance"]
    assert signers == [("Interpreted by", "Lee, Ana"), ("Addendum by", "Lee-Park, Ana")]


def test_a_fhir_order_with_a_key_twice_in_one_object_is_refused(store: Store) -> None:
    """JSON parsers disagree on a repeated key (RFC 8259 4: 'unpredictable'); the last one was taken, so a
    gateway that checked the first subject passed an order we filed under the second."""
    document = json.dumps(contained_service_request("FH-1"))
    payload = document.replace('"subject": {"reference": "#p"}',
                               '"subject": {"reference": "#p"}, "subject": {"reference": "#q"}', 1)
    assert payload != document
    outcome = receive_order(store, payload, "peer", "interface")
    assert outcome.ack.code == "AE" and "'subject'" in outcome.ack.text and "twice" in outcome.ack.text
    assert _count(store, Study) == 0


@pytest.mark.parametrize("text", [orm("C1"), orm("C2").replace("19560314", "19561345")])
def test_the_ack_is_addressed_to_the_sender(store: Store, text: str) -> None:
    """HL7 v2.5.1 2.9.2 / 2.15.9: the ACK's receiving application and facility (MSH-5, MSH-6) are the sending
    ones of the message (MSH-3, MSH-4); they were empty, and an engine that routes ACKs by them drops it."""
    msh = hl7.parse(receive_order(store, text, "peer", "interface").ack_text).segment("MSH")
    assert (str(msh[3]), str(msh[5]), str(msh[6])) == ("ECGDESK", "EHR", "HOSP")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [("[1, 2, 3]", "expected a JSON object"), ("[" * 100_000 + "]" * 100_000, "nested deeper than 64")],
)
def test_a_json_array_is_answered_as_json_not_as_a_bad_hl7_message(
    store: Store, payload: str, reason: str
) -> None:
    """A body starting with '[' was read as HL7 v2 and refused with 'an HL7 v2 message starts with an MSH
    segment', naming a field the sender never meant to send."""
    outcome = receive_order(store, payload, "peer", "interface")
    assert outcome.ack.code == "AE" and reason in outcome.ack.text and "MSH" not in outcome.ack.text


def test_a_fhir_order_after_a_byte_order_mark_is_read(store: Store) -> None:
    payload = "\ufeff" + json.dumps(contained_service_request("FH-1"))
    assert receive_order(store, payload, "peer", "interface").ack.code == "AA"


@pytest.mark.parametrize(
    ("encoding", "field", "reason"),
    [("cp1252", "contained[0].name[0].family", "not UTF-8"), ("latin-1", "contained[0].name[0].family",
                                                              "not UTF-8"),
     ("utf-16", "json", "UTF-16"), ("utf-16-le", "json", "UTF-16")],
)
def test_a_fhir_body_that_is_not_utf_8_is_refused_naming_where(
    store: Store, encoding: str, field: str, reason: str
) -> None:
    """FHIR JSON is UTF-8. A Windows-1252 body was read as 8859-1: 'O’Brien' was stored as 'O\x92Brien'
    (an 8859-1 'Müller' was right by luck), and a UTF-16 one was answered as an HL7 v2 message naming
    MSH-18."""
    document = contained_service_request("FH-1")
    document["contained"][0]["name"][0]["family"] = "Mü’ller" if encoding != "latin-1" else "Müller"
    body = mllp.decode(json.dumps(document, ensure_ascii=False).encode(encoding))
    outcome = receive_order(store, body, "peer", "interface")
    assert outcome.ack.code == "AE" and f"field '{field}'" in outcome.ack.text and reason in outcome.ack.text
    assert "MSH" not in outcome.ack.text and _count(store, Study) == 0 and _count(store, Patient) == 0


@pytest.mark.parametrize(
    "text",
    [
        orm("C1").replace("19560314", "19561345"),  # AE 102 PID^1^7, refused by the reader
        orm("C1").replace("R00.2^", "Q99.999^"),  # AE 103 DG1^1^3, refused by the study's checks
        orm("C1") + "DG1|2||Q99.999^Unknown^I10\r",  # AE 103 DG1^2^3, read back from the stored reason
        orm("C1").replace("|P|2.5.1", "|T|2.5.1"),  # AR 202 MSH^1^11
    ],
)
def test_a_resent_refused_message_gets_the_same_err_again(store: Store, text: str) -> None:
    """A resend (same control id, same content) is answered as the first time: the same MSA-1 and the same
    ERR-2/ERR-3; the resend was answered with ERR-3 207 (application error) and no location."""
    first, again = (hl7.parse(receive_order(store, text, "peer", "i").ack_text) for _ in range(2))
    assert str(again.segment("MSA")[1]) == str(first.segment("MSA")[1])
    assert (str(again.segment("ERR")[2]), str(again.segment("ERR")[3])) == (
        str(first.segment("ERR")[2]), str(first.segment("ERR")[3]))
