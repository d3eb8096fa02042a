"""Beat classes (AAMI N/S/V/F/Q): MITDB 100 and 208 plus unseen simulator recordings, one run.

    .venv/bin/python bench/bench_beats.py [--data ../shared/data] [--hours 1] [--seeds 3]

Each record goes through the whole ambulatory analysis (``ecgdesk.analysis.pipeline.analyze``, the given
lead analysed, the other lead bridging where it is lost). For each: detection Se/+P (150 ms) and, over the
matched beats, N/S/V/F Se and +P (EC57: a detection called V that matches an F beat does not count against
V +P), the beats labelled Q (found only on the other lead) and the share of N beats called V. The
simulator recordings (``ecgdesk.records.simulator``, written to a temporary folder, seeds 1..N, each lead:
a lead-II-like view and a V1-like view with an inverted QRS) have PVCs, couplets, VT, PACs, SVT, AF,
complete block and sinus tachycardia with exact truth; none of their parameters was used to set the
classification rules. No peer classifies beats into AAMI classes out of the box, so this prints our
figures only.
Writes bench/results/beats.csv.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
import wfdb

from ecgdesk.analysis.evaluation import AAMI_CLASS, BEAT_SYMBOLS, class_scores, match_beats
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.records import open_recording
from ecgdesk.records.simulator import SimulationConfig, simulate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
EVENTS = "vt:2x8,svt:2x12,couplet:6x2,pvc:150/h,pac:80/h,af:1x10m,avb3:1x2m,tachy:1x5m"


def score(name: str, base: str, lead: int, fs: float, ref: np.ndarray,
          symbols: np.ndarray) -> dict[str, object]:
    t0 = time.perf_counter()
    table = analyze(open_recording(base + ".hea"), lead=lead).beats
    seconds = time.perf_counter() - t0
    m = match_beats(ref, table.samples, fs)
    truth = np.array([AAMI_CLASS.get(str(s), "Q") for s in symbols])
    ours = np.where(m.pairs >= 0, table.labels[np.maximum(m.pairs, 0)], "-")
    row: dict[str, object] = {"record": name, "beats": ref.size, "det_se": round(m.se, 2),
                              "det_ppv": round(m.ppv, 2), "seconds": round(seconds, 2),
                              "templates": len(table.templates)}
    for cls in "NSVF":
        se, ppv = class_scores(truth, m, table.labels, cls)
        row[f"n_{cls}"] = int(np.sum(truth == cls))
        row[f"{cls}_se"], row[f"{cls}_ppv"] = round(se, 2), round(ppv, 2)
    called_v = (ours == "V") & (truth != "F")
    row["V_ppv"] = round(100 * float(np.sum(called_v & (truth == "V"))) / max(1, int(called_v.sum())), 2)
    row["n_Q_called"] = int(np.sum(table.labels == "Q"))
    row["N_called_V_pct"] = round(100 * float(np.mean(ours[truth == "N"] == "V")), 3)
    return row


def _wfdb(base: str, lead: int) -> tuple[str, int, float, np.ndarray, np.ndarray]:
    header = wfdb.rdheader(base)
    ann = wfdb.rdann(base, "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol])
    symbols = np.array(ann.symbol)[keep]
    return base, lead, float(header.fs), ann.sample[keep], symbols


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    rows = [score(f"mitdb/{r}", *_wfdb(str(args.data / "mitdb" / r), 0)) for r in ("100", "208")]
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, args.seeds + 1):
            config = SimulationConfig(days=args.hours / 24, leads=2, fs=250.0, seed=seed, events=EVENTS,
                                      name=f"sim{seed}")
            result = simulate(config, Path(tmp) / f"s{seed}")
            base = str(result.record.with_suffix(""))
            for lead in (0, 1):
                rows.append(score(f"sim seed {seed} lead {lead}", *_wfdb(base, lead)))
    cols = ["record", "beats", "det_se", "det_ppv", "n_S", "S_se", "S_ppv", "n_V", "V_se", "V_ppv",
            "n_F", "F_se", "F_ppv", "n_Q_called", "N_called_V_pct", "templates", "seconds"]
    print(" ".join(f"{c:>10}" if i else f"{c:20}" for i, c in enumerate(cols)))
    for r in rows:
        print(" ".join(f"{r[c]!s:>10}" if i else f"{r[c]!s:20}" for i, c in enumerate(cols)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "beats.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwrote {RESULTS / 'beats.csv'}")


if __name__ == "__main__":
    main()
