"""QRS detection: ecgdesk vs sleepecg (C), NeuroKit2 ``neurokit`` and wfdb XQRS on the same data, one run.

    .venv/bin/python bench/bench_qrs.py [--data ../shared/data] [--ludb 100] [--repeat 3]

Accuracy (EC57 style, 150 ms window, whole record, lead 0): MITDB 100 and 208, and for ecgdesk also
``ecgdesk_2lead`` (lead 0 analysed, lead 1 bridging where lead 0 is lost, as the ambulatory analysis
runs on a two-lead record); LUDB records 1..N lead II
against the annotated R peaks ('N' between '(' and ')'), detections restricted to the annotated span,
with the median |time error|. XQRS runs on the 30-min records only (it is slow).
Throughput: a 24 h lead made by tiling MITDB 100 and 208 at 360 Hz; best of ``--repeat`` runs;
hours of ECG per CPU-second and the ratio to sleepecg.
Writes bench/results/qrs.csv and bench/results/qrs_speed.png.
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import wfdb

from ecgdesk.analysis.detection import detect_qrs, detect_qrs_multilead
from ecgdesk.analysis.evaluation import BEAT_SYMBOLS, match_beats

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
Detector = Callable[[np.ndarray, float], np.ndarray]


def _ours(x: np.ndarray, fs: float) -> np.ndarray:
    return detect_qrs(x, fs).samples


def _sleepecg(x: np.ndarray, fs: float) -> np.ndarray:
    import sleepecg

    return np.asarray(sleepecg.detect_heartbeats(x, fs), dtype=np.int64)


def _neurokit(x: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = nk.ecg_clean(x, sampling_rate=int(fs), method="neurokit")
        _, info = nk.ecg_peaks(clean, sampling_rate=int(fs), method="neurokit")
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def _xqrs(x: np.ndarray, fs: float) -> np.ndarray:
    from wfdb import processing

    return np.asarray(processing.xqrs_detect(x, fs=fs, verbose=False), dtype=np.int64)


DETECTORS: dict[str, Detector] = {"ecgdesk": _ours, "sleepecg": _sleepecg, "neurokit2": _neurokit,
                                  "wfdb_xqrs": _xqrs}


def _mitdb(data: Path, record: str) -> tuple[np.ndarray, float, np.ndarray]:
    rec = wfdb.rdrecord(str(data / "mitdb" / record))
    ann = wfdb.rdann(str(data / "mitdb" / record), "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol])
    return rec.p_signal[:, 0].astype(np.float64), float(rec.fs), ann.sample[keep]


def _ludb(data: Path, number: int) -> tuple[np.ndarray, float, np.ndarray]:
    base = str(data / "ludb" / str(number))
    rec = wfdb.rdrecord(base)
    ann = wfdb.rdann(base, "ii")
    s = ann.symbol
    ref = np.array([ann.sample[k] for k in range(1, len(s) - 1) if s[k] == "N" and s[k - 1] == "("
                    and s[k + 1] == ")"], dtype=np.int64)
    return rec.p_signal[:, rec.sig_name.index("ii")].astype(np.float64), float(rec.fs), ref


def accuracy(data: Path, n_ludb: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, detector in DETECTORS.items():
        for record in ("100", "208"):
            x, fs, ref = _mitdb(data, record)
            t0 = time.perf_counter()
            det = detector(x, fs)
            dt = time.perf_counter() - t0
            m = match_beats(ref, det, fs)
            rows.append({"detector": name, "data": f"mitdb/{record}", "beats": ref.size, "tp": m.tp,
                         "fn": m.fn, "fp": m.fp, "se": round(m.se, 2), "ppv": round(m.ppv, 2),
                         "median_err_ms": "", "seconds": round(dt, 3)})
        if name == "ecgdesk":  # what the ambulatory analysis runs on a multi-lead record: lead 0, bridged
            for record in ("100", "208"):
                rec = wfdb.rdrecord(str(data / "mitdb" / record))
                _, fs, ref = _mitdb(data, record)
                t0 = time.perf_counter()
                det = detect_qrs_multilead(rec.p_signal, fs, primary=0).samples
                dt = time.perf_counter() - t0
                m = match_beats(ref, det, fs)
                rows.append({"detector": "ecgdesk_2lead", "data": f"mitdb/{record}", "beats": ref.size,
                             "tp": m.tp, "fn": m.fn, "fp": m.fp, "se": round(m.se, 2),
                             "ppv": round(m.ppv, 2), "median_err_ms": "", "seconds": round(dt, 3)})
        if name == "wfdb_xqrs":
            continue
        tp = fn = fp = 0
        errors: list[np.ndarray] = []
        t0 = time.perf_counter()
        for number in range(1, n_ludb + 1):
            x, fs, ref = _ludb(data, number)
            det = detector(x, fs)
            det = det[(det >= ref.min() - 0.3 * fs) & (det <= ref.max() + 0.3 * fs)]
            m = match_beats(ref, det, fs)
            tp, fn, fp = tp + m.tp, fn + m.fn, fp + m.fp
            errors.append(np.abs(det[m.pairs[m.pairs >= 0]] - ref[m.pairs >= 0]) / fs * 1000.0)
        rows.append({"detector": name, "data": f"ludb/1-{n_ludb}/ii", "beats": tp + fn, "tp": tp, "fn": fn,
                     "fp": fp,
                     "se": round(100 * tp / (tp + fn), 2), "ppv": round(100 * tp / (tp + fp), 2),
                     "median_err_ms": round(float(np.median(np.concatenate(errors))), 1),
                     "seconds": round(time.perf_counter() - t0, 3)})
    return rows


def throughput(data: Path, repeat: int) -> list[dict[str, object]]:
    x100, fs, _ = _mitdb(data, "100")
    x208, _, _ = _mitdb(data, "208")
    pair = np.concatenate([x100, x208])
    x = np.tile(pair, int(np.ceil(24 * 3600 * fs / pair.size)))[: int(24 * 3600 * fs)]
    hours = x.size / fs / 3600
    rows: list[dict[str, object]] = []
    for name in ("ecgdesk", "sleepecg", "neurokit2"):
        best, beats = np.inf, 0
        for _ in range(repeat if name != "neurokit2" else 1):
            t0 = time.process_time()
            beats = DETECTORS[name](x, fs).size
            best = min(best, time.process_time() - t0)
        rows.append({"detector": name, "hours": round(hours, 2), "beats": beats, "cpu_s": round(best, 3),
                     "hours_per_cpu_s": round(hours / best, 2)})
    ref = next(r for r in rows if r["detector"] == "sleepecg")
    for r in rows:
        r["ratio_vs_sleepecg"] = round(float(ref["cpu_s"]) / float(r["cpu_s"]), 2)  # type: ignore[arg-type]
    return rows


def _plot(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    names = [str(r["detector"]) for r in rows]
    ax.barh(names, [float(r["hours_per_cpu_s"]) for r in rows])  # type: ignore[arg-type]
    ax.set_xlabel("hours of ECG per CPU-second (24 h at 360 Hz, higher is faster)")
    ax.set_title("QRS detection throughput")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--ludb", type=int, default=100, help="LUDB records 1..N")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    acc = accuracy(args.data, args.ludb)
    print(f"{'detector':10} {'data':16} {'beats':>6} {'FN':>5} {'FP':>5} {'Se %':>7} {'+P %':>7} "
          f"{'|err| ms':>8}")
    for r in acc:
        print(f"{r['detector']:10} {r['data']:16} {r['beats']:>6} {r['fn']:>5} {r['fp']:>5} {r['se']:>7} "
              f"{r['ppv']:>7} {r['median_err_ms']:>8}")
    speed = throughput(args.data, args.repeat)
    print(f"\n{'detector':10} {'hours':>6} {'beats':>7} {'CPU s':>7} {'h/CPU-s':>8} {'x sleepecg':>10}")
    for r in speed:
        print(f"{r['detector']:10} {r['hours']:>6} {r['beats']:>7} {r['cpu_s']:>7} {r['hours_per_cpu_s']:>8} "
              f"{r['ratio_vs_sleepecg']:>10}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "qrs.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["kind", "detector", "data", "beats", "tp", "fn", "fp", "se", "ppv", "median_err_ms",
                         "seconds", "hours", "cpu_s", "hours_per_cpu_s", "ratio_vs_sleepecg"])
        for r in acc:
            writer.writerow(["accuracy", r["detector"], r["data"], r["beats"], r["tp"], r["fn"], r["fp"],
                             r["se"], r["ppv"], r["median_err_ms"], r["seconds"], "", "", "", ""])
        for r in speed:
            writer.writerow(["speed", r["detector"], "tiled mitdb 100+208 24h", r["beats"], "", "", "", "",
                             "", "", "", r["hours"], r["cpu_s"], r["hours_per_cpu_s"],
                             r["ratio_vs_sleepecg"]])
    _plot(speed, RESULTS / "qrs_speed.png")
    print(f"\nwrote {RESULTS / 'qrs.csv'} and {RESULTS / 'qrs_speed.png'}")


if __name__ == "__main__":
    main()
