"""Leave-one-record-out choice of the strip VT rule "run unlike the strip's narrow beat".

    .venv/bin/python bench/ventricular_loro.py [--data ../shared/data]

The same strips as ``bench/bench_ventricular_strips.py`` (10 s, lead 0; the VT strips of the shared
MIT-BIH and Creighton records, the strips without VT: MIT-BIH/SVDB minutes, paced, bundle-branch block,
every LUDB lead, every CinC 2017 strip), read with wfdb and classified in process. For each setting of a
small grid (run length, RR spread, acceleration; the narrow-beat limit, correlation and width are fixed
from the usual QRS limits) it counts the strips the rule adds to the other rules' V calls. For each VT
record held out in turn, the setting is chosen on the rest: no added V call on any strip without VT, then
the most VT strips of the other records recognised, then the least strict; the held-out record's strips
are scored with it. Prints the choice and score per held-out record, and the settings that add no false V.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ventricular_strips import strip_signals
from ecgdesk.analysis.beats import classify_beats, extract_beat_features
from ecgdesk.analysis.strips import ventricular as rules
from ecgdesk.analysis.strips.signal import prepare

ROOT = Path(__file__).resolve().parents[1]
GRID = {"UNLIKE_RUN_BEATS": [3, 4, 5, 6], "UNLIKE_RUN_RR_SPREAD": [1.3, 1.5, 1.8],
        "UNLIKE_RUN_ACCELERATION": [0.6, 0.75, 0.9, 100.0]}


@dataclass
class Strip:
    name: str
    group: str
    other_rules: bool  # called V by the other rules
    args: tuple | None  # _run_unlike_narrow_beat's arguments, None when it cannot fire

    @property
    def vt(self) -> bool:
        return self.group.startswith("vt ")

    @property
    def record(self) -> str:
        return "_".join(self.name.split("_")[:2])


def load(name: str, group: str, x: np.ndarray, fs: float) -> Strip:
    strip = prepare(np.nan_to_num(x), fs)
    saved = rules.UNLIKE_RUN_BEATS
    rules.UNLIKE_RUN_BEATS = 10 ** 6  # the other rules alone
    try:
        other = rules.ventricular_arrhythmia(strip) is not None
    finally:
        rules.UNLIKE_RUN_BEATS = saved
    peaks = strip.peaks
    if other or peaks.size < 4:
        return Strip(name, group, other, None)
    features = extract_beat_features(strip.raw, strip.fs, peaks)
    table = classify_beats(features, peaks, strip.fs)
    candidates = rules.run_candidates(peaks, strip.fs, strip.raw.size)
    return Strip(name, group, other, (features, table, peaks, strip.fs, candidates, strip.raw.size))


def strips(data: Path) -> list[Strip]:
    return [load(*signal) for signal in strip_signals(data)]


def fires(setting: tuple, strip: Strip) -> bool:
    if strip.args is None:
        return False
    saved = {k: getattr(rules, k) for k in GRID}
    try:
        for key, value in zip(GRID, setting, strict=True):
            setattr(rules, key, value)
        return rules._run_unlike_narrow_beat(*strip.args) is not None
    finally:
        for key, value in saved.items():
            setattr(rules, key, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    every = strips(args.data)
    settings = list(itertools.product(*GRID.values()))
    negatives = [s for s in every if not s.group.startswith(("vt ", "vf ", "vfl "))]
    false_v = {k: sum(fires(k, s) for s in negatives if not s.other_rules) for k in settings}
    vt = [s for s in every if s.vt]
    hit = {(k, s.name): s.other_rules or fires(k, s) for k in settings for s in vt}
    clean = [k for k in settings if false_v[k] == 0]
    total = before = 0
    for held in sorted({s.record for s in vt}):
        train = [s for s in vt if s.record != held]
        test = [s for s in vt if s.record == held]
        best = max(clean, key=lambda k: (sum(hit[(k, s.name)] for s in train), -k[0], k[1], k[2]))
        got = sum(hit[(best, s.name)] for s in test)
        was = sum(s.other_rules for s in test)
        total, before = total + got, before + was
        print(f"held out {held}: chose {dict(zip(GRID, best, strict=True))} -> {got}/{len(test)} VT strips "
              f"(other rules alone {was})")
    print(f"all held-out VT strips: {total}/{len(vt)} (other rules alone {before})")
    print("settings adding no V call on the strips without VT "
          f"({len(negatives)} strips): {len(clean)} of {len(settings)}")
    for k in clean:
        print(f"  {dict(zip(GRID, k, strict=True))}: {sum(hit[(k, s.name)] for s in vt)}/{len(vt)} VT strips")
    worst = sorted(settings, key=lambda k: false_v[k])[-1]
    print(f"most false V: {dict(zip(GRID, worst, strict=True))} adds {false_v[worst]}")


if __name__ == "__main__":
    main()
