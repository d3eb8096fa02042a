"""ADT^A40 (merge patient): the prior record's orders, studies and claims move to the surviving patient in
one transaction, audited; the prior row is kept as merged; a merge of records that disagree is held; a bad
merge is refused naming the field; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import hl7
import pytest
from claims_workflow_builders import add_people, coded_study
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from sqlalchemy import select

from ecgdesk.store import Store
from ecgdesk.store.claims_models import ClaimRow, CoverageRow
from ecgdesk.store.models import AuditEntry, Order, Patient, Study
from ecgdesk.workflow.claims import create_claim
from ecgdesk.workflow.interop_orders import list_inbound, receive_order
from ecgdesk.workflow.views import show_study

ORM = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|P|2.5.1\r"
    "PID|1||{mrn}^^^HOSP^MR||Doe^Jane||{dob}|F\r"
    "ORC|NW|{placer}||||||||||1245319599^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93000^ECG^C4\r"
    "DG1|1||R00.2^Palpitations^I10\r"
)
# ADT^A40 as HL7 v2.5.1 structures it (ADT_A39: MSH, EVN, PATIENT: PID, MRG)
A40 = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261207090000||ADT^A40^ADT_A39|{control}|P|2.5.1\r"
    "EVN|A40|20261207090000\r"
    "PID|1||{surviving}^^^HOSP^MR||Doe^Jane||{dob}|F\r"
    "MRG|{prior}^^^HOSP^MR\r"
)


def orm(control: str, mrn: str, placer: str, dob: str = "19500102") -> str:
    return ORM.format(control=control, mrn=mrn, placer=placer, dob=dob)


def a40(control: str, prior: str = "P1", surviving: str = "P2", dob: str = "19500102") -> str:
    return A40.format(control=control, prior=prior, surviving=surviving, dob=dob)


def _owners(store: Store) -> dict[str, list[str]]:
    """Who holds each order, study, claim and coverage (by patient id), and who is merged into whom."""
    with store.transaction() as session:
        ids = {p.id: p.external_id for p in session.scalars(select(Patient))}
        return {
            "orders": sorted(ids[o.patient_id] for o in session.scalars(select(Order))),
            "studies": sorted(ids[s.patient_id] for s in session.scalars(select(Study))),
            "claims": sorted(ids[c.patient_id] for c in session.scalars(select(ClaimRow))),
            "coverages": sorted(ids[c.patient_id] for c in session.scalars(select(CoverageRow))),
            "merged": sorted(f"{p.external_id}>{ids[p.merged_into_id]}"
                             for p in session.scalars(select(Patient)) if p.merged_into_id is not None),
        }


def test_a_merge_moves_the_prior_patients_record_and_keeps_it_as_merged(
    store: Store, tiny_record: Path
) -> None:
    """There was no ADT handling: an A40 was rejected (AR), and the prior id's studies and claims stayed
    apart from the surviving patient's for good."""
    text = a40("M1")
    parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()  # as sent
    add_people(store)
    study = coded_study(store, tiny_record, patient="P1")  # signed, coded, with coverage
    claim = create_claim(store, study, "biller")
    with store.transaction() as session:
        written = session.get(ClaimRow, claim.id).claim_json  # type: ignore[union-attr]
    assert receive_order(store, orm("O2", "P2", "PL-2"), "peer", "interface").ack.code == "AA"
    outcome = receive_order(store, text, "peer", "interface")
    assert outcome.ack.code == "AA", outcome.ack.text
    assert "moved 1 orders, 1 studies, 1 claims, 0 monitoring periods, 1 coverages" in outcome.ack.text
    assert _owners(store) == {"orders": ["P2", "P2"], "studies": ["P2", "P2"], "claims": ["P2"],
                              "coverages": ["P2"], "merged": ["P1>P2"]}
    assert show_study(store, study).patient.id == "P2"
    with store.transaction() as session:
        assert session.get(ClaimRow, claim.id).claim_json == written  # type: ignore[union-attr]  # history
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "patient:merge")).one()
        after = json.loads(entry.after_json)
    assert (after["prior"], after["surviving"], after["studies"], after["claims"]) == ("P1", "P2", 1, 1)
    # the prior id takes no new order or update; the same merge again changes nothing
    for message in (orm("O3", "P1", "PL-3"),
                    a40("U1").replace("ADT^A40^ADT_A39", "ADT^A08^ADT_A01").replace("P2", "P1")):
        refused = receive_order(store, message, "peer", "interface")
        err = hl7.parse(refused.ack_text).segment("ERR")
        assert refused.ack.code == "AE" and str(err[2]) == "PID^1^3" and "merged into P2" in refused.ack.text
    assert receive_order(store, text, "peer", "interface").status == "duplicate"
    again = receive_order(store, a40("M2"), "peer", "interface")
    assert again.ack.code == "AA" and "nothing to do" in again.ack.text


def test_a_merge_into_an_id_we_never_saw_carries_the_record_on_under_it(store: Store) -> None:
    receive_order(store, orm("O1", "P1", "PL-1"), "peer", "interface")
    outcome = receive_order(store, a40("M1", surviving="P9"), "peer", "interface")
    assert outcome.ack.code == "AA"
    assert _owners(store) == {"orders": ["P9"], "studies": ["P9"], "claims": [], "coverages": [],
                              "merged": ["P1>P9"]}


def test_a_merge_of_records_that_disagree_is_held_for_a_person(store: Store) -> None:
    receive_order(store, orm("O1", "P1", "PL-1"), "peer", "interface")
    receive_order(store, orm("O2", "P2", "PL-2", dob="19600101"), "peer", "interface")
    outcome = receive_order(store, a40("M1", dob="19600101"), "peer", "interface")
    assert (outcome.status, outcome.ack.code) == ("held", "AE") and "differ in birth date" in outcome.ack.text
    assert [m.message_id for m in list_inbound(store, "held")] == ["M1"]
    assert _owners(store) == {"orders": ["P1", "P2"], "studies": ["P1", "P2"], "claims": [], "coverages": [],
                              "merged": []}


@pytest.mark.parametrize(
    ("text", "location", "reason"),
    [
        (a40("M1", prior="P7"), "MRG^1^1", "no patient 'P7'"),
        (a40("M1", prior="P2"), "MRG^1^1", "is the surviving id"),
        (a40("M1").replace("MRG|P1^^^HOSP^MR\r", ""), "MRG^1", "needs an MRG segment"),
        (a40("M1").replace("MRG|P1^^^HOSP^MR", "MRG|^^^HOSP^MR"), "MRG^1^1", "empty"),
        # the same numbers under another assigning authority are other patients: they were merged
        (a40("M1").replace("MRG|P1^^^HOSP^MR", "MRG|P1^^^EAST^MR"), "MRG^1^1^1^4", "another authority"),
        (a40("M1").replace("|P2^^^HOSP^MR|", "|P2^^^EAST^MR|"), "PID^1^3^1^4", "another assigning authority"),
    ],
)
def test_a_bad_merge_is_refused_naming_the_field(store: Store, text: str, location: str, reason: str) -> None:
    receive_order(store, orm("O1", "P1", "PL-1"), "peer", "interface")
    receive_order(store, orm("O2", "P2", "PL-2"), "peer", "interface")
    outcome = receive_order(store, text, "peer", "interface")
    err = hl7.parse(outcome.ack_text).segment("ERR")
    assert (outcome.ack.code, str(err[2])) == ("AE", location) and reason in outcome.ack.text
    assert _owners(store)["merged"] == [] and _owners(store)["studies"] == ["P1", "P2"]
