"""Boundary rules of the delineation on waves whose true boundaries are known."""

from __future__ import annotations

import numpy as np
import pytest

from ecgdesk.analysis.ecg12.delineation import _trapezium


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
