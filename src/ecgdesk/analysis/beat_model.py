"""Supraventricular ectopic beats (S) from a model trained on MIT-BIH DS1, patient by patient.

The template rules of :mod:`ecgdesk.analysis.beats` find ventricular beats well, but a premature atrial
beat has a normal QRS: only its timing and its P wave tell. Fixed RR rules miss most of them on patients
they were not tuned on. Inter-patient work (de Chazal et al. 2004; later work with RR intervals normalised
per patient and morphology against the patient's own dominant beat) learns from many patients instead.

Each beat is described against its own recording (:data:`FEATURE_NAMES`):

- **RR**: the RR before and after it (s), the local RR (median over 21 beats), the recording's median RR,
  and their ratios (premature, compensatory pause, the beat before it premature too), the RR
  irregularity around it (AF-like stretches, where AAMI counts beats as N); the RR against the patient's
  rhythm over about 2 minutes (median of :data:`WIDE_BEATS` RRs), against the mean of the 10 RRs before
  it (de Chazal et al.'s local average) and against the RR before the last abrupt shortening (an ectopic
  run's onset; a sinus rate change is gradual), the beats since that onset, and the next beat's
  prematurity;
- **morphology against the dominant template** (the recording's most common QRS shape): correlation of
  the QRS, the whole -200..+190 ms window, the P-wave window (-200..-80 ms) and the T part; the P window's
  span, the QRS amplitude and width as ratios; the residual energy; the beat's template size; the
  difference to the dominant beat every 40 ms, in units of the dominant QRS amplitude (signed so that the
  dominant QRS's largest deflection is positive: the lead's polarity does not matter);
- what the template rules said (a ventricular template) and whether the stretch is irregular.

``bench/train_beats.py`` trains scikit-learn's gradient-boosted trees (classes N, S, V, F, each weighted
by the square root of its inverse frequency) on the DS1 records only, chooses :data:`S_THRESHOLD` by
cross-validation grouped by record (the most sensitive with S +P >= 55 %), and exports the trees
(``beats_model.npz``, read with :mod:`ecgdesk.analysis.strips.model`'s numpy evaluator; no scikit-learn at
run time). :func:`supraventricular` adds the model's S calls to the rules' ones: a beat of normal shape,
outside an AF-like stretch (irregular without the dominant beat's P wave, ``beat_rhythm.sinus_p_kept``),
early for its rhythm (:func:`early_for_its_rhythm`), whose S probability exceeds the threshold or which
lies in the recording's own fixed-coupling cluster (:func:`in_coupling_cluster`).
:func:`not_ventricular` returns the rules' V beats the model finds plainly not ventricular (V
probability below :data:`V_VETO`), which become N.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

from ecgdesk.analysis.strips.model import TreeEnsemble, load_ensemble

MODEL_PATH = Path(__file__).with_name("beats_model.npz")
#: Probability of S above which a normal-shaped beat is called S (chosen by bench/train_beats.py).
S_THRESHOLD = 0.05
#: A model S call needs a beat early for its rhythm (:func:`early_for_its_rhythm`).
LOCAL_EARLY = 0.92
BEFORE_LONGER = 0.85
RUN_EARLY = 0.85
#: A recording's own gate for beats short against both neighbouring RRs (:func:`coupling_gate`): a cluster
#: of at least :data:`COUPLING_SHARE` of its beats (and :data:`COUPLING_MIN_BEATS`) within
#: :data:`COUPLING_WIDTH` below the gate, over a :data:`COUPLING_VALLEY` just above it at most
#: :data:`COUPLING_DIP` as dense.
COUPLING_SHARE = 0.03
COUPLING_MIN_BEATS = 30
COUPLING_WIDTH = 0.08
COUPLING_VALLEY = 0.02
COUPLING_DIP = 0.25
#: A beat of the cluster is S without the model where at least CLUSTER_NEIGHBOURS others lie within
#: CLUSTER_REACH beats of it (the focus firing at least every fifth beat around it: bigeminy to
#: quadrigeminy; :func:`in_coupling_cluster`).
CLUSTER_REACH = 10
CLUSTER_NEIGHBOURS = 4
#: A beat the template rules call V stays V unless the model gives it a V probability below this (the
#: rules' ventricular templates also catch normal beats with large P or T waves, MIT-BIH 108).
V_VETO = 0.1
WAVE_STEP = 4  # every 40 ms of the 10 ms waveform grid
#: Beats in the wide (about 2 min) median RR, and the RR shortening that marks an ectopic run's onset.
WIDE_BEATS = 151
ONSET_DROP = 0.85
#: Beats since a run's onset count up to this (a longer run, or none, reads the same).
SINCE_ONSET_CAP = 50

_RR = ("pre_rr", "post_rr", "local_rr", "median_rr", "pre_local", "post_local", "pre_post", "pre_median",
       "local_median", "previous_pre_local", "pre_reference", "irregularity", "pre_wide", "local_wide",
       "pre_onset", "since_onset", "next_pre_local", "pre_mean10")
_SHAPE = ("qrs_corr", "wave_corr", "p_corr", "t_corr", "p_span", "qrs_amp", "qrs_residual", "width_ratio",
          "width_ms", "template_share")
_RULES = ("irregular", "rule_v")


def feature_names(n_wave: int) -> tuple[str, ...]:
    return (*_RR, *_SHAPE, *(f"diff_{i}" for i in range(n_wave)), *_RULES)


def beat_matrix(waves: np.ndarray, width_ms: np.ndarray, samples: np.ndarray, fs: float, ids: np.ndarray,
                reference: np.ndarray, irregular: np.ndarray, rule_v: np.ndarray,
                rows: np.ndarray | None = None, rhythm: np.ndarray | None = None) -> np.ndarray:
    """The feature matrix (beats x :func:`feature_names`) of a recording's beats, or of the beats ``rows``
    selects (a boolean mask; every feature is still taken against the whole recording). ``rhythm``: the
    recording's :func:`rhythm_features` when the caller has them already."""
    rr_part = rhythm if rhythm is not None else rhythm_features(samples, fs, reference)
    selected = np.arange(samples.size) if rows is None else np.flatnonzero(rows)
    n_wave = len(range(0, np.shape(waves)[1], WAVE_STEP))
    # one matrix filled in place: stacking the parts would copy it twice over (a 14-day recording's
    # candidates are hundreds of thousands of rows)
    out = np.empty((selected.size, len(feature_names(n_wave))))
    out[:, : len(_RR)] = rr_part[selected]
    _shape_features(waves, width_ms, ids, selected, out[:, len(_RR): len(_RR) + len(_SHAPE) + n_wave])
    out[:, -2] = irregular[selected]
    out[:, -1] = rule_v[selected]
    return out


