"""Train the rhythm-strip classifier on ../shared/data/cinc2017 and write the committed model.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/train_strips.py [--data ../shared/data/cinc2017]
        [--jobs 1] [--extra none|mitdb|svdb|both]

Reproducible: fixed seeds, same folds, same output. Steps:

1. Features of every labelled strip (``ecgdesk.analysis.strips.features``), and of :data:`CROPS` sub-windows
   of it (the first and the last two thirds). The crops only add training rows: a model is always fitted
   on the strips of its training part plus their crops, and always predicts whole strips; the crops of a
   held-out strip never reach training. Short strips teach the trees features as they vary with strip
   length and position (10-60 s strips), which raised the CV F1 a little (see ``strips_cache.CROPS``).
   Features come through the per-strip cache of ``bench/strips_cache.py`` (git-ignored).
   ``--extra`` adds the strips cut from the shared MIT-BIH / SVDB records (``bench/strips_extra.py``) to
   every training part, never to a test fold, and prints the CinC-only CV first for the comparison.
   Default ``none``: on these folds they lowered the CinC figures (``bench/strips_extra_eval.py``).
2. 5-fold stratified cross-validation (seed :data:`FOLD_SEED`). With more than one entry in
   :data:`CANDIDATES`, the set is chosen inside each outer fold by an inner 3-fold CV on the training part
   only (nested CV: the held-out fold never informs the choice); with one, nothing is chosen.
   The AF weight (the factor on the AF probability before the arg-max, one of :data:`AF_WEIGHTS`) is
   always chosen that way: the inner 3-fold CV on the outer fold's training part picks the weight with
   the best AF F1 there, and the outer fold is then predicted with it. Prints per-class F1, the mean F1
   over N, A, O (the CinC 2017 score), the AF F1 and the confusion matrix.
3. The final model: the candidate and AF weight chosen by 5-fold CV on all strips, refitted on all
   strips, exported to ``src/ecgdesk/analysis/strips/strips_model.npz`` (plain arrays, no pickle; the AF
   weight is folded into the baseline score) with the CV metrics in ``strips_model_cv.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import confusion_matrix, f1_score
from sklearn.model_selection import GroupKFold, StratifiedKFold

from ecgdesk.analysis.strips.features import FEATURE_NAMES
from ecgdesk.analysis.strips.model import METRICS_PATH, MODEL_PATH, export_trees, load_ensemble
from ecgdesk.records import open_recording

sys.path.insert(0, str(Path(__file__).resolve().parent))
from strips_cache import CROPS, cached_rows
from strips_extra import ExtraSet, load_extra

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cinc2017"
LABELS = ("N", "A", "O", "~")
FOLD_SEED = 2017
#: Version of the trained model, kept in the model file. 1.0 (issue 4, unversioned file): CinC strips, 40
#: features, boosted trees. 1.1.0 (issue 18): the same data and settings, features through the numpy Welch.
#: 1.2.0: the same data and settings, retrained on the features of the QRS detector of ambulatory 0.5.10
#: (1.1.0's features came from the detector before 0.5.1's P/T-hump rule). 1.3.0: the same, on the
#: detector of ambulatory 0.5.15 (its T-wave slope test). 1.4.0: the same, with R peaks placed on the lead
#: with mains hum notched out (ambulatory 0.5.22). 1.5.0: the same, with the R peaks of beats of the other
#: polarity placed on their own QRS (ambulatory 0.5.25).
MODEL_VERSION = "1.5.0"
#: The CV repeated with these fold seeds: with 231 AF strips one fold split moves AF F1 by +-0.02.
OTHER_FOLD_SEEDS = (1, 2)
MODEL_SEED = 0
# max_features 0.3: each split sees a random 30 % of the features. Many features are correlated views of
# the same RR irregularity or P-wave evidence; sampling them keeps single noisy ones from dominating
# (over 3 fold seeds: AF F1 0.742 -> 0.750, mean F1 0.788 -> 0.794 without the AF weight).
CANDIDATES: tuple[dict[str, Any], ...] = (
    {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 15, "l2_regularization": 1.0,
     "max_features": 0.3},
)
# Dropped second candidates: {..., "class_weight": "balanced"} (the nested CV chose the first in 4 of 5
# folds and on all strips; the AF weight below does that job now), and 31 leaves (nested over 3 fold
# seeds: chosen in 1 of 5 folds at seed 2017, mean F1 0.797 and AF F1 0.755 either way, training 4x
# longer on the shared 2-core machine).
#: Factors on the AF probability tried by the inner CV. AF is the rarest clinical class (9 %); the
#: arg-max of a model trained on these priors under-calls it, which costs AF recall more than precision.
AF_WEIGHTS: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0)
#: Sample weight of a strip cut from a MIT-BIH or SVDB record against 1 for a CinC strip.
EXTRA_WEIGHT = 1.0
INNER_FOLDS = 3



def read_reference(folder: Path) -> list[tuple[str, str]]:
    """``(record, label)`` pairs of ``REFERENCE.csv``."""
    with (folder / "REFERENCE.csv").open(newline="") as handle:
        return [(row[0], row[1]) for row in csv.reader(handle) if row]


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data`` (the cinc2017 folder) and ``--jobs``, as every strip bench script takes them."""
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--jobs", type=int, default=1)


