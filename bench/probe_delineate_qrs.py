"""Probe: other ways of making the fused QRS bounds of ``ecgdesk delineate``, scored on the QT Database.

    .venv/bin/python bench/probe_delineate_qrs.py [--half tuning|held-out] [--records sel100,sel39]

The fused QRS onset and offset are found once per beat on the spatial velocity of all leads (waves-1.10).
This probe wraps ``waves.delineate_window`` so that, for every beat, it also returns the QRS bounds of
other rules, runs ``delineate_recording`` on each whole record (what ``ecgdesk delineate`` runs) and scores
every rule as ``bench_delineate.py`` scores the fused marks (mean / SD over records as Martinez et al.
2004, pooled in brackets, missed). The rules, each with the template / own-samples mix and clip of the
engine: per-lead bounds (each lead's own slope) fused beat by beat (earliest onset / latest offset, the
reverse, the mean, the median with the spatial bound, an outlier rule), the spatial velocity of the leads
each scaled to its own QRS velocity peak, the template's bounds alone, other thresholds, and the slur and
trough onset rules of docs/delineate.md ("Looked at (2026-12-07)", the trough rule with its guard against
a broad R wave's flat top). Only the QRS marks are rescored: P and T are delineated as the engine does.
Figures: docs/delineate.md, "Looked at (2026-12-07, late evening)". Default: the tuning half; the held-out
half is for a check after a choice is fixed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

import ecgdesk.analysis.waves as waves
from ecgdesk.analysis.ecg12.delineation import ONSET_MAX_SHARE, Wave, WaveKind, qrs_bounds
from ecgdesk.records import open_recording

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qtdb_eval import QTDB, Tally, records, reference, split

#: (onset, offset) thresholds at which the per-lead and spatial bounds are also found.
XIS = ((0.02, 0.05), (0.03, 0.08), (0.05, 0.08), (0.05, 0.12), (0.08, 0.16))


def _ms(fs: float, ms: float) -> int:
    return round(ms * fs / 1000.0)


def _velocity(beat: np.ndarray, fid: int, fs: float, on_xi: float) -> tuple[np.ndarray, float, float]:
    velocity = np.sqrt(np.sum(np.gradient(beat, axis=0) ** 2, axis=1))
    core = velocity[max(0, fid - _ms(fs, 40)):fid + _ms(fs, 40) + 1]
    vmax = float(core.max())
    floor = float(np.percentile(velocity, 5))
    return velocity, vmax, floor + on_xi * (vmax - floor)


def slur_onset(beat: np.ndarray, fid: int, fs: float, onset: int, factor: float = 3.0) -> int:
    """A velocity lobe within 40 ms before the onset, above ``factor`` times the onset level, moving the
    signal as the QRS's first 20 ms do and starting nearer the isoelectric line: the onset moves to its
    start."""
    velocity, _, level = _velocity(beat, fid, fs, 0.05)
    lo = max(1, fid - _ms(fs, 120))
    first = max(lo, onset - _ms(fs, 40))
    seg = velocity[first:onset]
    if seg.size == 0 or seg.max() <= factor * level:
        return onset
    top = first + int(np.argmax(seg))
    start, end = top, top
    while start > lo and velocity[start] > level:
        start -= 1
    while end < onset and velocity[end] > level:
        end += 1
    qrs = beat[min(len(beat) - 1, onset + _ms(fs, 20))] - beat[onset]
    if float(np.dot(beat[end] - beat[start], qrs)) <= 0:
        return onset
    return start if np.linalg.norm(beat[start]) < np.linalg.norm(beat[onset]) else onset


def trough_onset(beat: np.ndarray, fid: int, fs: float, onset: int, guard: bool = True) -> int:
    """The onset moved forward to the latest velocity minimum (at most twice the level, 20 ms or more before
    the fiducial) when the stretch walked over is slow, 24 ms or longer, a quarter of the peak magnitude or
    more and moves against the QRS's start; ``guard``: never onto a point above ``ONSET_MAX_SHARE``."""
    velocity, vmax, level = _velocity(beat, fid, fs, 0.05)
    reach = fid + _ms(fs, 60) + 1
    magnitude = np.sqrt(np.sum(beat[:reach] ** 2, axis=1))
    peak_magnitude = float(magnitude[max(0, fid - _ms(fs, 60)):reach].max())
    best = next((i for i in range(fid - _ms(fs, 20), onset, -1)
                 if velocity[i] <= 2 * level and velocity[i] <= min(velocity[i - 1], velocity[i + 1])), None)
    if best is None or best - onset < _ms(fs, 24) or velocity[onset:best].max() >= 0.5 * vmax:
        return onset
    moved = beat[best] - beat[onset]
    qrs = beat[min(len(beat) - 1, best + _ms(fs, 20))] - beat[best]
    if np.linalg.norm(moved) < 0.25 * peak_magnitude or float(np.dot(moved, qrs)) >= 0:
        return onset
    if guard and magnitude[best] > ONSET_MAX_SHARE * peak_magnitude:
        return onset
    return best


