"""Orders read as a hostile sender writes them and a strict receiver checks them: every refusal names the
field, nothing is cut short or silently dropped."""

from __future__ import annotations

import copy

import pytest
from interop_builders import orm, service_request

from ecgdesk.errors import InputError
from ecgdesk.interop import fhir, hl7v2


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
