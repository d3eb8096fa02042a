"""Atrial flutter with variable conduction: RR intervals that are multiples of one flutter cycle."""

from __future__ import annotations

import json

import numpy as np

from ecgdesk.analysis.findings import EpisodeType
from ecgdesk.analysis.flutter import MAX_RESIDUAL, is_flutter, rr_quantization
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.records import open_recording
from ecgdesk.records.simulator import SimulationConfig, simulate


def test_variable_conduction_fits_its_cycle():
    rng = np.random.default_rng(0)
    for cycle in (0.18, 0.2, 0.24):
        rr = cycle * rng.choice([2, 3, 4], size=40) + rng.normal(0, 0.004, 40)
        q = rr_quantization(rr)
        assert q is not None and is_flutter(q)
        assert abs(q.cycle_s - cycle) <= 0.005 and set(q.ratios) == {2, 3, 4}


def test_random_rr_of_af_never_fits_a_cycle():
    rng = np.random.default_rng(1)
    residuals = []
    for _ in range(300):
        rr = 0.68 * np.clip(1 + 0.28 * rng.standard_normal(30), 0.5, 2.5)
        q = rr_quantization(rr)
        assert q is not None
        residuals.append(q.residual)
        assert not is_flutter(q)
    assert min(residuals) > 1.5 * MAX_RESIDUAL  # far from the limit, not just under it


def test_too_few_or_regular_intervals():
    assert rr_quantization(np.full(5, 0.8)) is None
    regular = rr_quantization(np.full(30, 0.8))  # fixed 4:1: one ratio only, not variable conduction
    assert regular is not None and not is_flutter(regular)


def test_simulated_flutter_is_found_and_kept_out_of_af_burden(tmp_path):
    config = SimulationConfig(days=1 / 24, leads=1, fs=250.0, seed=5, name="fl",
                              events="flutter:1x5m,af:1x5m,pvc:30/h")
    result = simulate(config, tmp_path)
    truth = [e for e in json.loads(result.truth.read_text())["episodes"] if e["type"] in ("af", "flutter")]
    findings = analyze(open_recording(result.record)).findings
    for kind in ("af", "flutter"):
        t = next(e for e in truth if e["type"] == kind)
        found = findings.episodes_of(EpisodeType(kind))
        assert len(found) == 1
        assert abs(found[0].start_s - t["start_s"]) < 15 and abs(found[0].end_s - t["end_s"]) < 15
    burden_truth = json.loads(result.truth.read_text())["summary"]["af_burden_pct"]
    assert abs(findings.summary.af_burden_pct - burden_truth) < 1.0
    assert "flutter cycle" in findings.episodes_of(EpisodeType.FLUTTER)[0].evidence


def test_dropped_beats_of_a_slower_rhythm_are_not_flutter():
    rng = np.random.default_rng(2)
    # Mobitz II 3:2 at 80/min atria (0.75 s, 1.5 s), with a few stray intervals
    mobitz = np.tile([0.75, 1.5], 20) + rng.normal(0, 0.004, 40)
    mobitz[[5, 17]] = [0.6, 1.0]
    # Wenckebach 4:3 (PR 0.16, 0.26, 0.32 s): RR 0.85, 0.81, 1.34 s
    wenckebach = np.tile([0.85, 0.81, 1.34], 12) + rng.normal(0, 0.004, 36)
    for rr in (mobitz, wenckebach):
        q = rr_quantization(rr)
        assert q is not None and not is_flutter(q)