OnsetRule = Callable[[np.ndarray, int, float, int], int]
ONSET_RULES: dict[str, OnsetRule] = {
    "slur 3": lambda b, f, fs, on: slur_onset(b, f, fs, on, 3.0),
    "slur 2.5": lambda b, f, fs, on: slur_onset(b, f, fs, on, 2.5),
    "trough, no guard": lambda b, f, fs, on: trough_onset(b, f, fs, on, guard=False),
    "trough + guard": lambda b, f, fs, on: trough_onset(b, f, fs, on),
    "slur 3 + trough + guard": lambda b, f, fs, on: slur_onset(b, f, fs, trough_onset(b, f, fs, on), 3.0),
}


def _mixed(sig: np.ndarray, own: np.ndarray | None, fid: int, fs: float, params: waves.StreamParams,
           xis: tuple[float, float], rule: OnsetRule | None = None) -> tuple[int, int]:
    """QRS bounds as the engine mixes them: the template's, moved by half the beat's own (clipped)."""
    on, off = qrs_bounds(sig, fid, fs, *xis)
    if rule is not None:
        on = rule(sig, fid, fs, on)
    if own is None or params.qrs_own_weight <= 0:
        return on, off
    own_on, own_off = qrs_bounds(own, fid, fs, *xis)
    if rule is not None:
        own_on = rule(own, fid, fs, own_on)
    clip, w = params.qrs_own_clip_ms * fs / 1000.0, params.qrs_own_weight
    return (round(on + np.clip(w * (own_on - on), -clip, clip)),
            round(off + np.clip(w * (own_off - off), -clip, clip)))


def candidate_bounds(sig: np.ndarray, own: np.ndarray | None, fid: int, fs: float,
                     params: waves.StreamParams) -> dict[str, tuple[int, int]]:
    """Every rule's (onset, offset) for one beat window; ``sig`` the template, ``own`` the beat's samples."""
    xi = (params.waves.qrs_on_xi, params.waves.qrs_off_xi)
    out = {"template alone": qrs_bounds(sig, fid, fs, *xi)}
    peak = np.abs(np.gradient(sig, axis=0))[max(0, fid - _ms(fs, 40)):fid + _ms(fs, 40) + 1].max(axis=0)
    scale = 1.0 / np.where(peak > 0, peak, 1.0)
    for xis in XIS:
        out[f"spatial {xis}"] = _mixed(sig, own, fid, fs, params, xis)
        out[f"scaled {xis}"] = _mixed(sig * scale, None if own is None else own * scale, fid, fs, params, xis)
        for lead in range(sig.shape[1]):
            out[f"lead {lead + 1} {xis}"] = _mixed(sig[:, [lead]], None if own is None else own[:, [lead]],
                                                   fid, fs, params, xis)
    for name, rule in ONSET_RULES.items():
        out[name] = _mixed(sig, own, fid, fs, params, xi, rule)
    return out


