"""Fibrillation that fills only part of every 10 s window of a strip is still ventricular (strips 1.7.0):
the flutter / fibrillation test also reads 5 s windows, with the ambulatory epochs' slow-wave rule, once no
other ventricular rule found anything. Broadband noise is not a fast wide-complex rhythm (strips 1.7.1)."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from strips_synth import synth_strip

from conftest import shared_path
from ecgdesk.analysis import ventricular as vf_module
from ecgdesk.analysis.strips import StripLabel, classify_signal, ventricular


def creighton_strip(record: str, start_s: float, seconds: float = 10.0) -> tuple[np.ndarray, float]:
    base = str(shared_path("cudb", f"{record}.hea").with_suffix(""))
    fs = float(wfdb.rdheader(base).fs)
    rec = wfdb.rdrecord(base, channels=[0], sampfrom=int(start_s * fs), sampto=int((start_s + seconds) * fs))
    return np.nan_to_num(rec.p_signal[:, 0]), fs


# Strips inside annotated VF stretches, cut 5 s apart as `bench/bench_ventricular_strips.py` cuts one after
# each onset: cu22 from 358 s (flutter-like VF, a shock's artefact in its last 2 s), cu04 from 200 s (VF,
# an artefact in its last second), cu33 from 475 s (VF with sharp spikes in its second half). strips 1.6.3
# called them O (a 254 bpm tachycardia), noisy and AF.
@pytest.mark.parametrize(("record", "start_s"), [("cu22", 358.0), ("cu04", 200.0), ("cu33", 475.0)])
def test_fibrillation_beside_an_artefact_is_ventricular(record: str, start_s: float,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    x, fs = creighton_strip(record, start_s)
    result = classify_signal(x, fs)
    assert result.label is StripLabel.VENTRICULAR, result.reason
    assert "fibrillation" in result.reason
    # the 10 s windows alone miss it
    monkeypatch.setattr(ventricular, "SHORT_WINDOW_S", ventricular.WINDOW_S)
    assert classify_signal(x, fs).label is not StripLabel.VENTRICULAR


def test_short_windows_do_not_replace_the_other_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # 20 s of sinus rhythm, then 4 s of a 4.5 Hz wave: the run rule reads a ventricular tachycardia from its
    # first beats, and a 5 s window over the wave passes the flutter test; the run rule's call stands
    fs = 250.0
    sinus, _ = synth_strip(np.full(24, 0.8), fs=fs, seed=0)
    t = np.arange(int(4.0 * fs)) / fs
    wave = (0.6 + 0.25 * np.sin(2 * np.pi * 0.4 * t + 1)) * np.sin(
        2 * np.pi * np.cumsum(4.5 + 0.7 * np.sin(2 * np.pi * 0.3 * t)) / fs)
    x = np.concatenate([sinus, wave])
    result = classify_signal(x, fs)
    assert result.label is StripLabel.VENTRICULAR
    assert result.reason.startswith("ventricular tachycardia"), result.reason
    # the short windows alone call it flutter: they are asked last
    monkeypatch.setattr(ventricular, "WINDOW_S", ventricular.SHORT_WINDOW_S)
    assert classify_signal(x, fs).reason.startswith("ventricular flutter or fibrillation")


def test_short_windows_take_the_slow_wave_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    # CinC A05822 (label O): wide complexes at about 100 bpm; one 5 s window passes the four VF limits, but
    # most of its power lies below 2.5 Hz and it leaks as a slow wide rhythm does: not fibrillation
    base = str(shared_path("cinc2017", "A05822.hea").with_suffix(""))
    rec = wfdb.rdrecord(base)
    x, fs = np.nan_to_num(rec.p_signal[:, 0]), float(rec.fs)
    assert classify_signal(x, fs).label is not StripLabel.VENTRICULAR
    monkeypatch.setattr(vf_module, "is_vf_epoch", vf_module.is_vf)
    assert classify_signal(x, fs).reason.startswith("ventricular flutter or fibrillation")


@pytest.mark.parametrize("fs", [250.0, 360.0, 500.0, 1000.0])
def test_broadband_noise_is_not_a_fast_wide_complex_rhythm(fs: float,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # white noise (a floating input): the detector counts fast, wide "beats" in it; strips 1.7.0 called it
    # "polymorphic VT or fibrillation". Most of its power lies above 40 Hz, where no rhythm does.
    x = 0.5 * np.random.default_rng(int(fs)).standard_normal(int(10 * fs))
    assert classify_signal(x, fs).label is not StripLabel.VENTRICULAR
    monkeypatch.setattr(ventricular, "FAST_WIDE_HF_SHARE_MAX", 1.0)
    assert classify_signal(x, fs).reason.startswith("fast wide-complex rhythm")
