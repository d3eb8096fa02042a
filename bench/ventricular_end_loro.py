"""Leave-one-record-out choice of the strip VT run rules' limits at the strip's END (strips 1.8.0).

    .venv/bin/python bench/ventricular_end_loro.py [--data ../shared/data]

The strips of ``bench/bench_ventricular_strips.py`` (10 s, lead 0), its "vt at end" strips too (each
shared VT stretch's strip ending 2, 3 and 4 s after the onset, as an event recorder stores a strip around
its trigger), read with wfdb and classified in process. Three limits are chosen on a small grid:
``END_EDGE_S`` (how far from the strip's end a run's beat must lie), ``UNLIKE_END_RUN_BEATS`` (how many
beats the run unlike the narrow beat needs when it reaches the strip's end; 6, the rule's own length, means
no end rule) and ``RUN_TEMPLATE_BEATS`` (how often a run beat's template must be seen: multiform runs). For
each VT record held out in turn, the setting is chosen on the rest as ``bench/ventricular_loro.py`` does:
no added V call on any strip without VT, then the most VT strips of the other records recognised (the
stretches of 4 or more beats; the triplets are reported, not chosen on), then the least strict. Prints the
choice and score per held-out record, and the V calls of every setting.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ventricular_strips import strip_signals
from ecgdesk.analysis.beats import BeatFeatures, BeatTable, classify_beats, extract_beat_features
from ecgdesk.analysis.strips import ventricular as rules
from ecgdesk.analysis.strips.signal import prepare

ROOT = Path(__file__).resolve().parents[1]
GRID = {"END_EDGE_S": [0.2, 0.4, 0.6, 1.0], "UNLIKE_END_RUN_BEATS": [4, 5, 6],
        "RUN_TEMPLATE_BEATS": [2, 3, 4]}
#: The limits before strips 1.8.0: the start's margin at the end too, and no shorter run at the end.
OLD = (rules.EDGE_S, rules.UNLIKE_RUN_BEATS, 4)


@dataclass
class Strip:
    name: str
    group: str
    old_v: bool  # called V with the old limits
    args: tuple[BeatFeatures, BeatTable, np.ndarray, float, int] | None  # ventricular_run's arguments

    @property
    def record(self) -> str:
        return "_".join(self.name.split("_")[:2])

    @property
    def vt(self) -> bool:
        """A VT strip chosen on: a stretch of 4 or more beats (not the triplets, nor the runs < 3 s)."""
        return self.group.startswith(("vt (", "vt at end"))


def with_setting(setting: tuple, call):  # type: ignore[no-untyped-def]
    saved = {k: getattr(rules, k) for k in GRID}
    try:
        for key, value in zip(GRID, setting, strict=True):
            setattr(rules, key, value)
        return call()
    finally:
        for key, value in saved.items():
            setattr(rules, key, value)


def load(name: str, group: str, x: np.ndarray, fs: float) -> Strip:
    strip = prepare(np.nan_to_num(x), fs)
    old = with_setting(OLD, lambda: rules.ventricular_arrhythmia(strip)) is not None
    peaks = strip.peaks
    fast = np.diff(peaks) / strip.fs <= 60.0 / rules.VT_RATE_BPM
    if old or peaks.size < rules.VT_MIN_BEATS + 1 or rules._longest_run(fast) < rules.VT_MIN_BEATS - 1:
        return Strip(name, group, old, None)
    features = extract_beat_features(strip.raw, strip.fs, peaks)
    table = classify_beats(features, peaks, strip.fs)
    return Strip(name, group, old, (features, table, peaks, float(strip.fs), strip.raw.size))


def fires(setting: tuple, strip: Strip) -> bool:
    if strip.old_v:
        return True
    args = strip.args
    return args is not None and with_setting(setting, lambda: rules.ventricular_run(*args)) is not None


def family(group: str) -> str:
    """The group without its database and, for the "at end" groups, the seconds after the onset."""
    group = group.split(" (")[0]
    return group.rsplit(" ", 2)[0] if " at end " in group else group


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    every = [load(*signal) for signal in strip_signals(args.data, short_vt=True, at_end=True)]
    settings = list(itertools.product(*GRID.values()))
    called = {k: {s.name for s in every if fires(k, s)} for k in settings}
    negatives = [s for s in every if not s.group.startswith(("vt ", "vf ", "vfl "))]
    false_v = {k: [s for s in negatives if s.name in called[k] and not s.old_v] for k in settings}
    vt = [s for s in every if s.vt]
    clean = [k for k in settings if not false_v[k]]
    total = before = 0
    for held in sorted({s.record for s in vt}):
        train = [s for s in vt if s.record != held]
        test = [s for s in vt if s.record == held]
        best = max(clean, key=lambda k: (sum(s.name in called[k] for s in train), -k[0], -k[1], -k[2]))
        got = sum(s.name in called[best] for s in test)
        was = sum(s.old_v for s in test)
        total, before = total + got, before + was
        print(f"held out {held}: chose {dict(zip(GRID, best, strict=True))} -> {got}/{len(test)} VT strips "
              f"(old limits {was})")
    print(f"all held-out VT strips: {total}/{len(vt)} (old limits {before})\n")
    families = sorted({family(s.group) for s in every if s.group.startswith("vt ")})
    for k in settings:
        tag = "no added V on strips without VT" if not false_v[k] else \
            f"adds {len(false_v[k])} false V: " + " ".join(s.name for s in false_v[k][:12])
        print(f"{dict(zip(GRID, k, strict=True))}: {tag}\n    " + "; ".join(
            f"{f}: {sum(s.name in called[k] for s in every if family(s.group) == f)}"
            f"/{sum(family(s.group) == f for s in every)}" for f in families))
    by_group = Counter(s.group for k in settings for s in false_v[k])
    print("\nfalse V per group, all settings together:", dict(by_group))


if __name__ == "__main__":
    main()
