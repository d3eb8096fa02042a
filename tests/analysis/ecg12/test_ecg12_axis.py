"""Frontal QRS axis: least squares over the six limb leads on synthetic, Einthoven-consistent beats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecgdesk.analysis.ecg12.delineation import Delineation, MedianBeats
from ecgdesk.analysis.ecg12.measure import _frontal_axis

FS = 500.0
LIMB = {"I": 0.0, "II": 60.0, "III": 120.0, "aVR": -150.0, "aVL": -30.0, "aVF": 90.0}


def _beats(axis_deg: float, names: list[str], scale: dict[str, float] | None = None) -> Delineation:
    """A median beat whose limb leads are projections (Einthoven's law) of one frontal vector."""
    t = np.arange(200) / FS
    profile = np.exp(-0.5 * ((t - 0.2) / 0.012) ** 2)
    vx, vy = math.cos(math.radians(axis_deg)), math.sin(math.radians(axis_deg))
    one = profile * vx  # lead I
    two = profile * (vx * 0.5 + vy * math.sqrt(3) / 2)  # lead II at +60
    derived = {"I": one, "II": two, "III": two - one, "aVR": -(one + two) / 2, "aVL": one - two / 2,
               "aVF": two - one / 2, "V1": -profile, "V5": profile}
    scale = scale or {}
    data = np.column_stack([derived[n] * scale.get(n, 1.0) for n in names])
    median = MedianBeats(data=data, fiducial_index=100, fs=FS, n_beats_used=8)
    return Delineation(fs=FS, lead_names=names, fiducials=np.array([100, 600]), dominant=np.ones(2, bool),
                       median=median)


@pytest.mark.parametrize("axis", [-75.0, -20.0, 15.0, 50.0, 80.0, 120.0, 170.0])
def test_axis_of_consistent_limb_leads(axis: float):
    names = [*LIMB, "V1", "V5"]
    d = _beats(axis, names)
    got = _frontal_axis(d, 60, 140, np.zeros(len(names)))
    assert got is not None and got == pytest.approx(axis, abs=0.5)


def test_any_two_limb_leads_suffice_and_one_does_not():
    for pair in (["I", "aVF"], ["I", "II"], ["II", "III"], ["aVL", "aVF"]):
        got = _frontal_axis(_beats(35.0, pair), 60, 140, np.zeros(2))
        assert got == pytest.approx(35.0, abs=0.5), pair
    assert _frontal_axis(_beats(35.0, ["II", "V1"]), 60, 140, np.zeros(2)) is None


def test_one_mis_scaled_lead_moves_the_axis_less_than_with_two_leads():
    # Lead aVF recorded at twice its gain: the classic I/aVF axis follows it, the six-lead fit much less.
    names = list(LIMB)
    wrong = {"aVF": 2.0}
    six = _frontal_axis(_beats(30.0, names, wrong), 60, 140, np.zeros(6))
    two = _frontal_axis(_beats(30.0, ["I", "aVF"], wrong), 60, 140, np.zeros(2))
    assert six is not None and two is not None
    assert abs(six - 30.0) < abs(two - 30.0) / 2
