"""A small ambulatory ECG generator with exact event truth, for the benchmarks only.

Used by ``bench_events.py`` when ``ecgdesk simulate`` (the records simulator) is not installed. Beats are
sums of Gaussian bumps (P, Q, R, S, T) rendered at their times; rhythm is a sequence of segments: sinus with
respiratory variability, AF (irregular RR, no P, fibrillatory waves), pauses, PVCs, couplets, VT runs
(wide beats), PACs and SVT runs (narrow beats with early abnormal P), EMG noise and electrode-off gaps.
Truth beats go to ``<name>.atr`` (MIT symbols N, A, V). Truth episodes:
``{"episodes": [{"type", "start_s", "end_s"}]}`` in seconds from the start, like the simulator's
``<name>.truth.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# (offset s from R, width s, amplitude mV)
NORMAL = (
    (-0.17, 0.025, 0.12),
    (-0.03, 0.010, -0.10),
    (0.0, 0.011, 1.1),
    (0.03, 0.010, -0.25),
    (0.26, 0.05, 0.30),
)
NO_P = NORMAL[1:]
ABNORMAL_P = ((-0.14, 0.022, -0.08), *NORMAL[1:])
VENTRICULAR = ((-0.01, 0.03, 1.4), (0.05, 0.03, -0.6), (0.30, 0.07, -0.45))


def _render(
    x: np.ndarray, fs: float, t: float, shape: tuple[tuple[float, float, float], ...], gain: float
) -> None:
    for off, width, amp in shape:
        c = (t + off) * fs
        lo, hi = int(c - 4 * width * fs), int(c + 4 * width * fs) + 1
        lo, hi = max(lo, 0), min(hi, x.size)
        if hi <= lo:
            continue
        k = np.arange(lo, hi)
        x[lo:hi] += gain * amp * np.exp(-0.5 * ((k - c) / (width * fs)) ** 2)


def simulate(
    hours: float, fs: float, seed: int
) -> tuple[np.ndarray, list[dict[str, float | str]], list[tuple[float, str]]]:
    """(signal in mV, truth episodes, truth beats (time s, MIT symbol)) for ``hours`` of ECG."""
    rng = np.random.default_rng(seed)
    total = hours * 3600.0
    x = np.zeros(int(total * fs) + 1, dtype=np.float64)
    truth: list[dict[str, float | str]] = []
    t = 1.0
    base = rng.uniform(60, 80)
    gain = rng.uniform(0.6, 1.4)
    phase = 0.0
    beats: list[tuple[float, str]] = []
    symbol = {id(NORMAL): "N", id(NO_P): "N", id(ABNORMAL_P): "A", id(VENTRICULAR): "V"}

    def beat(shape: tuple[tuple[float, float, float], ...]) -> None:
        _render(x, fs, t, shape, gain)
        beats.append((t, symbol[id(shape)]))

    def sinus_rr() -> float:
        nonlocal phase
        phase += 2 * np.pi * 0.25 * (60 / base)
        return 60.0 / base * (1 + 0.04 * np.sin(phase) + 0.015 * rng.standard_normal())

    while t < total - 120:
        event = rng.choice(
            [
                "sinus",
                "af",
                "pause",
                "pvc",
                "couplet",
                "vt",
                "pac",
                "svt",
                "noise",
                "lead_off",
                "avb2",
                "avb3",
            ],
            p=[0.36, 0.05, 0.06, 0.12, 0.06, 0.08, 0.10, 0.07, 0.03, 0.03, 0.03, 0.01],
        )
        for _ in range(int(rng.integers(20, 60))):  # sinus between events
            t += sinus_rr()
            beat(NORMAL)
        base = float(np.clip(base + rng.normal(0, 3), 55, 90))
        if event == "af":
            dur = float(rng.choice([rng.uniform(30, 59), rng.uniform(60, 600)], p=[0.2, 0.8]))
            start = t
            mean_rr = 60.0 / rng.uniform(80, 130)
            while t < start + dur:
                t += mean_rr * rng.uniform(0.55, 1.45)
                beat(NO_P)
            n0, n1 = int(start * fs), min(int(t * fs), x.size)
            k = np.arange(n0, n1)
            x[n0:n1] += gain * 0.05 * np.sin(2 * np.pi * rng.uniform(5, 7) * k / fs)
            truth.append({"type": "af", "start_s": start, "end_s": t})
        elif event == "pause":
            start = t
            t += float(rng.uniform(2.1, 4.5))
            beat(NORMAL)
            truth.append({"type": "pause", "start_s": start, "end_s": t})
        elif event in ("pvc", "couplet", "vt"):
            n = {"pvc": 1, "couplet": 2}.get(str(event), int(rng.integers(3, 25)))
            start = t
            rr = 60.0 / rng.uniform(130, 200)
            t += 0.6 * 60.0 / base
            beat(VENTRICULAR)
            for _ in range(n - 1):
                t += rr
                beat(VENTRICULAR)
            if event != "pvc":
                truth.append({"type": str(event), "start_s": start, "end_s": t})
            t += 1.5 * 60.0 / base
            beat(NORMAL)
        elif event in ("pac", "svt"):
            n = 1 if event == "pac" else int(rng.integers(4, 25))
            start = t
            rr = 60.0 / rng.uniform(130, 190)
            t += 0.65 * 60.0 / base
            beat(ABNORMAL_P)
            for _ in range(n - 1):
                t += rr
                beat(ABNORMAL_P)
            if event == "svt":
                truth.append({"type": "svt", "start_s": start, "end_s": t})
            t += 1.15 * 60.0 / base
            beat(NORMAL)
        elif event == "avb2":
            start = t
            rr = 60.0 / base
            _render(x, fs, t + rr, NORMAL[:1], gain)  # a P wave that is not conducted
            t += 2 * rr
            beat(NORMAL)
            truth.append({"type": "avb2", "start_s": start, "end_s": t})
        elif event == "avb3":
            start = t
            dur = float(rng.uniform(60, 180))
            p_rr = 60.0 / rng.uniform(70, 90)
            v_rr = 60.0 / rng.uniform(32, 42)
            tp = t + 0.3
            while tp < start + dur:
                _render(x, fs, tp, NORMAL[:1], gain)
                tp += p_rr
            while t < start + dur:
                t += v_rr
                beat(NO_P)
            truth.append({"type": "avb3", "start_s": start, "end_s": t})
        elif event in ("noise", "lead_off"):
            start = t
            dur = float(rng.uniform(20, 120))
            while t < start + dur:
                t += sinus_rr()
                beat(NORMAL)
            truth.append({"type": str(event), "start_s": start, "end_s": t})
    end = (x.size - 1) / fs
    truth = [{**ep, "end_s": min(float(ep["end_s"]), end)} for ep in truth if float(ep["start_s"]) < end]
    for ep in truth:
        n0, n1 = int(float(ep["start_s"]) * fs), int(float(ep["end_s"]) * fs)
        if ep["type"] == "noise":
            x[n0:n1] += rng.normal(0, 0.4, n1 - n0)
        elif ep["type"] == "lead_off":
            x[n0:n1] = 0.0
    n = np.arange(x.size)
    x += 0.15 * np.sin(2 * np.pi * 0.2 * n / fs + rng.uniform(0, 6)) + rng.normal(0, 0.012, x.size)
    for ep in truth:
        if ep["type"] == "lead_off":
            x[int(float(ep["start_s"]) * fs) : int(float(ep["end_s"]) * fs)] = 0.0
    beats = [b for b in beats if b[0] < end]
    return x.astype(np.float32), truth, beats


def write(out: Path, name: str, hours: float, fs: float, seed: int) -> Path:
    """Write ``out/<name>.hea/.dat``, ``.atr`` (truth beats) and ``.truth.json``; returns the header path."""
    from ecgdesk.records.recording import Lead
    from ecgdesk.records.writers import open_writer, write_beat_annotations

    x, truth, beats = simulate(hours, fs, seed)
    with open_writer(out, name, "wfdb", fs, [Lead("ECG")]) as writer:
        writer.write(x[:, None])
    samples = np.round(np.array([b[0] for b in beats]) * fs).astype(np.int64)
    write_beat_annotations(out / name, "atr", samples, [b[1] for b in beats], fs)
    (out / f"{name}.truth.json").write_text(json.dumps({"seed": seed, "episodes": truth}, indent=1))
    return out / f"{name}.hea"
