"""A lead recorded the other way round (electrodes swapped, a V1-like lead) gives the same beat classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from ecgdesk.analysis.beats import analyze_beats

wfdb = pytest.importorskip("wfdb")
simulator = pytest.importorskip("ecgdesk.records.simulator")


def _same_classes_both_ways(signal: np.ndarray, fs: float) -> dict[str, int]:
    upright, inverted = analyze_beats(signal, fs), analyze_beats(-signal, fs)
    np.testing.assert_array_equal(upright.samples, inverted.samples)
    np.testing.assert_array_equal(upright.labels, inverted.labels)
    return {c: int(np.sum(upright.labels == c)) for c in "SV"}


def test_simulated_ectopy_reads_the_same_inverted(tmp_path: Path):
    config = simulator.SimulationConfig(days=20 / 1440, leads=2, fs=250.0, seed=21, name="p",
                                        events="svt:1x10,couplet:2x2,pvc:240/h,pac:240/h")
    result = simulator.simulate(config, tmp_path)
    rec = wfdb.rdrecord(str(result.record.with_suffix("")))
    for lead in (0, 1):  # lead 1 is V1-like: its QRS is mostly negative
        counts = _same_classes_both_ways(rec.p_signal[:, lead], float(rec.fs))
        assert counts["S"] >= 50 and counts["V"] >= 50, counts


@pytest.mark.shared_data
@pytest.mark.parametrize("db,name", [("mitdb", "201"), ("svdb", "852")])
def test_recorded_ectopy_reads_the_same_inverted(db: str, name: str):
    # before algorithm 0.5.21 the model's waveform differences changed sign with the lead: 201 gained 40
    # V beats inverted (aberrant PACs), 852 lost 33 S beats
    rec = wfdb.rdrecord(str(shared_path(db, f"{name}.hea").with_suffix("")))
    counts = _same_classes_both_ways(rec.p_signal[:, 0], float(rec.fs))
    assert counts["S"] >= 50 and counts["V"] >= 20, counts
