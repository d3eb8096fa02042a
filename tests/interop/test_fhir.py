"""FHIR R4 (R4B classes): the result Bundle validates and round-trips; ServiceRequests are checked."""

from __future__ import annotations

import base64
import copy
from dataclasses import replace

import pytest
from fhir.resources.R4B.bundle import Bundle
from interop_builders import ORDERING_NPI, PDF, PHYSICIAN_NPI, service_request, signed_result

from ecgdesk.errors import InputError
from ecgdesk.interop import fhir
from ecgdesk.interop.model import OrderControl, ResultStatus


def test_bundle_validates_and_carries_report_observations_and_pdf() -> None:
    bundle = fhir.build_bundle(signed_result())
    parsed = Bundle.model_validate(bundle)
    kinds = [e.resource.__resource_type__ for e in parsed.entry]
    assert kinds.count("Observation") == 3 and "DiagnosticReport" in kinds and "Patient" in kinds
    report = next(e.resource for e in parsed.entry if e.resource.__resource_type__ == "DiagnosticReport")
    assert report.status == "final" and report.code.coding[0].code == "18754-2"
    assert report.presentedForm[0].data == PDF  # fhir.resources decodes base64Binary
    raw = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    assert base64.b64decode(raw["resource"]["presentedForm"][0]["data"]) == PDF
    assert report.basedOn[0].identifier.value == "PL-100"
    assert report.resultsInterpreter[0].reference.startswith("urn:uuid:")
    urls = {e.fullUrl for e in parsed.entry}
    assert {r.reference for r in report.result} <= urls
    hr = next(
        e.resource
        for e in parsed.entry
        if e.resource.__resource_type__ == "Observation" and e.resource.code.coding[0].code == "8867-4"
    )
    assert float(hr.valueQuantity.value) == 72.0 and hr.valueQuantity.system == "http://unitsofmeasure.org"


def test_each_resource_of_a_result_is_keyed_by_its_identifier() -> None:
    """Each result (and each retry of a delivery whose answer was lost) POSTed the Patient and both
    Practitioners again: a FHIR server gathered a new copy of the patient with every report. They are
    conditional creates on their identifier (an MRN ``P|1`` escaped as FHIR search asks). Until 2026-12-07
    the DiagnosticReport, its Observations and Provenances were plain creates too, made again by each retry
    and each corrected result, and a patient whose MRN named no assigning authority was created every time:
    now the report and its Observations are conditional updates on identifiers unique across installations
    (the study, and the study and measurement: a second ECG Desk's study 7 is another key), a Provenance a
    conditional create on the report it signs and its time, and a bare MRN is ours to name
    (``urn:ecgdesk:patient-id``, no other system's number)."""
    bundle = fhir.build_bundle(signed_result())
    asked = {e["resource"]["resourceType"] + str(i): e["request"] for i, e in enumerate(bundle["entry"])}
    assert asked["Patient0"]["ifNoneExist"] == "identifier=urn:ecgdesk:patient-id:HOSP|P%5C%7C1"
    assert asked["Practitioner1"]["ifNoneExist"] == f"identifier=http://hl7.org/fhir/sid/us-npi|{ORDERING_NPI}"
    assert asked["Practitioner2"]["ifNoneExist"] == f"identifier=http://hl7.org/fhir/sid/us-npi|{PHYSICIAN_NPI}"
    report = bundle["entry"][6]["resource"]
    key = f"urn:ietf:rfc:3986|{report['identifier'][1]['value']}"
    assert report["identifier"][0]["value"] == "ECGDESK-7" and key.startswith("urn:ietf:rfc:3986|urn:uuid:")
    assert asked["DiagnosticReport6"] == {"method": "PUT", "url": f"DiagnosticReport?identifier={key}"}
    assert asked["Provenance7"] == {"method": "POST", "url": "Provenance", "ifNoneExist": (
        f"target:DiagnosticReport.identifier={key}&recorded=2026-12-01T14:30:00Z")}
    observations = [asked[f"Observation{i}"] for i in (3, 4, 5)]
    assert {o["method"] for o in observations} == {"PUT"} and len({o["url"] for o in observations}) == 3
    # the same study's next result has the same keys; another installation's study 7 other ones
    again = fhir.build_bundle(signed_result(report_version=2, status=ResultStatus.CORRECTED))
    elsewhere = fhir.build_bundle(signed_result(uid_seed="site-b:7"))
    assert [e["request"] for e in again["entry"][3:7]] == [e["request"] for e in bundle["entry"][3:7]]
    assert not {e["request"]["url"] for e in elsewhere["entry"][3:7]} & {o["url"] for o in observations}
    Bundle.model_validate(bundle)
    bare = signed_result(patient=replace(signed_result().patient, id_authority=""))
    patient = next(e for e in fhir.build_bundle(bare)["entry"] if e["resource"]["resourceType"] == "Patient")
    assert patient["request"]["ifNoneExist"] == "identifier=urn:ecgdesk:patient-id|P%5C%7C1"


