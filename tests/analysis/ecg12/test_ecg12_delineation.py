"""Boundary rules of the delineation on waves whose true boundaries are known."""

from __future__ import annotations

import numpy as np
import pytest

from ecgdesk.analysis.ecg12.delineation import _trapezium, qrs_bounds


def _trapezoid_wave() -> np.ndarray:
    """Flat, linear rise over samples 100-140, plateau to 160, linear fall to 200, flat again."""
    x = np.zeros(300)
    x[100:140] = np.arange(40) / 40.0
    x[140:160] = 1.0
    x[160:200] = 1.0 - np.arange(40) / 40.0
    return x


@pytest.mark.parametrize("polarity", [1.0, -1.0])
def test_trapezium_rule_finds_the_corners_of_a_wave(polarity: float):
    x = polarity * _trapezoid_wave()
    d = np.gradient(x)
    assert _trapezium(x, d, 130, -1, 60) == 100  # onset, from a point on the rising limb
    assert _trapezium(x, d, 170, 1, 60) == 200  # offset, from a point on the falling limb
    # The answer does not hinge on how far the reference point lies, as long as it is past the wave.
    assert _trapezium(x, d, 130, -1, 90) == 100
    assert _trapezium(x, d, 170, 1, 100) == 200


def test_trapezium_rule_ignores_noise_after_the_wave():
    x = _trapezoid_wave() + np.random.default_rng(1).normal(0, 0.01, 300)
    end = _trapezium(x, np.gradient(x), 175, 1, 80)
    assert abs(end - 200) <= 3


def _broad_r_beat(fs: float = 250.0) -> tuple[np.ndarray, int]:
    """Two leads of one beat at 250 Hz: a P wave ending 40 ms before a wide QRS that starts at sample 100,
    rises for 60 ms, stays on a flat top for 32 ms, falls steeply for 20 ms and ends at sample 132
    (QT Database sel37's shape); the fiducial is on the falling slope, the steepest point."""
    x = np.zeros(int(fs))
    x[60:90] = 0.1 * np.sin(np.pi * np.arange(30) / 30)  # P wave, samples 60-90
    x[100:115] = 0.6 * np.arange(15) / 15
    x[115:123] = 0.6
    x[123:128] = 0.6 - 0.7 * np.arange(1, 6) / 5
    x[128:132] = -0.1 + 0.1 * np.arange(1, 5) / 4
    return np.column_stack([x, 1.4 * x]), 125


def test_the_flat_top_of_a_broad_r_wave_is_not_the_qrs_onset():
    """The spatial velocity is zero on the R wave's flat top, far from the isoelectric line: the onset
    walk crosses it and stops where the complex leaves the baseline (before waves-1.5: at the top's end,
    92 ms late), not in the P wave before it."""
    beat, fid = _broad_r_beat()
    onset, offset = qrs_bounds(beat, fid, 250.0)
    assert 98 <= onset <= 101
    assert 131 <= offset <= 134


def test_a_narrow_qrs_onset_is_where_it_was():
    """A narrow complex after a P wave: the onset rule for broad R waves leaves it alone."""
    fs = 250.0
    x = np.zeros(int(fs))
    x[60:90] = 0.1 * np.sin(np.pi * np.arange(30) / 30)
    x[100:120] = np.interp(np.arange(20), [0, 3, 10, 15, 19], [0, -0.1, 1.0, -0.2, 0])
    beat = np.column_stack([x, -0.5 * x])
    onset, _ = qrs_bounds(beat, 106, fs)
    assert 99 <= onset <= 101
