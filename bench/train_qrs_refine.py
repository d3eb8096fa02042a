"""Probe: a per-beat correction of the fused QRS bounds learned from the signal (QT Database tuning half).

    .venv/bin/python bench/train_qrs_refine.py extract [--half tuning|held-out] [--records sel100,...]
    .venv/bin/python bench/train_qrs_refine.py cv        # tuning half only: chooses and fits the model
    .venv/bin/python bench/train_qrs_refine.py heldout   # once, after every choice is fixed

``extract`` runs ``delineate_recording`` on each whole record of the half (what ``ecgdesk delineate``
runs) with ``waves.delineate_window`` wrapped so that every beat also carries
:func:`qrs_refine_features.qrs_features` (candidate bounds at other thresholds, each lead's own bound, the
velocity's knee, levels, noise, width, RR; each feature also less its median over the block's template
beats, as the engine would have had it); the annotated beats' features, fused bounds and annotated bounds
are cached under ``bench/.cache/qrs_refine`` (git-ignored). ``cv``: gradient-boosted trees (scikit-learn,
Huber loss) predicting the annotated bound minus the fused one, less its median over the record, trained
on template beats; leave one record out over the 16 tuning records, scored as ``bench_delineate.py``
scores the fused marks (mean over records of each record's mean and SD of the error, Martinez et al.
2004) for every setting of :data:`GRID` x :data:`SHRINKS`; per bound the best setting is kept if it beats
the uncorrected SD by 0.1 ms or more, fitted on the 16 records and exported as plain arrays
(``bench/.cache/qrs_refine/model.npz``; CV table in ``bench/results/qrs_refine_cv.json``). ``heldout``
scores that export with the numpy evaluator (:class:`qrs_refine_features.Correction`) on both halves, per
record too (``bench/results/qrs_refine_heldout.txt``). It was run once: the held-out QRS onset SD got
worse (8.39 -> 8.61 ms), so nothing of this is in the engine. Figures: docs/delineate.md, "Looked at
(2026-12-07, night): a learned per-beat QRS correction".
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import ecgdesk.analysis.waves as waves
from ecgdesk.analysis.ecg12.delineation import Wave, WaveKind
from ecgdesk.records import open_recording

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qrs_refine_features import (
    FEATURE_NAMES,
    MODEL_INPUTS,
    MODEL_PATH,
    Correction,
    qrs_features,
    relative_to,
)
from qtdb_eval import MATCH_MS, QTDB, records, reference, split

CACHE = Path(__file__).resolve().parent / ".cache" / "qrs_refine"
RESULTS = Path(__file__).resolve().parent / "results"
#: The correction moves a bound by at most this (the clip of the beat's own bounds, waves-1.2).
CLIP_MS = 20.0


def extract(record: str) -> dict[str, np.ndarray]:
    """The annotated beats of one record: features, template flag, fused and annotated (onset, offset)."""
    engine, block_engine = waves.delineate_window, waves.delineate_block
    found: list[tuple[int, np.ndarray, bool]] = []  # (block, features, delineated on a template)
    blocks = [0]

    def wrapped(sig: waves.BeatSignals, fid: int, fs: float, rr_s: float, params: waves.StreamParams,
                has_p: bool = True,
                own: np.ndarray | None = None) -> tuple[list[list[Wave]], tuple[Wave, ...]]:
        per_lead, fused = engine(sig, fid, fs, rr_s, params, has_p, own)
        qrs = next(w for w in fused if w.kind is WaveKind.QRS)
        found.append((blocks[0], qrs_features(sig.beat, own, fid, fs, qrs.onset, qrs.offset, rr_s),
                      own is not None))
        # The index rides on an extra mark that the engine shifts to recording indices with the rest.
        tag = Wave(WaveKind.QRS, fid, fid + 1 + len(found) - 1, fid)
        return per_lead, (*fused, tag)

    def block(*args: object, **kwargs: object) -> list[waves.BlockBeat]:
        blocks[0] += 1
        return block_engine(*args, **kwargs)  # type: ignore[arg-type]

    waves.delineate_window = wrapped
    waves.delineate_block = block
    try:
        recording = open_recording(QTDB / f"{record}.hea")
        beats = []
        for beat in waves.delineate_recording(recording, params=waves.StreamParams()):
            qrs = [w for w in beat.fused if w.kind is WaveKind.QRS]
            beats.append((qrs[0].peak, qrs[0].onset, qrs[0].offset, qrs[-1].peak - qrs[-1].onset - 1))
    finally:
        waves.delineate_window, waves.delineate_block = engine, block_engine
    fs = recording.fs
    # What the engine describes each beat against: the median of its block's template beats.
    block_of = np.asarray([b for b, _, _ in found])
    feats = np.asarray([f for _, f, _ in found])
    on_template = np.asarray([t for _, _, t in found])
    medians = {b: relative_to(feats[(block_of == b) & on_template]) for b in np.unique(block_of)}
    peaks = np.asarray([b[0] for b in beats])
    rows, flags, ours, ref_marks = [], [], [], []
    for ref in reference(record):
        j = int(np.argmin(np.abs(peaks - ref.qrs_peak)))
        if abs(peaks[j] - ref.qrs_peak) > MATCH_MS * fs / 1000.0:
            continue
        k = beats[j][3]
        rows.append(np.concatenate([feats[k], feats[k] - medians[block_of[k]]]))
        flags.append(on_template[k])
        ours.append(beats[j][1:3])
        ref_marks.append((ref.marks.get("QRS_on", -10 ** 9), ref.marks.get("QRS_off", -10 ** 9)))
    return {"x": np.asarray(rows), "templated": np.asarray(flags, dtype=bool),
            "ours": np.asarray(ours, dtype=float), "ref": np.asarray(ref_marks, float), "fs": np.asarray(fs)}


def load(names: list[str]) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for record in names:
        path = CACHE / f"{record}.npz"
        with np.load(path) as data:
            out[record] = {k: data[k] for k in data.files}
    return out


def templated(part: dict[str, np.ndarray]) -> np.ndarray:
    """Beats delineated on a template (their own samples differ from it); only those are corrected."""
    return part["templated"]


def errors(part: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(ms error ours - annotator, valid) per beat and bound; invalid: no annotation, or > 150 ms."""
    fs = float(part["fs"])
    err = (part["ours"] - part["ref"]) * 1000.0 / fs
    return err, (part["ref"] > -10 ** 8) & (np.abs(err) <= MATCH_MS) & templated(part)[:, None]


