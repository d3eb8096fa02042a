"""Held-out check: the ambulatory analysis on any folder of WFDB records that carry reference beat marks.

    .venv/bin/python bench/bench_heldout.py DIR [--ann atr] [--lead N] [--out FILE.csv]

For every ``DIR/**/*.hea`` with a ``<record>.<ann>`` file beside it, the recording goes through what
``ecgdesk analyze`` runs (the lead it chooses, unless ``--lead``), and its beats are matched with the
reference beats (EC57 style: 150 ms window, the first and last 5 s left out). Per record and pooled: QRS
sensitivity and positive predictivity, the analysable share the analysis reports, and ventricular beats
(AAMI V: reference V and E; ours V) Se and +P. Nothing is tuned here: the point is recordings the project
does not have (the targets of issue 18 are checked on such recordings; ``docs/analysis.md`` gives what
this printed on 52 public records). MIT-BIH records of the inter-patient test half belong to no folder
given to this script by the project itself.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

from ecgdesk.analysis.evaluation import BEAT_SYMBOLS, match_beats
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.records import open_recording

EDGE_S = 5.0
REFERENCE_V = {"V", "E"}


@dataclass
class Tally:
    """Counts of one record, or of all of them."""

    beats: int = 0
    tp: int = 0
    fn: int = 0
    fp: int = 0
    v_ref: int = 0
    v_tp: int = 0
    v_found: int = 0

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self) -> dict[str, str]:
        def pct(num: int, den: int) -> str:
            return f"{100 * num / den:.2f}" if den else ""

        return {"beats": str(self.beats), "se": pct(self.tp, self.tp + self.fn),
                "ppv": pct(self.tp, self.tp + self.fp), "fn": str(self.fn), "fp": str(self.fp),
                "v_beats": str(self.v_ref), "v_se": pct(self.v_tp, self.v_ref),
                "v_ppv": pct(self.v_tp, self.v_found)}


def score(header: Path, extension: str, lead: int | None) -> tuple[Tally, float, str]:
    """The record's tally, its analysable share (%) and the lead analysed."""
    recording = open_recording(header)
    result = analyze(recording, lead=lead)
    fs = recording.fs
    reference = wfdb.rdann(str(header.with_suffix("")), extension)
    symbols = np.asarray(reference.symbol)
    samples = np.asarray(reference.sample, dtype=np.int64)
    beat = np.isin(symbols, list(BEAT_SYMBOLS))
    lo, hi = EDGE_S * fs, recording.n_samples - EDGE_S * fs
    keep = beat & (samples >= lo) & (samples < hi)
    ref, ref_symbols = samples[keep], symbols[keep]
    ours = np.asarray(result.beats.samples, dtype=np.int64)
    labels = np.asarray(result.beats.labels).astype(str)
    inside = (ours >= lo) & (ours < hi)
    ours, labels = ours[inside], labels[inside]
    order = np.argsort(ours)
    ours, labels = ours[order], labels[order]
    match = match_beats(ref, ours, fs)
    matched = match.pairs >= 0
    is_v = np.isin(ref_symbols, list(REFERENCE_V))
    tally = Tally(
        beats=int(ref.size), tp=match.tp, fn=match.fn, fp=match.fp, v_ref=int(is_v.sum()),
        v_tp=int(np.sum(labels[match.pairs[matched & is_v]] == "V")),
        v_found=int(np.sum(labels == "V")),
    )
    summary = result.findings.summary
    return tally, float(summary.analyzable_pct), summary.recording.lead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--ann", default="atr", help="extension of the reference beat annotations")
    parser.add_argument("--lead", type=int, default=None, help="lead index (default: the analysis chooses)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/heldout.csv"))
    args = parser.parse_args()
    headers = sorted(h for h in args.folder.rglob("*.hea") if h.with_suffix(f".{args.ann}").is_file())
    if not headers:
        raise SystemExit(f"{args.folder}: no WFDB record with a .{args.ann} annotation file")
    rows, pooled = [], Tally()
    for header in headers:
        tally, analysable, lead = score(header, args.ann, args.lead)
        pooled.add(tally)
        row = {"record": str(header.relative_to(args.folder).with_suffix("")), "lead": lead,
               "analysable_pct": f"{analysable:.1f}", **tally.row()}
        rows.append(row)
        print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    total = {"record": f"pooled ({len(rows)} records)", "lead": "", "analysable_pct": "", **pooled.row()}
    rows.append(total)
    print(", ".join(f"{k} {v}" for k, v in total.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(total))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