def reference_missing(folder: Path) -> bool:
    """True, said on stderr, when ``folder`` has no ``REFERENCE.csv`` to read labels from."""
    if (folder / "REFERENCE.csv").exists():
        return False
    print(f"{folder}: REFERENCE.csv not found (needs ../shared/data/cinc2017)", file=sys.stderr)
    return True


def _read_cinc(path: str) -> tuple[np.ndarray, float]:
    recording = open_recording(path)
    return recording.read(leads=0)[:, 0], recording.fs


def load_features(folder: Path, jobs: int = 1) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Record names, labels, the feature matrix of every strip listed in ``REFERENCE.csv`` and the
    features of its crops, shaped ``(strips, len(CROPS), features)`` (through the feature cache)."""
    pairs = read_reference(folder)
    keys = [f"cinc2017/{name}" for name, _ in pairs]
    readers = [partial(_read_cinc, str(folder / f"{name}.hea")) for name, _ in pairs]
    rows = cached_rows(keys, readers, jobs)
    return [n for n, _ in pairs], np.asarray([lab for _, lab in pairs]), rows[:, 0], rows[:, 1:]


def folds(y: np.ndarray, seed: int = FOLD_SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """The outer 5 folds every comparison uses (bench/bench_strips.py too); other seeds for the spread."""
    return list(StratifiedKFold(5, shuffle=True, random_state=seed).split(np.zeros(y.size), y))


def make_model(params: dict[str, Any]) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(random_state=MODEL_SEED, **params)


def fit(params: dict[str, Any], X: np.ndarray, crops: np.ndarray, y: np.ndarray,
        idx: np.ndarray | None = None, extra: ExtraSet | None = None) -> HistGradientBoostingClassifier:
    """A model fitted on the strips ``idx`` (all when None) and their crops, plus every strip of
    ``extra`` (and its crops) at weight :data:`EXTRA_WEIGHT` when given."""
    idx = np.arange(y.size) if idx is None else idx
    rows = [X[idx], *(crops[idx, k] for k in range(crops.shape[1]))]
    labels = [np.tile(y[idx], 1 + crops.shape[1])]
    if extra is None or extra.y.size == 0:
        return make_model(params).fit(np.vstack(rows), labels[0])
    rows += [extra.X, *(extra.crops[:, k] for k in range(extra.crops.shape[1]))]
    labels.append(np.tile(extra.y, 1 + extra.crops.shape[1]))
    weight = np.concatenate([np.ones(labels[0].size), np.full(labels[1].size, EXTRA_WEIGHT)])
    return make_model(params).fit(np.vstack(rows), np.concatenate(labels), sample_weight=weight)


def score(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """Per-class F1, mean F1 over N/A/O, AF F1, confusion matrix (rows true, columns predicted)."""
    per_class = f1_score(y, pred, labels=list(LABELS), average=None, zero_division=0.0)
    return {
        "f1": {lab: round(float(v), 4) for lab, v in zip(LABELS, per_class, strict=True)},
        "mean_f1_NAO": round(float(np.mean(per_class[:3])), 4),
        "af_f1": round(float(per_class[1]), 4),
        "confusion_labels": list(LABELS),
        "confusion": confusion_matrix(y, pred, labels=list(LABELS)).tolist(),
    }


def weighted_predict(proba: np.ndarray, classes: np.ndarray, af_weight: float) -> np.ndarray:
    """Labels by arg-max of the probabilities with the AF column multiplied by ``af_weight``."""
    w = np.where(np.asarray(classes) == "A", af_weight, 1.0)
    return np.asarray(classes)[np.argmax(proba * w[None, :], axis=1)]


def choose_af_weight(X: np.ndarray, crops: np.ndarray, y: np.ndarray, params: dict[str, Any],
                     n_splits: int, extra: ExtraSet | None = None) -> float:
    """The weight of :data:`AF_WEIGHTS` with the best AF F1 in an inner CV on ``X, y`` only (``extra``
    always in training: the weight is for the strips of ``X``'s kind)."""
    inner = StratifiedKFold(n_splits, shuffle=True, random_state=FOLD_SEED + 2)
    classes = np.asarray(sorted(set(y.tolist())))
    proba = np.zeros((y.size, classes.size))
    for tr, te in inner.split(X, y):
        model = fit(params, X, crops, y, tr, extra)
        if not np.array_equal(model.classes_, classes):  # a class missing from an inner training part
            raise ValueError("inner CV: every class needs examples in every training part")
        proba[te] = model.predict_proba(X[te])
    scores = [float(f1_score(y, weighted_predict(proba, classes, w), labels=["A"], average=None,
                             zero_division=0.0)[0]) for w in AF_WEIGHTS]
    return AF_WEIGHTS[int(np.argmax(scores))]


def choose_params(X: np.ndarray, crops: np.ndarray, y: np.ndarray, n_splits: int,
                  extra: ExtraSet | None = None) -> int:
    """Index of the candidate with the best mean F1 over N/A/O in an inner CV on ``X, y`` only."""
    if len(CANDIDATES) == 1:
        return 0  # nothing to choose: no inner CV
    inner = StratifiedKFold(n_splits, shuffle=True, random_state=FOLD_SEED + 1)
    best, best_score = 0, -1.0
    for i, params in enumerate(CANDIDATES):
        pred = np.empty_like(y)
        for tr, te in inner.split(X, y):
            pred[te] = fit(params, X, crops, y, tr, extra).predict(X[te])
        s = float(np.mean(f1_score(y, pred, labels=list(LABELS[:3]), average=None, zero_division=0.0)))
        if s > best_score:
            best, best_score = i, s
    return best


def cross_validate(X: np.ndarray, crops: np.ndarray, y: np.ndarray, seed: int = FOLD_SEED,
                   extra: ExtraSet | None = None) -> tuple[np.ndarray, list[int], list[float]]:
    """Out-of-fold predictions of the nested CV over the CinC strips, and the candidate and AF weight
    chosen in each outer fold (from its training part only). ``extra`` strips are added to every
    training part and never predicted here: the figures stay like-for-like with a CinC-only model."""
    pred = np.empty_like(y)
    chosen: list[int] = []
    weights: list[float] = []
    for tr, te in folds(y, seed):
        k = choose_params(X[tr], crops[tr], y[tr], INNER_FOLDS, extra)
        w = choose_af_weight(X[tr], crops[tr], y[tr], CANDIDATES[k], INNER_FOLDS, extra)
        chosen.append(k)
        weights.append(w)
        model = fit(CANDIDATES[k], X, crops, y, tr, extra)
        pred[te] = weighted_predict(model.predict_proba(X[te]), model.classes_, w)
    return pred, chosen, weights


def cross_validate_extra(X: np.ndarray, crops: np.ndarray, y: np.ndarray, extra: ExtraSet,
                         params: dict[str, Any], af_weight: float) -> np.ndarray:
    """Out-of-fold predictions of the extra strips, 5 folds grouped by source record (a record's strips
    are never split across training and test); every model also learns from all CinC strips."""
    pred = np.empty_like(extra.y)
    for tr, te in GroupKFold(5).split(extra.X, extra.y, extra.groups):
        model = fit(params, X, crops, y, None, extra.subset(tr))
        pred[te] = weighted_predict(model.predict_proba(extra.X[te]), model.classes_, af_weight)
    return pred


def print_report(title: str, metrics: dict[str, Any]) -> None:
    print(title)
    print("  F1 per class: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics["f1"].items()))
    print(f"  mean F1 (N, A, O): {metrics['mean_f1_NAO']:.3f}   AF F1: {metrics['af_f1']:.3f}")
    print("  confusion (rows true, columns predicted):")
    print("       " + "".join(f"{lab:>6}" for lab in LABELS))
    for lab, row in zip(LABELS, metrics["confusion"], strict=True):
        print(f"  {lab:>4} " + "".join(f"{v:>6}" for v in row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("--metrics", type=Path, default=METRICS_PATH)
    parser.add_argument("--other-fold-seeds", type=int, nargs="*", default=list(OTHER_FOLD_SEEDS),
                        help="repeat the nested CV with these fold seeds to show the spread (none: skip)")
    parser.add_argument("--extra", choices=("none", "mitdb", "svdb", "both"), default="none",
                        help="strips cut from the shared MIT-BIH / SVDB records added to training")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the CinC-only CV at the main fold seed (the before figure)")
    args = parser.parse_args(argv)
    if reference_missing(args.data):
        return 2
    t0 = time.perf_counter()
    names, y, X, crops = load_features(args.data, args.jobs)
    print(f"{len(names)} strips (+{crops.shape[1]} training crops each), {X.shape[1]} features "
          f"in {time.perf_counter() - t0:.1f} s")
    databases = {"none": (), "mitdb": ("mitdb",), "svdb": ("svdb",), "both": ("mitdb", "svdb")}[args.extra]
    extra = load_extra(args.data.parent, args.jobs, databases) if databases else None
    if extra is not None:
        print(f"extra: {extra.y.size} strips from {len(set(extra.groups.tolist()))} records ("
              + ", ".join(f"{lab} {int(np.sum(extra.y == lab))}" for lab in LABELS[:3])
              + f") in {time.perf_counter() - t0:.1f} s")
    baseline: dict[str, Any] | None = None
    if extra is not None and not args.no_baseline:
        baseline = score(y, cross_validate(X, crops, y)[0])
        print_report(f"CinC strips only, 5-fold stratified CV, seed {FOLD_SEED} (before)", baseline)
    pred, chosen, weights = cross_validate(X, crops, y, FOLD_SEED, extra)
    metrics = score(y, pred)
    how = "fixed hyper-parameters" if len(CANDIDATES) == 1 else f"nested choice per fold: {chosen}"
    added = "" if extra is None else f" + {extra.y.size} extra strips in training"
    print_report(f"CinC strips, 5-fold stratified CV, seed {FOLD_SEED}{added}, {how}, AF weight per fold "
                 f"{weights}", metrics)
    spread: dict[str, dict[str, Any]] = {}
    over: dict[str, float] | None = None
    for seed in args.other_fold_seeds:
        other = score(y, cross_validate(X, crops, y, seed, extra)[0])
        spread[str(seed)] = {k: other[k] for k in ("f1", "mean_f1_NAO", "af_f1")}
        print(f"  fold seed {seed}: mean F1 (N, A, O) {other['mean_f1_NAO']:.3f}, AF F1 {other['af_f1']:.3f}")
    if spread:
        runs = [metrics, *spread.values()]
        over = {k: round(float(np.mean([r[k] for r in runs])), 4) for k in ("mean_f1_NAO", "af_f1")}
        print(f"  over the {len(runs)} fold seeds: mean F1 (N, A, O) {over['mean_f1_NAO']:.3f}, "
              f"AF F1 {over['af_f1']:.3f}")
    final = choose_params(X, crops, y, 5, extra)
    af_weight = choose_af_weight(X, crops, y, CANDIDATES[final], 5, extra)
    extra_metrics: dict[str, Any] = {}
    if extra is not None:
        extra_pred = cross_validate_extra(X, crops, y, extra, CANDIDATES[final], af_weight)
        for db in databases:
            mine = np.asarray([g.startswith(db) for g in extra.groups])
            extra_metrics[db] = score(extra.y[mine], extra_pred[mine])
            print_report(f"{db} strips, 5 folds grouped by record (all CinC strips in training), AF weight "
                         f"{af_weight}", extra_metrics[db])
    model = fit(CANDIDATES[final], X, crops, y, None, extra)
    export_trees(model, FEATURE_NAMES, args.model, {"A": af_weight}, MODEL_VERSION)
    check = load_ensemble(args.model).predict_proba(X[:200])
    expected = model.predict_proba(X[:200]) * np.where(model.classes_ == "A", af_weight, 1.0)[None, :]
    expected /= expected.sum(axis=1, keepdims=True)
    gap = float(np.abs(check - expected).max())
    if gap > 1e-6:
        print(f"exported trees differ from scikit-learn by {gap}", file=sys.stderr)
        return 1
    info = {
        "model_version": MODEL_VERSION,
        "data": "cinc2017 (REFERENCE.csv, shared/data)" + ("" if extra is None else (
            f" + strips cut from shared {' and '.join(databases)} (bench/strips_extra.py)")),
        "n_strips": len(names),
        "class_counts": {lab: int(np.sum(y == lab)) for lab in LABELS},
        "extra": None if extra is None else {
            "n_strips": int(extra.y.size), "records": len(set(extra.groups.tolist())), "weight": EXTRA_WEIGHT,
            "class_counts": {lab: int(np.sum(extra.y == lab)) for lab in LABELS[:3]},
            "cv_grouped_by_record": extra_metrics},
        "cv_cinc_only_before": baseline,
        "cv": {"folds": 5, "stratified": True, "seed": FOLD_SEED, "nested_inner_folds": 3,
               "chosen_per_fold": chosen, "af_weight_per_fold": weights, "af_weights_tried": list(AF_WEIGHTS),
               **metrics},
        "cv_other_fold_seeds": spread,
        "cv_mean_over_fold_seeds": over,
        "final_params": {k: v for k, v in CANDIDATES[final].items()},
        "final_af_weight": af_weight,
        "training_crops": [list(c) for c in CROPS],
        "model_seed": MODEL_SEED,
        "features": list(FEATURE_NAMES),
        "sklearn_version_used_for_training": __import__("sklearn").__version__,
    }
    args.metrics.write_text(json.dumps(info, indent=2) + "\n")
    size_kb = args.model.stat().st_size / 1e3
    print(f"model {MODEL_VERSION}: {args.model} ({size_kb:.0f} kB), final params {CANDIDATES[final]}, "
          f"AF weight {af_weight}")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0

if __name__ == "__main__":
    sys.exit(main())