def score(data: dict[str, dict[str, np.ndarray]], shifts: dict[str, np.ndarray]) -> dict[str, float]:
    """Martinez's statistic of the fused bounds moved by ``shifts`` (ms per beat and bound) per record."""
    out = {}
    for b, name in enumerate(("on", "off")):
        means, sds = [], []
        for record, part in data.items():
            err = errors(part)[0]
            fs = float(part["fs"])
            # Marks are samples: the correction moves a bound by whole samples.
            shift = np.where(templated(part), np.clip(shifts[record][:, b], -CLIP_MS, CLIP_MS), 0.0)
            moved = err[:, b] + np.round(shift * fs / 1000.0) * 1000.0 / fs
            valid = (part["ref"][:, b] > -10 ** 8) & (np.abs(moved) <= MATCH_MS)
            e = moved[valid]
            if e.size:
                means.append(e.mean())
                sds.append(e.std())
        out[f"{name}_mean"], out[f"{name}_sd"] = float(np.mean(means)), float(np.mean(sds))
    return out


def fit(x: np.ndarray, y: np.ndarray, setting: dict[str, float]) -> object:
    from sklearn.ensemble import GradientBoostingRegressor

    if "alpha" in setting:  # a linear regression of the correction, for comparison
        from sklearn.linear_model import HuberRegressor, Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        linear = Ridge(alpha=setting["alpha"]) if setting["alpha"] > 0 else HuberRegressor(max_iter=500)
        return make_pipeline(StandardScaler(), linear).fit(x, y)

    model = GradientBoostingRegressor(loss="huber", n_estimators=int(setting["trees"]),
                                      max_depth=int(setting["depth"]), learning_rate=setting["rate"],
                                      subsample=0.8, min_samples_leaf=int(setting["leaf"]), random_state=0)
    model.fit(x, y)
    return model