def test_corrected_result_is_status_corrected() -> None:
    """The report of a corrected result is corrected; of its Observations only those whose value changed
    (each was sent corrected before, unchanged ones too)."""
    bundle = fhir.build_bundle(signed_result(status=ResultStatus.CORRECTED,
                                             changed_measurements=frozenset({"af_burden"})))
    report = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"
    )
    assert report["status"] == "corrected"
    statuses = {e["resource"]["valueQuantity"]["unit"]: e["resource"]["status"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == "Observation"}
    assert statuses == {"/min": "final", "%": "corrected", "{beats}": "final"}


def test_service_request_bundle_is_read() -> None:
    order = fhir.parse_service_request(service_request(), "sr.json")
    # active: the order as it stands (new, or a change of one we have); the workflow decides which
    assert order.control is OrderControl.ACTIVE and order.placer_order_number == "PL-200"
    assert (
        order.patient.id == "P900" and order.patient.display == "Roe, Rita" and order.service == "resting_ecg"
    )
    assert order.ordering.npi == "1245319599" and order.indications == ("R00.2",)
    assert fhir.parse_service_request(service_request(status="revoked"), "x").control is OrderControl.CANCEL
    # on hold: 'temporarily withdrawn but expected to resume' (R4 request-status), not a change
    assert fhir.parse_service_request(service_request(status="on-hold"), "x").control is OrderControl.HOLD


def _without(document: dict, index: int, key: str) -> dict:
    changed = copy.deepcopy(document)
    del changed["entry"][index]["resource"][key]
    return changed


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ([], "resourceType"),
        ({"resourceType": "Patient"}, "resourceType"),
        (_without(service_request(), 0, "status"), "Bundle.entry.0.resource.status"),
        (service_request(status="completed"), "ServiceRequest.status"),
        (_without(service_request(), 0, "identifier"), "ServiceRequest.identifier"),
        (service_request(birth="1956-13-01"), "Bundle.entry.1.resource.birthDate"),
        (service_request(birth="1956-1-01"), "Bundle.entry.1.resource.birthDate"),
        (service_request(npi=""), "Bundle.entry.2.resource.identifier"),
        (service_request(icd=""), "Bundle.entry.0.resource.reasonCode"),
        (service_request(code="12345"), "ServiceRequest.code"),
        ({"resourceType": "Bundle", "type": "nonsense-type", "entry": "no"}, "Bundle.entry"),
        # found by the fuzz run: an unknown type was a KeyError inside fhir.resources, 100,000 entries
        # took 11 s and 600 MB to validate
        ({**service_request(), "entry": [{"resource": {"resourceType": "SpaceshipType"}}]},
         "Bundle.entry[0].resource.resourceType"),
        ({**service_request(), "entry": service_request()["entry"] + service_request()["entry"][1:] * 104},
         "Bundle.entry"),
    ],
)
def test_bad_service_requests_name_the_field(document: object, field: str) -> None:
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request(document, "bad.json")
    assert caught.value.field.startswith(field)


def _changed(index: int, **elements: object) -> dict:
    """The order Bundle with elements of its ``index``-th resource set."""
    changed = copy.deepcopy(service_request())
    changed["entry"][index]["resource"].update(elements)
    return changed


