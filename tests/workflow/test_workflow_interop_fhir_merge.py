"""FHIR Patient.link (replaced-by / replaces), FHIR's way to say two records were merged, handled as ADT^A40
is: orders, studies and claims move to the surviving patient in one transaction, audited; records that
disagree are held; a link that names no record is refused naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from claims_workflow_builders import add_people, coded_study
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient as FhirPatient
from sqlalchemy import select

from ecgdesk.store import Store
from ecgdesk.store.claims_models import ClaimRow
from ecgdesk.store.models import AuditEntry, Order, Patient, Study
from ecgdesk.workflow.claims import create_claim
from ecgdesk.workflow.interop_orders import list_inbound, receive_order

ORM = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|P|2.5.1\r"
    "PID|1||{mrn}^^^HOSP^MR||Doe^Jane||{dob}|F\r"
    "ORC|NW|{placer}||||||||||1245319599^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93000^ECG^C4\r"
    "DG1|1||R00.2^Palpitations^I10\r"
)
MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


def orm(control: str, mrn: str, dob: str = "19500102") -> str:
    return ORM.format(control=control, mrn=mrn, placer=f"PL-{control}", dob=dob)


def patient(mrn: str, birth: str = "1950-01-02", **extra: Any) -> dict[str, Any]:
    resource = {"resourceType": "Patient", "id": mrn.lower(), "identifier": [{"type": MR, "value": mrn}],
                "name": [{"use": "official", "family": "Doe", "given": ["Jane"]}], "gender": "female",
                "birthDate": birth, **extra}
    FhirPatient.model_validate(resource)  # as an EHR sends it
    return resource


def link(kind: str, other: dict[str, Any]) -> dict[str, Any]:
    return {"link": [{"type": kind, "other": other}]}


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    document = {"resourceType": "Bundle", "type": "collection",
                "entry": [{"fullUrl": f"urn:uuid:0000000{n}-0000-4000-8000-000000000000", "resource": r}
                          for n, r in enumerate(resources)]}
    Bundle.model_validate(document)
    return document


def _owners(store: Store) -> dict[str, list[str]]:
    with store.transaction() as session:
        ids = {p.id: p.external_id for p in session.scalars(select(Patient))}
        return {
            "orders": sorted(ids[o.patient_id] for o in session.scalars(select(Order))),
            "studies": sorted(ids[s.patient_id] for s in session.scalars(select(Study))),
            "claims": sorted(ids[c.patient_id] for c in session.scalars(select(ClaimRow))),
            "merged": sorted(f"{p.external_id}>{ids[p.merged_into_id]}"
                             for p in session.scalars(select(Patient)) if p.merged_into_id is not None),
        }


def _send(store: Store, document: dict[str, Any]) -> Any:
    return receive_order(store, json.dumps(document), "fhir", "interface")


def test_a_patient_replaced_by_another_in_the_bundle_is_merged_like_an_a40(
    store: Store, tiny_record: Path
) -> None:
    """Patient.link was not read: a Bundle of the two linked Patients was refused ('2 Patients; send one
    patient update per message') and the records stayed apart."""
    add_people(store)
    study = coded_study(store, tiny_record, patient="P1")
    create_claim(store, study, "biller")
    assert receive_order(store, orm("O2", "P2"), "peer", "interface").ack.code == "AA"
    document = bundle(patient("P1", active=False, **link("replaced-by", {"reference": "Patient/p2"})),
                      patient("P2", **link("replaces", {"reference": "Patient/p1"})))
    outcome = _send(store, document)
    assert outcome.ack.code == "AA", outcome.ack.text
    assert "patient P1 merged into P2: moved 1 orders, 1 studies, 1 claims" in outcome.ack.text
    assert _owners(store) == {"orders": ["P2", "P2"], "studies": ["P2", "P2"], "claims": ["P2"],
                              "merged": ["P1>P2"]}
    with store.transaction() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "patient:merge")).one()
        after = json.loads(entry.after_json)
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "patient:merge-into")).one()
    assert (after["prior"], after["surviving"], after["event"]) == ("P1", "P2", "A40")
    assert after["message_id"].startswith("fhir:")
    assert _send(store, document).status == "duplicate"


