"""More labelled strips for the strip model: 10-60 s strips cut from the shared MIT-BIH and SVDB records.

    .venv/bin/python bench/strips_extra.py [--list]   # counts per database and label (and each strip)

The CinC 2017 strips are single-lead 300 Hz recordings of a handheld device (lead I-like, often inverted);
these are 30-minute two-lead Holter records (MIT-BIH: 360 Hz, mostly MLII; SVDB: 128 Hz, lead unnamed).
Only the first lead is cut (closest to the handheld's lead); every strip is resampled to the model's
300 Hz by :func:`ecgdesk.analysis.strips.signal.prepare`, as any strip a user sends.

Labels (the four CinC 2017 classes, as ``docs/strips.md`` defines them):

MIT-BIH (rhythm annotations ``+``/aux, beat labels): a strip lies inside one rhythm stretch, outside any
noise stretch (``~`` annotation with a non-zero subtype until the next ``~ 0``), and holds no unclassifiable
beat (``Q``).
- ``(AFIB`` -> A; ``(AFL`` -> A (the product's A is "atrial fibrillation or flutter"; :data:`FLUTTER` can
  say O or skip instead).
- ``(N``: N when every beat is ``N`` and the rate is 50-100 bpm (CinC labels sinus brady/tachycardia O:
  19 of its 1,546 N strips are above 120 bpm by our detector, against 63 of 767 O); O when it holds 2 or
  more ectopic or paced beats, bundle-branch-block beats (``L``/``R``: wide QRS) or a rate outside 50-100;
  a strip with exactly one ectopic beat is left out (CinC's annotators are not consistent there).
- ``(B (T (VT (IVR (NOD (SVTA (SBR (BII (AB (P (PREX``: O (bigeminy, trigeminy, VT, idioventricular,
  nodal, SVT, sinus bradycardia, 2nd-degree block, atrial bigeminy, paced, pre-excitation).
- ``(VFL`` (ventricular flutter): left out; the VF/VT check before the model decides those strips.

SVDB: the shared records carry beat labels but no rhythm annotations (AF beats are labelled ``N`` there),
so the rhythm is read from the beats and anything unsure is left out:
- N: every beat ``N``, 50-100 bpm, and at most 20 % of successive RR changes above 15 % of the median RR
  (an all-``N`` irregular stretch may be unannotated AF, e.g. record 826);
- O: 2 or more ``S``/``V``/``F`` beats while the intervals between two ``N`` beats stay that regular
  (ectopy on a regular rhythm, not AF with aberrant beats).

Strips are cut one after another inside each stretch, lengths drawn (seeded) like the CinC set's: 30 s
(70 %), 60 s (15 %) or 10-30 s (15 %); a rest shorter than 10 s is dropped. Records are the groups of the
grouped CV: strips of one record are never split across training and test.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from strips_cache import cached_rows

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SEED = 2017
#: Label of atrial flutter stretches: "A", "O" or "" (left out).
FLUTTER = "A"
MIN_S, MAX_S = 10.0, 60.0
_OTHER_RHYTHMS = {"(B", "(T", "(VT", "(IVR", "(NOD", "(SVTA", "(SBR", "(BII", "(AB", "(P", "(PREX"}
_ECTOPIC = set("AaJSVEFjex/f")
_WIDE = set("LR")
_BEATS = set("NLRBAaJSVEFjenx/fQ?")


@dataclass(frozen=True)
class ExtraStrip:
    """One strip: ``record`` (``mitdb/201``), the lead index, samples ``[start, stop)`` at ``fs``, label."""

    db: str
    record: str
    lead: int
    start: int
    stop: int
    fs: float
    label: str
    why: str

    @property
    def name(self) -> str:
        return f"{self.db}/{self.record}:{self.start}-{self.stop}"

    @property
    def group(self) -> str:
        return f"{self.db}/{self.record}"


def _lengths(rng: np.random.Generator, total_s: float) -> list[float]:
    out: list[float] = []
    left = total_s
    while left >= MIN_S:
        u = rng.random()
        length = 30.0 if u < 0.7 else 60.0 if u < 0.85 else float(rng.uniform(MIN_S, 30.0))
        length = min(length, left)
        out.append(length)
        left -= length
    return out


def _noise_spans(ann: wfdb.Annotation, n: int) -> list[tuple[int, int]]:
    """Sample ranges marked noisy: a ``~`` with a non-zero subtype until the next ``~`` with subtype 0."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for sample, symbol, subtype in zip(ann.sample, ann.symbol, ann.subtype, strict=True):
        if symbol != "~":
            continue
        if subtype != 0 and start is None:
            start = int(sample)
        elif subtype == 0 and start is not None:
            spans.append((start, int(sample)))
            start = None
    if start is not None:
        spans.append((start, n))
    return spans


