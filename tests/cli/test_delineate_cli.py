"""``ecgdesk delineate`` end to end: waves.csv and delineation.json, lead choice, bad input exits 2."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgdesk.cli.main import main

FS = 250


def _record(folder: Path, seconds: float = 30.0) -> Path:
    """A two-lead WFDB record of regular beats (P, QRS, T) at 75 bpm."""
    t = np.arange(int(seconds * FS)) / FS
    x = np.zeros_like(t)
    for beat in np.arange(0.4, seconds - 0.6, 0.8):
        x += 0.12 * np.exp(-(((t - beat + 0.18) / 0.025) ** 2))  # P
        x += 1.0 * np.exp(-(((t - beat) / 0.012) ** 2))  # R
        x -= 0.2 * np.exp(-(((t - beat - 0.03) / 0.01) ** 2))  # S
        x += 0.3 * np.exp(-(((t - beat - 0.3) / 0.05) ** 2))  # T
    signal = np.column_stack([x, 0.7 * x]) + np.random.default_rng(0).normal(0, 0.01, (t.size, 2))
    wfdb.wrsamp("rec", fs=FS, units=["mV", "mV"], sig_name=["II", "V5"], p_signal=signal, fmt=["16", "16"],
                write_dir=str(folder))
    return folder / "rec.hea"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_delineate_writes_waves_and_summary(tmp_path: Path, capsys):
    hea = _record(tmp_path)
    out = tmp_path / "out"
    assert main(["delineate", str(hea), "--out", str(out)]) == 0
    assert "beats delineated on 2 leads" in capsys.readouterr().out
    rows = _rows(out / "waves.csv")
    assert {r["lead"] for r in rows} == {"II", "V5", "all"}
    assert {r["wave"] for r in rows} == {"P", "QRS", "T"}
    qrs = [int(r["peak"]) for r in rows if r["lead"] == "all" and r["wave"] == "QRS"]
    assert len(qrs) == 37  # beats at 0.4 s, 1.2 s, ... 29.2 s
    assert np.all(np.abs(np.asarray(qrs) - (np.arange(0.4, 29.4, 0.8) * FS)[:len(qrs)]) <= 0.05 * FS)
    doc = json.loads((out / "delineation.json").read_text())
    assert doc["beats"] == 37 and doc["leads"] == ["II", "V5"] and doc["fs"] == FS


def test_lead_choice_by_name_and_index(tmp_path: Path, capsys):
    hea = _record(tmp_path, seconds=12.0)
    assert main(["delineate", str(hea), "--out", str(tmp_path / "a"), "--leads", "v5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["leads"] == ["V5"]
    assert {r["lead"] for r in _rows(tmp_path / "a" / "waves.csv")} == {"V5", "all"}
    assert main(["delineate", str(hea), "--out", str(tmp_path / "b"), "--leads", "0,1"]) == 0
    assert {r["lead"] for r in _rows(tmp_path / "b" / "waves.csv")} == {"II", "V5", "all"}


@pytest.mark.parametrize(("args", "expected"), [
    (["missing.hea"], "missing.hea"),
    (["rec.hea", "--leads", "V9"], "no lead named 'V9'"),
    (["rec.hea", "--leads", ","], "--leads"),
    (["flat.hea"], "no analyzable signal"),
])
def test_bad_input_exits_2_naming_the_problem(tmp_path: Path, capsys, args: list[str], expected: str):
    _record(tmp_path, seconds=12.0)
    wfdb.wrsamp("flat", fs=FS, units=["mV"], sig_name=["II"], p_signal=np.zeros((FS * 10, 1)), fmt=["16"],
                write_dir=str(tmp_path))
    path = str(tmp_path / args[0])
    assert main(["delineate", path, *args[1:], "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "waves.csv").exists()  # nothing half-made is left


def test_command_module_imports_no_engine_at_import_time():
    """``ecgdesk --help`` stays fast: numpy, scipy and the analysis load only when the command runs."""
    source = Path(__file__).resolve().parents[2] / "src" / "ecgdesk" / "cli" / "delineate.py"
    tree = ast.parse(source.read_text())
    top = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    names = [alias.name for node in top if isinstance(node, ast.Import) for alias in node.names]
    names += [node.module or "" for node in top if isinstance(node, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] in {"numpy", "scipy", "wfdb"} or "analysis" in n
                or "records" in n]


def test_real_12_lead_dicom_agrees_with_the_recording_devices_own_marks(tmp_path: Path):
    """pydicom's 12-lead DICOM ECG carries the recording device's P, QRS and T marks for every beat
    (1 kHz): the fused marks of ``ecgdesk delineate`` fall within 10 ms of them on average."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    path = Path(get_testdata_file("waveform_ecg.dcm"))
    device: dict[str, list[int]] = {}
    for item in pydicom.dcmread(path).WaveformAnnotationSequence:
        if "ReferencedSamplePositions" in item and "ConceptNameCodeSequence" in item:
            name = str(item.ConceptNameCodeSequence[0].CodeMeaning)
            device.setdefault(name, []).append(int(item.ReferencedSamplePositions))
    assert main(["delineate", str(path), "--out", str(tmp_path)]) == 0
    beats: list[dict[str, dict[str, str]]] = []
    pending: dict[str, str] = {}
    for row in _rows(tmp_path / "waves.csv"):
        if row["lead"] != "all":
            continue
        if row["wave"] == "P":
            pending = row
        elif row["wave"] == "QRS":
            beats.append({"P": pending, "QRS": row})
        else:
            beats[-1]["T"] = row
    onsets = np.asarray([int(b["QRS"]["onset"]) for b in beats])
    checks = {"P Onset": ("P", "onset"), "P Offset": ("P", "offset"), "QRS Onset": ("QRS", "onset"),
              "QRS Offset": ("QRS", "offset"), "T Offset": ("T", "offset")}
    for name, (wave, key) in checks.items():
        # The first set of marks belongs to the file's median beat, the others to the 10 beats in order.
        errors = [int(beats[int(np.argmin(np.abs(onsets - mark)))][wave][key]) - mark
                  for mark in device[name][1:]]
        assert len(errors) == 10, name
        assert abs(np.mean(errors)) <= 10 and np.std(errors) <= 5, (name, errors)
