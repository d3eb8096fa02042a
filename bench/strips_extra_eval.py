"""Do strips cut from the shared MIT-BIH / SVDB records help the strip model on CinC strips?

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/strips_extra_eval.py [--seeds 2017] [--variants ...]

Like-for-like with the model's reported figures: the SAME nested 5-fold stratified CV over the 2,558
CinC strips as ``bench/train_strips.py`` (fold seed 2017 first), the extra strips (``bench/strips_extra.py``)
added to every training part and never predicted there. Variants: ``none`` (CinC only, the shipped
model's figure), ``mitdb``, ``svdb``, ``both``, ``af_only`` (only the 61 AF strips), ``mit_rhythm`` (MIT
rhythm stretches but sinus and paced: AF, flutter, bigeminy, trigeminy, VT, SVT ...) and ``both@0.3``
(the extra strips at sample weight 0.3). Then the added strips' own figure: 5 folds grouped by source
record (a record's strips are never split across training and test), every model also trained on all
CinC strips, AF weight chosen on the CinC strips. Writes ``bench/results/strips_extra.csv``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_strips as ts
from strips_extra import SHARED, ExtraSet, load_extra

RESULTS = Path(__file__).resolve().parent / "results" / "strips_extra.csv"
VARIANTS = ("none", "both", "mitdb", "svdb", "af_only", "mit_rhythm", "both@0.3")


def pick(extra: ExtraSet, variant: str) -> ExtraSet | None:
    """The extra strips of a variant (``None`` for CinC only)."""
    groups, labels = extra.groups, extra.y
    whys = [s.why for s in extra.strips]
    if variant == "none":
        return None
    keep = {
        "both": np.ones(labels.size, dtype=bool),
        "mitdb": np.char.startswith(groups.astype(str), "mitdb"),
        "svdb": np.char.startswith(groups.astype(str), "svdb"),
        "af_only": labels == "A",
        "mit_rhythm": np.asarray([g.startswith("mitdb") and (lab == "A" or not w.startswith("sinus"))
                                  and w != "P" for g, lab, w in zip(groups, labels, whys, strict=True)]),
    }[variant.split("@")[0]]
    return extra.subset(np.flatnonzero(keep))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ts.add_data_arguments(parser)
    parser.add_argument("--seeds", type=int, nargs="+", default=[ts.FOLD_SEED])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--no-grouped", action="store_true", help="skip the grouped CV of the added strips")
    args = parser.parse_args(argv)
    if ts.reference_missing(args.data):
        return 2
    _, y, X, crops = ts.load_features(args.data, args.jobs)
    extra = load_extra(SHARED if args.data == ts.DEFAULT_DATA else args.data.parent, args.jobs)
    rows: list[dict[str, object]] = []
    for variant in args.variants:
        ts.EXTRA_WEIGHT = float(variant.split("@")[1]) if "@" in variant else 1.0
        part = pick(extra, variant)
        for seed in args.seeds:
            t0 = time.perf_counter()
            m = ts.score(y, ts.cross_validate(X, crops, y, seed, part)[0])
            rows.append({"evaluated_on": "cinc2017 CV (stratified 5-fold)", "fold_seed": seed,
                         "extra_in_training": variant, "n_extra": 0 if part is None else part.y.size,
                         "af_f1": m["af_f1"], "mean_f1_NAO": m["mean_f1_NAO"], "f1_N": m["f1"]["N"],
                         "f1_O": m["f1"]["O"]})
            took = time.perf_counter() - t0
            print(f"{variant:>10} seed {seed}: AF F1 {m['af_f1']:.3f}, mean F1 {m['mean_f1_NAO']:.3f} "
                  f"(N {m['f1']['N']:.3f}, O {m['f1']['O']:.3f}), {took:.0f} s", flush=True)
    if not args.no_grouped:
        ts.EXTRA_WEIGHT = 1.0
        weight = ts.choose_af_weight(X, crops, y, ts.CANDIDATES[0], 5, extra)
        pred = ts.cross_validate_extra(X, crops, y, extra, ts.CANDIDATES[0], weight)
        for db in ("mitdb", "svdb"):
            mine = np.char.startswith(extra.groups.astype(str), db)
            m = ts.score(extra.y[mine], pred[mine])
            rows.append({"evaluated_on": f"{db} strips, 5 folds grouped by record", "fold_seed": "",
                         "extra_in_training": "both (other records)", "n_extra": int(mine.sum()),
                         "af_f1": m["af_f1"], "mean_f1_NAO": m["mean_f1_NAO"], "f1_N": m["f1"]["N"],
                         "f1_O": m["f1"]["O"]})
            ts.print_report(f"{db} strips, 5 folds grouped by record, all CinC strips in training", m)
    with RESULTS.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
