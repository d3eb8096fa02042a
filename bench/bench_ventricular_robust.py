"""Ventricular arrhythmia strips under what other recorders do to a signal: is each still called ``V``?

    .venv/bin/python bench/bench_ventricular_robust.py [--data ../shared/data]
        [--transforms orig,inverted,gain0.25,...] [--noise ma:12,em:12] [--negatives 0.25]

The strips are those of ``bench/bench_ventricular_strips.py`` (10 s, lead 0; the VF, ventricular flutter
and VT stretches of the shared Creighton and MIT-BIH records, and strips without VT: MIT-BIH and SVDB
minutes, every LUDB lead); the VT runs shorter than 3 s and the CinC strips are left out. Each strip goes
through a transform a recorder or its surroundings could apply, then through
:func:`ecgdesk.analysis.strips.classify.classify_signal` (what ``ecgdesk strips`` runs on each strip):

- ``orig`` as stored; ``inverted``; ``gain0.25`` / ``gain4`` (amplitude calibration);
- ``fs128`` ... ``fs1000``: resampled (polyphase);
- ``hum60``: 0.1 mV of 60 Hz; ``wander``: 0.5 mV at 0.3 Hz; ``quant20uV``: 20 uV steps (a coarse ADC);
- ``monitor``: a causal 0.5 Hz high-pass and 40 Hz low-pass (a monitor-mode front end), ``lp25``: a causal
  25 Hz low-pass;
- ``--noise KIND:SNR``: synthetic noise of :mod:`ecgdesk.analysis.noise_stress` (``ma`` muscle, ``em``
  electrode motion, ``bw`` baseline wander) at that SNR in dB, with the signal power taken as the strip's
  1st-99th percentile span squared over 8 (the MIT-BIH Noise Stress Test's S, with the span standing for
  the QRS amplitude: VF has no QRS to measure). Row ``ma12`` etc.

``--negatives`` keeps that share of the strips without VT (a fixed draw), for speed. Prints per group and
transform the strips called ``V`` and, for the ventricular groups, which strips a transform loses and
what they were called instead; writes bench/results/ventricular_robust.csv. Nothing is tuned here: it
says where the rules of ``analysis/strips/ventricular.py`` stop holding.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ventricular_strips import strip_signals
from ecgdesk.analysis.noise_stress import make_noise
from ecgdesk.analysis.strips.classify import classify_signal

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
VENTRICULAR_GROUPS = ("vf", "vfl", "vt")

Transform = Callable[[np.ndarray, float], tuple[np.ndarray, float]]


def _resample(to: float) -> Transform:
    def apply(x: np.ndarray, fs: float) -> tuple[np.ndarray, float]:
        ratio = Fraction(to / fs).limit_denominator(400)
        return signal.resample_poly(x, ratio.numerator, ratio.denominator), to
    return apply


def _causal(kind: str, cutoff: float | list[float], order: int) -> Transform:
    def apply(x: np.ndarray, fs: float) -> tuple[np.ndarray, float]:
        sos = signal.butter(order, cutoff, btype=kind, fs=fs, output="sos")
        return signal.sosfilt(sos, x), fs
    return apply


def _monitor(x: np.ndarray, fs: float) -> tuple[np.ndarray, float]:
    y, _ = _causal("highpass", 0.5, 1)(x, fs)
    return _causal("lowpass", 40.0, 2)(y, fs)


def _sine(freq: float, amplitude: float) -> Transform:
    def apply(x: np.ndarray, fs: float) -> tuple[np.ndarray, float]:
        return x + amplitude * np.sin(2 * np.pi * freq * np.arange(x.size) / fs), fs
    return apply


def noise_transform(kind: str, snr_db: float) -> Transform:
    def apply(x: np.ndarray, fs: float) -> tuple[np.ndarray, float]:
        span = float(np.subtract(*np.percentile(x, [99, 1])))
        rms = np.sqrt(span * span / 8.0 / 10.0 ** (snr_db / 10.0))
        return x + rms * make_noise(kind, x.size, fs, seed=3), fs
    return apply


TRANSFORMS: dict[str, Transform] = {
    "orig": lambda x, fs: (x, fs),
    "inverted": lambda x, fs: (-x, fs),
    "gain0.25": lambda x, fs: (0.25 * x, fs),
    "gain4": lambda x, fs: (4.0 * x, fs),
    "fs128": _resample(128.0),
    "fs360": _resample(360.0),
    "fs500": _resample(500.0),
    "fs1000": _resample(1000.0),
    "hum60": _sine(60.0, 0.1),
    "wander": _sine(0.3, 0.5),
    "quant20uV": lambda x, fs: (np.round(x / 0.02) * 0.02, fs),
    "monitor": _monitor,
    "lp25": _causal("lowpass", 25.0, 2),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--transforms", default=",".join(TRANSFORMS))
    parser.add_argument("--noise", default="ma:12,em:12,ma:6,em:6", help="KIND:SNR_dB, comma-separated")
    parser.add_argument("--negatives", type=float, default=1.0, help="share of the strips without VT kept")
    args = parser.parse_args()
    transforms = {name: TRANSFORMS[name] for name in args.transforms.split(",") if name}
    for item in filter(None, args.noise.split(",")):
        kind, snr = item.split(":")
        transforms[f"{kind}{snr}"] = noise_transform(kind, float(snr))
    draw = np.random.default_rng(5)
    tally: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    lost: dict[str, list[str]] = defaultdict(list)
    for name, group, x, fs in strip_signals(args.data):
        if group.startswith("cinc2017"):
            break  # strip_signals yields the CinC strips last
        ventricular = group.split()[0] in VENTRICULAR_GROUPS
        if not ventricular and draw.random() >= args.negatives:
            continue
        row = group if ventricular else f"no VT: {group}"
        x = np.nan_to_num(np.asarray(x, dtype=np.float64))
        for label, transform in transforms.items():
            y, rate = transform(x, fs)
            result = classify_signal(y, rate)
            called = str(result.label.value)
            tally[(row, label)][called] += 1
            if ventricular and called != "V":
                lost[label].append(f"{name}: {called} ({result.reason})")
    rows = sorted({r for r, _ in tally})
    print(f"{'group':36}" + "".join(f"{t:>10}" for t in transforms))
    out = []
    for row in rows:
        cells = []
        for label in transforms:
            counts = tally[(row, label)]
            cells.append(f"{counts['V']}/{sum(counts.values())}")
            out.append({"group": row, "transform": label, "strips": sum(counts.values()),
                        "called_V": counts["V"],
                        "labels": " ".join(f"{k}:{v}" for k, v in sorted(counts.items()))})
        print(f"{row:36}" + "".join(f"{c:>10}" for c in cells))
    for label in transforms:
        if lost[label]:
            print(f"\n{label}: ventricular strips not called V\n  " + "\n  ".join(lost[label]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "ventricular_robust.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(out[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
