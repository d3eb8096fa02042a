"""A small LEARNED ventricular detector on the strips' VF / VT measures, judged leave-one-record-out
(issue 18, item 5; docs/strips.md "Looked at (issue 18, item 5, 2026-12-08): a small learned ventricular
detector; not taken"). Nothing here is shipped.

    nice -n 10 .venv/bin/python bench/ventricular_learned.py extract [--data ../shared/data] [--cache DIR]
    nice -n 10 .venv/bin/python bench/ventricular_learned.py evaluate [--nested] [--model logistic|trees]
        [--no-source-cues] [--cache DIR]
    nice -n 10 .venv/bin/python bench/ventricular_learned.py train [--no-source-cues]   # JSON to /tmp/vt55

``extract`` cuts the strips of ``bench/bench_ventricular_strips.py`` (10 s, lead 0; with the VF / flutter /
VT strips every 5 s inside each stretch, the VT runs shorter than 3 s and the "vt at end" strips), every
CinC 2017 strip, and, with the robustness bench's muscle (``ma``) and electrode-motion (``em``) noise at
12 and 6 dB (``bench_ventricular_robust.noise_transform``, seed 3), the MIT-BIH / SVDB minutes, lead II
of every LUDB record and the ventricular strips after each onset. For each strip it keeps what
``ecgdesk strips`` calls it (``classify_signal``) and a feature row: the 40 strip features, the AED
literature's VF measures on the 10 s window and on its 5 s windows (TCSC, VF-filter leakage, kurtosis,
the 12-30 Hz and < 2.5 Hz shares, the dominant peak's frequency and share: Amann et al. 2005), the same
on the 1-12 Hz part, MAV (mean absolute value over 2 s sub-windows, Amann 2007's bCP family), the
Lempel-Ziv complexity measure (Zhang et al. 1999), the beats' width spread and the rate below 15 Hz.
Cached to ``--cache`` (default /tmp/vt55).

``evaluate`` trains logistic regression and gradient-boosted trees on the training positives (VF,
flutter, VT strips after each onset and every 5 s) against every strip without VT (with noise too),
out of fold: each record holding ventricular strips is a fold of its own (leave-one-record-out), the
records without one are spread over 10 folds, a strip's noisy copies in its record's fold. A strip is
called ``V`` when the shipped rules call it ``V`` or the model's out-of-fold probability is over the
threshold. Printed for pooled thresholds (read off all folds' scores at once: the shape of the trade) and,
with ``--nested``, for the threshold chosen inside each fold (the highest inner out-of-fold score of a
training strip without VT): the held-out figure. The strip's length and beat count are never read (every
ventricular strip is 10 s, most CinC strips 30 s); ``--no-source-cues`` also leaves out the recorder's
cues (clipped-sample share, R amplitude) and clips each feature to its training range.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ventricular_robust import noise_transform
from bench_ventricular_strips import cut, strip_signals
from ecgdesk.analysis.strips.classify import StripLabel, classify_signal
from ecgdesk.analysis.strips.signal import prepare
from ventricular_learned_features import (
    ALL_NAMES,
    DROPPED,
    MODEL_NAMES,
    MODEL_PATH,
    SOURCE_CUES,
    feature_row,
)

ROOT = Path(__file__).resolve().parents[1]
NOISES = (("ma", 12.0), ("ma", 6.0), ("em", 12.0), ("em", 6.0))
NAMES = ALL_NAMES


def row(x: np.ndarray, fs: float) -> tuple[str, list[float]]:
    result = classify_signal(x, fs)
    strip = result.strip if result.strip is not None else (prepare(np.nan_to_num(x), fs)
                                                           if x.size >= fs else None)
    if strip is None:
        return str(result.label), [float("nan")] * len(NAMES)
    return str(result.label), list(feature_row(strip))


def signals(data: Path) -> Iterator[tuple[str, str, np.ndarray, float]]:
    """(name, group, x, fs) of every strip of the study, noisy copies too (group prefix ``ma12`` etc.)."""
    import tempfile

    import wfdb

    with tempfile.TemporaryDirectory() as tmp:
        positive, negative = Path(tmp) / "v", Path(tmp) / "o"
        positive.mkdir()
        negative.mkdir()
        groups = cut(data, 10.0, positive, negative, short_vt=True, through=5.0, at_end=True)
        for folder in (positive, negative):
            for header in sorted(folder.glob("*.hea")):
                name, group = header.stem, groups[header.stem]
                rec = wfdb.rdrecord(str(header.with_suffix("")), channels=[0])
                x, fs = rec.p_signal[:, 0], float(rec.fs)
                yield name, group, x, fs
                noisy = (group.startswith(("vf (", "vfl (", "vt (")) or group.startswith(
                    ("no VT", "paced", "bundle")) or (name.startswith("ludb_") and name.endswith("_ii")))
                if noisy:
                    for kind, snr in NOISES:
                        y, f = noise_transform(kind, snr)(np.nan_to_num(x), fs)
                        yield f"{name}@{kind}{snr:g}", f"{kind}{snr:g} {group}", y, f
    for name, group, x, fs in strip_signals(data, short_vt=False):
        if name.startswith("cinc_"):
            yield name, group, x, fs


def extract(data: Path, cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    names, groups, labels, rows = [], [], [], []
    for i, (name, group, x, fs) in enumerate(signals(data)):
        label, r = row(x, fs)
        names.append(name)
        groups.append(group)
        labels.append(label)
        rows.append(r)
        if i % 500 == 0:
            print(i, name, group, label, flush=True)
    np.savez(cache / "features.npz", names=np.array(names), groups=np.array(groups), labels=np.array(labels),
             X=np.array(rows, dtype=np.float64), feature_names=np.array(NAMES))
    print(f"wrote {cache / 'features.npz'}: {len(names)} strips")


def record_of(name: str) -> str:
    return "_".join(name.split("@")[0].split("_")[:2])


TRAIN_POSITIVE = ("vf (", "vfl (", "vt (", "vf every", "vfl every", "vt every")


def evaluate(cache: Path, nested: bool = False, only: str = "", no_source_cues: bool = False) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    d = np.load(cache / "features.npz")
    names, groups, labels, X = list(d["names"]), list(d["groups"]), d["labels"], d["X"]
    X = np.where(np.isfinite(X), X, np.nan)
    # DROPPED: the strips' length and beat count tell the classes apart by how the strips were cut
    dropped = DROPPED + (SOURCE_CUES if no_source_cues else ())
    keep = [i for i, k in enumerate(NAMES) if k not in dropped]
    X = X[:, keep]
    base_group = [g.split(" ", 1)[1] if g[:2] in ("ma", "em") and g[2].isdigit() else g for g in groups]
    positive = np.array([g.startswith(TRAIN_POSITIVE) for g in base_group])
    ventricular = np.array([g.startswith(("vf", "vt", "vfl")) for g in base_group])  # incl. short / at end
    negative = ~ventricular
    shipped = labels == str(StripLabel.VENTRICULAR)
    records = np.array([record_of(n) for n in names])
    with_v = sorted({r for r, v in zip(records, ventricular, strict=True) if v})
    fold = np.array([with_v.index(r) if r in with_v else len(with_v) + zlib.crc32(r.encode()) % 10
                     for r in records])
    train_rows = positive | negative
    models = {
        "logistic": lambda: make_pipeline(SimpleImputer(strategy="median"),
                                          *([Clip()] if no_source_cues else []), StandardScaler(),
                                          LogisticRegression(C=0.3, class_weight="balanced", max_iter=2000)),
        "trees": lambda: HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                                        min_samples_leaf=20, l2_regularization=1.0,
                                                        class_weight="balanced", random_state=0),
    }
    clean = np.array([not (g[:2] in ("ma", "em") and g[2].isdigit()) for g in groups])
    print(f"{len(names)} strips; training positives {positive.sum()}, negatives {negative.sum()}; "
          f"{len(with_v)} records with ventricular strips; shipped V on positives {shipped[positive].sum()}")
    if only == "train":
        train_and_export(models["logistic"], X, fold, train_rows, positive, negative, shipped)
        return
    for model_name, make in models.items():
        if only and model_name != only:
            continue
        score = np.full(len(names), np.nan)
        for f in np.unique(fold):
            test = fold == f
            train = train_rows & ~test
            m = make().fit(X[train], positive[train])
            score[test] = m.predict_proba(X[test])[:, 1]
        np.save(cache / f"oof_{model_name}.npy", score)
        report(model_name, score, groups, base_group, shipped, positive, negative, clean)
        if nested:
            nested_threshold(model_name, make, X, fold, train_rows, positive, negative, shipped, groups,
                             clean)


class Clip:
    """Each feature clipped to its training strips' 0.5-99.5th percentiles: a linear model would otherwise
    extrapolate far outside what it saw (a synthetic spike train scored 1.0 on the clipped-sample share)."""

    def fit(self, X: np.ndarray, y: object = None) -> Clip:
        self.lo_, self.hi_ = np.percentile(X, 0.5, axis=0), np.percentile(X, 99.5, axis=0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.clip(X, self.lo_, self.hi_)

    def fit_transform(self, X: np.ndarray, y: object = None) -> np.ndarray:
        return self.fit(X).transform(X)

    def get_params(self, deep: bool = True) -> dict[str, object]:
        return {}

    def set_params(self, **params: object) -> Clip:
        return self


def train_and_export(make, X: np.ndarray, fold: np.ndarray, train_rows: np.ndarray,
          positive: np.ndarray, negative: np.ndarray, shipped: np.ndarray) -> None:
    """Fit on every training strip; the threshold is the highest out-of-fold score (the folds of
    ``evaluate``) of a strip without VT that the rules do not call V: the rule each fold of the nested
    evaluation applied to its own training folds. Writes the model's JSON."""
    import json

    score = np.full(fold.size, np.nan)
    for f in np.unique(fold):
        test = fold == f
        fit = train_rows & ~test
        score[test] = make().fit(X[fit], positive[fit]).predict_proba(X[test])[:, 1]
    threshold = float(np.nanmax(score[negative & ~shipped]))
    m = make().fit(X[train_rows], positive[train_rows])
    imputer, scaler, lr = m[0], m[-2], m[-1]
    data = {"features": list(MODEL_NAMES), "median": imputer.statistics_.tolist(),
            "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(), "coef": lr.coef_[0].tolist(),
            "intercept": float(lr.intercept_[0]), "threshold": threshold,
            "trained_on": f"{int(positive.sum())} ventricular strips, {int(negative.sum())} without VT "
                          "(shared Creighton, MIT-BIH, SVDB, LUDB, CinC 2017; muscle / electrode noise)"}
    with open(MODEL_PATH, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
    print(f"threshold {threshold:.6f}; wrote {MODEL_PATH}")


def nested_threshold(model_name: str, make, X: np.ndarray, fold: np.ndarray,
                     train_rows: np.ndarray, positive: np.ndarray, negative: np.ndarray, shipped: np.ndarray,
                     groups: list[str], clean: np.ndarray) -> None:
    """Leave-one-record-out with the threshold chosen inside each fold: the highest inner out-of-fold
    score (5 inner folds of the other folds) of a training strip without VT that the rules do not call V."""
    call = shipped.copy()
    thresholds = []
    for f in np.unique(fold):
        test = fold == f
        others = np.unique(fold[~test])
        inner_fold = {g: i % 5 for i, g in enumerate(others)}
        inner = np.array([inner_fold.get(int(g), -1) for g in fold])
        inner_score = np.full(fold.size, np.nan)
        for k in range(5):
            held = (inner == k) & ~test
            fit = train_rows & ~test & ~held
            inner_score[held] = make().fit(X[fit], positive[fit]).predict_proba(X[held])[:, 1]
        free = negative & ~shipped & ~test
        t = float(np.nanmax(inner_score[free]))
        thresholds.append(t)
        fit = train_rows & ~test
        call[test] |= make().fit(X[fit], positive[fit]).predict_proba(X[test])[:, 1] > t
    print(f"\n== {model_name}, threshold chosen inside each fold (min / median / max "
          f"{min(thresholds):.3f} / {np.median(thresholds):.3f} / {max(thresholds):.3f})")
    added = call & ~shipped
    print(f"  added V on training positives {(added & positive).sum()} "
          f"(clean {(added & positive & clean).sum()}); added false V: clean "
          f"{(added & negative & clean).sum()}, noisy {(added & negative & ~clean).sum()}")
    _print_changed_groups(groups, shipped, call)


def _print_changed_groups(groups: list[str], shipped: np.ndarray, call: np.ndarray) -> None:
    """Each strip group whose count of V calls the model changes: strips, V before -> V with the model."""
    by: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        c = by.setdefault(g, [0, 0, 0])
        c[0] += 1
        c[1] += int(shipped[i])
        c[2] += int(call[i])
    for g, (n, s, c2) in sorted(by.items()):
        if c2 != s:
            print(f"    {g:40} {n:5}: V {s} -> {c2}")


def report(model_name: str, score: np.ndarray, groups: list[str], base_group: list[str], shipped: np.ndarray,
           positive: np.ndarray, negative: np.ndarray, clean: np.ndarray) -> None:
    neg_free = negative & ~shipped
    top_neg = float(np.nanmax(score[neg_free]))
    print(f"\n== {model_name}: highest out-of-fold score of a strip without VT not called V: {top_neg:.4f}")
    for t in (0.5, 0.8, 0.9, 0.95, 0.99, top_neg + 1e-9):
        call = shipped | (score > t)
        added_neg = negative & call & ~shipped
        print(f"  threshold {t:.4f}: added V on positives {(call & positive & ~shipped).sum()} "
              f"(clean {(call & positive & ~shipped & clean).sum()}); added false V: clean "
              f"{(added_neg & clean).sum()}, noisy {(added_neg & ~clean).sum()}")
        _print_changed_groups(groups, shipped, call)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=("extract", "evaluate", "train"))
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vt55"))
    parser.add_argument("--no-source-cues", action="store_true",
                        help="leave out SOURCE_CUES, clip features to the training range")
    parser.add_argument("--model", default="", help="only this model (logistic, trees)")
    parser.add_argument("--nested", action="store_true", help="also choose the threshold inside each fold")
    args = parser.parse_args()
    if args.step == "extract":
        extract(args.data, args.cache)
    elif args.step == "train":
        evaluate(args.cache, only="train", no_source_cues=args.no_source_cues)
    else:
        evaluate(args.cache, args.nested, args.model, args.no_source_cues)


if __name__ == "__main__":
    main()
