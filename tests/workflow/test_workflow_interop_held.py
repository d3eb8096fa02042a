"""An order held because its patient id exists with other demographics: the answer to the sender names the
fields that differ, never the stored patient's values (those stay in the audited hold list of whoever resolves
holds); on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import hl7

from ecgdesk.store import Store
from ecgdesk.store.interop_models import InboundMessage
from ecgdesk.workflow.interop_orders import list_inbound, receive_order
from ecgdesk.workflow.lifecycle import now

sys.path.insert(0, str(Path(__file__).parents[1] / "interop"))
from interop_builders import contained_service_request

ORM = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|P|2.5.1\r"
    "PID|1||MRN7^^^HOSP^MR||{name}||{born}|F\r"
    "ORC|NW|{placer}||||||||||1245319599^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93245^Extended ECG monitoring^C4\r"
    "DG1|1||R00.2^Palpitations^I10\r"
)

#: The stored patient's values, as the record and as a v2 message write them: none may reach the sender.
STORED = ("Rita", "1956-03-14", "19560314")


def orm(control: str, placer: str, name: str = "Roe^Rita", born: str = "19560314") -> str:
    return ORM.format(control=control, placer=placer, name=name, born=born)


def _leaks(text: str) -> list[str]:
    return [value for value in STORED if value in text]


def test_a_held_order_is_answered_without_the_stored_patient(store: Store) -> None:
    """The AE of a held order said 'patient MRN7 exists as Roe, Rita, born 1956-03-14, sex F; the order says
    ...': anyone allowed to send orders could read a patient's name, birth date and sex by sending an order
    with the patient's id. The ACK (MSA-3, ERR-8) and its resend now name only the fields that differ."""
    assert receive_order(store, orm("C1", "PL-1"), "peer", "interface").ack.code == "AA"
    held = receive_order(store, orm("C2", "PL-2", name="Roe^Rosa", born="19560315"), "peer", "interface")
    assert (held.status, held.ack.code, held.study_id) == ("held", "AE", None)
    assert _leaks(held.ack.text) == [] and _leaks(held.ack_text) == []
    assert held.ack.text == (
        "PID-5 name and PID-7 birth date differ from the patient on record; held for review, not merged"
    )
    ack = hl7.parse(held.ack_text.replace("\n", "\r"))
    assert str(ack.segment("MSA")[1]) == "AE" and "PID-5 name" in str(ack.segment("MSA")[3])
    again = receive_order(store, orm("C2", "PL-2", name="Roe^Rosa", born="19560315"), "peer", "interface")
    assert again.status == "duplicate" and again.ack.text.endswith(held.ack.text)
    assert _leaks(again.ack_text) == []
    # the person who resolves holds still sees both sides (an audited read)
    [row] = list_inbound(store, "held", actor="tech")
    assert "Roe, Rita" in row.reason and "1956-03-14" in row.reason and "1956-03-15" in row.reason


def test_a_held_fhir_order_names_the_elements_that_differ(store: Store) -> None:
    first = json.dumps(contained_service_request("FH-1"))
    assert receive_order(store, first, "peer", "interface").ack.code == "AA"
    other = contained_service_request("FH-2")
    other["contained"][0]["gender"] = "female"
    held = receive_order(store, json.dumps(other), "peer", "interface")
    assert held.status == "held"
    assert held.ack.text == "Patient.gender differs from the patient on record; held for review, not merged"
    assert "Poe" not in held.ack_text and "1940-01-19" not in held.ack_text


def test_the_resend_of_a_message_held_before_is_answered_without_the_stored_patient(store: Store) -> None:
    """A message held before this change kept the reason it was answered with, stored values and all; a
    resend of it is answered with the fields that differ only."""
    resend = orm("C9", "PL-9")
    with store.transaction() as session:
        session.add(
            InboundMessage(
                message_id="C9",
                kind="hl7",
                source="peer",
                payload_sha256=hashlib.sha256(resend.encode()).hexdigest(),
                placer_order_number="PL-9",
                status="held",
                ack_code="AE",
                reason=(
                    "patient MRN7 exists as Roe, Rita, born 1956-03-14, sex F; the order says Roe, Rosa, "
                    "born 1956-03-14, sex M: held for review, not merged"
                ),
                received_at=now(),
            )
        )
    again = receive_order(store, resend, "peer", "interface")
    assert again.status == "duplicate" and _leaks(again.ack_text) == []
    assert again.ack.text.endswith(
        "PID-5 name and PID-8 sex differ from the patient on record; held for review, not merged"
    )


def test_the_same_patient_written_otherwise_is_not_held(store: Store) -> None:
    """An EHR that writes names in capitals or with stray spaces, or leaves PID-8 empty, names the patient on
    record: each such order was held as 'PID-5 name differs' or 'PID-8 sex differs' for a person to resolve
    (the merge of two records already read an unknown sex so). Another birth date is still held."""
    assert receive_order(store, orm("C1", "PL-1"), "t", "i").ack.code == "AA"
    for control, name, sex in [("C2", "ROE^RITA", "F"), ("C3", "Roe ^ Rita", "F"), ("C4", "Roe^Rita", "")]:
        text = orm(control, f"PL-{control}", name).replace("|19560314|F\r", f"|19560314|{sex}\r")
        outcome = receive_order(store, text, "t", "i")
        assert (outcome.ack.code, outcome.ack.text) == ("AA", "order created"), (name, sex)
    held = receive_order(store, orm("C5", "PL-5", "ROE^RITA", born="19560315"), "t", "i")
    assert held.status == "held" and held.ack.text.startswith("PID-7 birth date differs")
    assert receive_order(store, orm("C6", "PL-6", "ROE^ROSA"), "t", "i").status == "held"
