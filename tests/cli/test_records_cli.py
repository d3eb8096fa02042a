"""``ecgdesk info`` and ``ecgdesk convert`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import wfdb

from conftest import shared_path
from ecgdesk.cli.main import main
from ecgdesk.records import EventKind, EventMarker, Lead, open_recording
from ecgdesk.records.writers import open_writer


def _holter(tmp_path: Path) -> Path:
    events = [EventMarker(600, "chest pain", EventKind.PATIENT_TRIGGERED)]
    rng = np.random.default_rng(5)
    with open_writer(tmp_path / "in", "hol", "wfdb", 250, [Lead("CM5"), Lead("V1")], events=events) as writer:
        writer.write(rng.standard_normal((5000, 2)))
    return tmp_path / "in" / "hol.hea"


def test_info_human_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(_holter(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "format      wfdb" in out
    assert "0:00:20" in out and "5000 samples at 250 Hz" in out
    assert "CM5 [mV], V1 [mV]" in out
    assert "patient_triggered" in out and "chest pain" in out


@pytest.mark.shared_data
def test_info_json_on_mitdb(capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_path("mitdb", "100.hea")
    assert main(["info", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "wfdb" and summary["fs"] == 360.0 and summary["n_samples"] == 650000
    assert [lead["name"] for lead in summary["leads"]] == ["MLII", "V5"]


@pytest.mark.parametrize("fmt", ["wfdb", "ishne"])
def test_convert_round_trip(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    source = _holter(tmp_path)
    assert main(["convert", str(source), str(tmp_path / "out"), "--to", fmt, "--name", "copy"]) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written.parent == tmp_path / "out" and written.stem == "copy"
    original, copy = open_recording(source), open_recording(written)
    np.testing.assert_allclose(copy.read(), original.read(), atol=1e-6)
    assert copy.events == original.events and copy.lead_names == original.lead_names


@pytest.mark.shared_data
def test_convert_mitdb_212_to_ishne_matches_wfdb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = shared_path("mitdb", "208.hea").with_suffix("")
    assert main(["convert", str(base), str(tmp_path), "--to", "ishne"]) == 0
    converted = open_recording(capsys.readouterr().out.strip())
    reference = wfdb.rdrecord(str(base), sampto=36000).p_signal
    np.testing.assert_allclose(converted.read(0, 36000), reference, atol=0.0005 + 1e-6)
    assert converted.n_samples == 650000


def test_info_bad_input_exits_2_with_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open_writer(tmp_path, "broken", "ishne", 250, [Lead("II")]) as writer:
        writer.write(np.zeros((100, 1)))
    path = tmp_path / "broken.ecg"
    raw = bytearray(path.read_bytes())
    raw[30] ^= 0xFF  # a header byte changed after the CRC was written
    path.write_bytes(bytes(raw))
    before = path.read_bytes()
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecgdesk info: error: ")
    assert "broken.ecg" in err and "field 'crc'" in err and "checksum" in err
    assert "Traceback" not in err
    assert path.read_bytes() == before


def test_convert_csv_needs_rate_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "strip.csv"
    path.write_text("I,II\n1,2\n3,4\n")
    assert main(["convert", str(path), str(tmp_path / "o"), "--to", "wfdb"]) == 2
    err = capsys.readouterr().err
    assert "strip.csv" in err and "field '--csv-fs'" in err
    assert not (tmp_path / "o").exists()
    assert main(["convert", str(path), str(tmp_path / "o"), "--to", "wfdb", "--csv-fs", "100",
                 "--csv-unit", "uV"]) == 0
    converted = open_recording(capsys.readouterr().out.strip())
    np.testing.assert_allclose(converted.read(), [[0.001, 0.002], [0.003, 0.004]], atol=1e-6)


def test_convert_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(tmp_path / "nope.edf"), str(tmp_path), "--to", "ishne"]) == 2
    assert "nope.edf" in capsys.readouterr().err


def test_analyze_takes_a_lead_index_where_two_leads_share_a_name(tmp_path: Path) -> None:
    """Two leads both named "ECG" (an SVDB-style header): ``--lead 1`` is the second, as for ``strips``
    and ``delineate`` (``analyze`` took names only, so the second lead could not be chosen)."""
    from ecgdesk.records import Recording, write_recording
    from ecgdesk.workflow.demo import synthetic_recording

    ecg = synthetic_recording(2.0, seed=3).read(0, None)[:, 0]
    quiet = 0.01 * np.random.default_rng(1).standard_normal(ecg.size)
    pair = Recording.from_array(np.column_stack([quiet, ecg]), 250.0, lead_names=["ECGA", "ECGB"])
    header = write_recording(pair, tmp_path, "wfdb", "twin")
    # wfdb writes unique names only; SVDB's headers name both leads ECG
    header.write_text(header.read_text().replace(" ECGA", " ECG").replace(" ECGB", " ECG"))
    assert [line.split()[-1] for line in header.read_text().splitlines()[1:3]] == ["ECG", "ECG"]
    counts = {}
    for lead in ("0", "1"):
        out = tmp_path / f"lead{lead}"
        assert main(["analyze", str(header), "--out", str(out), "--lead", lead]) == 0
        findings = json.loads((out / "findings.json").read_text())
        counts[lead] = findings["summary"]["total_beats"]
    assert counts["1"] > 100 and counts["0"] < counts["1"] / 2
