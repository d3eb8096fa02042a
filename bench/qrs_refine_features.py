"""Probe, not shipped: a per-beat correction of the fused QRS bounds learned from the signal (issue 18).

The fused QRS bounds of :mod:`ecgdesk.analysis.waves` are one rule (the spatial velocity falling to a
share of its peak, template and own samples mixed). An annotator moves the onset and offset from beat to
beat by 5-12 ms against the QRS itself; choosing, per beat, the candidate nearest the annotation reaches
Martinez et al.'s SDs (docs/delineate.md), a choice that needs the annotation. This module describes one
beat by what the signal alone shows near its bounds (other thresholds, each lead's own bound, the
velocity's knee, levels, noise, width, rhythm) so that a small model can try to learn that choice.

:func:`qrs_features` is the description (:data:`FEATURE_NAMES`); :class:`Correction` evaluates the trees
``bench/train_qrs_refine.py`` exports (plain arrays, numpy only, as ``ecgdesk delineate`` would have run
them). The held-out half did not improve (QRS onset SD 8.39 -> 8.61 ms), so nothing of this is in the
engine: docs/delineate.md, "Looked at (2026-12-07, night): a learned per-beat QRS correction".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgdesk.analysis.ecg12.delineation import ONSET_MAX_SHARE, ONSET_NOTCH_FACTOR, ONSET_NOTCH_MS

#: (onset, offset) shares of the spatial velocity's peak at which the candidate bounds are found.
XIS = ((0.02, 0.04), (0.03, 0.06), (0.08, 0.12), (0.12, 0.16), (0.2, 0.25))
_PARTS = ("tmpl", "own")


def _names() -> tuple[str, ...]:
    out: list[str] = []
    for part in _PARTS:
        out += [f"{part}_on_{a}" for a, _ in XIS] + [f"{part}_off_{b}" for _, b in XIS]
        out += [f"{part}_on", f"{part}_off", f"{part}_lead_on_min", f"{part}_lead_on_max",
                f"{part}_lead_off_min", f"{part}_lead_off_max", f"{part}_knee_on", f"{part}_knee_off",
                f"{part}_v_on", f"{part}_v_off", f"{part}_mag_on", f"{part}_mag_off", f"{part}_floor"]
    return (*out, "width_ms", "rr_ms", "residual", "vmax_ratio")


FEATURE_NAMES = _names()
#: What the model reads: each feature, then each feature less its median over the block's template beats
#: (the annotator's bound moves against the beat's own QRS; a record's level says little about that).
MODEL_INPUTS = (*FEATURE_NAMES, *(f"rel_{name}" for name in FEATURE_NAMES))


def relative_to(features: np.ndarray) -> np.ndarray:
    """The reference a block's beats are described against: the median of its template beats' features."""
    return np.median(features, axis=0) if features.shape[0] else np.zeros(len(FEATURE_NAMES))


def _ms(fs: float, ms: float) -> int:
    return int(round(ms * fs / 1000.0))


def bounds_at(x: np.ndarray, fid: int, fs: float,
              pairs: tuple[tuple[float, float], ...]) -> list[tuple[int, int]]:
    """:func:`ecgdesk.analysis.ecg12.delineation.qrs_bounds` at several (onset, offset) shares at once.

    The same walks, sample for sample (``tests/analysis/test_qrs_refine.py``), with the velocity, its
    floor and the magnitude computed once, and the offset's quiet-stretch test on a running count.
    """
    velocity = np.sqrt(np.sum(np.gradient(x, axis=0) ** 2, axis=1))
    lo = max(1, fid - _ms(fs, 120))
    hi = min(len(velocity) - 2, fid + _ms(fs, 150))
    core = velocity[max(0, fid - _ms(fs, 40)):fid + _ms(fs, 40) + 1]
    vmax = float(core.max()) if core.size else float(velocity.max())
    floor = float(np.percentile(velocity, 5))
    quiet = max(1, _ms(fs, 12))
    notch = max(1, _ms(fs, ONSET_NOTCH_MS))
    reach = fid + _ms(fs, 60) + 1
    magnitude = np.sqrt(np.sum(x[:reach] ** 2, axis=1))
    peak_magnitude = float(magnitude[max(0, fid - _ms(fs, 60)):reach].max())
    n = len(velocity)
    out = []
    for on_xi, off_xi in pairs:
        on_level = floor + on_xi * (vmax - floor)
        off_level = floor + off_xi * (vmax - floor)
        onset = fid
        while onset > lo and velocity[onset] > on_level:
            onset -= 1
        while onset > lo:
            before = velocity[max(lo, onset - notch):onset]
            if before.size == 0 or before.max() <= ONSET_NOTCH_FACTOR * on_level:
                break
            onset = max(lo, onset - notch) + int(np.argmax(before))
            while onset > lo and velocity[onset] > on_level:
                onset -= 1
        while onset > lo and magnitude[onset] > ONSET_MAX_SHARE * peak_magnitude:
            while onset > lo and velocity[onset] <= on_level:
                onset -= 1
            while onset > lo and velocity[onset] > on_level:
                onset -= 1
        offset = fid
        if fid < hi:
            count = np.concatenate([[0], np.cumsum(velocity > off_level)])
            starts = np.arange(fid, hi)
            loud = count[np.minimum(starts + quiet + 1, n)] - count[starts]
            still = np.flatnonzero(loud == 0)
            offset = int(starts[still[0]]) if still.size else hi
        out.append((onset, offset))
    return out


def _part(x: np.ndarray, fid: int, fs: float, on: int, off: int) -> list[float]:
    """The description of one beat window (the template or the beat's own samples), ms from the bounds."""
    to_ms = 1000.0 / fs
    found = bounds_at(x, fid, fs, (*XIS, (0.05, 0.08)))
    out = [(a - on) * to_ms for a, _ in found[:-1]] + [(b - off) * to_ms for _, b in found[:-1]]
    own_on, own_off = found[-1]
    leads = [bounds_at(x[:, [li]], fid, fs, ((0.05, 0.08),))[0] for li in range(x.shape[1])]
    velocity = np.sqrt(np.sum(np.gradient(x, axis=0) ** 2, axis=1))
    core = velocity[max(0, fid - _ms(fs, 40)):fid + _ms(fs, 40) + 1]
    vmax = max(float(core.max()) if core.size else float(velocity.max()), 1e-12)
    floor = float(np.percentile(velocity, 5))
    bend = np.gradient(np.gradient(velocity))

    def knee(at: int, sign: float) -> float:
        lo, hi = max(0, at - _ms(fs, 24)), min(len(bend), at + _ms(fs, 16) + 1)
        if sign < 0:
            lo, hi = max(0, at - _ms(fs, 16)), min(len(bend), at + _ms(fs, 24) + 1)
        return (lo + int(np.argmax(bend[lo:hi])) - at) * to_ms if hi > lo else 0.0

    magnitude = np.sqrt(np.sum(x ** 2, axis=1))
    peak_mag = max(float(magnitude[max(0, fid - _ms(fs, 60)):fid + _ms(fs, 60) + 1].max()), 1e-12)
    n = len(velocity) - 1
    out += [(own_on - on) * to_ms, (own_off - off) * to_ms,
            (min(le[0] for le in leads) - on) * to_ms, (max(le[0] for le in leads) - on) * to_ms,
            (min(le[1] for le in leads) - off) * to_ms, (max(le[1] for le in leads) - off) * to_ms,
            knee(on, 1.0), knee(off, -1.0),
            float(velocity[min(on, n)]) / vmax, float(velocity[min(off, n)]) / vmax,
            float(magnitude[min(on, n)]) / peak_mag, float(magnitude[min(off, n)]) / peak_mag,
            floor / vmax]
    return out


def qrs_features(template: np.ndarray, own: np.ndarray | None, fid: int, fs: float, on: int, off: int,
                 rr_s: float) -> np.ndarray:
    """One beat's description (:data:`FEATURE_NAMES`) around its fused QRS bounds ``on`` / ``off``.

    ``template``: the beat window it was delineated on (``(samples, leads)``, 40 Hz); ``own``: its own
    samples when that is a template (else the template stands for both).
    """
    own_x = template if own is None else own
    tmpl = _part(template, fid, fs, on, off)
    mine = _part(own_x, fid, fs, on, off)
    lo, hi = max(0, on), max(on + 1, off)
    residual = float(np.sqrt(np.mean((own_x[lo:hi] - template[lo:hi]) ** 2)))
    scale = max(float(np.sqrt(np.mean(template[lo:hi] ** 2))), 1e-12)
    v_t = np.sqrt(np.sum(np.gradient(template, axis=0) ** 2, axis=1)).max()
    v_o = np.sqrt(np.sum(np.gradient(own_x, axis=0) ** 2, axis=1)).max()
    common = [(off - on) * 1000.0 / fs, rr_s * 1000.0, residual / scale, float(v_o / max(v_t, 1e-12))]
    return np.asarray(tmpl + mine + common, dtype=np.float64)


#: The trees ``bench/train_qrs_refine.py cv`` exports (QT Database tuning half only; git-ignored).
MODEL_PATH = Path(__file__).resolve().parent / ".cache" / "qrs_refine" / "model.npz"
_BOUNDS = ("on", "off")
_ARRAYS = ("feature", "threshold", "left", "right", "value")


@dataclass(frozen=True)
class Correction:
    """Regression trees (one ensemble per bound) predicting the annotated bound minus the fused one, ms.

    Arrays ``(trees, nodes)`` per bound: ``feature`` (an index into :data:`MODEL_INPUTS`, -1 at a leaf),
    ``threshold``, ``left``, ``right``, ``value``; the prediction is ``base + rate * sum of the leaves``,
    times ``shrink`` and clipped to ``+/- clip_ms``. A bound without trees is not corrected.
    """

    trees: dict[str, dict[str, np.ndarray]]
    base: dict[str, float]
    rate: dict[str, float]
    shrink: dict[str, float]
    clip_ms: float

    @classmethod
    def load(cls, path: Path) -> Correction:
        with np.load(path, allow_pickle=False) as data:
            if tuple(str(n) for n in data["inputs"]) != MODEL_INPUTS:
                raise ValueError(f"{path}: made for other features; run bench/train_qrs_refine.py again")
            return cls({b: {k: data[f"{b}_{k}"] for k in _ARRAYS} for b in _BOUNDS},
                       {b: float(data[f"{b}_base"]) for b in _BOUNDS},
                       {b: float(data[f"{b}_rate"]) for b in _BOUNDS},
                       {b: float(data[f"{b}_shrink"]) for b in _BOUNDS}, float(data["clip_ms"]))

    def _predict(self, bound: str, x: np.ndarray) -> float:
        t = self.trees[bound]
        if t["feature"].shape[0] == 0 or self.shrink[bound] == 0:
            return 0.0
        total = 0.0
        for i in range(t["feature"].shape[0]):
            node = 0
            while t["feature"][i, node] >= 0:
                go_left = x[t["feature"][i, node]] <= t["threshold"][i, node]
                node = int(t["left"][i, node] if go_left else t["right"][i, node])
            total += float(t["value"][i, node])
        return self.shrink[bound] * (self.base[bound] + self.rate[bound] * total)

    def __call__(self, inputs: np.ndarray) -> tuple[float, float]:
        """(onset, offset) corrections in ms for one beat's :data:`MODEL_INPUTS`."""
        on, off = (float(np.clip(self._predict(b, inputs), -self.clip_ms, self.clip_ms)) for b in _BOUNDS)
        return on, off

