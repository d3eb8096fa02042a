"""The claim document (Pydantic v2, :mod:`ecgdesk.claims.schemas`): every claim kind we write survives the
trip through JSON; wrong types, missing fields and absurd numbers are refused with the field's path and
the reason, and the JSON Schema names the fields the API documents."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from claims_builders import claim, every_kind

from ecgdesk.claims.schemas import ProfessionalClaimDocument, claim_from_dict, claim_to_dict
from ecgdesk.errors import InputError

KINDS = every_kind()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_claim_kind_survives_json(kind: str) -> None:
    for original in KINDS[kind]:
        data = json.loads(json.dumps(claim_to_dict(original)))
        assert claim_from_dict(data) == original
        assert data["total_charge"] == f"{original.total_charge:.2f}"
        assert all(isinstance(line["charge"], str) for line in data["lines"])


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = data
        for part in parents:
            target = target[part]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value

    return change


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("lines.0.charge", 120.5, "lines[0].charge", 'as text with two decimals such as "125.50"'),
        ("lines.0.charge", "12.345", "lines[0].charge", "more than two decimals"),
        ("lines.0.charge", "1e12", "lines[0].charge", "out of range"),
        ("lines.0.charge", "-40.00", "lines[0].charge", "out of range"),
        ("lines.0.charge", "NaN", "lines[0].charge", "not a finite amount"),
        ("lines.0.charge", "ten", "lines[0].charge", "not an amount"),
        ("lines.0.units", 10**12, "lines[0].units", "out of range (1 to 999)"),
        ("lines.0.units", "2", "lines[0].units", "must be a whole number"),
        ("lines.0.units", True, "lines[0].units", "must be a whole number"),
        ("lines.0.pointers", [1, 99], "lines[0].pointers[1]", "out of range (1 to 12)"),
        ("lines.0.modifiers", ["26", "TOOLONG"], "lines[0].modifiers[1]", "not a 2-character modifier"),
        ("lines.0.code", "9300", "lines[0].code", ""),
        ("lines.0.date_from", "2026-02-30", "lines[0].date_from", ""),
        ("lines.0.date_to", "2026-10-01", "lines[0].date_to", "before date_from"),
        ("lines.0.control", KeyError, "lines[0].control", "is required but missing"),
        ("lines", {"0": {}}, "lines", "must be a list of service lines"),
        ("lines", [], "lines", "has 0 service lines"),
        ("billing", KeyError, "billing", "is required but missing"),
        ("billing", "HEART", "billing", "must be a JSON object"),
        ("billing.npi", "12345", "billing.npi", "not a 10-digit NPI"),
        ("billing.address.zip", "ABCDE", "billing.address.zip", "not a 5- or 9-digit ZIP"),
        ("billing.address.line1", "x" * 500, "billing.address.line1", "at most 55"),
        ("billing.taxonomy", "207", "billing.taxonomy", "not a provider taxonomy code"),
        ("subscriber.birth_date", "1066-10-14", "subscriber.birth_date", "not a plausible birth date"),
        ("subscriber.sex", "X", "subscriber.sex", "allowed values are 'F', 'M', 'U'"),
        ("subscriber.last", 7, "subscriber.last", "must be text"),
        ("relationship", "cousin", "relationship", "allowed values are '18'"),
        ("frequency", "9", "frequency", "allowed values are '1', '7', '8'"),
        ("diagnoses", "R00.2", "diagnoses", "must be a list of diagnoses"),
        ("diagnoses", ["R00.2"] * 13, "diagnoses", "has 13 diagnoses, 1 to 12"),
        ("accept_assignment", "yes", "accept_assignment", "must be true or false"),
        ("claim_id", "ECG 1;DROP", "claim_id", "is not a claim id"),
    ],
)
def test_bad_claim_documents_name_the_field_and_reason(
    path: str, value: Any, field: str, reason: str
) -> None:
    data = copy.deepcopy(claim_to_dict(claim()))
    _set(path, value)(data)
    with pytest.raises(InputError) as info:
        claim_from_dict(data, source="claim.json")
    assert info.value.field == field, str(info.value)
    assert reason in info.value.reason
    assert "claim.json" in str(info.value)


def test_not_an_object_and_prefixes() -> None:
    with pytest.raises(InputError, match="must be a JSON object"):
        claim_from_dict(["not", "a", "claim"])
    data = claim_to_dict(claim())
    data["lines"][0]["charge"] = 5
    with pytest.raises(InputError) as info:
        claim_from_dict(data, prefix="[3].")
    assert info.value.field == "[3].lines[0].charge"


def test_json_schema_documents_amounts_as_text() -> None:
    schema = ProfessionalClaimDocument.model_json_schema(mode="serialization")
    line = schema["$defs"]["ServiceLineDocument"]["properties"]
    assert line["charge"]["type"] == "string"
    assert set(schema["required"]) >= {"claim_id", "billing", "payer", "subscriber", "lines", "diagnoses"}
