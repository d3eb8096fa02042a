"""Strip triage on cinc2017: our features + trees vs an RR-irregularity baseline vs NeuroKit2 features.

    .venv/bin/python bench/bench_strips.py [--data ../shared/data/cinc2017] [--jobs 2]

All three use the SAME 5 stratified folds as bench/train_strips.py (seed 2017):

* ``ours``: the strip features and the tree model, cross-validated exactly as the training script
  reports.
* ``rr_cv_threshold``: AF when the CV of the RR intervals (our R peaks) exceeds a threshold; the
  threshold maximising AF F1 on the training part of each fold; everything else is called N.
* ``neurokit2_hrv``: ``nk.ecg_clean`` + ``nk.ecg_peaks`` + ``nk.hrv_time`` features into the same
  classifier type (HistGradientBoostingClassifier, the first candidate's parameters).

Speed is strips per second of one process for the whole per-strip path (read, features, predict for
ours; read, R peaks, RR for the baseline; read, NeuroKit2 features for NeuroKit2). Prints a table and
writes ``bench/results/strips.csv``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ecgdesk.analysis.strips import classify_strip
from ecgdesk.analysis.strips.signal import FS, prepare
from ecgdesk.records import open_recording
from train_strips import (
    CANDIDATES,
    LABELS,
    add_data_arguments,
    cross_validate,
    folds,
    load_features,
    make_model,
    read_reference,
    reference_missing,
    score,
)

RESULTS = Path(__file__).resolve().parent / "results" / "strips.csv"
NK_COLUMNS = ("HRV_MeanNN", "HRV_SDNN", "HRV_RMSSD", "HRV_SDSD", "HRV_CVNN", "HRV_CVSD", "HRV_MedianNN",
              "HRV_MadNN", "HRV_MCVNN", "HRV_IQRNN", "HRV_pNN50", "HRV_pNN20", "HRV_MinNN", "HRV_MaxNN")


def _rr_cv(path: str) -> float:
    recording = open_recording(path)
    strip = prepare(recording.read(leads=0)[:, 0], recording.fs)
    rr = np.diff(strip.peaks) / FS
    return float(np.std(rr) / np.mean(rr)) if rr.size >= 3 else float("nan")


def _nk_features(path: str) -> np.ndarray:
    import neurokit2 as nk

    recording = open_recording(path)
    x = recording.read(leads=0)[:, 0].astype(np.float64)
    fs = int(round(recording.fs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cleaned = nk.ecg_clean(x, sampling_rate=fs)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=fs)
            peaks = np.asarray(info["ECG_R_Peaks"])
            if peaks.size < 4:
                return np.full(len(NK_COLUMNS), np.nan)
            table = nk.hrv_time(peaks, sampling_rate=fs)
        except Exception:  # NeuroKit2 raises plain exceptions on some strips; count them as missing
            return np.full(len(NK_COLUMNS), np.nan)
    return np.asarray([float(table[c].iloc[0]) if c in table else np.nan for c in NK_COLUMNS])


def _timed(func, paths: list[str], n: int) -> float:  # type: ignore[no-untyped-def]
    """Strips per second of ``func`` over the first ``n`` paths, one process."""
    t0 = time.perf_counter()
    for p in paths[:n]:
        func(p)
    return n / (time.perf_counter() - t0)


def _ours_one(path: str) -> None:
    classify_strip(open_recording(path))


def _pool_map(func, paths: list[str], jobs: int) -> list:  # type: ignore[no-untyped-def]
    if jobs <= 1:
        return [func(p) for p in paths]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(func, paths, chunksize=32))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="strip triage: ours vs RR baseline vs NeuroKit2")
    add_data_arguments(parser)
    parser.add_argument("--speed-n", type=int, default=300, help="strips timed per method (default 300)")
    args = parser.parse_args(argv)
    if reference_missing(args.data):
        return 2
    names, y, X, crops = load_features(args.data, args.jobs)
    paths = [str(args.data / f"{n}.hea") for n, _ in read_reference(args.data)]
    results: list[dict[str, object]] = []

    pred, _, _ = cross_validate(X, crops, y)
    speed = _timed(_ours_one, paths, args.speed_n)
    results.append({"method": "ours", **score(y, pred), "strips_per_s": speed})

    cv = np.asarray(_pool_map(_rr_cv, paths, args.jobs))
    pred = np.empty_like(y)
    grid = np.linspace(0.02, 0.5, 97)
    for tr, te in folds(y):
        is_af = y[tr] == "A"

        def f1_at(t: float, is_af: np.ndarray = is_af, tr: np.ndarray = tr) -> float:
            called = np.nan_to_num(cv[tr], nan=0.0) > t
            tp = np.sum(called & is_af)
            return 2 * tp / max(1, called.sum() + is_af.sum())

        best = grid[int(np.argmax([f1_at(t) for t in grid]))]
        pred[te] = np.where(np.nan_to_num(cv[te], nan=0.0) > best, "A", "N")
    results.append({"method": "rr_cv_threshold", **score(y, pred),
                    "strips_per_s": _timed(_rr_cv, paths, args.speed_n)})

    Xn = np.vstack(_pool_map(_nk_features, paths, args.jobs))
    pred = np.empty_like(y)
    for tr, te in folds(y):
        pred[te] = make_model(CANDIDATES[0]).fit(Xn[tr], y[tr]).predict(Xn[te])
    results.append({"method": "neurokit2_hrv", **score(y, pred),
                    "strips_per_s": _timed(_nk_features, paths, min(args.speed_n, 100))})

    print(f"{len(names)} strips, 5-fold stratified CV (same folds), seed 2017")
    print(f"{'method':<18}{'AF F1':>8}{'mean F1 NAO':>13}{'F1 N':>7}{'F1 O':>7}{'strips/s':>10}{'ours/x':>8}")
    ours_speed = float(results[0]["strips_per_s"])  # type: ignore[arg-type]
    for r in results:
        f1 = r["f1"]  # type: ignore[index]
        speed = float(r["strips_per_s"])  # type: ignore[arg-type]
        print(f"{r['method']:<18}{r['af_f1']:>8.3f}{r['mean_f1_NAO']:>13.3f}{f1['N']:>7.3f}"  # type: ignore[index]
              f"{f1['O']:>7.3f}{speed:>10.0f}{ours_speed / speed:>8.2f}")  # type: ignore[index]
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["method", "af_f1", "mean_f1_NAO", *(f"f1_{lab}" for lab in LABELS),
                         "strips_per_s_1proc", "n_strips", "folds", "seed"])
        for r in results:
            f1 = r["f1"]  # type: ignore[index]
            writer.writerow([r["method"], r["af_f1"], r["mean_f1_NAO"], *(f1[lab] for lab in LABELS),  # type: ignore[index]
                             f"{float(r['strips_per_s']):.1f}", len(names), 5, 2017])  # type: ignore[arg-type]
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
