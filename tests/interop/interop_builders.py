"""Values shared by the interop tests: a signed result and order messages of each kind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ecgdesk.interop.model import Measurement, PatientInfo, Provider, ResultStatus, SignedResult

ORDERING_NPI = "1245319599"
PHYSICIAN_NPI = "1234567893"
PDF = b"%PDF-1.4\n% a small but real-looking PDF body \x00\x01\xff\n%%EOF\n"


def signed_result(**changes: Any) -> SignedResult:
    values: dict[str, Any] = dict(
        study_id=7,
        service="ambulatory_ecg",
        status=ResultStatus.FINAL,
        report_version=1,
        patient=PatientInfo("P|1", "O'Brien^x", "Jane", date(1956, 3, 14), "F", "HOSP"),
        ordering=Provider(ORDERING_NPI, "Smith", "John"),
        interpreter=Provider(PHYSICIAN_NPI, "Lee", "Ana", "MD"),
        signed_at=datetime(2026, 12, 1, 14, 30, tzinfo=UTC),
        observed_start=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        observed_end=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
        interpretation="Sinus rhythm | rare PVCs.\nNo pauses & no AF ~ ok.",
        pdf=PDF,
        placer_order_number="PL-100",
        indications=("R00.2", "I49.3"),
        measurements=(
            Measurement("hr_mean", 72.0, "/min"),
            Measurement("af_burden", 1.25, "%"),
            Measurement("v_beats", 1234.0, "{beats}"),
        ),
        uid_seed="site-a:7",
    )
    values.update(changes)
    return SignedResult(**values)


def orm(
    control: str = "C1",
    ctrl: str = "NW",
    placer: str = "PL-100",
    code: str = "93245",
    name: str = "Doe^Jane",
    dob: str = "19560314",
    sex: str = "F",
    npi: str = ORDERING_NPI,
    icd: str = "R00.2",
    extra: str = "",
    kind: str = "ORM^O01^ORM_O01",
) -> str:
    return (
        "\r".join(
            [
                f"MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||{kind}|{control}|P|2.5.1",
                f"PID|1||P123^^^HOSP^MR||{name}||{dob}|{sex}",
                f"ORC|{ctrl}|{placer}||||||||||{npi}^Smith^John^^^^^^^^^^NPI",
                f"OBR|1|{placer}||{code}^Extended ECG monitoring^C4",
                *(([f"DG1|1||{icd}^Palpitations^I10"]) if icd else []),
                *([extra] if extra else []),
            ]
        )
        + "\r"
    )


def service_request(
    status: str = "active",
    placer: str = "PL-200",
    npi: str = ORDERING_NPI,
    icd: str = "R00.2",
    birth: str = "1956-03-14",
    code: str = "93000",
) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111",
                "resource": {
                    "resourceType": "ServiceRequest",
                    "status": status,
                    "intent": "order",
                    "identifier": [
                        {
                            "type": {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                        "code": "PLAC",
                                    }
                                ]
                            },
                            "value": placer,
                        }
                    ],
                    "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code}]},
                    "subject": {"reference": "urn:uuid:22222222-2222-2222-2222-222222222222"},
                    "requester": {"reference": "urn:uuid:33333333-3333-3333-3333-333333333333"},
                    "reasonCode": [
                        {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": icd}]}
                    ],
                    "authoredOn": "2026-12-01T10:00:00Z",
                },
            },
            {
                "fullUrl": "urn:uuid:22222222-2222-2222-2222-222222222222",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [
                        {
                            "type": {
                                "coding": [
                                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                                ]
                            },
                            "value": "P900",
                        }
                    ],
                    "name": [{"family": "Roe", "given": ["Rita"]}],
                    "gender": "female",
                    "birthDate": birth,
                },
            },
            {
                "fullUrl": "urn:uuid:33333333-3333-3333-3333-333333333333",
                "resource": {
                    "resourceType": "Practitioner",
                    "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}],
                    "name": [{"family": "Smith", "given": ["John"]}],
                },
            },
        ],
    }


def contained_service_request(placer: str, npi: str = ORDERING_NPI) -> dict[str, Any]:
    """A bare FHIR ServiceRequest for a resting ECG (CPT 93000, R00.2) with its Patient and ordering
    Practitioner contained: the smallest order a FHIR peer may send."""
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "identifier": [{"type": {"coding": [{"code": "PLAC"}]}, "value": placer}],
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "93000"}]},
        "subject": {"reference": "#p"},
        "requester": {"reference": "#d"},
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R00.2"}]}],
        "contained": [
            {
                "resourceType": "Patient",
                "id": "p",
                "identifier": [{"value": "MRN9"}],
                "name": [{"family": "Poe", "given": ["Ed"]}],
                "gender": "male",
                "birthDate": "1940-01-19",
            },
            {
                "resourceType": "Practitioner",
                "id": "d",
                "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}],
            },
        ],
    }
