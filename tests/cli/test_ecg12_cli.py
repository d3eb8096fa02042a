"""``ecgdesk ecg12``, ``ecgdesk stress`` and ``ecgdesk simulate --exercise`` end to end through the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import shared_path
from ecgdesk.cli.main import main


def _dicom_path() -> Path:
    data = pytest.importorskip("pydicom.data")
    return Path(data.get_testdata_file("waveform_ecg.dcm"))


def test_dicom_12_lead_goes_through_to_a_report(tmp_path: Path, capsys):
    """pydicom's real 12-lead DICOM ECG: read, analysed, measured, reported, facts for coding."""
    out = tmp_path / "out"
    assert main(["ecg12", str(_dicom_path()), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed
    doc = json.loads((out / "measurements.json").read_text())
    assert doc["rhythm"] in {"sinus_rhythm", "sinus_bradycardia", "sinus_arrhythmia"}
    assert 40 < doc["hr_bpm"] < 100
    assert 60 < doc["qrs_ms"] < 120
    with (out / "waves.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and set(rows[0]) == {"lead", "wave", "onset", "peak", "offset"}
    assert {r["wave"] for r in rows} == {"P", "QRS", "T"}
    assert len({r["lead"] for r in rows}) == 12
    assert (out / "ecg12-report.pdf").read_bytes().startswith(b"%PDF")
    facts = json.loads((out / "facts.json").read_text())
    assert facts["service"] == "resting_ecg"
    assert sorted(facts["components"]) == ["interpretation", "recording"]


@pytest.mark.shared_data
def test_ludb_record_json_output(tmp_path: Path, capsys):
    record = shared_path("ludb", "1.hea")
    assert main(["ecg12", str(record), "--out", str(tmp_path), "--json", "--sex", "F",
                 "--components", "interpretation"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["qtc_ms"]) == {"bazett", "fridericia", "framingham", "hodges"}
    for key in ("pr_ms", "qrs_ms", "qt_ms", "p_axis_deg", "qrs_axis_deg", "t_axis_deg", "statements"):
        assert key in doc
    with (tmp_path / "waves.csv").open(newline="") as handle:
        lead_names = {r["lead"] for r in csv.DictReader(handle)}
    assert lead_names == {"i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"}
    assert json.loads((tmp_path / "facts.json").read_text())["components"] == ["interpretation"]


def test_bad_input_exits_2_naming_the_problem(tmp_path: Path, capsys):
    assert main(["ecg12", str(tmp_path / "missing.hea"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.hea" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert main(["ecg12", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["ecg12", str(_dicom_path()), "--out", str(tmp_path / "o"), "--components", "scanning"]) == 2
    assert "--components" in capsys.readouterr().err


def test_stress_from_the_simulator(tmp_path: Path, capsys):
    sim = tmp_path / "sim"
    assert main(["simulate", "--exercise", "--out", str(sim), "--exercise-min", "6", "--fs", "250",
                 "--st-depression", "2", "--seed", "5"]) == 0
    capsys.readouterr()
    out = tmp_path / "stress"
    assert main(["stress", str(sim / "stress.hea"), "--protocol", str(sim / "stress.protocol.json"),
                 "--out", str(out), "--components", "supervision,interpretation"]) == 0
    printed = capsys.readouterr().out
    assert "Duke score" in printed
    doc = json.loads((out / "stress.json").read_text())
    # the simulator's PVCs are left out of the rates: said on the terminal too, not only in stress.json
    assert doc["warnings"] and all(f"  warning: {w}\n" in printed for w in doc["warnings"])
    assert doc["ischemic_st_response"] is True
    assert doc["stages"][0]["name"] == "rest"
    assert (out / "stress-report.pdf").read_bytes().startswith(b"%PDF")
    facts = json.loads((out / "facts.json").read_text())
    assert facts["service"] == "stress_test"
    assert sorted(facts["components"]) == ["interpretation", "supervision"]


def test_stress_bad_protocol(tmp_path: Path, capsys):
    protocol = tmp_path / "p.json"
    protocol.write_text('{"patient": {"age": 50}, "stages": [{"phase": "exercise", "start_s": 10}]}')
    before = protocol.read_bytes()
    assert main(["stress", str(_dicom_path()), "--protocol", str(protocol), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "p.json" in err and "stages[0].end_s" in err
    assert protocol.read_bytes() == before
    assert main(["simulate", "--exercise", "--out", str(tmp_path / "s"), "--fs", "5"]) == 2
    assert "fs" in capsys.readouterr().err


def test_hl7_aecg_file(tmp_path: Path, capsys):
    """An HL7 aECG export of the DICOM ECG is recognised by content and gives the same measurements."""
    from ecgdesk.records import open_recording
    from ecgdesk.records.hl7aecg import write_hl7_aecg

    xml = write_hl7_aecg(open_recording(_dicom_path()), tmp_path / "ecg.data")  # the name says nothing
    assert main(["ecg12", str(xml), "--out", str(tmp_path / "a"), "--json"]) == 0
    from_xml = json.loads(capsys.readouterr().out)
    assert main(["ecg12", str(_dicom_path()), "--out", str(tmp_path / "d"), "--json"]) == 0
    from_dicom = json.loads(capsys.readouterr().out)
    for key in ("hr_bpm", "qrs_ms", "pr_ms", "qt_ms"):
        assert from_xml[key] == pytest.approx(from_dicom[key], abs=2.0), key
    assert from_xml["rhythm"] == from_dicom["rhythm"]