def run(names: list[str]) -> dict[str, tuple[float, list[dict[str, object]]]]:
    """Per record: fs and, per beat, the fused QRS peak and every rule's bounds (recording indices)."""
    engine = waves.delineate_window
    keys: list[str] = []

    def wrapped(sig: waves.BeatSignals, fid: int, fs: float, rr_s: float, params: waves.StreamParams,
                has_p: bool = True,
                own: np.ndarray | None = None) -> tuple[list[list[Wave]], tuple[Wave, ...]]:
        per_lead, fused = engine(sig, fid, fs, rr_s, params, has_p, own)
        bounds = candidate_bounds(sig.beat, own, fid, fs, params)
        keys[:] = list(bounds)
        # Carried as extra QRS waves after the engine's own in the fused marks, which the engine shifts to
        # recording indices with the rest and keeps in this order.
        qrs = [w for w in fused if w.kind is WaveKind.QRS]
        extra = [Wave(WaveKind.QRS, on, qrs[0].peak, off) for on, off in bounds.values()]
        p = [w for w in fused if w.kind is WaveKind.P]
        t = [w for w in fused if w.kind is WaveKind.T]
        return per_lead, (*p, *qrs, *extra, *t)

    out: dict[str, tuple[float, list[dict[str, object]]]] = {}
    waves.delineate_window = wrapped  # type: ignore[assignment]
    try:
        for record in names:
            recording = open_recording(QTDB / f"{record}.hea")
            beats: list[dict[str, object]] = []
            for beat in waves.delineate_recording(recording):
                qrs = [w for w in beat.fused if w.kind is WaveKind.QRS]
                marks = {"now": (qrs[0].onset, qrs[0].offset)}
                marks.update({k: (w.onset, w.offset) for k, w in zip(keys, qrs[1:], strict=True)})
                beats.append({"peak": qrs[0].peak, "marks": marks})
            out[record] = (recording.fs, beats)
            print(f"  {record}: {len(beats)} beats", file=sys.stderr)
    finally:
        waves.delineate_window = engine
    return out


def fusions(marks: dict[str, tuple[int, int]], fs: float) -> dict[str, tuple[int, int]]:
    """The rules scored: the engine's, the per-beat fusions of the two leads' bounds, the candidates."""
    d = (0.05, 0.08)
    l1, l2, now = marks[f"lead 1 {d}"], marks[f"lead 2 {d}"], marks["now"]
    out = {"spatial (now)": now, "lead 1": l1, "lead 2": l2,
           "earliest / latest": (min(l1[0], l2[0]), max(l1[1], l2[1])),
           "latest / earliest": (max(l1[0], l2[0]), min(l1[1], l2[1])),
           "mean of the leads": (round((l1[0] + l2[0]) / 2), round((l1[1] + l2[1]) / 2)),
           "median (leads, spatial)": (int(np.median([l1[0], l2[0], now[0]])),
                                       int(np.median([l1[1], l2[1], now[1]]))),
           "envelope (leads, spatial)": (min(l1[0], l2[0], now[0]), max(l1[1], l2[1], now[1]))}
    for tol in (8, 16, 30):
        far = abs(l1[0] - l2[0]) > tol * fs / 1000.0, abs(l1[1] - l2[1]) > tol * fs / 1000.0
        out[f"outlier rule {tol} ms"] = (max(l1[0], l2[0]) if far[0] else min(l1[0], l2[0]),
                                         min(l1[1], l2[1]) if far[1] else max(l1[1], l2[1]))
    out["scaled"] = marks[f"scaled {d}"]
    out["template alone"] = marks["template alone"]
    for xis in XIS:
        out[f"spatial {xis[0]} / {xis[1]}"] = marks[f"spatial {xis}"]
    out.update({name: marks[name] for name in ONSET_RULES})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("tuning", "held-out"), default="tuning")
    parser.add_argument("--records", default="", help="comma-separated record names (default: the half)")
    args = parser.parse_args()
    if not QTDB.exists():
        print(f"needs {QTDB}", file=sys.stderr)
        return 2
    tune, held = split(records())
    names = [r for r in args.records.split(",") if r] or (tune if args.half == "tuning" else held)
    tallies: dict[str, Tally] = {}
    for record, (fs, beats) in run(names).items():
        ref = reference(record)
        scored = [fusions(b["marks"], fs) for b in beats]  # type: ignore[arg-type]
        for rule in scored[0] if scored else ():
            ours = [{"QRS_peak": int(b["peak"]), "QRS_on": s[rule][0], "QRS_off": s[rule][1]}  # type: ignore[call-overload]
                    for b, s in zip(beats, scored, strict=True)]
            tallies.setdefault(rule, Tally()).add(record, ref, ours, fs)
    print(f"{len(names)} records; QRS onset / offset, mean / SD over records [pooled] ms, missed")
    for rule, tally in tallies.items():
        cells = []
        for b in ("QRS_on", "QRS_off"):
            s = tally.stats(b)
            cells.append(f"{s['rec_mean']:6.1f} / {s['rec_sd']:5.2f} [{s['mean']:6.1f} / {s['sd']:5.1f}] "
                         f"m{tally.missed_in(b)}")
        print(f"  {rule:28s} {cells[0]}   {cells[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
