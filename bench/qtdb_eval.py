"""QT Database reference marks and the beat-by-beat comparison used by ``bench_delineate.py``.

The first annotator's marks (``.q1c``) give, per annotated beat, the QRS peak (``N`` and the other beat
symbols) with its onset ``(`` and offset ``)``, and the P and T peaks (``p``, ``t``) with whatever onset
and offset the annotator marked. A mark belongs to a wave when it immediately precedes (``(``) or follows
(``)``) that wave's peak marks.

A reference beat is delineated when one of our beats has its QRS within 150 ms of the annotated QRS peak;
each annotated boundary of that beat is then compared with the same boundary of our beat (a boundary we
did not give, or one more than 150 ms away, counts as missed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import wfdb

ROOT = Path(__file__).resolve().parents[1]
QTDB = ROOT.parent / "shared" / "data" / "qtdb"
BOUNDARIES = ("P_on", "P_off", "QRS_on", "QRS_off", "T_off")
#: Martinez et al. 2004, QT Database (mean and SD of the error in ms), the anchor of the targets.
MARTINEZ = {"P_on": (2.0, 14.8), "P_off": (1.9, 12.8), "QRS_on": (4.6, 7.7), "QRS_off": (0.8, 8.7),
            "T_off": (-1.6, 18.1)}
MATCH_MS = 150.0
BEAT_SYMBOLS = set("NLRVAaJSjeEFBQ/f")
#: Records held out from every choice of method or threshold (alternate records of the sorted list).
SPLIT_NOTE = ("tuned on the even-numbered records of the sorted list (0, 2, ...), held out: the odd ones; "
              "the P offset threshold (waves-1.4) was chosen on all 32 records, the QRS onset's broad R wave "
              "rule (waves-1.5) found on held-out sel37")


def records() -> list[str]:
    return sorted({p.stem for p in QTDB.glob("*.q1c")})


def split(names: list[str]) -> tuple[list[str], list[str]]:
    """(tuning half, held-out half): alternate records of the sorted list, so each half mixes the sources."""
    return names[0::2], names[1::2]


@dataclass
class RefBeat:
    """One annotated beat: sample indices of its marks (absent marks are missing from ``marks``)."""

    qrs_peak: int
    marks: dict[str, int] = field(default_factory=dict)


def reference(record: str, annotator: str = "q1c") -> list[RefBeat]:
    ann = wfdb.rdann(str(QTDB / record), annotator)
    fs = float(wfdb.rdheader(str(QTDB / record)).fs)
    samples, symbols = [int(s) for s in ann.sample], list(ann.symbol)
    waves: list[tuple[str, int | None, int, int | None]] = []  # kind, onset, peak, offset
    i, n = 0, len(symbols)
    while i < n:
        sym = symbols[i]
        kind = "QRS" if sym in BEAT_SYMBOLS else {"p": "P", "t": "T"}.get(sym)
        if kind is None:
            i += 1
            continue
        j = i
        while j + 1 < n and symbols[j + 1] == sym:  # a biphasic wave marked with two peaks
            j += 1
        onset = samples[i - 1] if i > 0 and symbols[i - 1] == "(" else None
        offset = samples[j + 1] if j + 1 < n and symbols[j + 1] == ")" else None
        waves.append((kind, onset, samples[i], offset))
        i = j + 1
    beats: list[RefBeat] = []
    for index, (kind, onset, peak, offset) in enumerate(waves):
        if kind != "QRS":
            continue
        beat = RefBeat(peak)
        if onset is not None:
            beat.marks["QRS_on"] = onset
        if offset is not None:
            beat.marks["QRS_off"] = offset
        if index > 0 and waves[index - 1][0] == "P" and peak - waves[index - 1][2] < 0.6 * fs:
            _, p_on, _, p_off = waves[index - 1]
            if p_on is not None:
                beat.marks["P_on"] = p_on
            if p_off is not None:
                beat.marks["P_off"] = p_off
        if index + 1 < len(waves) and waves[index + 1][0] == "T":
            _, _, _, t_off = waves[index + 1]
            if t_off is not None:
                beat.marks["T_off"] = t_off
        beats.append(beat)
    return beats


@dataclass
class Tally:
    """Errors (ms) per boundary and record, missed boundaries and delineated beats per record."""

    errors: dict[str, dict[str, list[float]]] = field(default_factory=lambda: {b: {} for b in BOUNDARIES})
    missed: dict[str, dict[str, int]] = field(default_factory=lambda: {b: {} for b in BOUNDARIES})
    beats: dict[str, tuple[int, int]] = field(default_factory=dict)  # record -> (annotated, delineated)

    def _miss(self, record: str, boundary: str) -> None:
        self.missed[boundary][record] = self.missed[boundary].get(record, 0) + 1

    def add(self, record: str, ref: list[RefBeat], ours: list[dict[str, int]], fs: float) -> None:
        """``ours``: one dict per beat of ours with ``QRS_peak`` and the boundaries it gave."""
        peaks = np.asarray([b["QRS_peak"] for b in ours]) if ours else np.zeros(0)
        limit = MATCH_MS * fs / 1000.0
        found = 0
        for beat in ref:
            j = int(np.argmin(np.abs(peaks - beat.qrs_peak))) if peaks.size else -1
            if j < 0 or abs(peaks[j] - beat.qrs_peak) > limit:
                for b in beat.marks:
                    self._miss(record, b)
                continue
            found += 1
            for b, value in beat.marks.items():
                mine = ours[j].get(b)
                if mine is None or abs(mine - value) > limit:
                    self._miss(record, b)
                    continue
                self.errors[b].setdefault(record, []).append((mine - value) * 1000.0 / fs)
        self.beats[record] = (len(ref), found)

    def missed_in(self, boundary: str, subset: set[str] | None = None) -> int:
        return sum(n for r, n in self.missed[boundary].items() if subset is None or r in subset)

    def beats_in(self, subset: set[str] | None = None) -> tuple[int, int]:
        """(annotated beats, delineated beats) over the records in ``subset``."""
        chosen = [v for r, v in self.beats.items() if subset is None or r in subset]
        return sum(a for a, _ in chosen), sum(f for _, f in chosen)

    def stats(self, boundary: str, subset: set[str] | None = None) -> dict[str, float]:
        per_record = {r: np.asarray(v) for r, v in self.errors[boundary].items()
                      if subset is None or r in subset}
        if not per_record:
            return {"n": 0, "mean": math.nan, "sd": math.nan, "rec_mean": math.nan, "rec_sd": math.nan}
        pooled = np.concatenate(list(per_record.values()))
        return {"n": int(pooled.size), "mean": float(pooled.mean()), "sd": float(pooled.std()),
                # Martinez et al. average the per-record means and SDs over the records.
                "rec_mean": float(np.mean([v.mean() for v in per_record.values()])),
                "rec_sd": float(np.mean([v.std() for v in per_record.values()]))}