def training(data: dict[str, dict[str, np.ndarray]], b: int, columns: slice) -> tuple[np.ndarray, np.ndarray]:
    """Template beats with an annotated bound; the target is the correction landing on the annotation,
    less its median over the record: a record's bias is not what a beat's shape can tell."""
    xs, ys = [], []
    for part in data.values():
        err, ok = errors(part)
        if ok[:, b].any():
            y = -err[ok[:, b], b]
            xs.append(part["x"][ok[:, b]][:, columns])
            ys.append(y - np.median(y))
    return np.concatenate(xs), np.concatenate(ys)


N = len(FEATURE_NAMES)
#: Which columns of the model inputs a setting reads: every feature and its block-relative form, or only
#: the block-relative ones.
COLUMNS = {"both": slice(0, 2 * N), "relative": slice(N, 2 * N)}
GRID = [dict(zip(("columns", "trees", "depth", "rate", "leaf"), v, strict=True))
        for v in itertools.product(("both", "relative"), (100, 200), (2, 3), (0.05,), (20,))]
SHRINKS = (0.5, 1.0)


def cross_validate(data: dict[str, dict[str, np.ndarray]]) -> list[dict[str, object]]:
    """Leave one record out: every setting's correction of each record, learned on the other 15."""
    names = list(data)
    base = score(data, {r: np.zeros_like(p["ours"]) for r, p in data.items()})
    rows: list[dict[str, object]] = [{"setting": "none (now)", **base}]
    print(f"  {'none (now)':70s} on {base['on_mean']:5.1f} / {base['on_sd']:5.2f}   "
          f"off {base['off_mean']:5.1f} / {base['off_sd']:5.2f}", file=sys.stderr)
    for setting in GRID:
        pred = {r: np.zeros_like(data[r]["ours"]) for r in names}
        for held in names:
            train = {r: data[r] for r in names if r != held}
            for b in (0, 1):
                x, y = training(train, b, COLUMNS[str(setting["columns"])])
                model = fit(x, y, setting)  # type: ignore[arg-type]
                columns = COLUMNS[str(setting["columns"])]
                pred[held][:, b] = model.predict(data[held]["x"][:, columns])  # type: ignore[attr-defined]
        for shrink in SHRINKS:
            s = score(data, {r: shrink * p for r, p in pred.items()})
            rows.append({"setting": {**setting, "shrink": shrink}, **s})
            print(f"  {json.dumps({**setting, 'shrink': shrink}):70s} on {s['on_mean']:5.1f} / "
                  f"{s['on_sd']:5.2f}   off {s['off_mean']:5.1f} / {s['off_sd']:5.2f}", file=sys.stderr)
    return rows


def export(models: dict[str, tuple[object, dict[str, object]] | None], path: Path) -> None:
    """The fitted trees as plain arrays for :class:`ecgdesk.analysis.qrs_refine.Correction` (no pickle);
    a bound without a model (its correction did not help in cross-validation) gets no trees."""
    arrays: dict[str, Any] = {}
    for bound, chosen in models.items():
        if chosen is None:
            ints = ("feature", "left", "right")
            arrays.update({f"{bound}_{k}": np.zeros((0, 1), dtype=np.int32 if k in ints else np.float64)
                           for k in ("feature", "threshold", "left", "right", "value")})
            arrays.update({f"{bound}_base": np.asarray(0.0), f"{bound}_rate": np.asarray(0.0),
                           f"{bound}_shrink": np.asarray(0.0)})
            continue
        model, setting = chosen
        start = COLUMNS[str(setting["columns"])].start
        trees = [est[0].tree_ for est in model.estimators_]  # type: ignore[attr-defined]
        width = max(t.node_count for t in trees)
        feature = np.full((len(trees), width), -1, dtype=np.int32)
        threshold = np.zeros((len(trees), width))
        left = np.zeros((len(trees), width), dtype=np.int32)
        right = np.zeros((len(trees), width), dtype=np.int32)
        value = np.zeros((len(trees), width))
        for i, t in enumerate(trees):
            n = t.node_count
            leaf = t.children_left[:n] < 0
            feature[i, :n] = np.where(leaf, -1, t.feature[:n] + start)
            threshold[i, :n] = t.threshold[:n]
            left[i, :n], right[i, :n] = t.children_left[:n], t.children_right[:n]
            value[i, :n] = t.value[:n, 0, 0]
        base = float(model.init_.predict(np.zeros((1, 1)))[0])  # type: ignore[attr-defined]
        arrays.update({f"{bound}_feature": feature, f"{bound}_threshold": threshold, f"{bound}_left": left,
                       f"{bound}_right": right, f"{bound}_value": value, f"{bound}_base": np.asarray(base),
                       f"{bound}_rate": np.asarray(float(setting["rate"])),  # type: ignore[arg-type]
                       f"{bound}_shrink": np.asarray(float(setting["shrink"]))})  # type: ignore[arg-type]
    np.savez_compressed(path, **arrays, clip_ms=np.asarray(CLIP_MS), inputs=np.asarray(MODEL_INPUTS))