def _rhythm_stretches(ann: wfdb.Annotation, n: int) -> list[tuple[str, int, int]]:
    marks = [(int(s), a.strip("\x00").strip()) for s, y, a in zip(ann.sample, ann.symbol, ann.aux_note,
                                                                   strict=True) if y == "+" and a.strip()]
    out = []
    for i, (start, rhythm) in enumerate(marks):
        stop = marks[i + 1][0] if i + 1 < len(marks) else n
        if stop > start:
            out.append((rhythm, start, stop))
    return out


def _regular(rr: np.ndarray, share: float = 0.2) -> bool:
    """At most ``share`` of successive RR changes above 15 % of the median RR."""
    if rr.size < 3:
        return False
    return bool(np.mean(np.abs(np.diff(rr)) > 0.15 * np.median(rr)) <= share)


def _label_mit(rhythm: str, symbols: np.ndarray, rate: float) -> tuple[str, str]:
    if rhythm == "(AFIB":
        return "A", "AFIB"
    if rhythm == "(AFL":
        return FLUTTER, "AFL"
    if rhythm in _OTHER_RHYTHMS:
        return "O", rhythm[1:]
    if rhythm != "(N":
        return "", rhythm[1:]
    ectopic = int(sum(s in _ECTOPIC for s in symbols))
    if ectopic >= 2:
        return "O", f"sinus with {ectopic} ectopic beats"
    if any(s in _WIDE for s in symbols):
        return ("O", "sinus with bundle branch block") if ectopic == 0 else ("", "BBB + 1 ectopic")
    if ectopic == 1:
        return "", "sinus with 1 ectopic beat"
    if not 50 <= rate <= 100:
        return "O", f"sinus at {rate:.0f} bpm"
    return "N", "sinus"


def _label_svdb(symbols: np.ndarray, beat_samples: np.ndarray, fs: float) -> tuple[str, str]:
    rr = np.diff(beat_samples) / fs
    if rr.size < 5:
        return "", "too few beats"
    rate = 60.0 / float(np.median(rr))
    ectopic = int(sum(s in "SVF" for s in symbols))
    normal_pair = (symbols[1:] == "N") & (symbols[:-1] == "N")
    if ectopic == 0 and all(s == "N" for s in symbols):
        if 50 <= rate <= 100 and _regular(rr):
            return "N", "all N, regular"
        return "", "all N, irregular or rate outside 50-100"
    if ectopic >= 2 and _regular(rr[normal_pair], 0.3):
        return "O", f"{ectopic} S/V/F beats on a regular rhythm"
    return "", "unsure"


def _cut(db: str, record: str, ann: wfdb.Annotation, fs: float, n: int,
         stretches: list[tuple[str, int, int]], rng: np.random.Generator) -> list[ExtraStrip]:
    noise = _noise_spans(ann, n)
    is_beat = np.asarray([s in _BEATS for s in ann.symbol])
    beat_samples = np.asarray(ann.sample)[is_beat]
    beat_symbols = np.asarray(ann.symbol)[is_beat]
    out: list[ExtraStrip] = []
    for rhythm, start, stop in stretches:
        at = start
        for length in _lengths(rng, (stop - start) / fs):
            a, b = at, min(stop, at + int(round(length * fs)))
            at = b
            if any(s < b and e > a for s, e in noise):
                continue
            inside = (beat_samples >= a) & (beat_samples < b)
            symbols = beat_symbols[inside]
            if "Q" in symbols or symbols.size < 3:
                continue
            if db == "svdb":
                label, why = _label_svdb(symbols, beat_samples[inside], fs)
            else:
                rate = 60.0 / float(np.median(np.diff(beat_samples[inside]) / fs))
                label, why = _label_mit(rhythm, symbols, rate)
            if label:
                out.append(ExtraStrip(db, record, 0, a, b, fs, label, why))
    return out


