"""Two candidate strip VT rules for the MIT-BIH VT strips the shipped rules miss, chosen or rejected
leave-one-record-out; neither is in ``ecgdesk.analysis.strips.ventricular`` (docs/strips.md).

    .venv/bin/python bench/ventricular_candidates.py [--data ../shared/data]

The same strips as ``bench/bench_ventricular_strips.py`` (10 s, lead 0; VT strips of MIT-BIH 203, 205,
223 and Creighton cu02; strips without VT: MIT-BIH/SVDB minutes, paced, bundle-branch block, every LUDB
lead, every CinC 2017 strip), read with wfdb and prepared as the strips command prepares them. Strips the
shipped rules already call V are left out of both counts.

- **slow spectrum**: a 10 s window (as the VF check cuts them) whose beats run at >= 100 bpm, whose median
  beat is wider than 100 ms and whose 1-30 Hz signal (the VF measures of
  :mod:`ecgdesk.analysis.ventricular`) has at most ``high`` of its power at 12-30 Hz, a VF-filter leakage
  of at most ``leak``, at most ``low`` below 2.5 Hz and a kurtosis of at most ``kurt``: wide complexes
  seen in the spectrum rather than by the beat width estimate. For each VT record held out, the setting
  of the grid is chosen on the rest: no V call on any strip without VT, then the most VT strips of the
  other records, then the loosest (``high`` first, then ``leak``, ``low``, ``kurt``).
- **accelerated run**: ``n`` consecutive beats at >= 100 bpm (1 s from the ends) with a median width of at
  least ``w`` ms, a regular run (longest RR <= ``spread`` x the shortest) and faster than the strip's
  other beats (median RR <= ``accel`` x theirs): the run unlike the narrow beat without a narrow beat to
  compare with. Prints, per setting, the strips without VT it calls V and the VT strips it adds.
- **triplet**: the shipped run rule (beats the template classifier calls ventricular, wide, of a repeated
  template, after a fast RR) with 3 beats instead of 4 (MIT-BIH marks a run of 3 ventricular beats VT);
  the template still needs 4 beats, or 3. Prints the strips without VT it calls V.
- **alternating templates**: a median rate >= 100 bpm and ``n`` consecutive beats of two templates in
  strict alternation, both wider than ``w`` ms (VT whose complexes alternate, as in MIT-BIH 223, where
  ventricular bigeminy has one narrow template). Prints the strips it calls V.
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
from ecgdesk.analysis.beats import BeatClass, classify_beats, extract_beat_features
from ecgdesk.analysis.strips import ventricular as rules
from ecgdesk.analysis.strips.signal import PreparedStrip, prepare
from ecgdesk.analysis.ventricular import band_signal, vf_measures

ROOT = Path(__file__).resolve().parents[1]
SPECTRAL = {"high": [0.03, 0.04, 0.05, 0.06, 0.08], "leak": [0.55, 0.6, 0.65, 0.7],
            "low": [0.1, 0.15, 0.2, 0.3], "kurt": [5.0, 6.0, 8.0, 10.0]}
KEYS = ("high_share", "leakage", "low_share", "kurtosis")
RUN = {"n": [5, 6, 8], "w": [100.0, 110.0, 120.0], "spread": [1.3, 1.5, 1.8], "accel": [0.6, 0.7, 0.75]}
NARROW_MS = rules.REF_NARROW_MS


@dataclass
class Strip:
    name: str
    group: str
    shipped: bool  # called V by the shipped rules
    windows: np.ndarray  # (n, 4): the slow-spectrum candidate windows' measures in KEYS order
    peaks: np.ndarray
    width_ms: np.ndarray
    n_samples: int
    ventricular: np.ndarray | None = None  # per beat: labelled V by the template classifier
    template_size: np.ndarray | None = None  # per beat: how many beats its template holds
    template_width: np.ndarray | None = None  # per beat: its template's width (ms)
    template_id: np.ndarray | None = None

    @property
    def vt(self) -> bool:
        return self.group.startswith("vt (")

    @property
    def short_vt(self) -> bool:  # a VT run shorter than 3 s: counted, never used for a choice
        return self.group.startswith("vt <")

    @property
    def record(self) -> str:
        return "_".join(self.name.split("_")[:2])


def spectral_windows(strip: PreparedStrip) -> np.ndarray:
    fs = strip.fs
    L = int(rules.WINDOW_S * fs)
    n = strip.raw.size
    starts = [0] if n <= L else sorted({*range(0, n - L + 1, int(rules.WINDOW_S / 2 * fs)), n - L})
    y, rate, step = band_signal(strip.raw, fs)
    out = []
    for a in starts:
        rows = y[a // step: (a + min(L, n)) // step]
        peaks = strip.peaks[(strip.peaks >= a) & (strip.peaks < a + L)]
        if rows.size < int(3 * rate) or peaks.size < rules.VT_MIN_BEATS + 1:
            continue
        if 60.0 * fs / float(np.median(np.diff(peaks))) < rules.VT_RATE_BPM:
            continue
        if float(np.median(extract_beat_features(strip.raw, fs, peaks).width_ms)) <= NARROW_MS:
            continue
        m = vf_measures(rows[None, :], rate)
        out.append([float(m[k][0]) for k in KEYS])
    return np.array(out).reshape(-1, len(KEYS))


def load(name: str, group: str, x: np.ndarray, fs: float) -> Strip:
    strip = prepare(np.nan_to_num(x), fs)
    shipped = rules.ventricular_arrhythmia(strip) is not None
    if shipped or strip.peaks.size < rules.VT_MIN_BEATS + 1:
        return Strip(name, group, shipped, np.zeros((0, len(KEYS))), strip.peaks, np.zeros(0), strip.raw.size)
    features = extract_beat_features(strip.raw, strip.fs, strip.peaks)
    table = classify_beats(features, strip.peaks, strip.fs)
    sizes = {t.template_id: t.n_beats for t in table.templates}
    size = np.array([sizes.get(int(t), 0) for t in table.template_ids])
    widths = {t.template_id: t.width_ms for t in table.templates}
    template_width = np.array([widths.get(int(t), 0.0) for t in table.template_ids])
    return Strip(name, group, shipped, spectral_windows(strip), strip.peaks, features.width_ms,
                 strip.raw.size, table.labels == BeatClass.V.value, size, template_width,
                 np.asarray(table.template_ids))


def strips(data: Path) -> list[Strip]:
    return [load(*signal) for signal in strip_signals(data, short_vt=True)]


def spectral_fires(setting: tuple[float, ...], strip: Strip) -> bool:
    return bool((strip.windows <= np.asarray(setting)).all(axis=1).any())


def run_fires(setting: tuple[float, ...], strip: Strip, fs: float = 300.0) -> bool:
    n, w, spread, accel = setting
    p = strip.peaks
    if strip.width_ms.size < n + 4:
        return False
    rr = np.diff(p) / fs
    inside = (p >= rules.EDGE_S * fs) & (p < strip.n_samples - rules.EDGE_S * fs)
    candidates = inside & np.concatenate([[False], rr <= 60.0 / rules.VT_RATE_BPM])
    k = int(n)
    for i in range(1, p.size - k + 1):
        if not candidates[i:i + k].all():
            continue
        run_rr = rr[i - 1:i + k - 1]
        rest = np.concatenate([rr[:max(i - 2, 0)], rr[i + k:]])  # the RRs that do not touch the run
        if (float(np.median(strip.width_ms[i:i + k])) >= w and run_rr.max() <= spread * run_rr.min()
                and rest.size >= 3 and float(np.median(run_rr)) <= accel * float(np.median(rest))):
            return True
    return False


def triplet_fires(template_beats: int, strip: Strip, fs: float = 300.0) -> bool:
    if strip.ventricular is None or strip.template_size is None:
        return False
    p = strip.peaks
    fast = np.concatenate([[False], np.diff(p) / fs <= 60.0 / rules.VT_RATE_BPM])
    inside = (p >= rules.EDGE_S * fs) & (p < strip.n_samples - rules.EDGE_S * fs)
    beats = (strip.ventricular & (strip.width_ms >= rules.RUN_QRS_MS)
             & (strip.template_size >= template_beats) & inside & fast)
    return rules._first_run(beats, 3) is not None


def alternating_fires(n: int, w: float, strip: Strip, fs: float = 300.0) -> bool:
    ids, width = strip.template_id, strip.template_width
    if ids is None or width is None or ids.size < n:
        return False
    if 60.0 * fs / float(np.median(np.diff(strip.peaks))) < rules.VT_RATE_BPM:
        return False
    for i in range(ids.size - n + 1):
        run = ids[i:i + n]
        if (run[0] != run[1] and (run[0::2] == run[0]).all() and (run[1::2] == run[1]).all()
                and width[i] > w and width[i + 1] > w):
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    every = strips(args.data)
    negatives = [s for s in every if not s.group.startswith(("vt ", "vf ", "vfl ")) and not s.shipped]
    vt = [s for s in every if s.vt]
    short = [s for s in every if s.short_vt]
    print(f"{len(negatives)} strips without VT not called V; "
          f"VT strips {sum(s.shipped for s in vt)}/{len(vt)} "
          f"called V by the shipped rules; missed: {[s.name for s in vt if not s.shipped]}")

    settings = list(itertools.product(*SPECTRAL.values()))
    false_v = {k: [s.name for s in negatives if spectral_fires(k, s)] for k in settings}
    hit = {(k, s.name): s.shipped or spectral_fires(k, s) for k in settings for s in vt}
    clean = [k for k in settings if not false_v[k]]
    print(f"\nslow spectrum: {len(clean)} of {len(settings)} settings call no strip without VT V")
    total = 0
    for held in sorted({s.record for s in vt}):
        train = [s for s in vt if s.record != held]
        test = [s for s in vt if s.record == held]
        best = max(clean, key=lambda k: (sum(hit[(k, s.name)] for s in train), k))
        got = sum(hit[(best, s.name)] for s in test)
        total += got
        print(f"  held out {held}: chose {dict(zip(SPECTRAL, best, strict=True))} -> {got}/{len(test)} "
              f"(shipped rules {sum(s.shipped for s in test)})")
    print(f"  all held-out VT strips: {total}/{len(vt)} (shipped rules {sum(s.shipped for s in vt)})")
    shipped_choice = max(clean, key=lambda k: (sum(hit[(k, s.name)] for s in vt), k))
    print(f"  chosen on all VT records: {dict(zip(SPECTRAL, shipped_choice, strict=True))}: VT runs < 3 s "
          f"{sum(s.shipped or spectral_fires(shipped_choice, s) for s in short)}/{len(short)} "
          f"(shipped rules {sum(s.shipped for s in short)})")
    for s in vt:
        if not s.shipped:
            fired = [k for k in clean if spectral_fires(k, s)]
            print(f"  {s.name}: found by {len(fired)} clean settings; "
                  f"windows {np.round(s.windows, 3).tolist()}")
    most = max(sum(hit[(k, s.name)] for s in vt) for k in clean)
    print(f"  most VT strips of any clean setting: {most}/{len(vt)}")
    worst = max(settings, key=lambda k: len(false_v[k]))
    print(f"  loosest setting {dict(zip(SPECTRAL, worst, strict=True))}: {len(false_v[worst])} false V "
          f"{false_v[worst]}")

    print("\naccelerated run: settings that find a missed VT strip")
    for k in itertools.product(*RUN.values()):
        added = [s.name for s in vt if not s.shipped and run_fires(k, s)]
        if added:
            fv = [s.name for s in negatives if run_fires(k, s)]
            print(f"  {dict(zip(RUN, k, strict=True))}: adds {added}, {len(fv)} false V {fv[:5]}")

    print("\ntriplet (3 ventricular beats)")
    for template_beats in (4, 3):
        fv = [s.name for s in negatives if triplet_fires(template_beats, s)]
        added = [s.name for s in vt if not s.shipped and triplet_fires(template_beats, s)]
        runs = sum(s.shipped or triplet_fires(template_beats, s) for s in short)
        print(f"  template of >= {template_beats} beats: adds {added}, VT runs < 3 s {runs}/{len(short)} "
              f"(shipped rules {sum(s.shipped for s in short)}), {len(fv)} false V {fv[:8]}")


    print("\nalternating templates")
    for n, w in itertools.product((6, 8), (95.0, 100.0)):
        fv = [s.name for s in negatives if alternating_fires(n, w, s)]
        added = [s.name for s in vt if not s.shipped and alternating_fires(n, w, s)]
        print(f"  {n} beats, both > {w:.0f} ms: adds {added}, {len(fv)} false V {fv[:6]}")


if __name__ == "__main__":
    main()