def choose(rows: list[dict[str, object]]) -> dict[str, dict[str, object] | None]:
    """Per bound, the setting with the smallest cross-validated SD, if it beats the uncorrected bound by
    0.1 ms or more (less is within what 16 records can tell)."""
    base = rows[0]
    out: dict[str, dict[str, object] | None] = {}
    for b in ("on", "off"):
        best = min(rows[1:], key=lambda r: float(r[f"{b}_sd"]))  # type: ignore[arg-type]
        good = float(best[f"{b}_sd"]) <= float(base[f"{b}_sd"]) - 0.1  # type: ignore[arg-type]
        out[b] = best["setting"] if good else None  # type: ignore[assignment]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("extract", "cv", "heldout"))
    parser.add_argument("--half", choices=("tuning", "held-out"), default="tuning")
    parser.add_argument("--records", default="")
    args = parser.parse_args()
    tune, held = split(records())
    if args.step == "extract":
        CACHE.mkdir(parents=True, exist_ok=True)
        names = [r for r in args.records.split(",") if r] or (tune if args.half == "tuning" else held)
        for record in names:
            part: dict[str, Any] = extract(record)
            np.savez(CACHE / f"{record}.npz", **part)
            print(f"  {record}: {part['x'].shape[0]} annotated beats, {len(FEATURE_NAMES)} features",
                  file=sys.stderr)
        return 0
    if args.step == "cv":
        data = load(tune)
        rows = cross_validate(data)
        chosen = choose(rows)
        print(f"chosen: {json.dumps(chosen)}", file=sys.stderr)
        models: dict[str, tuple[object, dict[str, object]] | None] = {}
        for b, name in enumerate(("on", "off")):
            setting = chosen[name]
            if setting is None:
                models[name] = None
                continue
            x, y = training(data, b, COLUMNS[str(setting["columns"])])
            models[name] = (fit(x, y, setting), setting)  # type: ignore[arg-type]
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        export(models, MODEL_PATH)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "qrs_refine_cv.json").write_text(json.dumps({"chosen": chosen, "rows": rows}, indent=1)
                                                    + "\n")
        print(f"wrote {MODEL_PATH}, {RESULTS / 'qrs_refine_cv.json'}", file=sys.stderr)
        return 0
    # heldout: the exported model, evaluated as the engine would have run it (numpy), on both halves
    correction = Correction.load(MODEL_PATH)
    lines = []
    for label, names in (("tuning half (trained on)", tune), ("held-out half", held)):
        data = load(names)
        shifts = {r: np.asarray([correction(x) for x in p["x"]]) for r, p in data.items()}
        base = score(data, {r: np.zeros_like(p["ours"]) for r, p in data.items()})
        s = score(data, shifts)
        lines.append(f"{label}: QRS onset {base['on_mean']:.1f} / {base['on_sd']:.2f} -> "
                     f"{s['on_mean']:.1f} / {s['on_sd']:.2f}; "
                     f"offset {base['off_mean']:.1f} / {base['off_sd']:.2f} -> "
                     f"{s['off_mean']:.1f} / {s['off_sd']:.2f}")
        for record in names:
            one = {record: data[record]}
            b0 = score(one, {record: np.zeros_like(data[record]["ours"])})
            b1 = score(one, {record: shifts[record]})
            lines.append(f"  {record:9s} onset {b0['on_mean']:6.1f} / {b0['on_sd']:5.1f} -> "
                         f"{b1['on_mean']:6.1f} / {b1['on_sd']:5.1f}")
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "qrs_refine_heldout.txt").write_text("\n".join(lines) + "\n")
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
