"""How far can AF F1 go on the cinc2017 subset? Learning curve, a second model family, and the strips
on which both families contradict the label.

    .venv/bin/python bench/strips_ceiling.py [--data ../shared/data/cinc2017] [--cnn]

All on the SAME 5 stratified folds as bench/train_strips.py (seed 2017):

1. **Learning curve** of the product model (40 features, boosted trees, training crops): each outer
   fold's training part is subsampled per class to a fraction (0.2 to 1.0, two draws below 1.0), the
   held-out fold is predicted whole. The AF weight is fixed at 2.0 here (the nested choice of
   train_strips.py picks 2-4), so the curve shows the effect of the amount of data alone. A line fitted
   to AF F1 over log2(training strips) tells how much labelled data the target would need if the curve
   kept its slope.
2. With ``--cnn`` (needs PyTorch, see ``bench/strips_cnn_probe.py``, about 15 min on 2 cores): a 1-D
   CNN on the raw waveform in the same folds, alone and averaged with the trees' probabilities.
3. **Contradicted labels**: strips whose own label gets a probability below 0.3 from the trees and
   (with ``--cnn``) from the CNN, written to ``bench/results/strips_contradicted.csv`` for a reader of
   ECGs to review. Figures go to ``bench/results/strips_ceiling.csv``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_strips import (
    CANDIDATES,
    LABELS,
    add_data_arguments,
    fit,
    folds,
    load_features,
    reference_missing,
    weighted_predict,
)

RESULTS = Path(__file__).resolve().parent / "results"
FRACTIONS = (0.2, 0.35, 0.5, 0.75, 1.0)
DRAWS = 2
AF_WEIGHT = 2.0
TARGET_AF_F1 = 0.90
CONTRADICTED_BELOW = 0.3


def _subsample(tr: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """``fraction`` of each class of the training part (at least 2 strips of each)."""
    parts = []
    for label in np.unique(y[tr]):
        ids = tr[y[tr] == label]
        parts.append(rng.choice(ids, max(2, round(fraction * ids.size)), replace=False))
    return np.sort(np.concatenate(parts))


def _f1(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """AF F1 and mean F1 over N, A, O."""
    per_class = f1_score(y, pred, labels=list(LABELS[:3]), average=None, zero_division=0.0)
    return float(per_class[1]), float(np.mean(per_class))


def learning_curve(X: np.ndarray, crops: np.ndarray, y: np.ndarray,
                   splits: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[dict[str, float]], np.ndarray]:
    """Rows of (training strips per fold, AF F1, mean F1), and the trees' out-of-fold probabilities
    (LABELS column order) at the full training size."""
    rng = np.random.default_rng(0)
    rows: list[dict[str, float]] = []
    full = np.zeros((y.size, len(LABELS)))
    for fraction in FRACTIONS:
        scores, sizes = [], []
        for _ in range(DRAWS if fraction < 1.0 else 1):
            proba = np.zeros((y.size, len(LABELS)))
            for tr, te in splits:
                part = tr if fraction >= 1.0 else _subsample(tr, y, fraction, rng)
                sizes.append(part.size)
                model = fit(CANDIDATES[0], X, crops, y, part)
                cols = [list(model.classes_).index(lab) for lab in LABELS]
                proba[te] = model.predict_proba(X[te])[:, cols]
            scores.append(_f1(y, weighted_predict(proba, np.asarray(LABELS), AF_WEIGHT)))
            if fraction >= 1.0:
                full = proba
        af, mean = np.mean(scores, axis=0)
        rows.append({"training_strips": float(np.mean(sizes)), "af_f1": float(af), "mean_f1": float(mean)})
        print(f"  {np.mean(sizes):6.0f} training strips: AF F1 {af:.3f}, mean F1 {mean:.3f}", flush=True)
    return rows, full


def extrapolate(rows: list[dict[str, float]]) -> tuple[float, float]:
    """Slope of AF F1 per doubling of the training strips, and the strips the target would need."""
    x = np.log2([r["training_strips"] for r in rows])
    slope, intercept = np.polyfit(x, [r["af_f1"] for r in rows], 1)
    needed = 2 ** ((TARGET_AF_F1 - intercept) / slope) if slope > 0 else float("inf")
    return float(slope), float(needed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--cnn", action="store_true", help="also cross-validate the CNN probe (PyTorch)")
    args = parser.parse_args(argv)
    if reference_missing(args.data):
        return 2
    t0 = time.perf_counter()
    names, y, X, crops = load_features(args.data, args.jobs)
    splits = folds(y)
    print(f"{len(names)} strips, features in {time.perf_counter() - t0:.0f} s; learning curve (trees, "
          f"AF weight {AF_WEIGHT}):")
    rows, trees = learning_curve(X, crops, y, splits)
    slope, needed = extrapolate(rows)
    print(f"  AF F1 gains {slope:.3f} per doubling of the training strips; at that slope AF F1 "
          f"{TARGET_AF_F1} needs ~{needed:,.0f} training strips (the subset has {len(names)} in all, "
          "the full CinC 2017 training set 8,528)")
    table = [{"experiment": "trees, learning curve", **r} for r in rows]
    table.append({"experiment": "extrapolated strips for AF F1 0.90", "training_strips": needed,
                  "af_f1": TARGET_AF_F1, "mean_f1": float("nan")})
    families = {"trees": trees}
    if args.cnn:
        import strips_cnn_probe as probe

        waves = probe.load_waveforms([str(args.data / f"{n}.hea") for n in names], args.jobs)
        cnn = probe.cross_validate(waves, y, splits)
        families["cnn"] = cnn
        size = float(np.mean([tr.size for tr, _ in splits]))
        for title, proba in (("CNN alone", cnn), ("trees + CNN, mean probability", (trees + cnn) / 2)):
            af, mean = _f1(y, weighted_predict(proba, np.asarray(LABELS), 1.0))
            print(f"  {title}: AF F1 {af:.3f}, mean F1 {mean:.3f}")
            table.append({"experiment": title, "training_strips": size, "af_f1": af, "mean_f1": mean})
    own = np.array([LABELS.index(v) for v in y])
    doubted = np.ones(y.size, dtype=bool)
    for proba in families.values():
        doubted &= proba[np.arange(y.size), own] < CONTRADICTED_BELOW
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "strips_contradicted.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["record", "label", *(f"{k}_p_label" for k in families),
                      *(f"{k}_predicted" for k in families)])
        for i in np.flatnonzero(doubted):
            out.writerow([names[i], y[i], *(f"{p[i, own[i]]:.2f}" for p in families.values()),
                          *(LABELS[int(np.argmax(p[i]))] for p in families.values())])
    by_label = {lab: int(np.sum(doubted & (y == lab))) for lab in LABELS}
    print(f"  labels contradicted by {' and '.join(families)} (p < {CONTRADICTED_BELOW}): {by_label} "
          f"-> {RESULTS / 'strips_contradicted.csv'}")
    with (RESULTS / "strips_ceiling.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["experiment", "training_strips", "af_f1", "mean_f1"])
        writer.writeheader()
        for row in table:
            writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
