"""The learned flutter / fibrillation detector (strips 1.9.0, issue 18): asked after every rule, it weighs
the VF measures together, so fibrillation that fails one rule's limit beside an artefact is ventricular,
while sinus strips, clean or under the robustness bench's muscle noise, are not."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from conftest import shared_path
from ecgdesk.analysis.noise_stress import make_noise
from ecgdesk.analysis.strips import StripLabel, classify_signal, ventricular
from ecgdesk.analysis.strips.ventricular_learned import LearnedDetector, default_detector, lz_complexity


def strip_at(database: str, record: str, start: int, seconds: float = 10.0) -> tuple[np.ndarray, float]:
    base = str(shared_path(database, f"{record}.hea").with_suffix(""))
    fs = float(wfdb.rdheader(base).fs)
    rec = wfdb.rdrecord(base, channels=[0], sampfrom=start, sampto=start + int(seconds * fs))
    return np.nan_to_num(rec.p_signal[:, 0]), fs


# Strips inside annotated Creighton VF stretches (`bench/bench_ventricular_strips.py --through 5`) that
# strips 1.8.0 called AF, noisy and other: every rule's limits fail somewhere in them.
@pytest.mark.parametrize(("record", "start"), [("cu11", 112797), ("cu08", 121603), ("cu06", 72339)])
def test_fibrillation_the_rules_miss_is_ventricular(record: str, start: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    x, fs = strip_at("cudb", record, start)
    result = classify_signal(x, fs)
    assert result.label is StripLabel.VENTRICULAR, result.reason
    assert "learned detector" in result.reason
    monkeypatch.setattr(ventricular, "USE_LEARNED", False)
    assert classify_signal(x, fs).label is not StripLabel.VENTRICULAR


@pytest.mark.parametrize(("record", "start"), [("100", 0), ("118", 108000), ("107", 540000)])
def test_sinus_and_paced_strips_under_muscle_noise_are_not_ventricular(record: str, start: int) -> None:
    x, fs = strip_at("mitdb", record, start)
    span = float(np.subtract(*np.percentile(x, [99, 1])))
    for snr_db in (12.0, 6.0):
        noisy = x + np.sqrt(span * span / 8.0 / 10.0 ** (snr_db / 10.0)) * make_noise("ma", x.size, fs, seed=3)
        assert classify_signal(noisy, fs).label is not StripLabel.VENTRICULAR
    assert classify_signal(x, fs).label is not StripLabel.VENTRICULAR


def test_complexity_is_high_for_noise_and_low_for_a_sine() -> None:
    rng = np.random.default_rng(0)
    assert lz_complexity(rng.standard_normal(1000)) > 0.8
    assert lz_complexity(np.sin(np.arange(1000) * 2 * np.pi / 50)) < 0.2
    assert np.isnan(lz_complexity(np.zeros(3)))


def test_model_trained_on_other_features_is_refused() -> None:
    detector = default_detector()
    assert 0.99 < detector.threshold < 1.0
    with pytest.raises(ValueError, match="other features"):
        LearnedDetector({"features": ["hr_bpm"], "median": [0], "mean": [0], "scale": [1], "coef": [1],
                         "intercept": 0.0, "threshold": 0.5})
