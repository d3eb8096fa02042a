"""Mains hum (50 or 60 Hz) is notched out before the R peak is placed and the beat's shape is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from ecgdesk.analysis.beats import analyze_beats
from ecgdesk.analysis.mains import without_mains

wfdb = pytest.importorskip("wfdb")
simulator = pytest.importorskip("ecgdesk.records.simulator")


def _hum(n: int, fs: float, f0: float, mv: float) -> np.ndarray:
    return mv * np.sin(2 * np.pi * f0 * np.arange(n) / fs + 0.7)


@pytest.mark.parametrize("fs", [250.0, 360.0, 1000.0])
def test_notches_take_out_the_grid_and_keep_the_ecg_band(fs: float):
    n = int(20 * fs)
    inner = slice(int(2 * fs), n - int(2 * fs))
    for f0 in (49.9, 50.0, 60.0, 60.1):  # grids keep within a few tenths of a hertz
        rest = without_mains(_hum(n, fs, f0, 1.0), fs)
        assert np.abs(rest[inner]).max() < 0.06, f0
    for f0 in (1.0, 10.0, 25.0, 40.0):  # P/T waves and the QRS band pass unchanged
        wave = _hum(n, fs, f0, 1.0)
        assert np.abs(without_mains(wave, fs) - wave)[inner].max() < 0.03, f0


def test_every_lead_is_notched_and_missing_samples_stay_missing():
    fs, n = 500.0, 5000
    leads = np.column_stack([_hum(n, fs, 50.0, 0.2), _hum(n, fs, 60.0, 0.1)])
    leads[100:150, 1] = np.nan
    rest = without_mains(leads, fs)
    assert rest.shape == leads.shape and np.isnan(rest[100:150, 1]).all() and np.isfinite(rest[:, 0]).all()
    assert np.nanmax(np.abs(rest[1000:-1000])) < 0.01


def test_rates_without_room_for_a_grid_frequency_are_left_alone():
    x = np.random.default_rng(1).normal(size=1000)
    assert np.array_equal(without_mains(x, 100.0), x)  # 50 Hz is the Nyquist frequency at 100 Hz
    assert not np.array_equal(without_mains(x, 128.0), x)  # SVDB's rate: both notches fit below 64 Hz


def _labels(signal: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Beats and labels, but for a beat within 0.2 s of either end: its window runs off the signal."""
    table = analyze_beats(signal, fs)
    inside = (table.samples >= 0.2 * fs) & (table.samples < signal.size - 0.2 * fs)
    return table.samples[inside], np.asarray(table.labels)[inside]


@pytest.mark.parametrize("f0", [50.0, 60.0])
def test_simulated_ectopy_reads_the_same_with_hum(tmp_path: Path, f0: float):
    config = simulator.SimulationConfig(days=20 / 1440, leads=1, fs=250.0, seed=23, name="h",
                                        events="svt:1x10,couplet:2x2,pvc:240/h,pac:240/h")
    rec = wfdb.rdrecord(str(simulator.simulate(config, tmp_path).record.with_suffix("")))
    x, fs = rec.p_signal[:, 0], float(rec.fs)
    samples, labels = _labels(x, fs)
    hum_samples, hum_labels = _labels(x + _hum(x.size, fs, f0, 0.1), fs)
    np.testing.assert_array_equal(samples, hum_samples)
    np.testing.assert_array_equal(labels, hum_labels)
    assert np.sum(labels == "S") >= 50 and np.sum(labels == "V") >= 50


@pytest.mark.shared_data
def test_recorded_ectopy_reads_the_same_with_hum():
    # MIT-BIH 203 (AF, multiform PVCs, noise): before algorithm 0.5.22, 0.1 mV of 60 Hz hum moved the R
    # peak of 1,804 of its 2,994 beats by a sample or more and changed 153 labels
    rec = wfdb.rdrecord(str(shared_path("mitdb", "203.hea").with_suffix("")))
    x, fs = rec.p_signal[:, 0], float(rec.fs)
    samples, labels = _labels(x, fs)
    hum_samples, hum_labels = _labels(x + _hum(x.size, fs, 60.0, 0.1), fs)
    np.testing.assert_array_equal(samples, hum_samples)
    np.testing.assert_array_equal(labels, hum_labels)
