"""The clinical VT run and a morphology change against the strip's conducted beat, as strip VT rules:
measured against the MIT-BIH VT strips the shipped rules miss; neither is in
``ecgdesk.analysis.strips.ventricular`` (docs/strips.md, "Looked at, issue 18, 2026-12-07 evening").

    nice -n 10 .venv/bin/python bench/ventricular_clinical_run.py [--data ../shared/data] [--details]

The strips of ``bench/bench_ventricular_strips.py`` (10 s, lead 0, with its VT runs < 3 s and "vt at end"
groups, and every CinC 2017 strip), classified by ``classify_signal`` as ``ecgdesk strips`` does; the
beats are the strip's detections, their classes and templates those of :mod:`ecgdesk.analysis.beats`
(as the shipped run rule reads them), beats from :data:`~ecgdesk.analysis.strips.ventricular.EDGE_S` after
the start to :data:`~ecgdesk.analysis.strips.ventricular.END_EDGE_S` before the end. Rules (a run of
``n`` consecutive beats; its rate is ``60 / mean RR`` of the RRs ending at its beats, the clinical
reading of ">= 100 bpm", or each of those RRs <= 600 ms, the shipped rules' reading):

- ``V n [w] rate``: every beat labelled V by the beat classifier (the clinical definition of VT: 3 or
  more ventricular beats at >= 100 bpm); ``w``: each also >= 110 ms wide;
- ``unlike n part [w] rate``: every beat unlike the strip's conducted beat (the most common template of 3
  or more beats labelled N; correlation < 0.7 on the QRS, +-100 ms, or on the beat from 100 ms before R to
  190 ms after, ST segment included), none of that template; ``w``: median width >= 110 ms.

Prints, per bench group, the strips each rule would call ``V`` that the shipped rules do not; with
``--details``, the names of the MIT-BIH VT strips and of the strips without VT it would add.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ventricular_strips import strip_signals
from ecgdesk.analysis.beats import QRS_PART, WAVE_T, BeatClass, classify_beats, extract_beat_features
from ecgdesk.analysis.strips import ventricular as rules
from ecgdesk.analysis.strips.classify import classify_signal
from ecgdesk.analysis.strips.signal import PreparedStrip

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BEAT_PART = WAVE_T >= -0.10
UNLIKE_CORR = rules.UNLIKE_CORR
RATES = ("each", "mean")
RULES = [f"V {n}{w} {r}" for n in (3, 4) for w in ("", " w") for r in RATES] + [
    f"unlike {n} {p}{w} {r}" for n in (3, 4) for p in ("qrs", "beat") for w in ("", " w") for r in RATES]


def runs(mask: np.ndarray, n: int) -> list[int]:
    """First beats of the runs of ``n`` consecutive True (overlapping)."""
    return [i for i in range(mask.size - n + 1) if mask[i:i + n].all()]


def fires(strip: PreparedStrip) -> set[str]:
    """The rules of :data:`RULES` that fire on the strip."""
    peaks, fs = strip.peaks, strip.fs
    if peaks.size < 4:
        return set()
    inside = (peaks >= rules.EDGE_S * fs) & (peaks < strip.raw.size - rules.END_EDGE_S * fs)
    inside[0] = False  # the first beat has no RR
    rr = np.concatenate([[np.inf], np.diff(peaks) / fs])  # the RR ending at each beat
    if not any(rr[i:i + 3].mean() <= 0.6 for i in runs(inside, 3)):
        return set()
    features = extract_beat_features(strip.raw, fs, peaks)
    table = classify_beats(features, peaks, fs)
    wide = features.width_ms >= rules.RUN_QRS_MS
    masks: dict[str, np.ndarray] = {"V": table.labels == BeatClass.V.value}
    sizes = {t.template_id: t.n_beats for t in table.templates}
    conducted = [t for t in table.templates if t.n_beats >= 3
                 and np.any((table.template_ids == t.template_id) & (table.labels == BeatClass.N.value))]
    if conducted:
        reference = max(conducted, key=lambda t: sizes[t.template_id]).template_id
        own = table.template_ids == reference
        for part, cols in (("qrs", QRS_PART), ("beat", BEAT_PART)):
            w = np.asarray(features.waveforms, dtype=np.float64)[:, cols]
            w = w - w.mean(axis=1, keepdims=True)
            unit = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
            centre = unit[own].mean(axis=0)
            corr = unit @ (centre / max(float(np.linalg.norm(centre)), 1e-12))
            masks[f"unlike {{n}} {part}"] = ~own & (corr < UNLIKE_CORR)
    out: set[str] = set()
    for key, mask in masks.items():
        for n in (3, 4):
            stem = f"V {n}" if key == "V" else key.format(n=n)
            for w in ("", " w"):
                each_wide = key == "V" and w
                m = mask & inside & (wide if each_wide else True)
                for i in runs(m, n):
                    if w and key != "V" and float(np.median(features.width_ms[i:i + n])) < rules.RUN_QRS_MS:
                        continue
                    if (rr[i:i + n] <= 60.0 / rules.VT_RATE_BPM).all():
                        out.add(f"{stem}{w} each")
                    if rr[i:i + n].mean() <= 60.0 / rules.VT_RATE_BPM:
                        out.add(f"{stem}{w} mean")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--details", action="store_true")
    args = parser.parse_args()
    shipped: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    added: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, group, x, fs in strip_signals(args.data, short_vt=True, at_end=True):
        result = classify_signal(x, fs)
        total[group] += 1
        if result.label.value == "V":
            shipped[group] += 1
            continue
        for rule in fires(result.strip) if result.strip is not None else ():
            added[(group, rule)].append(name)
    columns = sorted(total)
    with open(RESULTS / "ventricular_clinical_run.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rule", *(f"{g} ({total[g]}, shipped V {shipped[g]})" for g in columns)])
        for rule in RULES:
            writer.writerow([rule, *(len(added.get((g, rule), [])) for g in columns)])
    print("strips newly V per rule (the shipped rules' V calls left out); "
          f"written to {RESULTS / 'ventricular_clinical_run.csv'}")
    print(f"{'group':<34} {'strips':>6} {'shipped V':>9}  " + " ".join(f"{r:>18}" for r in RULES))
    for g in columns:
        print(f"{g:<34} {total[g]:6d} {shipped[g]:9d}  "
              + " ".join(f"{len(added.get((g, r), [])):18d}" for r in RULES))
    if args.details:
        for rule in RULES:
            for g in columns:
                names = added.get((g, rule), [])
                if names and not g.startswith(("vt <", "vt at", "vf", "vfl")):
                    print(f"{rule} | {g}: {' '.join(names)}")

if __name__ == "__main__":
    main()
