"""Interfaces over HTTP: orders in (HL7 v2 and FHIR bodies), a study's result and deliveries."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hl7
from service_builders import ORDERING_NPI, PIN, STUDY, Api, upload

from ecgdesk.workflow.interop_results import add_target

sys.path.insert(0, str(Path(__file__).parents[1] / "interop"))
from interop_builders import contained_service_request

ORDER = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|H1|P|2.5.1\r"
    "PID|1||MRN5^^^HOSP^MR||Roe^Rita||19560314|F\r"
    f"ORC|NW|PL-5||||||||||{ORDERING_NPI}^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|PL-5||93000^ECG^C4\r"
    "DG1|1||R00.2^Palpitations^I10\r"
)
SERVICE_REQUEST = contained_service_request("FH-9", ORDERING_NPI)


def test_orders_in_over_http_create_studies_once(api: Api) -> None:
    headers = api.login("tech.t")
    hl7_headers = {**headers, "Content-Type": "x-application/hl7-v2+er7"}
    first = api.client.post("/api/v1/interop/orders", content=ORDER, headers=hl7_headers)
    assert first.status_code == 200, first.text
    assert (
        first.json()["status"] == "accepted" and str(hl7.parse(first.json()["ack"]).segment("MSA")[1]) == "AA"
    )
    again = api.client.post("/api/v1/interop/orders", content=ORDER, headers=hl7_headers)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    # the same order under a new MSH-10 (a lost ACK, re-queued by the engine): answered 422 'exists' before
    resend = ORDER.replace("|H1|", "|H5|")
    resent = api.client.post("/api/v1/interop/orders", content=resend, headers=hl7_headers)
    assert resent.status_code == 200 and resent.json()["status"] == "duplicate", resent.text
    assert resent.json()["study_id"] == 1 and str(hl7.parse(resent.json()["ack"]).segment("MSA")[1]) == "AA"
    other = ORDER.replace("|H1|", "|H6|").replace("MRN5", "MRN6")
    refused = api.client.post("/api/v1/interop/orders", content=other, headers=hl7_headers)
    assert refused.status_code == 422 and "PID-3" in refused.text and "another patient" in refused.text
    fhir = api.client.post(
        "/api/v1/interop/orders",
        content=json.dumps(SERVICE_REQUEST),
        headers={**headers, "Content-Type": "application/fhir+json"},
    )
    assert fhir.status_code == 200 and fhir.json()["study_id"] == 2
    bad = api.client.post(
        "/api/v1/interop/orders",
        content=ORDER.replace("R00.2", "BAD.CODE").replace("H1", "H2"),
        headers=hl7_headers,
    )
    assert bad.status_code == 422 and "ICD-10-CM" in bad.text
    empty = api.client.post("/api/v1/interop/orders", content=b"", headers=hl7_headers)
    assert empty.status_code == 422
    assert api.client.post("/api/v1/interop/orders", content=ORDER).status_code == 403  # no CSRF token
    api.client.cookies.clear()
    assert api.client.post("/api/v1/interop/orders", content=ORDER, headers=hl7_headers).status_code == 401


def test_result_needs_a_signature_and_deliveries_list(api: Api, tmp_path: object) -> None:
    headers = api.login("tech.t")
    api.client.post(
        "/api/v1/interop/orders",
        content=ORDER,
        headers={**headers, "Content-Type": "x-application/hl7-v2+er7"},
    )
    add_target(api.store, "chart", "folder", "/nonexistent-never-written", ["hl7"], "admin.t")
    unsigned = api.client.get("/api/v1/studies/1/result", params={"as": "hl7"}, headers=headers)
    assert unsigned.status_code == 409 and "signed" in unsigned.text
    assert (
        api.client.get("/api/v1/studies/1/result", params={"as": "pdf"}, headers=headers).status_code == 422
    )
    assert api.client.get("/api/v1/studies/99/deliveries", headers=headers).status_code == 404
    assert api.client.get("/api/v1/studies/1/deliveries", headers=headers).json() == []
    biller = api.login("biller.t")
    assert api.client.get("/api/v1/studies/1/result", headers=biller).status_code == 403


def test_signed_result_in_each_format_and_its_delivery(api: Api, tiny_files: list[Path]) -> None:
    add_target(api.store, "chart", "folder", str(api.store.home / "outbox"), ["hl7"], "admin.t")
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert getattr(upload(api, study_id, tiny_files), "status_code", None) == 202
    api.wait()
    headers = api.login("dr.t")
    base = f"/api/v1/studies/{study_id}"
    reading = {"text": "Sinus rhythm."}
    assert api.client.post(f"{base}/interpretation", json=reading, headers=headers).is_success
    assert api.client.post(f"{base}/sign", json={"password": PIN}, headers=headers).is_success
    oru = api.client.get(f"/api/v1/studies/{study_id}/result", params={"as": "hl7"})
    assert oru.status_code == 200 and oru.headers["cache-control"] == "no-store"
    message = hl7.parse(oru.text)
    assert str(message.segment("MSH")[9]) == "ORU^R01^ORU_R01" and str(message.segment("OBR")[25]) == "F"
    bundle = api.client.get(f"/api/v1/studies/{study_id}/result", params={"as": "fhir"}).json()
    assert bundle["resourceType"] == "Bundle"
    dicom = api.client.get(f"/api/v1/studies/{study_id}/result", params={"as": "dicom"})
    assert dicom.content[128:132] == b"DICM"
    assert f"study-{study_id}-v1" in dicom.headers["content-disposition"]
    (delivery,) = api.client.get(f"/api/v1/studies/{study_id}/deliveries").json()
    assert (delivery["target"], delivery["format"], delivery["status"]) == ("chart", "hl7", "pending")
    api.login("admin.t")
    trail = api.client.get("/api/v1/audit", params={"study_id": study_id}).json()["items"]
    assert sum(row["action"] == "interop:export" for row in trail) == 3


def test_a_patient_update_comes_in_over_http_like_an_order(api: Api) -> None:
    """ADT^A08 was refused over HTTP (422, AR: 'not an order'); it updates the patient now."""
    headers = {**api.login("tech.t"), "Content-Type": "x-application/hl7-v2+er7"}
    assert api.client.post("/api/v1/interop/orders", content=ORDER, headers=headers).status_code == 200
    update = (
        "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261207090000||ADT^A08^ADT_A01|U1|P|2.5.1\r"
        "EVN|A08|20261207090000\rPID|1||MRN5^^^HOSP^MR||Roe-Smith^Rita||19560314|F\rPV1|1|O\r"
    )
    answer = api.client.post("/api/v1/interop/orders", content=update, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted" and "updated (name)" in answer.json()["text"]
    study = api.client.get("/api/v1/studies/1", headers=headers).json()
    assert study["patient"]["name"] == "Roe-Smith, Rita"


def test_a_held_order_is_answered_without_the_stored_patient(api: Api) -> None:
    """The 422 of a held order (patient id on record with another name, birth date or sex) carried the stored
    patient's name, birth date and sex: a way for any account allowed to send orders to read a patient's
    demographics by id. It names the fields that differ now; the hold list keeps both sides."""
    headers = {**api.login("tech.t"), "Content-Type": "x-application/hl7-v2+er7"}
    assert api.client.post("/api/v1/interop/orders", content=ORDER, headers=headers).status_code == 200
    other = ORDER.replace("|H1|", "|H2|").replace("PL-5", "PL-6")
    other = other.replace("Roe^Rita||19560314", "Roe^Rosa||19560315")
    held = api.client.post("/api/v1/interop/orders", content=other, headers=headers)
    assert held.status_code == 422
    assert "PID-5 name and PID-7 birth date differ from the patient on record" in held.text
    assert not [value for value in ("Rita", "1956-03-14", "19560314") if value in held.text]


def test_an_enhanced_mode_order_over_http_is_answered_by_its_accept_ack(api: Api) -> None:
    """MSH-15/MSH-16 were not read: the answer's ack was an AA whatever the sender asked for."""
    headers = {**api.login("tech.t"), "Content-Type": "x-application/hl7-v2+er7"}
    enhanced = ORDER.replace("|P|2.5.1\r", "|P|2.5.1|||AL|NE\r", 1)
    first = api.client.post("/api/v1/interop/orders", content=enhanced, headers=headers)
    assert first.status_code == 200, first.text
    assert str(hl7.parse(first.json()["ack"]).segment("MSA")[1]) == "CA" and first.json()["code"] == "AA"
    silent = enhanced.replace("|H1|", "|H3|").replace("PL-5", "PL-6").replace("|AL|NE\r", "|NE|NE\r", 1)
    second = api.client.post("/api/v1/interop/orders", content=silent, headers=headers)
    assert second.status_code == 200 and second.json()["ack"] == "" and second.json()["study_id"] == 2