@pytest.mark.parametrize(
    "document",
    [
        # the surviving record, replacing one named by its identifier (a logical reference)
        patient("P2", **link("replaces", {"identifier": {"type": MR, "value": "P1"}})),
        # the retired record, replaced by one named by its identifier
        patient("P1", **link("replaced-by", {"identifier": {"system": "urn:oid:1.2.3", "value": "P2"}})),
    ],
)
def test_one_patient_linking_the_other_by_identifier_is_merged(
    store: Store, document: dict[str, Any]
) -> None:
    receive_order(store, orm("O1", "P1"), "peer", "interface")
    receive_order(store, orm("O2", "P2"), "peer", "interface")
    outcome = _send(store, document)
    assert outcome.ack.code == "AA", outcome.ack.text
    assert _owners(store) == {"orders": ["P2", "P2"], "studies": ["P2", "P2"], "claims": [],
                              "merged": ["P1>P2"]}


def test_a_patient_replaced_by_an_id_we_never_saw_goes_on_under_it(store: Store) -> None:
    receive_order(store, orm("O1", "P1"), "peer", "interface")
    outcome = _send(store, patient("P1", **link("replaced-by", {"identifier": {"value": "P9"}})))
    assert outcome.ack.code == "AA", outcome.ack.text
    assert _owners(store) == {"orders": ["P9"], "studies": ["P9"], "claims": [], "merged": ["P1>P9"]}


def test_linked_records_that_disagree_are_held_without_their_values(store: Store) -> None:
    receive_order(store, orm("O1", "P1"), "peer", "interface")
    receive_order(store, orm("O2", "P2", dob="19600101"), "peer", "interface")
    outcome = _send(store, patient("P2", birth="1960-01-01",
                                   **link("replaces", {"identifier": {"value": "P1"}})))
    assert (outcome.status, outcome.ack.code) == ("held", "AE")
    assert "Patient.link.other" in outcome.ack.text and "1950" not in outcome.ack.text
    assert [m.status for m in list_inbound(store, "held")] == ["held"]
    assert _owners(store)["merged"] == []


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [
        (patient("P2", **link("replaces", {"display": "the old chart"})), "Patient.link.other",
         "carries no identifier"),
        (patient("P2", **link("replaces", {"identifier": {"value": "P7"}})), "Patient.link.other",
         "no patient 'P7'"),
        (patient("P2", **link("replaces", {"identifier": {"value": "P2"}})), "Patient.link.other",
         "is the surviving id"),
        (bundle(patient("P2", **link("replaces", {"identifier": {"value": "P1"}})),
                patient("P3", **link("replaces", {"identifier": {"value": "P1"}}))), "Patient.link",
         "2 merges in one message"),
    ],
)
def test_a_bad_link_is_refused_naming_the_field(
    store: Store, document: dict[str, Any], field: str, reason: str
) -> None:
    receive_order(store, orm("O1", "P1"), "peer", "interface")
    receive_order(store, orm("O2", "P2"), "peer", "interface")
    outcome = _send(store, document)
    assert outcome.ack.code == "AE", outcome.ack.text
    assert f"field '{field}'" in outcome.ack.text and reason in outcome.ack.text, outcome.ack.text
    assert _owners(store)["merged"] == []


def test_refer_and_seealso_links_are_no_merge(store: Store) -> None:
    receive_order(store, orm("O1", "P1"), "peer", "interface")
    outcome = _send(store, patient("P1", **link("seealso", {"identifier": {"value": "P2"}})))
    assert outcome.ack.code == "AA" and "unchanged" in outcome.ack.text
    assert _owners(store)["merged"] == []
