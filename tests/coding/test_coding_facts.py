"""Parsing the FACTS and CLAIM JSON: good input becomes typed values, bad input names the field."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ecgdesk.coding.facts import (
    Component,
    Service,
    Setting,
    claim_from_dict,
    facts_from_dict,
    history_from_list,
)
from ecgdesk.coding.schemas import FactsDocument, claim_to_dict, facts_to_dict
from ecgdesk.errors import InputError


def _facts(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "service": "ambulatory_ecg",
        "setting": "practitioner",
        "place_of_service": "11",
        "start": "2024-08-01",
        "end": "2024-08-11",
        "recorded_hours": 240.0,
        "components": ["recording", "scanning", "interpretation"],
        "diagnoses": ["r00.2"],
        "repeat": None,
        "abn_on_file": False,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def _claim(**line_changes: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "code": "93000",
        "modifiers": [],
        "units": 1,
        "date_of_service": "2024-08-01",
        "diagnosis_pointers": [1],
    }
    line.update(line_changes)
    return {
        "setting": "practitioner",
        "place_of_service": "11",
        "provider_id": "1234567893",
        "ordering_provider_npi": "1234567893",
        "diagnoses": ["R00.2"],
        "abn_on_file": False,
        "lines": [{k: v for k, v in line.items() if v is not ...}],
    }


def test_facts_parse_to_typed_values() -> None:
    facts = facts_from_dict(_facts())
    assert facts.service is Service.AMBULATORY_ECG
    assert facts.setting is Setting.PRACTITIONER
    assert facts.start == date(2024, 8, 1)
    assert facts.components == {Component.RECORDING, Component.SCANNING, Component.INTERPRETATION}
    assert facts.diagnoses == ("R00.2",)
    assert facts.recorded_hours == 240.0


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"service": "holter_plus"}, "service", "invalid value 'holter_plus'"),
        ({"start": "2024-13-01"}, "start", "malformed date"),
        ({"start": ...}, "start", "required"),
        ({"components": ["recording", "typing"]}, "components[1]", "invalid value 'typing'"),
        ({"recorded_hours": -3}, "recorded_hours", ">= 0"),
        ({"end": "2024-07-01"}, "end", "before start"),
        ({"place_of_service": "office"}, "place_of_service", "2-digit"),
    ],
)
def test_bad_facts_name_the_field(changes: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        facts_from_dict(_facts(**changes), source="facts.json")
    assert info.value.field == field
    assert reason in info.value.reason
    assert "facts.json" in str(info.value)


def test_claim_parses_lines() -> None:
    claim = claim_from_dict(_claim(code="g0403", modifiers=["xu"]))
    assert claim.lines[0].code == "G0403"
    assert claim.lines[0].modifiers == ("XU",)
    assert claim.lines[0].date_of_service == date(2024, 8, 1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": "ECG12"}, "lines[0].code"),
        ({"code": "9300"}, "lines[0].code"),
        ({"date_of_service": "08/01/2024"}, "lines[0].date_of_service"),
        ({"date_of_service": ...}, "lines[0].date_of_service"),
        ({"units": 1.5}, "lines[0].units"),
        ({"modifiers": ["260"]}, "lines[0].modifiers[0]"),
    ],
)
def test_bad_claim_lines_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as info:
        claim_from_dict(_claim(**changes))
    assert info.value.field == field


def test_history_prefixes_the_claim_index() -> None:
    good = _claim()
    bad = _claim(code="HOLTER")
    with pytest.raises(InputError) as info:
        history_from_list([good, bad], source="history.json")
    assert info.value.field == "[1].lines[0].code"


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ([1], "<facts>", "JSON object"),
        (_facts(abn_on_file=None), "abn_on_file", "true or false"),
        (_facts(components=[]), "components", "at least one"),
        (_facts(recorded_hours=True), "recorded_hours", "number"),
        (_facts(ordering_provider_npi=1.5), "ordering_provider_npi", "string"),
    ],
)
def test_facts_document_shapes_name_the_field(data: Any, field: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        facts_from_dict(data)
    assert info.value.field == field and reason in info.value.reason


def test_claim_document_nested_paths() -> None:
    bad = _claim()
    bad["lines"].append("93000")
    with pytest.raises(InputError) as info:
        claim_from_dict(bad)
    assert info.value.field == "lines[1]" and "JSON object" in info.value.reason
    with pytest.raises(InputError) as info:
        claim_from_dict(_claim(modifiers=["26", "x"]))
    assert info.value.field == "lines[0].modifiers[1]"


def test_one_schema_reads_what_it_writes() -> None:
    """The documents the store keeps and the API shows are the models' dumps; they read back unchanged."""
    facts = facts_from_dict(_facts(place_of_service=11, ordering_provider_npi=1234567893))
    document = facts_to_dict(facts)
    assert document["place_of_service"] == "11" and document["start"] == "2024-08-01"
    assert facts_from_dict(document) == facts
    claim = claim_from_dict(_claim(code="g0403", modifiers=["xu"]))
    assert claim_from_dict(claim_to_dict(claim)) == claim
    properties = FactsDocument.model_json_schema()["properties"]
    assert {"service", "setting", "start", "components", "diagnoses"} <= set(properties)
