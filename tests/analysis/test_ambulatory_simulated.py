"""End to end on a short `ecgdesk simulate` recording: every injected event found, nothing invented."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgdesk.analysis.findings import EpisodeType
from ecgdesk.analysis.io import read_findings
from ecgdesk.cli.main import main

EVENTS = "af:1x4m,pause:2x3.5s,vt:2x8,svt:2x10,couplet:2x2,pvc:40/h,pac:20/h,trigger:2,noise:1x1m"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    try:
        code = main(["simulate", "--hours", "0.75", "--leads", "2", "--seed", "5", "--events", EVENTS,
                     "--out", str(out)])
    except SystemExit as stop:  # no simulate command in this installation
        pytest.skip(f"ecgdesk simulate is not available ({stop})")
    if code:
        pytest.skip(f"ecgdesk simulate failed ({code})")
    return out


def overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return a0 - 1.0 <= b1 and b0 - 1.0 <= a1


def test_injected_events_are_found_and_nothing_else(simulated: Path, tmp_path: Path) -> None:
    pytest.importorskip("ecgdesk.analysis.beats", reason="needs ecgdesk's beat classifier")
    hea = next(simulated.glob("*.hea"))
    truth = json.loads(hea.with_name(hea.stem + ".truth.json").read_text())
    diary = hea.with_name(hea.stem + ".diary.csv")
    assert main(["analyze", str(hea), "--out", str(tmp_path), "--diary", str(diary)]) == 0
    findings = read_findings(tmp_path / "findings.json")
    for kind in ("af", "pause", "vt", "svt"):
        want = [(e["start_s"], e["end_s"]) for e in truth["episodes"] if e["type"] == kind]
        got = [(e.start_s, e.end_s) for e in findings.episodes_of(EpisodeType(kind))]
        assert len(want) == 2 if kind != "af" else len(want) == 1
        assert all(any(overlaps(*w, *g) for g in got) for w in want), kind
        assert all(any(overlaps(*w, *g) for w in want) for g in got), kind
    s = findings.summary
    assert abs(s.af_burden_pct - truth["summary"]["af_burden_pct"]) <= 1.0
    assert abs(s.analyzable_time_s - truth["summary"]["analyzable_s"]) <= 20.0  # 10 s epochs at 2 borders
    # beats in noise are not counted (unreadable); the 10 s epochs around it may cost ~2 x 10 s more
    ann = wfdb.rdann(str(hea.with_suffix("")), "atr")
    beats = ann.sample[np.isin(ann.symbol, ["N", "A", "V", "j"])] / truth["fs"]
    noisy = np.zeros(beats.size, dtype=bool)
    for e in truth["episodes"]:
        if e["type"] in ("noise", "lead_off"):
            noisy |= (beats >= e["start_s"]) & (beats <= e["end_s"])
    expected = int((~noisy).sum())
    assert expected - 30 <= s.total_beats <= expected + 5
    # markers in the recording, and the same triggers in the diary counted once
    assert len(findings.patient_events) == len(truth["patient_triggers"]) == 2