def extra_strips(folder: Path = SHARED, databases: tuple[str, ...] = ("mitdb", "svdb")) -> list[ExtraStrip]:
    """Every labelled strip of the shared MIT-BIH and SVDB records, in record order (deterministic)."""
    out: list[ExtraStrip] = []
    for db in databases:
        rng = np.random.default_rng(SEED)
        for hea in sorted((folder / db).glob("*.hea")):
            base = str(hea.with_suffix(""))
            header = wfdb.rdheader(base)
            ann = wfdb.rdann(base, "atr")
            n = int(header.sig_len)
            stretches = _rhythm_stretches(ann, n) if db == "mitdb" else [("", 0, n)]
            out += _cut(db, hea.stem, ann, float(header.fs), n, stretches, rng)
    return out


def read_strip(strip: ExtraStrip, folder: Path = SHARED) -> np.ndarray:
    """The strip's samples in mV (physical units of the record)."""
    record = wfdb.rdrecord(str(folder / strip.db / strip.record), sampfrom=strip.start, sampto=strip.stop,
                           channels=[strip.lead], physical=True)
    return np.asarray(record.p_signal[:, 0], dtype=np.float64)


@dataclass(frozen=True)
class ExtraSet:
    """The extra strips as training rows: names, labels, record groups, features of the whole strips and
    of their crops (``(strips, len(CROPS), features)``)."""

    strips: tuple[ExtraStrip, ...]
    y: np.ndarray
    groups: np.ndarray
    X: np.ndarray
    crops: np.ndarray

    def subset(self, idx: np.ndarray) -> ExtraSet:
        return ExtraSet(tuple(self.strips[i] for i in idx), self.y[idx], self.groups[idx], self.X[idx],
                        self.crops[idx])


def _read_extra(strip: ExtraStrip, folder: Path) -> tuple[np.ndarray, float]:
    return read_strip(strip, folder), strip.fs


def load_extra(folder: Path = SHARED, jobs: int = 1,
               databases: tuple[str, ...] = ("mitdb", "svdb")) -> ExtraSet:
    """Every extra strip with its features (through the feature cache of :mod:`strips_cache`)."""
    strips = extra_strips(folder, databases)
    rows = cached_rows([s.name for s in strips], [partial(_read_extra, s, folder) for s in strips], jobs)
    labels = np.asarray([s.label for s in strips])
    return ExtraSet(tuple(strips), labels, np.asarray([s.group for s in strips]), rows[:, 0], rows[:, 1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED, help="folder holding mitdb/ and svdb/")
    parser.add_argument("--list", action="store_true", help="print every strip")
    args = parser.parse_args(argv)
    missing = [db for db in ("mitdb", "svdb") if not (args.data / db).is_dir()]
    if missing:
        print(f"{args.data}: no {', '.join(missing)} folder", file=sys.stderr)
        return 2
    strips = extra_strips(args.data)
    if args.list:
        for s in strips:
            print(f"{s.name},{s.label},{(s.stop - s.start) / s.fs:.1f},{s.why}")
    for db in ("mitdb", "svdb"):
        mine = [s for s in strips if s.db == db]
        counts = Counter(s.label for s in mine)
        seconds = sum((s.stop - s.start) / s.fs for s in mine)
        records = len({s.record for s in mine})
        print(f"{db}: {len(mine)} strips ({seconds / 60:.0f} min) from {records} records: "
              + ", ".join(f"{lab} {counts[lab]}" for lab in "NAO"))
        af = Counter(s.record for s in mine if s.label == "A")
        if af:
            print(f"  A strips by record: {dict(af)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
