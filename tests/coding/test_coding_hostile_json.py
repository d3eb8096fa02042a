"""Hostile JSON and text for ``code``, ``scrub`` and the other JSON inputs (issue 19): wrong types, missing
fields, absurd and huge numbers, deep nesting, non-ASCII digits and ISO week dates are field-named errors
(exit 2, never a traceback); a code in no table is flagged, never scrubbed clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from coding_builders import claim_data, facts_data, line_data

from ecgdesk import jsonfile
from ecgdesk.cli.main import main
from ecgdesk.coding import Setting, Severity, claim_from_dict, scrub
from ecgdesk.errors import InputError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "input.json"
    path.write_text(text, encoding="utf-8")
    return path


def _refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, text: str,
             *words: str) -> None:
    path = _write(tmp_path, text)
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "input.json" in err, err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize(("text", "words"), [
    ("[" * 100_000 + "]" * 100_000, ("nested deeper",)),
    ('{"a": ' * 80 + "1" + "}" * 80, ("nested deeper than 64",)),
    ('{"recorded_hours": ' + "9" * 5000 + "}", ("5000 digits",)),
    ('{"recorded_hours": NaN}', ("NaN is not a number",)),
    ('{"recorded_hours": 1e999}', ("out of range",)),
    ("\ufeff{", ("invalid JSON",)),
])
def test_malformed_documents(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                             words: tuple[str, ...]) -> None:
    _refused(tmp_path, capsys, "code", text, "field '<json>'", *words)


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"setting": 5}, "setting", "invalid value 5"),
    ({"components": "recording"}, "components", "list of strings"),
    ({"recorded_hours": "24"}, "recorded_hours", "must be a number"),
    ({"recorded_hours": 10**15}, "recorded_hours", "out of range"),
    ({"prescribed_days": 99999}, "prescribed_days", "out of range"),
    ({"start": "2024-W31-4"}, "start", "malformed date"),
    ({"start": "20240801"}, "start", "malformed date"),
    ({"start": "２０２４-08-01"}, "start", "malformed date"),
    ({"place_of_service": "１１"}, "place_of_service", "2-digit"),
    ({"abn_on_file": "yes"}, "abn_on_file", "true or false"),
])
def test_facts_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], field: str,
                      reason: str) -> None:
    _refused(tmp_path, capsys, "code", json.dumps(facts_data(**change)), f"field '{field}'", reason)


@pytest.mark.parametrize(("line", "field", "reason"), [
    (line_data("９３０００"), "lines[0].code", "not a CPT/HCPCS code"),
    (line_data("93000", units=10**6), "lines[0].units", "out of range"),
    (line_data("93000", units=float("inf")), "<json>", "Infinity is not a number"),
    (line_data("93000", diagnosis_pointers=list(range(1, 40))), "lines[0].diagnosis_pointers", "at most 12"),
    (line_data("93000", modifiers=["２６"]), "lines[0].modifiers[0]", "2-character"),
])
def test_claim_line_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: dict[str, Any],
                           field: str, reason: str) -> None:
    _refused(tmp_path, capsys, "scrub", json.dumps(claim_data(line)), f"field '{field}'", reason)


def test_a_code_in_no_table_is_flagged_not_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``12345`` used to scrub clean with exit 0."""
    findings = scrub(claim_from_dict(claim_data(line_data("12345"))))
    unknown = [f for f in findings if f.rule == "code_unknown"]
    assert len(unknown) == 1 and unknown[0].line == 0 and unknown[0].carc == "181"
    assert unknown[0].severity is Severity.WARNING
    assert not [f for f in scrub(claim_from_dict(claim_data(line_data("93000")))) if f.rule == "code_unknown"]
    path = _write(tmp_path, json.dumps(claim_data(line_data("12345"))))
    assert main(["scrub", str(path)]) == 0
    out = capsys.readouterr().out
    assert "code_unknown" in out and "clean" not in out


def test_file_that_is_not_json_text(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'{"a": "\xff\xfe"}')
    with pytest.raises(InputError, match="not UTF-8"):
        jsonfile.read(path)
    with pytest.raises(InputError, match="cannot read"):
        jsonfile.read(tmp_path / "missing.json")


def test_protocol_and_event_files_use_the_same_limits(tmp_path: Path) -> None:
    from ecgdesk.analysis.stress.protocol import load_protocol
    from ecgdesk.records.simulator.events import parse_event_spec

    deep = _write(tmp_path, "[" * 5000 + "]" * 5000)
    with pytest.raises(InputError, match="nested deeper") as info:
        load_protocol(deep)
    assert info.value.field == "protocol"
    with pytest.raises(InputError, match="nested deeper") as info:
        parse_event_spec(deep)
    assert info.value.field == "events"


def test_setting_is_checked_before_use() -> None:
    assert Setting("practitioner") is Setting.PRACTITIONER
