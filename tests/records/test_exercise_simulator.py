"""The exercise simulator: consistent leads, its protocol file, and analysis recovering the injected truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgdesk.analysis.stress.exercise import analyze_stress
from ecgdesk.analysis.stress.protocol import Phase, load_protocol
from ecgdesk.errors import InputError
from ecgdesk.records.recording import Recording
from ecgdesk.records.simulator.exercise import ExerciseConfig, simulate_exercise


def _run(tmp_path: Path, **kwargs: object) -> tuple[Recording, Path, dict]:
    config = ExerciseConfig(exercise_s=360, pretest_s=60, recovery_s=180, fs=250.0, **kwargs)
    out = simulate_exercise(config, tmp_path)
    raw = wfdb.rdrecord(str(out.record.with_suffix("")))
    recording = Recording.from_array(raw.p_signal.astype(np.float32), float(raw.fs), raw.sig_name)
    return recording, out.protocol, json.loads(out.truth.read_text())


def test_leads_obey_einthoven_and_goldberger(tmp_path: Path):
    recording, protocol_path, _ = _run(tmp_path, seed=1)
    data = recording.read(0, recording.n_samples).astype(np.float64)
    lead = {name: data[:, i] for i, name in enumerate(recording.lead_names)}
    # Noise is drawn per lead, so the identities hold on the noise-free part only up to the noise level.
    assert np.std(lead["III"] - (lead["II"] - lead["I"])) < 0.08
    assert np.std(lead["aVF"] - (lead["II"] + lead["III"]) / 2) < 0.08
    protocol = load_protocol(protocol_path)
    assert [s.phase for s in protocol.stages][:3] == [Phase.PRETEST, Phase.EXERCISE, Phase.EXERCISE]
    assert protocol.exercise_time_s == 360
    assert recording.duration_s == pytest.approx(protocol.stages[-1].end_s, abs=0.01)


def test_analysis_recovers_injected_st_and_pvcs(tmp_path: Path):
    recording, protocol_path, truth = _run(tmp_path, seed=2, st_depression_mm=2.0, pvc_per_min=1.0)
    result = analyze_stress(recording, load_protocol(protocol_path))
    assert result.max_st_depression_mm == pytest.approx(2.0, abs=0.5)
    assert result.max_st_depression_lead in truth["st_leads"]
    assert result.ischemic_st_response
    assert result.peak_hr_bpm == pytest.approx(truth["peak_hr_bpm"], abs=5)
    found = [a.time_s for a in result.arrhythmias if a.kind == "ventricular_ectopic"]
    hits = sum(any(abs(f - p) < 0.1 for f in found) for p in truth["pvcs_s"])
    assert hits >= 0.8 * len(truth["pvcs_s"])
    assert len(found) <= len(truth["pvcs_s"]) + 2


def test_normal_test_has_no_st_response(tmp_path: Path):
    recording, protocol_path, _ = _run(tmp_path, seed=4, st_depression_mm=0.0)
    result = analyze_stress(recording, load_protocol(protocol_path))
    assert result.max_st_depression_mm < 0.5
    assert not result.ischemic_st_response


def test_deterministic_for_a_seed(tmp_path: Path):
    a, _, _ = _run(tmp_path / "a", seed=7)
    b, _, _ = _run(tmp_path / "b", seed=7)
    np.testing.assert_array_equal(a.read(0, 5000), b.read(0, 5000))


@pytest.mark.parametrize(("field", "value"), [("fs", 5.0), ("age", 0), ("sex", "X"), ("exercise_s", 9999.0),
                                               ("st_depression_mm", -1.0)])
def test_bad_configuration(tmp_path: Path, field: str, value: object):
    with pytest.raises(InputError) as info:
        simulate_exercise(ExerciseConfig(**{field: value}), tmp_path)
    assert info.value.field == field
    assert not any(tmp_path.iterdir())
