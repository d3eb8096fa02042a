"""Epoch quality: lead-off, railed, noise, and analyzable/wear time on real and damaged signals."""

from __future__ import annotations

import numpy as np
import wfdb

from conftest import shared_path
from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.quality import (
    ANALYZABLE,
    LEAD_OFF,
    NOISE,
    analyzable_seconds,
    epoch_states,
    is_noise,
    quality_episodes,
    states_to_string,
    wear_seconds,
)

CFG = AnalysisConfig()


def mitdb_100(seconds: int = 300) -> np.ndarray:
    path = shared_path("mitdb", "100.hea").with_suffix("")
    return wfdb.rdrecord(str(path), sampto=360 * seconds, channels=[0]).p_signal[:, 0].astype(np.float32)


def test_clean_record_is_fully_analyzable_and_damage_is_located() -> None:
    x = mitdb_100()
    assert (epoch_states(x, 360.0, CFG) == ANALYZABLE).all()
    y = x.copy()
    L = 3600
    y[2 * L: 4 * L] = 0.0                                       # electrode off: flat
    y[6 * L: 7 * L] = np.clip(y[6 * L: 7 * L], None, -2.0) * 0 + 5.0  # railed amplifier
    y[9 * L: 9 * L + 200] = np.nan                              # dropout
    rng = np.random.default_rng(0)
    y[12 * L: 14 * L] += rng.normal(0, 0.3, 2 * L).astype(np.float32)  # muscle noise
    st = epoch_states(y, 360.0, CFG)
    expect = np.zeros(30, dtype=np.uint8)
    expect[[2, 3, 6, 9]] = LEAD_OFF
    expect[[12, 13]] = NOISE
    assert st.tolist() == expect.tolist()
    n = y.size
    assert analyzable_seconds(st, n, 360.0, CFG) == 240.0
    assert wear_seconds(st, n, 360.0, CFG) == 260.0
    assert states_to_string(st)[:5] == "AALLA"
    kinds = [(e.type.value, e.start_s, e.end_s) for e in quality_episodes(st, n, 360.0, CFG)]
    assert kinds == [("noise", 120.0, 140.0), ("lead_off", 20.0, 40.0), ("lead_off", 60.0, 70.0),
                     ("lead_off", 90.0, 100.0)]


def test_scaling_does_not_change_states() -> None:
    x = mitdb_100(60)
    assert (epoch_states(x * 1e-3 * 100, 360.0, CFG) == epoch_states(x, 360.0, CFG)).all()


def test_partial_last_epoch_and_empty() -> None:
    x = mitdb_100(25)  # 2.5 epochs
    st = epoch_states(x, 360.0, CFG)
    assert st.size == 3
    assert analyzable_seconds(st, x.size, 360.0, CFG) == 25.0
    assert epoch_states(np.zeros(0, dtype=np.float32), 360.0, CFG).size == 0


def test_ventricular_tachycardia_is_analyzable_but_muscle_noise_is_not() -> None:
    fs = 250.0
    t = np.arange(int(30 * fs)) / fs
    vt = np.zeros_like(t)
    for r in np.arange(0.2, 30, 60 / 180):  # wide (sigma 30 ms), smooth complexes at 180 bpm
        vt += 1.4 * np.exp(-0.5 * ((t - r) / 0.03) ** 2) - 0.5 * np.exp(-0.5 * ((t - r - 0.12) / 0.04) ** 2)
    rng = np.random.default_rng(2)
    vt += rng.normal(0, 0.01, t.size)
    assert (epoch_states(vt.astype(np.float32), fs, CFG) == ANALYZABLE).all()
    noisy = vt + rng.normal(0, 0.4, t.size)
    assert (epoch_states(noisy.astype(np.float32), fs, CFG) == NOISE).all()
    # the same test on a short segment (a run's span)
    assert not is_noise(vt[:500], CFG) and is_noise(noisy[:500], CFG)
