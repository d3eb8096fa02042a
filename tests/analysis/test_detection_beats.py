"""QRS detection and beat classes against MIT-BIH and LUDB references (EC57-style, 150 ms window)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from conftest import shared_path
from ecgdesk.analysis.beats import (
    BeatClass,
    analyze_beats,
    classify_beats,
    concat_features,
    extract_beat_features,
)
from ecgdesk.analysis.detection import detect_qrs
from ecgdesk.analysis.evaluation import AAMI_CLASS, BEAT_SYMBOLS, class_scores, match_beats
from ecgdesk.errors import InputError

wfdb = pytest.importorskip("wfdb")


def match(ref: np.ndarray, det: np.ndarray, fs: float) -> tuple[int, int, int, np.ndarray]:
    m = match_beats(ref, det, fs)
    return m.tp, m.fn, m.fp, m.pairs


def test_match_helper_counts():
    m = match_beats(np.array([100, 500, 900]), np.array([110, 505, 700]), 360.0)
    assert (m.tp, m.fn, m.fp) == (2, 1, 1)
    assert m.pairs.tolist() == [0, 1, -1]
    assert m.se == pytest.approx(200 / 3) and m.ppv == pytest.approx(200 / 3)
    # 150 ms at 360 Hz is 54 samples: 54 away still matches, 55 does not.
    assert match_beats(np.array([1000]), np.array([1054]), 360.0).tp == 1
    assert match_beats(np.array([1000]), np.array([1055]), 360.0).tp == 0
    # One detection serves one reference beat only: the nearer one; the other is a miss.
    m = match_beats(np.array([1000, 1040]), np.array([1035]), 360.0)
    assert m.pairs.tolist() == [-1, 0] and m.fn == 1 and m.fp == 0
    assert match_beats(np.zeros(0), np.zeros(0), 360.0).se == 100.0
    se, ppv = class_scores(np.array(["N", "V"]), m, np.array(["V"]), "V")
    assert (se, ppv) == (100.0, 100.0)
    se, ppv = class_scores(np.array(["V", "N"]), m, np.array(["V"]), "V")
    assert (se, ppv) == (0.0, 0.0)
    with pytest.raises(InputError, match="truth"):
        class_scores(np.array(["V"]), m, np.array(["V"]), "V")
    with pytest.raises(InputError, match="window_s"):
        match_beats(np.array([1]), np.array([1]), 360.0, window_s=0.0)


def _mitdb(record: str) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    base = str(shared_path("mitdb", f"{record}.hea").with_suffix(""))
    rec = wfdb.rdrecord(base)
    ann = wfdb.rdann(base, "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol])
    return rec.p_signal[:, 0], float(rec.fs), ann.sample[keep], np.array(ann.symbol)[keep]


@pytest.mark.shared_data
@pytest.mark.parametrize(("record", "min_se", "min_pp"), [("100", 99.9, 99.9), ("208", 99.6, 99.8)])
def test_detection_on_mitdb(record: str, min_se: float, min_pp: float):
    x, fs, ref, _ = _mitdb(record)
    det = detect_qrs(x, fs).samples
    tp, fn, fp, _ = match(ref, det, fs)
    assert 100 * tp / (tp + fn) >= min_se
    assert 100 * tp / (tp + fp) >= min_pp


@pytest.mark.shared_data
def test_detection_on_ludb_lead_ii():
    tps = fns = fps = 0
    errors = []
    for number in range(1, 101):
        base = str(shared_path("ludb", f"{number}.hea").with_suffix(""))
        rec = wfdb.rdrecord(base)
        ann = wfdb.rdann(base, "ii")
        s = ann.symbol  # the R peak: 'N' between '(' and ')'
        ref = np.array([ann.sample[k] for k in range(1, len(s) - 1) if s[k] == "N" and s[k - 1] == "("
                        and s[k + 1] == ")"])
        det = detect_qrs(rec.p_signal[:, rec.sig_name.index("ii")], rec.fs).samples
        # LUDB annotates the middle of each record only.
        det = det[(det >= ref.min() - 0.3 * rec.fs) & (det <= ref.max() + 0.3 * rec.fs)]
        tp, fn, fp, pairs = match(ref, det, rec.fs)
        tps, fns, fps = tps + tp, fns + fn, fps + fp
        errors += list(np.abs(det[pairs[pairs >= 0]] - ref[pairs >= 0]) / rec.fs * 1000)
    assert 100 * tps / (tps + fns) >= 99.5
    assert 100 * tps / (tps + fps) >= 99.5
    assert np.median(errors) <= 8.0


@pytest.mark.shared_data
def test_scale_and_rate_invariance():
    x, fs, ref, _ = _mitdb("100")
    x, ref = x[: int(300 * fs)], ref[ref < int(300 * fs)]
    base = detect_qrs(x, fs).samples
    for gain in (1e-3, 1e3):
        assert np.array_equal(detect_qrs(x * gain, fs).samples, base)
    for new_fs in (125, 500, 1000):
        y = resample_poly(x, new_fs, int(fs))
        det = detect_qrs(y, float(new_fs)).samples * fs / new_fs
        _, fn, fp, _ = match(ref, np.round(det).astype(int), fs)
        assert fn <= 2 and fp <= 2, new_fs


@pytest.mark.shared_data
def test_beat_labels_do_not_depend_on_gain():
    """The template rules and the S model read shapes, ratios and timing, never an absolute voltage: a
    recording amplified or attenuated (another device's gain) gets the same labels and templates. Powers
    of two scale every float exactly, so anything but an absolute limit leaves the result identical."""
    x, fs, _, _ = _mitdb("208")
    x = x[: int(300 * fs)]
    base = analyze_beats(x, fs)
    assert {"N", "V", "F"} <= set(base.labels.tolist())
    for gain in (1 / 16, 16.0):
        table = analyze_beats(x * gain, fs)
        assert np.array_equal(table.samples, base.samples), gain
        assert np.array_equal(table.labels, base.labels), gain
        assert np.array_equal(table.template_ids, base.template_ids), gain


def test_flat_empty_nan_and_bad_arguments():
    fs = 250.0
    assert detect_qrs(np.zeros(int(60 * fs)), fs).samples.size == 0
    assert detect_qrs(np.zeros(10), fs).samples.size == 0
    assert detect_qrs(np.full(5000, np.nan), fs).samples.size == 0
    with pytest.raises(InputError, match="fs"):
        detect_qrs(np.zeros(1000), 0.0)
    with pytest.raises(InputError, match="ecg"):
        detect_qrs(np.zeros((100, 2)), fs)


@pytest.mark.shared_data
def test_beat_classes_on_mitdb():
    x, fs, ref, symbols = _mitdb("208")
    table = analyze_beats(x, fs)
    _, _, _, pairs = match(ref, table.samples, fs)
    truth = np.array([AAMI_CLASS.get(s, "Q") for s in symbols])
    ours = np.where(pairs >= 0, table.labels[np.maximum(pairs, 0)], "-")
    tp = np.sum((truth == "V") & (ours == "V"))
    assert tp / np.sum(truth == "V") >= 0.95
    # Fusion beats called V are not false ventricular calls (EC57 convention).
    assert tp / np.sum((ours == "V") & (truth != "F")) >= 0.95
    x, fs, ref, symbols = _mitdb("100")
    table = analyze_beats(x, fs)
    _, _, _, pairs = match(ref, table.samples, fs)
    normal = np.array([AAMI_CLASS.get(s, "Q") == "N" for s in symbols]) & (pairs >= 0)
    assert np.mean(table.labels[pairs[normal]] == "V") < 0.005


def test_chunked_features_and_relabelling():
    rng = np.random.default_rng(0)
    fs = 250.0
    t = np.arange(int(120 * fs)) / fs
    x = np.zeros_like(t)
    beats = np.arange(1.0, 119.0, 0.8)
    for b in beats:
        x += np.exp(-0.5 * ((t - b) / 0.012) ** 2) + 0.25 * np.exp(-0.5 * ((t - b - 0.28) / 0.05) ** 2)
    x += rng.normal(0, 0.01, x.size)
    samples = detect_qrs(x, fs).samples
    assert abs(samples.size - beats.size) <= 1
    half = x.size // 2
    first, second = samples[samples < half], samples[samples >= half]
    parts = [extract_beat_features(x[:half + 500], fs, first),
             extract_beat_features(x[half - 500:], fs, second - (half - 500))]
    table = classify_beats(concat_features(parts), samples, fs)
    assert set(table.labels) == {"N"}
    whole = classify_beats(extract_beat_features(x, fs, samples), samples, fs)
    assert np.array_equal(table.labels, whole.labels)
    tid = table.templates[0].template_id
    edited = table.relabel_template(tid, BeatClass.V)
    assert np.all(edited.labels[table.template_ids == tid] == "V")
    assert table.labels[0] == "N"  # the original table is unchanged
    assert edited.relabel_beat(0, "N").labels[0] == "N"
    with pytest.raises(InputError):
        table.relabel_beat(0, "X")
    with pytest.raises(InputError):
        table.relabel_template(999, "V")
