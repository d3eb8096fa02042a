"""Event detection accuracy of ``ecgdesk analyze`` on simulated recordings with ground truth.

Simulates several recordings (different seeds, so different event mixes) with ``ecgdesk simulate`` (the
records simulator) when that command exists, else with ``bench/ambulatory_sim.py``; runs the whole analysis
on each, and scores episodes against ``<name>.truth.json``: AF episodes of 1 min or more, pauses, VT runs
and SVT runs (targets: event sensitivity and positive predictivity >= 95 %), plus suspected AV block
(reported, no target) and atrial flutter (found: flutter with variable conduction; a flutter found over
fixed 4:1 conduction is right too; no target in the issue); and AF burden (AF time / analyzable time)
against the truth (target: within 1 point; flutter is not AF). Sensitivity: truth episodes overlapped by
a detected episode of the same type. Positive predictivity: detected episodes that overlap a truth
episode the detection is right for: for AF also truth AF under 1 min; for pauses also RR gaps from
blocked beats (avb2); for AV block either degree.

    .venv/bin/python bench/bench_events.py [--seeds 11 22 33 44 55] [--hours 6] [--source auto|bench|simulate]
        [--engine ecgdesk|oracle]

``--engine oracle`` isolates the rhythm layer: beats found by sleepecg's detector (a peer) and labelled
with the class of the nearest truth beat (``<name>.atr``, within 150 ms; else Q). ``ecgdesk`` is the real
thing: ecgdesk's own detector and classifier.

Writes ``bench/results/analysis_events_<engine>.csv`` (per seed and type) and prints the totals.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

from ecgdesk.analysis.findings import EpisodeType, Findings
from ecgdesk.analysis.pipeline import BeatEngine, analyze
from ecgdesk.cli.main import main as cli
from ecgdesk.records import open_recording

RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(RESULTS.parent))  # ambulatory_sim
SCORED = ("af", "flutter", "pause", "vt", "svt", "avb", "brady", "tachy")
#: truth types a detection of each scored type may rightly overlap
ACCEPT = {
    "af": ("af",),
    "flutter": ("flutter",),  # either conduction: a found flutter over a 4:1 stretch is right
    "pause": ("pause", "avb2"),
    "vt": ("vt",),
    "svt": ("svt",),
    "avb": ("avb2", "avb3"),
    "brady": ("brady", "avb3", "avb2"),
    "tachy": ("tachy",),
}
FOUND = {"avb": ("avb2", "avb3")}
TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Span:
    start_s: float
    end_s: float


def overlaps(a: Span, b: Span, tol: float = TOLERANCE_S) -> bool:
    return a.start_s - tol <= b.end_s and b.start_s - tol <= a.end_s


def spans_of(truth: dict, kinds: tuple[str, ...], min_s: float = 0.0) -> list[Span]:
    out = [Span(float(e["start_s"]), float(e["end_s"])) for e in truth["episodes"] if e["type"] in kinds]
    return [x for x in out if x.end_s - x.start_s >= min_s]


def found_spans(findings: Findings, kind: str) -> list[Span]:
    kinds = {EpisodeType(k) for k in FOUND.get(kind, (kind,))}
    return [Span(e.start_s, e.end_s) for e in findings.episodes if e.type in kinds]


def score(truth: dict, findings: Findings, kind: str) -> tuple[int, int, int, int]:
    """(truth matched, truth total, found matched, found total) for one scored type."""
    target = spans_of(truth, FOUND.get(kind, (kind,)), 60.0 if kind == "af" else 0.0)
    if kind == "flutter":  # fixed 4:1 conduction is regular: not a target of this version
        target = [Span(float(e["start_s"]), float(e["end_s"])) for e in truth["episodes"]
                  if e["type"] == "flutter" and e.get("conduction") == "variable"]
    accept = spans_of(truth, ACCEPT[kind])
    found = found_spans(findings, kind)
    tp_truth = sum(any(overlaps(t, f) for f in found) for t in target)
    tp_found = sum(any(overlaps(t, f) for t in accept) for f in found)
    return tp_truth, len(target), tp_found, len(found)


AAMI = {**dict.fromkeys("NLRej", "N"), **dict.fromkeys("AaJS", "S"), **dict.fromkeys("VE", "V"), "F": "F"}


@dataclass(frozen=True)
class OracleTable:
    samples: np.ndarray
    labels: np.ndarray
    templates: list[object]
    fs: float


def oracle_engine(hea: Path) -> BeatEngine:
    """sleepecg detection + labels of the nearest truth beat (see the module docstring)."""
    from sleepecg import detect_heartbeats

    ann = wfdb.rdann(str(hea.with_suffix("")), "atr")
    keep = np.array([sym in AAMI for sym in ann.symbol])
    ref = np.asarray(ann.sample)[keep]
    ref_labels = np.array([AAMI[sym] for sym in np.array(ann.symbol)[keep]], dtype="<U1")

    def detect(ecg: np.ndarray, fs: float) -> np.ndarray:
        return np.asarray(detect_heartbeats(ecg.astype(np.float64), fs), dtype=np.int64)

    def classify(_features: object, samples: np.ndarray, fs: float) -> OracleTable:
        i = np.clip(np.searchsorted(ref, samples), 1, max(ref.size - 1, 1))
        left, right = ref[i - 1], ref[np.minimum(i, ref.size - 1)]
        nearest = np.where(np.abs(samples - left) <= np.abs(samples - right), i - 1, i)
        nearest = np.minimum(nearest, ref.size - 1)
        dist = np.abs(ref[nearest] - samples)
        close = dist <= 0.15 * fs
        # a truth beat labels one detection only (the closest); other detections of it are extra (Q)
        order = np.lexsort((dist, nearest))
        first = np.ones(order.size, dtype=bool)
        first[1:] = nearest[order][1:] != nearest[order][:-1]
        unique = np.zeros(samples.size, dtype=bool)
        unique[order[first]] = True
        labels = np.where(close & unique, ref_labels[nearest], "Q").astype("<U1")
        return OracleTable(np.asarray(samples, dtype=np.int64), labels, [], fs)

    return BeatEngine(detect, lambda ecg, fs, samples: samples, np.concatenate, classify)


def has_simulate() -> bool:
    try:
        return cli(["simulate", "--help"]) == 0
    except SystemExit as stop:
        return stop.code == 0


def event_spec(seed: int, hours: float) -> str:
    """A per-seed event mix for ``ecgdesk simulate`` (counts and sizes drawn from the seed)."""
    rng = np.random.default_rng(seed)
    k = max(hours / 6.0, 0.5)

    def n(lo: int, hi: int) -> int:
        return max(1, int(round(k * rng.integers(lo, hi + 1))))

    return ",".join(
        [
            f"af:{n(2, 4)}x{int(rng.integers(2, 12))}m",
            f"pause:{n(3, 6)}x{rng.uniform(2.2, 4.5):.1f}s",
            f"vt:{n(3, 6)}x{int(rng.integers(3, 20))}",
            f"svt:{n(3, 6)}x{int(rng.integers(4, 20))}",
            f"couplet:{n(3, 6)}x2",
            f"pvc:{int(rng.integers(20, 120))}/h",
            f"pac:{int(rng.integers(10, 60))}/h",
            f"avb2:{n(1, 2)}x1m",
            f"avb3:{n(0, 1)}x2m",
            f"brady:{n(0, 1)}x10m",
            f"tachy:{n(0, 1)}x10m",
            f"trigger:{n(2, 4)}",
            f"leadoff:{n(1, 2)}x5m",
            f"noise:{n(1, 3)}x3m",
            f"flutter:{n(1, 2)}x{int(rng.integers(2, 8))}m",
        ]
    )


def simulate(out: Path, seed: int, hours: float, source: str) -> Path:
    if source == "simulate":
        spec = event_spec(seed, hours)
        code = cli(
            [
                "simulate",
                "--hours",
                str(hours),
                "--leads",
                "1",
                "--fs",
                "250",
                "--seed",
                str(seed),
                "--events",
                spec,
                "--out",
                str(out),
            ]
        )
        if code:
            raise SystemExit(f"simulate failed with status {code} (events {spec})")
        heads = sorted(out.glob("*.hea"))
        if not heads:
            raise SystemExit(f"simulate wrote no .hea in {out}")
        return heads[0]
    import ambulatory_sim

    return ambulatory_sim.write(out, f"sim{seed}", hours, 250.0, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 22, 33, 44, 55])
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--source", choices=["auto", "bench", "simulate"], default="auto")
    parser.add_argument("--engine", choices=["ecgdesk", "oracle"], default="ecgdesk")
    args = parser.parse_args()
    source = args.source
    if source == "auto":
        source = "simulate" if has_simulate() else "bench"
    print(
        f"recordings from: {'ecgdesk simulate' if source == 'simulate' else 'bench/ambulatory_sim.py'}; "
        f"beats: {args.engine}"
    )
    RESULTS.mkdir(exist_ok=True)
    rows: list[dict[str, object]] = []
    totals = {k: [0, 0, 0, 0] for k in SCORED}
    burden_err = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            hea = simulate(Path(tmp), seed, args.hours, source)
            truth = json.loads(hea.with_name(hea.stem + ".truth.json").read_text())
            rec = open_recording(hea)
            t0 = time.perf_counter()
            engine = oracle_engine(hea) if args.engine == "oracle" else None
            findings = analyze(rec, engine=engine).findings
            elapsed = time.perf_counter() - t0
        for kind in SCORED:
            s = score(truth, findings, kind)
            totals[kind] = [a + b for a, b in zip(totals[kind], s, strict=True)]
            rows.append(
                {
                    "source": source,
                    "engine": args.engine,
                    "seed": seed,
                    "type": kind,
                    "truth_matched": s[0],
                    "truth": s[1],
                    "found_matched": s[2],
                    "found": s[3],
                    "seconds": round(elapsed, 2),
                }
            )
        af_truth = sum(x.end_s - x.start_s for x in spans_of(truth, ("af",)))
        bad = sum(x.end_s - x.start_s for x in spans_of(truth, ("noise", "lead_off")))
        true_burden = 100.0 * af_truth / max(rec.duration_s - bad, 1e-9)
        err = findings.summary.af_burden_pct - true_burden
        burden_err.append(err)
        rows.append(
            {
                "source": source,
                "engine": args.engine,
                "seed": seed,
                "type": "af_burden_pct",
                "truth": round(true_burden, 3),
                "found": round(findings.summary.af_burden_pct, 3),
                "seconds": round(elapsed, 2),
            }
        )
        print(
            f"seed {seed}: analysed {rec.duration_s / 3600:.1f} h in {elapsed:.1f} s; AF burden "
            f"{findings.summary.af_burden_pct:.2f}% vs truth {true_burden:.2f}% ({err:+.2f} points)"
        )
    with (RESULTS / f"analysis_events_{args.engine}.csv").open("w", newline="") as handle:
        fields = [
            "source",
            "engine",
            "seed",
            "type",
            "truth_matched",
            "truth",
            "found_matched",
            "found",
            "seconds",
        ]
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(
        f"\n{'type':8s} {'Se %':>7s} {'+P %':>7s} (truth n, found n) target 95/95, none for avb brady tachy"
    )
    for kind, (tm, tn, fm, fn) in totals.items():
        se = 100.0 * tm / tn if tn else float("nan")
        pp = 100.0 * fm / fn if fn else float("nan")
        print(f"{kind:8s} {se:7.1f} {pp:7.1f}   ({tn}, {fn})")
    worst = max(abs(e) for e in burden_err)
    print(f"AF burden: worst |error| {worst:.2f} points over {len(burden_err)} recordings (target <= 1)")


if __name__ == "__main__":
    main()
