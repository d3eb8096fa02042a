"""Sample claims of every kind we generate, and the two independent checks of a written 837P:
pyx12 4.0 (the TR3 validator) and x12sdk (a second parser the claims must read back from)."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ecgdesk.claims import (
    Address,
    BillingProvider,
    Envelope,
    Frequency,
    Party,
    PayerInfo,
    Person,
    ProfessionalClaim,
    Provider,
    Relationship,
    ServiceLine,
)

ADDRESS = Address("100 MAIN ST", "SPRINGFIELD", "IL", "627011234", line2="SUITE 200")
BILLING = BillingProvider(
    "HEART DIAGNOSTICS IDTF",
    "1234567893",
    "12-3456789",
    "261QD0000X",
    ADDRESS,
    "BILLING OFFICE",
    "2175550100",
)
OTHER_BILLING = replace(BILLING, name="VALLEY CARDIOLOGY", npi="1245319599", tin="987654321")
PATIENT = Person("DOE", "JANE", date(1956, 3, 14), "F", Address("5 ELM ST", "SPRINGFIELD", "IL", "62702"))
SPOUSE = Person("DOE", "JOHN", date(1950, 1, 1), "M", Address("5 ELM ST", "SPRINGFIELD", "IL", "627021000"))
ORDERING = Provider("1245319599", "ORDER", "OLIVER")
READER = Provider("1234567893", "DEMO", "DANA", taxonomy="207RC0000X")
OTHER_READER = Provider("1245319599", "LEE", "ANA", taxonomy="207RC0000X")
MEDICARE = PayerInfo("MEDICARE PART B", "12345", "MB")
COMMERCIAL = PayerInfo("ACME HEALTH PLAN", "ACME1", "CI")
SUBMITTER = Party("HEART DIAGNOSTICS IDTF", "ETIN01", "BILLING OFFICE", "2175550100")
RECEIVER = Party("MEDICARE MAC", "12345")
DOS = date(2026, 11, 2)


def line(control: str, code: str, charge: str = "100", **fields: Any) -> ServiceLine:
    return ServiceLine(
        control, code, Decimal(charge), fields.pop("units", 1), fields.pop("date_from", DOS), **fields
    )


def claim(claim_id: str = "ECG000001", *lines: ServiceLine, **fields: Any) -> ProfessionalClaim:
    lines = lines or (line(f"{claim_id}L1", "93241", "300", date_to=date(2026, 11, 9), ordering=ORDERING),)
    base: dict[str, Any] = {
        "billing": BILLING,
        "payer": MEDICARE,
        "subscriber_id": "1EG4TE5MK73",
        "subscriber": PATIENT,
        "relationship": Relationship.SELF,
        "diagnoses": ("R00.2", "R55"),
        "place_of_service": "11",
    }
    base.update(fields)
    return ProfessionalClaim(claim_id, lines=tuple(lines), **base)


def every_kind() -> dict[str, list[ProfessionalClaim]]:
    """One batch per claim kind the product writes."""
    return {
        "monitoring_period_self": [claim("K1")],
        "patient_not_subscriber": [
            claim("K2", line("K2L1", "93000", "45"), relationship=Relationship.SPOUSE, patient=SPOUSE)
        ],
        "replacement_frequency_7": [
            claim("K3", frequency=Frequency.REPLACEMENT, payer_claim_number="22000000000017")
        ],
        "void_frequency_8": [claim("K4", frequency=Frequency.VOID, payer_claim_number="22000000000018")],
        "rendering_differs_and_components": [
            claim(
                "K5",
                line("K5L1", "93010", "25.50", modifiers=("76",), pointers=(2, 1)),
                line("K5L2", "93000", "80", units=2, pointers=(1,)),
                line("K5L3", "93050", "60", modifiers=("26", "59", "XU", "GA"), pointers=(1, 2)),
                rendering=OTHER_READER,
                prior_authorization="AUTH-778",
                payer=COMMERCIAL,
                diagnoses=("R00.2", "R55", "I48.91", "Z95.0"),
            )
        ],
        "rendering_is_billing_provider": [claim("K6", rendering=READER)],
        "facility_line_pos": [claim("K7", line("K7L1", "93010", "30", place_of_service="22"))],
        "several_claims_two_billing_providers": [
            claim("K8"),
            claim("K9", billing=OTHER_BILLING),
            claim("K10", relationship=Relationship.CHILD, patient=SPOUSE),
        ],
        "twelve_diagnoses": [
            claim(
                "K11",
                line("K11L1", "93224", "120", modifiers=("52",), pointers=(1, 2, 3, 4)),
                diagnoses=(
                    "R00.2",
                    "R55",
                    "R42",
                    "R00.0",
                    "R00.1",
                    "R07.9",
                    "R06.02",
                    "I48.0",
                    "I49.3",
                    "I47.1",
                    "I44.2",
                    "Z95.0",
                ),
            )
        ],
    }


def envelope(control: int = 42) -> Envelope:
    return Envelope("ECGDESK", "MEDICARE", control, control, datetime(2026, 11, 20, 10, 30), usage="T")


def pyx12_errors(text: str, folder: Path) -> list[str]:
    """Every error pyx12 4.0 finds in ``text`` (empty: valid)."""
    import pyx12.params
    import pyx12.x12n_document

    path = folder / "check.x12"
    path.write_text(text, encoding="utf-8")
    report = io.StringIO()
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), str(path), None, None, fd_json=report)
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.extend(str(e.get("err_str")) for e in node.get("errors") or [])
            for value in node.values():
                if isinstance(value, list):
                    for item in value:
                        walk(item)

    walk(json.loads(report.getvalue() or "{}"))
    if not ok and not found:
        found.append("pyx12 reported the file invalid")
    return found


def x12sdk_summary(claim_: ProfessionalClaim) -> dict[str, Any]:
    """What must survive the trip through the file (compared with x12sdk's reading)."""
    return {
        "claim_id": claim_.claim_id,
        "total": claim_.total_charge,
        "pos_frequency": f"{claim_.place_of_service}:B:{claim_.frequency.value}",
        "diagnoses": [d.replace(".", "") for d in claim_.diagnoses],
        "f8": claim_.payer_claim_number if claim_.frequency is not Frequency.ORIGINAL else None,
        "member": claim_.subscriber_id,
        "payer": claim_.payer.payer_id,
        "billing_npi": claim_.billing.npi,
        "lines": [
            {
                "procedure": ":".join(["HC", x.code, *x.modifiers]),
                "charge": x.charge,
                "units": Decimal(x.units),
                "pointers": ":".join(str(p) for p in x.pointers),
                "control": x.control,
            }
            for x in claim_.lines
        ],
    }


def x12sdk_claims(text: str) -> list[dict[str, Any]]:
    from x12sdk.io import X12ModelReader

    with X12ModelReader(text) as reader:
        models = list(reader.models())
    assert len(models) == 1
    data = models[0].model_dump()
    found = []
    for billing in data["loop_2000a"]:
        npi = billing["loop_2010aa"]["nm1_segment"]["identification_code"]
        for subscriber in billing["loop_2000b"]:
            member = subscriber["loop_2010ba"]["nm1_segment"]["identification_code"]
            payer = subscriber["loop_2010bb"]["nm1_segment"]["identification_code"]
            loops = list(subscriber.get("loop_2300") or [])
            for patient in subscriber.get("loop_2000c") or []:
                loops += patient["loop_2300"]
            for c in loops:
                clm = c["clm_segment"]
                codes = [
                    v[1]
                    for hi in c["hi_segment"]
                    for k, v in hi.items()
                    if k.startswith("health_care_code") and v
                ]
                refs = {
                    r["reference_identification_qualifier"]: r["reference_identification"]
                    for r in c.get("ref_segment") or []
                }
                found.append(
                    {
                        "claim_id": clm["patient_control_number"],
                        "total": clm["total_claim_charge_amount"],
                        "pos_frequency": clm["health_care_service_location_information"],
                        "diagnoses": codes,
                        "f8": refs.get("F8"),
                        "member": member,
                        "payer": payer,
                        "billing_npi": npi,
                        "lines": [
                            {
                                "procedure": x["sv1_segment"]["product_service_id_qualifier"],
                                "charge": x["sv1_segment"]["line_item_charge_amount"],
                                "units": x["sv1_segment"]["service_unit_count"],
                                "pointers": x["sv1_segment"]["composite_diagnosis_code_pointer"],
                                "control": next(
                                    r["reference_identification"]
                                    for r in x["ref_segment"]
                                    if r["reference_identification_qualifier"] == "6R"
                                ),
                            }
                            for x in c["loop_2400"]
                        ],
                    }
                )
    return found