_PLAC = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PLAC"}]}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        # each was taken as an order before 2026-12-07: FHIR forbids ignoring a modifier, doNotPerform says
        # the ECG is NOT to be done, two placer numbers leave which one a cancel names a guess
        (_changed(0, modifierExtension=[{"url": "http://x.example/not-yet", "valueBoolean": True}]),
         "entry[0].resource.modifierExtension"),
        (_changed(1, implicitRules="http://x.example/rules"), "entry[1].resource.implicitRules"),
        (_changed(0, doNotPerform=True), "ServiceRequest.doNotPerform"),
        (_changed(0, identifier=[{"type": _PLAC, "value": "PL-1"}, {"type": _PLAC, "value": "PL-2"}]),
         "ServiceRequest.identifier"),
        # a code outside administrative-gender was read as unknown (fhir.resources checks only the form)
        (_changed(1, gender="f"), "Patient.gender"),
        # C1 characters: a Windows-1252 quote read as 8859-1 upstream (stored as 'O\x92Brien' before)
        (_changed(1, name=[{"family": "O\x92Brien"}]), "entry[1].resource.name[0].family"),
        (_changed(1, name=[{"family": "Roe\ufffd"}]), "entry[1].resource.name[0].family"),
        # a contained resource with contained resources of its own, which FHIR forbids (dom-2): read as if
        # it were not there until 2026-12-08
        (_changed(0, contained=[{"resourceType": "Practitioner", "id": "p",
                                 "contained": [{"resourceType": "Organization", "id": "o"}]}]),
         "entry[0].resource.contained[0].contained"),
    ],
)
def test_orders_that_say_other_than_they_seem_are_refused_naming_the_element(
    document: object, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request(document, "bad.json")
    assert caught.value.field == field


def test_an_entry_that_is_no_object_is_named_by_its_place() -> None:
    with pytest.raises(InputError) as caught:
        fhir.parse_service_request({"resourceType": "Bundle", "type": "batch", "entry": [7]}, "bad.json")
    assert caught.value.field == "Bundle.entry.0"  # was 'Bundle.entry.0.root', an element FHIR does not have


def test_a_single_placer_number_given_twice_and_an_unknown_plain_extension_are_read() -> None:
    document = _changed(0, identifier=[{"type": _PLAC, "value": "PL-9"}, {"type": _PLAC, "value": "PL-9",
                                                                         "system": "urn:x"}],
                        extension=[{"url": "http://x.example/note", "valueString": "plain extensions are "
                                                                                   "safe to ignore"}])
    order = fhir.parse_service_request(document, "ok.json")
    assert order.placer_order_number == "PL-9"


def _by_identifier(document: dict, kind: str, element: str) -> dict:
    """``document`` with the ServiceRequest's ``element`` a logical reference: the identifier of the ``kind``
    resource the Bundle carries, no literal reference."""
    changed = copy.deepcopy(document)
    resources = {e["resource"]["resourceType"]: e["resource"] for e in changed["entry"]}
    resources["ServiceRequest"][element] = {"identifier": dict(resources[kind]["identifier"][0])}
    return changed


def test_references_by_identifier_are_resolved_in_the_bundle() -> None:
    """A Reference may name its target by identifier alone (R4 Reference.identifier, a logical reference):
    the order was refused as 'the Patient it references is not in the message' although the Bundle carried
    the Patient with that identifier (and likewise the requester by its NPI)."""
    bundle = _by_identifier(service_request(), "Patient", "subject")
    bundle = _by_identifier(bundle, "Practitioner", "requester")
    Bundle.model_validate(bundle)
    order = fhir.parse_service_request(bundle, "logical.json")
    assert (order.patient.id, order.patient.display) == ("P900", "Roe, Rita")
    assert order.ordering.npi == "1245319599"
    twice = copy.deepcopy(bundle)  # an identifier two Patients carry names neither
    twice["entry"].append({"fullUrl": "urn:uuid:44444444-4444-4444-4444-444444444444",
                           "resource": {**twice["entry"][1]["resource"], "name": [{"family": "Other"}]}})
    with pytest.raises(InputError, match="matches 2 Patient") as caught:
        fhir.parse_service_request(twice, "twice.json")
    assert caught.value.field == "ServiceRequest.subject"
    unknown = copy.deepcopy(bundle)
    unknown["entry"][0]["resource"]["subject"]["identifier"]["value"] = "NOT-THERE"
    with pytest.raises(InputError, match="not in the message"):
        fhir.parse_service_request(unknown, "unknown.json")


@pytest.mark.parametrize("kind", ["searchset", "history", "document", "batch-response"])
def test_a_bundle_that_is_no_request_is_refused_as_an_order(kind: str) -> None:
    """A searchset (a search's matches, or a history's versions) holding one ServiceRequest was taken as an
    order, whatever the state the server listed it in; R4 sends an order in a transaction, batch, message
    or collection."""
    bundle = {**service_request(), "type": kind}
    if kind == "searchset":
        bundle["total"] = 1
        for entry in bundle["entry"]:
            entry["search"] = {"mode": "match" if entry["resource"]["resourceType"] == "ServiceRequest"
                               else "include"}
    Bundle.model_validate(bundle)  # valid R4: refused for what it is
    with pytest.raises(InputError, match="not an order") as caught:
        fhir.parse_service_request(bundle, "found.json")
    assert caught.value.field == "Bundle.type"
    for taken in ("transaction", "batch", "collection"):
        assert fhir.parse_service_request({**service_request(), "type": taken}, "t.json").patient.id == "P900"


def test_a_requester_named_by_its_npi_alone_is_the_ordering_provider() -> None:
    """A requester given as an identifier (NPI) with no Practitioner resource in the Bundle was refused ('the
    requesting Practitioner is not in the message'), though the NPI names who ordered."""
    bundle = _by_identifier(service_request(), "Practitioner", "requester")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Practitioner"]
    Bundle.model_validate(bundle)
    order = fhir.parse_service_request(bundle, "npi.json")
    assert (order.ordering.npi, order.ordering.display) == ("1245319599", "")
    named = copy.deepcopy(bundle)
    named["entry"][0]["resource"]["requester"]["display"] = "John Smith"
    assert fhir.parse_service_request(named, "npi.json").ordering.display == "John Smith"
    bad = copy.deepcopy(bundle)
    bad["entry"][0]["resource"]["requester"]["identifier"]["value"] = "1245319598"  # fails the check digit
    with pytest.raises(InputError, match="not a valid NPI") as caught:
        fhir.parse_service_request(bad, "npi.json")
    assert caught.value.field == "ServiceRequest.requester.identifier"
    other = copy.deepcopy(bundle)  # an identifier of another system names no one we can check
    other["entry"][0]["resource"]["requester"]["identifier"]["system"] = "urn:oid:1.2.3"
    with pytest.raises(InputError, match="not in the message"):
        fhir.parse_service_request(other, "npi.json")