def rhythm_features(samples: np.ndarray, fs: float, reference: np.ndarray) -> np.ndarray:
    """The RR columns of :func:`beat_matrix` (the first ``len(_RR)``) for every beat."""
    n = samples.size
    rr = np.diff(samples) / fs
    pre = np.concatenate([[np.nan], rr])
    post = np.concatenate([rr, [np.nan]])
    median = float(np.median(rr)) if rr.size else np.nan
    local = ndimage.median_filter(np.nan_to_num(pre, nan=median), size=min(21, n), mode="nearest")
    steps = np.abs(np.diff(np.nan_to_num(pre, nan=median)))
    change = np.concatenate([[0.0], steps]) / np.maximum(reference, 1e-3)
    irregularity = ndimage.median_filter(change, size=min(17, n), mode="nearest")
    previous_pre = np.concatenate([[np.nan], pre[:-1]])
    filled = np.nan_to_num(pre, nan=median)
    # the patient's rhythm over about 2 minutes: a run of ectopic beats (SVT) stays short against it,
    # where the 21-beat local median has already taken the run's own rate
    wide = ndimage.median_filter(filled, size=min(WIDE_BEATS, n), mode="nearest")
    # the last abrupt shortening of the RR (an ectopic run's onset) and the RR before it, while the run
    # lasts: once an RR is back to the RR before the onset, the run is over and a beat compares with its
    # own reference. A stale onset tied beats hundreds of beats later to the rhythm of its moment (one beat
    # missed in the middle of MIT-BIH 230 turned 5 beats 200-1,000 beats later to S; algorithm 0.5.19).
    idx = np.arange(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        drop = np.concatenate([[False], filled[1:] < ONSET_DROP * filled[:-1]])
    onset = np.maximum.accumulate(np.where(drop, idx, 0))
    reference = np.asarray(reference)
    with np.errstate(invalid="ignore"):
        back = (filled >= reference[onset]) & (idx > onset)
    over = np.maximum.accumulate(np.where(back, idx, -1)) > onset
    before_onset = np.where(over, reference, reference[onset])
    since_onset = np.where(over, SINCE_ONSET_CAP, np.minimum(idx - onset, SINCE_ONSET_CAP))
    c = np.concatenate([[0.0], np.cumsum(filled)])
    lo = np.maximum(idx - 10, 0)
    mean10 = np.where(idx > lo, (c[idx] - c[lo]) / np.maximum(idx - lo, 1), median)
    with np.errstate(invalid="ignore", divide="ignore"):
        pre_local = pre / local
        return np.column_stack([pre, post, local, np.full(n, median), pre_local, post / local,
                                pre / post, pre / median, local / median, previous_pre / local,
                                pre / reference, irregularity, pre / wide, local / wide,
                                pre / before_onset, since_onset,
                                np.concatenate([pre_local[1:], [np.nan]]), pre / mean10])


def _shape_features(waves: np.ndarray, width_ms: np.ndarray, ids: np.ndarray, selected: np.ndarray,
                    out: np.ndarray) -> None:
    """The shape and waveform-difference columns of :func:`beat_matrix` for the ``selected`` beats,
    written into ``out``, in blocks: a float64 copy of a 14-day recording's waveforms would be half a
    gigabyte."""
    from ecgdesk.analysis.beats import P_PART, QRS_PART, ROW_BLOCK, WAVE_T
    from ecgdesk.analysis.beats import correlation as _corr

    n = ids.size
    sizes = np.bincount(ids[ids >= 0]) if np.any(ids >= 0) else np.ones(1, dtype=np.int64)
    in_dominant = ids == int(np.argmax(sizes))
    pool = np.flatnonzero(in_dominant) if in_dominant.any() else np.arange(n)
    # the median beat a few samples at a time: the dominant template is most of a recording's beats
    dominant = np.concatenate([
        np.median(np.asarray(waves[pool, i:i + 8], dtype=np.float64), axis=0)
        for i in range(0, waves.shape[1], 8)])
    t_part = WAVE_T >= 0.1
    dq = dominant[QRS_PART]
    amplitude = max(float(np.ptp(dq)), 1e-6)
    # the differences in units of the dominant QRS, signed so that its largest deflection is positive: a
    # lead recorded the other way round (electrodes swapped, another lead) gives the same features
    # (algorithm 0.5.21)
    upright = amplitude if dq[int(np.argmax(np.abs(dq)))] >= 0 else -amplitude
    dom_width = max(float(np.median(width_ms[in_dominant])) if in_dominant.any() else 1.0, 1.0)
    share = np.where(ids >= 0, sizes[np.clip(ids, 0, sizes.size - 1)] / max(n, 1), 0.0)
    for i in range(0, selected.size, ROW_BLOCK):
        at = selected[i:i + ROW_BLOCK]
        w = np.asarray(waves[at], dtype=np.float64)
        out[i:i + ROW_BLOCK] = np.column_stack([
            _corr(w[:, QRS_PART], dq), _corr(w, dominant), _corr(w[:, P_PART], dominant[P_PART]),
            _corr(w[:, t_part], dominant[t_part]),
            np.ptp(w[:, P_PART], axis=1) / max(float(np.ptp(dominant[P_PART])), 1e-6),
            np.ptp(w[:, QRS_PART], axis=1) / amplitude,
            ((w[:, QRS_PART] - dq) ** 2).sum(axis=1) / max(float((dq ** 2).sum()), 1e-12),
            width_ms[at] / dom_width, width_ms[at], share[at],
            (w - dominant)[:, ::WAVE_STEP] / upright])


@lru_cache(maxsize=1)
def default_model() -> TreeEnsemble | None:
    """The committed model, or ``None`` when its file is absent (then only the rules call S)."""
    return load_ensemble(MODEL_PATH) if MODEL_PATH.exists() else None


def short_against_both(matrix: np.ndarray) -> np.ndarray:
    """Each beat's RR before it against both neighbouring RRs: the larger of RR before / RR after and RR
    before / the RR before that. A premature beat is short against both; a sinus rate that swings with
    breathing shortens its RRs gradually, so its shortest RR is near both of its neighbours."""
    names = feature_names(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.fmax(matrix[:, names.index("pre_post")],
                       matrix[:, names.index("pre_local")] / matrix[:, names.index("previous_pre_local")])


def coupling_gate(matrix: np.ndarray, labels: np.ndarray, irregular: np.ndarray) -> float:
    """The :func:`short_against_both` ratio under which a beat of this recording is early for its rhythm:
    :data:`BEFORE_LONGER` (no gate of its own), or up to :data:`LOCAL_EARLY` where the beats the rules call
    N (``labels``) outside ``irregular`` stretches hold a cluster of their own below it, apart from the
    sinus peak.

    Ectopic beats from one focus keep a fixed coupling interval, so frequent atrial premature beats only
    10-15 % early (SVDB 822's atrial bigeminy) stand as a second peak of the ratio with a valley above it,
    where sinus beats thin out smoothly below their peak (MIT-BIH 114 and 209). The gate is then the
    highest ratio with such a cluster below it and the valley above it."""
    usable = (np.asarray(labels) == "N") & ~np.asarray(irregular, dtype=bool)
    # the ratio of every beat, then the usable ones: matrix[usable] would copy most of a 14-day
    # recording's feature rows (about 200 MB) to read three columns
    ratio = np.sort(short_against_both(matrix)[usable])
    ratio = ratio[np.isfinite(ratio)]
    if ratio.size < 200:
        return BEFORE_LONGER
    gates = np.arange(BEFORE_LONGER + 0.005, LOCAL_EARLY + 1e-9, 0.005)
    at = np.searchsorted(ratio, gates)
    cluster = at - np.searchsorted(ratio, gates - COUPLING_WIDTH)
    valley = np.searchsorted(ratio, gates + COUPLING_VALLEY) - at
    apart = ((cluster >= max(COUPLING_MIN_BEATS, COUPLING_SHARE * ratio.size))
             & (valley / COUPLING_VALLEY <= COUPLING_DIP * cluster / COUPLING_WIDTH))
    return float(gates[apart][-1]) if apart.any() else BEFORE_LONGER


def early_for_its_rhythm(matrix: np.ndarray, coupling: float = BEFORE_LONGER) -> np.ndarray:
    """Beats that come early for the rhythm around them (RR before < :data:`LOCAL_EARLY` x the local RR)
    or before a longer RR (RR before < :data:`BEFORE_LONGER` x the RR after), or short against both
    neighbouring RRs by the recording's own :func:`coupling_gate` (``coupling``), or that belong to a fast run
    which began abruptly (RR before < :data:`RUN_EARLY` x both the 2-minute median RR and the RR before
    the run's onset: an SVT run, whose own rate the 21-beat local median has taken). The model weighs the
    RR against the recording's median too, which a stretch of sinus tachycardia also falls below: this
    keeps such a stretch, which starts gradually and lasts minutes, out of S."""
    names = feature_names(0)
    with np.errstate(invalid="ignore"):
        early = np.asarray((matrix[:, names.index("pre_local")] < LOCAL_EARLY)
                           | (matrix[:, names.index("pre_post")] < BEFORE_LONGER)
                           | ((matrix[:, names.index("pre_wide")] < RUN_EARLY)
                              & (matrix[:, names.index("pre_onset")] < RUN_EARLY)))
        # at or under BEFORE_LONGER, the test against both RRs adds nothing to the one against the RR after
        if coupling > BEFORE_LONGER:
            early |= short_against_both(matrix) < coupling
    return early


def in_coupling_cluster(rhythm: np.ndarray, candidates: np.ndarray, coupling: float) -> np.ndarray:
    """Candidates (every beat's :func:`rhythm_features` rows) of the recording's own fixed-coupling
    cluster that only its :func:`coupling_gate` makes early (short against both neighbouring RRs by a
    ratio from :data:`BEFORE_LONGER` up to the gate), where the focus is firing: at least
    :data:`CLUSTER_NEIGHBOURS` other such beats within :data:`CLUSTER_REACH` beats on either side. None
    where the gate is the fixed one. Earlier beats are the model's: DS1 holds plenty of them.

    The neighbours keep a sinus beat that happens to fall in the band out, far from any run of the
    ectopy that opened the gate (a Holter with an hour of bigeminy opens it for every day)."""
    out = np.zeros(rhythm.shape[0], dtype=bool)
    if coupling <= BEFORE_LONGER:
        return out
    with np.errstate(invalid="ignore"):
        ratio = short_against_both(rhythm)
        band = np.asarray(candidates, dtype=bool) & (ratio >= BEFORE_LONGER) & (ratio < coupling)
    if not band.any():
        return out
    counts = np.concatenate([[0], np.cumsum(band, dtype=np.int64)])
    index = np.arange(band.size)
    window = (counts[np.minimum(index + CLUSTER_REACH + 1, band.size)]
              - counts[np.maximum(index - CLUSTER_REACH, 0)])
    return band & (window - 1 >= CLUSTER_NEIGHBOURS)


def supraventricular(matrix: np.ndarray, candidates: np.ndarray, model: TreeEnsemble | None = None,
                     threshold: float = S_THRESHOLD, coupling: float = BEFORE_LONGER,
                     cluster: np.ndarray | None = None) -> np.ndarray:
    """Beats (among ``candidates``, early for their rhythm) the model calls S with probability above
    ``threshold``, and those of ``cluster`` (the rows' :func:`in_coupling_cluster` beats).

    The cluster's beats are S without the model's word: normal-shaped beats at one coupling interval,
    apart from the sinus peak and firing again and again nearby, are an ectopic focus, and DS1 holds no
    such recording for the model to learn it from (it gave most of SVDB 822's 11-14 % early atrial beats
    an S probability under 0.05; algorithm 0.5.33)."""
    model = model if model is not None else default_model()
    candidates = candidates & early_for_its_rhythm(matrix, coupling)
    out = candidates & cluster if cluster is not None else np.zeros(candidates.size, dtype=bool)
    if model is None or not candidates.any():
        return out
    k = model.classes.index("S")
    out[candidates] |= model.predict_proba(matrix[candidates])[:, k] > threshold
    return out


def not_ventricular(matrix: np.ndarray, rule_v: np.ndarray, model: TreeEnsemble | None = None,
                    threshold: float = V_VETO) -> np.ndarray:
    """Beats the rules call V (``rule_v``) to which the model gives a V probability below ``threshold``."""
    model = model if model is not None else default_model()
    out = np.zeros(rule_v.size, dtype=bool)
    if model is None or not rule_v.any() or "V" not in model.classes:
        return out
    k = model.classes.index("V")
    out[rule_v] = model.predict_proba(matrix[rule_v])[:, k] < threshold
    return out
