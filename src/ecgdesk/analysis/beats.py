"""Beat features, morphology templates and AAMI beat classes (N, S, V, F, Q) for ambulatory analysis.

Features are computed per chunk with local context only (:func:`extract_beat_features`): a compact
waveform of each beat (-200..+190 ms at 10 ms steps on the 0.5-40 Hz signal) and its QRS width. The
classification (:func:`classify_beats`) is global, like a Holter system's: beats are grouped into
morphology templates (correlation of the QRS part >= 0.9 with the template), the dominant template is the
reference, and each template is called ventricular when its QRS is unlike the dominant one and wider or
larger (the features of a PVC: a wide, bizarre complex; Hamilton & Tompkins; de Chazal et al. 2004).
Beats of normal shape that come early (RR < 80 % of the local median) are supraventricular premature.
Fusion beats (F) are on-time beats whose QRS is a blend of the dominant and a ventricular template
(:func:`_fusion`); beats the pipeline found only on another lead, where the analysed lead had lost its
signal, are unclassifiable (Q), and so is a V call rough all over (:func:`roughness`): a detection in
muscle noise.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ecgdesk.analysis.beat_rhythm import (
    PREMATURE_RR,
    ROW_BLOCK,
    after_interpolated,
    brief_irregular,
    compensated,
    irregular_stretches,
    paroxysmal_runs,
    rr_context,
    sinus_p_kept,
    sinus_p_limit,
    supraventricular_runs,
)
from ecgdesk.analysis.beat_waves import beat_windows, qrs_width_ms, window_half
from ecgdesk.errors import InputError, check_option, check_positive

#: Waveform times (s) around the R peak at which each beat is sampled.
WAVE_T = np.arange(-0.20, 0.195, 0.01)
QRS_PART = (WAVE_T >= -0.10) & (WAVE_T <= 0.10)
#: The P-wave window before the QRS (also the S model's ``p_corr`` feature).
P_PART = (WAVE_T >= -0.2) & (WAVE_T <= -0.08)
TEMPLATE_CORRELATION = 0.9
MAX_TEMPLATES = 40
#: A template correlating less than this with the dominant one has a shape unlike it (with a ventricular
#: feature it is V: :func:`rule_state`); a beat no template took joins the template it correlates with at
#: least this closely (:func:`_attach_unclustered`).
LIKE_CORRELATION = 0.85
#: A template unlike the dominant one (correlation < 0.5) with this share of premature beats is ventricular.
UNLIKE_EARLY = 0.2
#: A template whose QRS is wider than WIDE_TEMPLATE x the dominant one counts as wide.
WIDE_TEMPLATE = 1.25
#: A template whose beats come on time (median RR before within ON_TIME x the reference: not premature
#: like a PVC, not late like an escape beat) is not ventricular when its QRS is smaller than
#: ON_TIME_SMALL x the dominant one, however wide it measures (a small complex stretches the slope-based
#: width over P waves and noise: MIT-BIH 108's normal beats fell into such templates), nor when it is not
#: wide: a conducted beat seen differently, whatever its size (MIT-BIH 203's normal beats in AF made
#: large on-time templates; algorithm 0.5.13, docs/analysis.md), nor, since 0.5.29, when it is less than
#: WIDE_PREMATURE x as wide (SVDB 848's small normal beats through a 0.5-40 Hz front end made on-time
#: templates 1.3 x as wide; on DS1 it drops 2 false V and 1 true). A compensatory pause keeps it V.
ON_TIME = (0.9, 1.2)
ON_TIME_SMALL = 0.7
#: A template whose QRS is this much wider than the dominant one and whose beats are mostly premature is
#: ventricular whatever its correlation: on the 10 ms grid of :data:`WAVE_T` a QRS twice as wide with the
#: same polarity still correlates about 0.85 with the dominant one (MIT-BIH 207, 223), and which side of
#: the 0.85 limit such a template fell on was luck. Wide premature beats conducted with aberrancy are the
#: S model's to veto (their P wave). 1.5 until 0.5.28; with the width of 0.5.29, 1.3 to 1.5 give the same
#: DS1 classes as recorded, at 1000 Hz and through a 0.5-40 Hz front end, and 1.4 is that plateau's middle
#: (MIT-BIH 223's PVC group inside the dominant template measures 1.54 through the front end;
#: docs/analysis.md).
WIDE_PREMATURE = 1.4
#: Inside the dominant template, groups correlating at least this closely (and of at least SUB_TEMPLATE_MIN
#: beats) are tested the same way (:func:`_hidden_ventricular`): the DS1 setting of 0.95 / 0.97 / 0.98
#: that found the most V beats with at most two others (algorithm 0.5.12, docs/analysis.md).
SUB_TEMPLATE_CORRELATION = 0.95
SUB_TEMPLATE_MIN = 5
#: Fusion: the beat's QRS is a blend a * dominant + b * ventricular template (a, b > 0) whose ventricular
#: share b / (a + b) lies inside this range, the blend leaves at most FUSION_RESIDUAL of the beat's energy
#: unexplained, and the beat comes on time (RR >= FUSION_MIN_RR x the reference), as a sinus and an ectopic
#: wavefront meeting would; a template with more such blends than beats of its own makes none (_fusion).
FUSION_MIX = (0.25, 0.75)
FUSION_RESIDUAL = 0.1
FUSION_MIN_RR = 0.9
FUSION_MIN_TEMPLATE_BEATS = 3
#: A beat called V that is rough (:func:`roughness`) over its whole window (more than V_ROUGHNESS) and
#: outside its QRS too (more than V_ROUGHNESS_OUTSIDE) is unclassifiable (Q): a detection in muscle noise,
#: not a ventricular complex. Noise covers the whole window; a complex with sharp notches is rough only
#: inside its QRS (algorithm 0.5.31, docs/analysis.md).
V_ROUGHNESS = 0.25
V_ROUGHNESS_OUTSIDE = 0.1
#: A V call alone in its template (at most LONE_V_BEATS beats) is Q at a lower roughness: over its whole
#: window more than LONE_V_ROUGHNESS, outside its QRS more than LONE_V_ROUGHNESS_OUTSIDE. A premature
#: complex repeats its shape; a detection in noise makes a template of its own. Chosen on DS1 with and
#: without noise (the setting of a small grid that raises the V F1 of every DS1 row; algorithm 0.5.34,
#: docs/analysis.md).
LONE_V_BEATS = 2
LONE_V_ROUGHNESS = 0.21
LONE_V_ROUGHNESS_OUTSIDE = 0.05


class BeatClass(enum.StrEnum):
    """AAMI EC57 beat classes."""

    N = "N"  # normal and bundle-branch-block beats
    S = "S"  # supraventricular ectopic
    V = "V"  # ventricular ectopic
    F = "F"  # fusion
    Q = "Q"  # unclassifiable or paced


@dataclass
class BeatFeatures:
    """Per-beat features of one chunk or of the whole recording (after :func:`concat_features`)."""

    waveforms: np.ndarray  # (n, len(WAVE_T)) float32, mV, baseline at the PR segment
    width_ms: np.ndarray  # (n,) float32

    def __len__(self) -> int:
        return int(self.width_ms.size)

    def select(self, rows: np.ndarray) -> BeatFeatures:
        """The features of the beats ``rows`` selects (a mask or indices)."""
        return BeatFeatures(self.waveforms[rows], self.width_ms[rows])


@dataclass(frozen=True)
class Template:
    """A morphology class: its label, how many beats, and the mean beat (at the recording's rate)."""

    template_id: int
    label: BeatClass
    n_beats: int
    waveform: np.ndarray  # mean beat, mV, R peak at the centre sample
    width_ms: float


@dataclass
class BeatTable:
    """Every beat: R-peak sample, AAMI label, template id (-1: none), and the templates."""

    samples: np.ndarray
    labels: np.ndarray
    template_ids: np.ndarray
    templates: list[Template] = field(default_factory=list)
    fs: float = 0.0

    def __len__(self) -> int:
        return int(self.samples.size)

    def counts(self) -> dict[str, int]:
        return {c.value: int(np.sum(self.labels == c.value)) for c in BeatClass}

    def relabel_template(self, template_id: int, label: BeatClass | str) -> BeatTable:
        """A technician's edit: every beat of ``template_id`` becomes ``label`` (a new table)."""
        new = BeatClass(check_option("label", str(label), [c.value for c in BeatClass]))
        if not any(t.template_id == template_id for t in self.templates):
            raise InputError("template", f"no template {template_id}; templates are "
                                         f"{[t.template_id for t in self.templates]}")
        labels = np.where(self.template_ids == template_id, new.value, self.labels)
        templates = [replace(t, label=new) if t.template_id == template_id else t for t in self.templates]
        return BeatTable(self.samples, labels, self.template_ids, templates, self.fs)

    def relabel_beat(self, index: int, label: BeatClass | str) -> BeatTable:
        """A technician's edit of one beat (a new table)."""
        new = BeatClass(check_option("label", str(label), [c.value for c in BeatClass]))
        if not 0 <= index < self.samples.size:
            raise InputError("beat", f"must be 0..{self.samples.size - 1}, got {index}")
        labels = self.labels.copy()
        labels[index] = new.value
        return BeatTable(self.samples, labels, self.template_ids, list(self.templates), self.fs)


def extract_beat_features(ecg: np.ndarray, fs: float, samples: np.ndarray) -> BeatFeatures:
    """Features of the beats at ``samples`` (indices into ``ecg``, one lead, mV; NaN counts as 0)."""
    fs = check_positive("fs", fs)
    x = np.nan_to_num(np.asarray(ecg, dtype=np.float64))
    samples = np.asarray(samples, dtype=np.int64)
    n = samples.size
    if n == 0 or x.size == 0:
        return BeatFeatures(np.zeros((n, WAVE_T.size), np.float32), np.zeros(n, np.float32))
    half = window_half(fs)
    win = beat_windows(x, fs, samples, half)
    waves = win[:, np.round(WAVE_T * fs).astype(np.int64) + half]
    # Baseline: the PR segment (70-50 ms before R), so a wandering level does not change the shape.
    pr = (WAVE_T >= -0.07) & (WAVE_T <= -0.05)
    waves = waves - waves[:, pr].mean(axis=1, keepdims=True)
    return BeatFeatures(waves.astype(np.float32), qrs_width_ms(win, half, fs).astype(np.float32))


def concat_features(parts: Sequence[BeatFeatures]) -> BeatFeatures:
    if not parts:
        return BeatFeatures(np.zeros((0, WAVE_T.size), np.float32), np.zeros(0, np.float32))
    return BeatFeatures(np.concatenate([p.waveforms for p in parts]),
                        np.concatenate([p.width_ms for p in parts]))


def _normalised(qrs: np.ndarray) -> np.ndarray:
    """Each row centred and scaled to unit length, in float32: a 14-day recording has over a million rows."""
    centred = np.asarray(qrs, dtype=np.float32) - qrs.mean(axis=1, keepdims=True, dtype=np.float32)
    norm = np.linalg.norm(centred, axis=1, keepdims=True)
    centred /= np.where(norm > 0, norm, np.float32(1.0))
    return centred


def _beat_priority(samples: np.ndarray, salt: int) -> np.ndarray:
    """A pseudo-random rank per beat drawn from its own R-peak sample (a multiplicative hash), not from its
    index: a beat more or fewer elsewhere leaves every other beat's rank, and so the template seeds, as
    they were (a draw by index rebuilt a record's templates when one beat came or went)."""
    mixed = (np.asarray(samples, dtype=np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    return mixed ^ (mixed >> np.uint64(29))


def _cluster(unit: np.ndarray, samples: np.ndarray, threshold: float = TEMPLATE_CORRELATION) -> np.ndarray:
    """Greedy templates: the most typical unassigned beat seeds one; beats correlating >= ``threshold``
    (0.9) join it."""
    n = unit.shape[0]
    ids = np.full(n, -1, dtype=np.int32)
    sample_order = np.argsort(_beat_priority(samples, 0), kind="stable")
    candidate_order = np.argsort(_beat_priority(samples, 1), kind="stable")
    for template in range(MAX_TEMPLATES):
        free = np.flatnonzero(ids < 0)
        if free.size == 0:
            break
        # Seed: the free beat most like a sample of the other free beats (a typical member, not an outlier).
        sample = sample_order[ids[sample_order] < 0][:200]
        candidates = candidate_order[ids[candidate_order] < 0][:50]
        typical = candidates[np.argmax((unit[candidates] @ unit[sample].T).mean(axis=1))]
        # Scores of every beat (one float each) instead of copies of the free rows: memory stays flat.
        near = free[(unit @ unit[typical])[free] >= threshold]
        centre = unit[near].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        joined = free[(unit @ centre)[free] >= threshold]
        if joined.size == 0:
            joined = np.asarray([typical])
        ids[joined] = template
    return ids


def _attach_unclustered(unit: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``ids`` with each beat no template took (-1) moved to the template whose centre it correlates best
    with, where that is at least :data:`LIKE_CORRELATION`. Templates form at 0.9; in muscle noise hundreds
    of normal beats fall below that with every template and were judged together as one template from
    their mean, which is unlike anything (DS1 with muscle noise at +12 dB: 924 of 1,298 false V;
    algorithm 0.5.30, docs/analysis.md)."""
    free = np.flatnonzero(ids < 0)
    taken = ids >= 0
    if free.size == 0 or not taken.any():
        return ids
    count = np.bincount(ids[taken], minlength=MAX_TEMPLATES).astype(np.float64)
    centres = np.stack([np.bincount(ids[taken], weights=unit[taken, j], minlength=MAX_TEMPLATES)
                        for j in range(unit.shape[1])], axis=1)
    present = count > 0
    centres = centres[present] / np.maximum(np.linalg.norm(centres[present], axis=1, keepdims=True), 1e-12)
    scores = unit[free] @ centres.T
    best = np.argmax(scores, axis=1)
    close = scores[np.arange(free.size), best] >= LIKE_CORRELATION
    ids = ids.copy()
    ids[free[close]] = np.flatnonzero(present)[best[close]]
    return ids


def roughness(waves: np.ndarray, columns: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Each beat's RMS second difference on the 10 ms grid of :data:`WAVE_T` (over the second differences
    centred on ``columns``, a mask of the grid, or all) over its QRS peak-to-peak amplitude. A ventricular
    complex is a slow, wide wave (DS1's V beats: median 0.07, none above 0.23); a detection in muscle noise
    is noise at the noise's own size (DS1 with noise at +12 dB: median 0.46)."""
    rows = np.asarray(waves, dtype=np.float64)
    second = np.diff(rows, 2, axis=1)
    if not isinstance(columns, slice):
        second = second[:, np.asarray(columns)[1:-1]]
    return np.sqrt(np.mean(second ** 2, axis=1)) / np.maximum(np.ptp(rows[:, QRS_PART], axis=1), 1e-9)


def noise_like(waves: np.ndarray) -> np.ndarray:
    """Whether each beat is rough all over: over its whole window (more than :data:`V_ROUGHNESS`) and
    outside its QRS too (more than :data:`V_ROUGHNESS_OUTSIDE`)."""
    rows = np.asarray(waves, dtype=np.float64)  # converted once for both measures
    return np.asarray((roughness(rows) > V_ROUGHNESS) & (roughness(rows, ~QRS_PART) > V_ROUGHNESS_OUTSIDE))


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` (or of ``a``) with ``b``."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean()
    return np.asarray((a @ b) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b), 1e-12))


def _p_correlation(waves: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Correlation of each beat's P window with ``reference`` (the dominant beat's)."""
    out = np.empty(len(waves))
    for first in range(0, out.size, ROW_BLOCK):  # no float64 copy of a million P windows at once
        p = np.asarray(waves[first:first + ROW_BLOCK, P_PART], dtype=np.float64)
        out[first:first + p.shape[0]] = correlation(p, reference)
    return out


def _hidden_ventricular(unit: np.ndarray, samples: np.ndarray, in_dominant: np.ndarray, premature: np.ndarray,
                        width_ms: np.ndarray, dom_width: float, paused: Callable[[np.ndarray], bool]
                        ) -> np.ndarray:
    """Beats of the dominant template that make a tighter group of their own (correlation >=
    :data:`SUB_TEMPLATE_CORRELATION`, at least :data:`SUB_TEMPLATE_MIN` beats, not the largest) whose QRS
    is wide and whose beats are mostly premature, as :data:`WIDE_PREMATURE` asks of a template, or followed
    by a compensatory pause (``paused(group)``, a ventricular feature of a template too): PVCs that joined
    the normal beats on the 10 ms grid (MIT-BIH 106, 207, 223). The pause keeps a group whose share of
    premature beats falls just under half (PVCs in bigeminy and runs move the reference RR) from turning
    all N at once: MIT-BIH 223 through a 0.5-40 Hz recorder, 202 PVCs at 0.48 (algorithm 0.5.24)."""
    out = np.zeros(in_dominant.size, dtype=bool)
    members = np.flatnonzero(in_dominant)
    if members.size < 2 * SUB_TEMPLATE_MIN:
        return out
    sub = _cluster(unit[members], samples[members], SUB_TEMPLATE_CORRELATION)
    counts = np.bincount(sub[sub >= 0])
    largest = int(np.argmax(counts))
    for group_id in np.flatnonzero(counts >= SUB_TEMPLATE_MIN):
        group = members[sub == group_id]
        if (group_id != largest and float(np.median(width_ms[group])) > WIDE_PREMATURE * dom_width
                and (float(np.mean(premature[group])) > 0.5 or paused(group))):
            out[group] = True
    return out


@dataclass
class RuleState:
    """The template rules' result, before the S model and the fusion test (:func:`rule_state`)."""

    labels: np.ndarray
    ids: np.ndarray
    templates: list[Template]
    dominant: int
    rr_prev: np.ndarray
    reference: np.ndarray
    irregular: np.ndarray
    #: N beats the S model may call S: outside on-time small templates and AF-like stretches (irregular
    #: ones whose on-time beats do not keep the dominant P wave, :func:`sinus_p_kept`)
    s_candidates: np.ndarray


def rule_state(features: BeatFeatures, samples: np.ndarray, fs: float) -> RuleState:
    """Templates, their N / V labels and the RR rules' S beats (module docstring)."""
    waves = np.asarray(features.waveforms, dtype=np.float32)  # no float64 copy of a million waveforms
    n = samples.size
    unit = _normalised(waves[:, QRS_PART])
    ids = _attach_unclustered(unit, _cluster(unit, samples))
    rr_prev, reference = rr_context(samples, fs)
    premature = rr_prev < PREMATURE_RR * reference
    sizes = np.bincount(ids[ids >= 0], minlength=MAX_TEMPLATES)
    dominant = int(np.argmax(sizes))
    dom_unit = unit[ids == dominant].mean(axis=0)
    dom_unit /= max(float(np.linalg.norm(dom_unit)), 1e-12)
    dom_width = float(np.median(features.width_ms[ids == dominant]))
    # np.ix_ takes only the QRS columns of the rows: the dominant template is most of the recording
    dom_amp = float(np.median(np.ptp(waves[np.ix_(ids == dominant, QRS_PART)], axis=1)))
    labels = np.full(n, BeatClass.N.value, dtype="<U1")
    odd = np.zeros(n, dtype=bool)
    templates: list[Template] = []
    irregular = irregular_stretches(rr_prev, reference)

    def paused_of(members: np.ndarray) -> bool:
        # a compensatory pause means nothing amid AF's irregular RRs: only the beats outside irregular
        # stretches show one (MIT-BIH 203's aberrant AF beats, algorithm 0.5.15)
        return compensated(rr_prev, reference, members[~irregular[members]])

    half = int(round(0.2 * fs))
    t_out = np.arange(-half, half + 1) / fs
    for template in np.unique(ids):
        members = np.flatnonzero(ids == template)
        corr = float(unit[members].mean(axis=0) @ dom_unit) / max(
            float(np.linalg.norm(unit[members].mean(axis=0))), 1e-12)
        width = float(np.median(features.width_ms[members]))
        amp = float(np.median(np.ptp(waves[np.ix_(members, QRS_PART)], axis=1)))
        early = float(np.mean(premature[members]))
        wide = width > WIDE_TEMPLATE * dom_width
        paused = paused_of(members)
        wide_or_big = wide or amp > 1.6 * dom_amp or paused
        # a shape unlike the dominant one is ventricular only with a ventricular feature: wide, large or
        # often early. On-time beats of normal width and size are a conducted beat seen differently (an
        # axis or electrode shift: MIT-BIH 114's V5 lead splits its normal beats into 4 such templates).
        ventricular = template != dominant and (
            (corr < 0.5 and (wide_or_big or early > UNLIKE_EARLY))
            or (corr < LIKE_CORRELATION and (wide_or_big or early > 0.5))
            or (width > WIDE_PREMATURE * dom_width and (early > 0.5 or paused)))
        narrower_than_premature = width <= WIDE_PREMATURE * dom_width
        if ventricular and (amp < ON_TIME_SMALL * dom_amp or narrower_than_premature) and not paused:
            with np.errstate(invalid="ignore"):
                timing = rr_prev[members] / reference[members]
            timing = timing[np.isfinite(timing)]
            if timing.size and ON_TIME[0] <= float(np.median(timing)) <= ON_TIME[1]:
                ventricular = False
                # an odd-shaped, on-time template: its few early beats are noise or extra detections
                # shortening the RR (108), not premature atrial beats
                odd[members] = True
        label = BeatClass.V if ventricular else BeatClass.N
        if template >= 0:
            mean = _mean_rows(waves, ids == template, slice(None))
            templates.append(Template(int(template), label, int(members.size),
                                      np.interp(t_out, WAVE_T, mean).astype(np.float32), width))
        labels[members] = label.value
    labels[_hidden_ventricular(unit, samples, ids == dominant, premature, features.width_ms, dom_width,
                               paused_of)] = BeatClass.V.value
    ventricular = labels == BeatClass.V.value
    # the sinus beat after an interpolated PVC is on time: early only against the PVC
    interpolated = after_interpolated(ventricular, rr_prev, reference)
    premature &= ~interpolated
    # a run of premature beats starts with a supraventricular one: a PVC's own prematurity starts none
    ectopic = supraventricular_runs(rr_prev, reference, premature & ~ventricular) & ~irregular
    # a paroxysmal run goes on through a beat or two its own onset made look irregular (SVDB 809)
    normal = ~ventricular & ~odd & (~irregular | brief_irregular(irregular))
    ectopic |= paroxysmal_runs(rr_prev, reference, premature, normal)
    labels[(labels == BeatClass.N.value) & ectopic & ~odd] = BeatClass.S.value
    # the RR rules stay away from every irregular stretch; the S model only from those without P waves
    af_like = irregular.copy()
    if irregular.any():
        dom_p = np.median(waves[np.ix_(ids == dominant, P_PART)], axis=0).astype(np.float64)
        on_time = ~premature & ~ventricular
        candidates = np.flatnonzero(irregular)
        p_corr = _p_correlation(waves, dom_p)
        limit = sinus_p_limit(p_corr, on_time, ~irregular)
        af_like[candidates] = ~sinus_p_kept(p_corr, on_time, candidates, limit)
    s_candidates = (labels == BeatClass.N.value) & ~af_like & ~odd & ~interpolated
    return RuleState(labels, ids, templates, dominant, rr_prev, reference, irregular, s_candidates)


@dataclass
class RulesWithoutNoise:
    """:func:`rules_without_noise`'s result: the rules' state of the beats that are not noise, which beats
    those are (a mask over all of them), and their features."""

    state: RuleState
    keep: np.ndarray
    features: BeatFeatures


def rules_without_noise(features: BeatFeatures, samples: np.ndarray, fs: float) -> RulesWithoutNoise:
    """The template rules' state (:func:`rule_state`) of the beats that are not noise. The rules' V calls
    that are rough all over (:func:`noise_like`: detections in muscle noise) are set aside and the rules
    run again without them: a detection in noise splits an RR interval, and the beat after it looked
    premature (DS1 with muscle noise at +12 dB: 334 of the 520 S calls on normal beats; algorithm 0.5.32).
    V calls of the second run that are rough all over are Q (without a second run there are none: the
    first found no rough V call)."""
    state = rule_state(features, samples, fs)
    keep = ~_rough_v(state.labels, features.waveforms)
    if not keep.all():
        del state  # the first run's arrays go before the second run makes its own (a 14-day recording)
        features = features.select(keep)
        state = rule_state(features, samples[keep], fs)
        state.labels[_rough_v(state.labels, features.waveforms)] = BeatClass.Q.value
    return RulesWithoutNoise(state, keep, features)


def _rough_v(labels: np.ndarray, waves: np.ndarray) -> np.ndarray:
    called_v = np.flatnonzero(labels == BeatClass.V.value)
    out = np.zeros(labels.size, dtype=bool)
    out[called_v[noise_like(waves[called_v])]] = True
    return out


def lone_rough_v(labels: np.ndarray, ids: np.ndarray, waves: np.ndarray) -> np.ndarray:
    """The final V calls alone in their template (at most :data:`LONE_V_BEATS` beats, or in none) and rough
    beyond the LONE_V_ROUGHNESS limits: noise, Q. Read after the model, not set aside before the rules run
    again as :func:`rules_without_noise` does with beats rough all over: on DS1 the second run turned other
    beats V (V +P 96.89 -> 96.65 %, the classifier's cached input), this way none (-> 97.05 %)."""
    called_v = np.flatnonzero(labels == BeatClass.V.value)
    out = np.zeros(labels.size, dtype=bool)
    if called_v.size == 0:
        return out
    sizes = np.bincount(ids[ids >= 0], minlength=MAX_TEMPLATES)  # each template's beats, as rule_state counts
    beat_ids = ids[called_v]
    alone = (beat_ids < 0) | (sizes[np.maximum(beat_ids, 0)] <= LONE_V_BEATS)
    rows = np.asarray(waves[called_v[alone]], dtype=np.float64)
    rough = (roughness(rows) > LONE_V_ROUGHNESS) & (roughness(rows, ~QRS_PART) > LONE_V_ROUGHNESS_OUTSIDE)
    out[called_v[alone][rough]] = True
    return out


def classify_beats(features: BeatFeatures, samples: np.ndarray, fs: float) -> BeatTable:
    """AAMI labels for every beat of the recording, from its features and R-peak samples (the beats set
    aside as noise by :func:`rules_without_noise`: Q, in no template)."""
    from ecgdesk.analysis.beat_model import (
        beat_matrix,
        coupling_gate,
        default_model,
        early_for_its_rhythm,
        in_coupling_cluster,
        not_ventricular,
        rhythm_features,
        supraventricular,
    )

    samples = np.asarray(samples, dtype=np.int64)
    if samples.size != len(features):
        raise InputError("features", f"{len(features)} feature rows for {samples.size} beats")
    if samples.size == 0:
        return BeatTable(samples, np.zeros(0, "<U1"), np.zeros(0, np.int32), [], fs)
    kept = rules_without_noise(features, samples, fs)
    state, keep, features = kept.state, kept.keep, kept.features
    set_aside = not keep.all()
    every_beat = samples
    if set_aside:
        samples = samples[keep]
    n = samples.size
    labels, ids, templates = state.labels, state.ids, state.templates
    waves = np.asarray(features.waveforms, dtype=np.float32)
    # the S model (trained on MIT-BIH DS1) adds premature atrial beats the RR rules miss
    # and vetoes the rules' V calls on beats it finds plainly not ventricular
    candidates = state.s_candidates
    rule_v = labels == BeatClass.V.value
    if default_model() is not None and (candidates.any() or rule_v.any()) and n >= 3:
        # only the beats the model may change get its features (a fifth of a recording with frequent
        # ectopy, a few per cent of most): the model's S needs a beat early for its rhythm
        rhythm = rhythm_features(samples, fs, state.reference)
        gate = coupling_gate(rhythm, labels, state.irregular)
        rows = (candidates & early_for_its_rhythm(rhythm, gate)) | rule_v
        at = np.flatnonzero(rows)
        matrix = beat_matrix(features.waveforms, features.width_ms, samples, fs, ids, state.reference,
                             state.irregular, rule_v, rows=rows, rhythm=rhythm)
        cluster = in_coupling_cluster(rhythm, candidates, gate)
        labels[at[supraventricular(matrix, candidates[rows], coupling=gate, cluster=cluster[rows])]] = (
            BeatClass.S.value)
        labels[at[not_ventricular(matrix, rule_v[rows])]] = BeatClass.N.value
    ventricular_ids = [t.template_id for t in templates
                       if t.label is BeatClass.V and t.n_beats >= FUSION_MIN_TEMPLATE_BEATS]
    if ventricular_ids:
        fused = _fusion(waves, ids, state.dominant, ventricular_ids)
        with np.errstate(invalid="ignore"):
            on_time = state.rr_prev >= FUSION_MIN_RR * state.reference
        labels[fused & on_time & (labels != BeatClass.S.value) & (labels != BeatClass.Q.value)] = (
            BeatClass.F.value)
    labels[lone_rough_v(labels, ids, waves)] = BeatClass.Q.value
    if not set_aside:
        return BeatTable(samples, labels, ids, templates, fs)
    all_labels = np.full(keep.size, BeatClass.Q.value, dtype="<U1")
    all_labels[keep] = labels
    all_ids = np.full(keep.size, -1, dtype=np.int32)
    all_ids[keep] = ids
    return BeatTable(every_beat, all_labels, all_ids, templates, fs)


def _fusion(waves: np.ndarray, ids: np.ndarray, dominant: int, ventricular_ids: list[int]) -> np.ndarray:
    """Beats whose QRS (mV) is a blend of the dominant and one ventricular template (:data:`FUSION_MIX`).
    Rows go through in blocks: a 14-day recording's beats times the QRS window, in float64, several
    times over, set the whole analysis's peak memory."""
    normal = _mean_rows(waves, ids == dominant, QRS_PART)
    fused = np.zeros(ids.size, dtype=bool)
    for template in ventricular_ids:
        # each beat as a * normal + b * ventricular, both weights free: a normal beat that is only larger or
        # smaller (respiration, a lead shift) is all normal (b ~ 0), not part ventricular
        basis = np.stack([normal, _mean_rows(waves, ids == template, QRS_PART)]).astype(np.float32)
        gram = (basis @ basis.T).astype(np.float64)
        if abs(float(np.linalg.det(gram))) <= 1e-12 * float(np.trace(gram)) ** 2:
            continue
        blend = np.concatenate([_blends(waves[i:i + ROW_BLOCK, QRS_PART], basis, gram)
                                for i in range(0, ids.size, ROW_BLOCK)])
        if int(blend.sum()) <= int((ids == template).sum()):
            fused |= blend
    return fused


def _mean_rows(waves: np.ndarray, members: np.ndarray, columns: np.ndarray | slice) -> np.ndarray:
    """Mean (float64) of the ``members`` rows of ``waves`` over ``columns``, a block of rows at a time."""
    total = np.zeros(waves[:0, columns].shape[1])
    for i in range(0, members.size, ROW_BLOCK):
        total += waves[i:i + ROW_BLOCK, columns][members[i:i + ROW_BLOCK]].sum(axis=0, dtype=np.float64)
    return total / max(int(members.sum()), 1)


def _blends(qrs: np.ndarray, basis: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Which beats (rows of ``qrs``) are a blend of the two ``basis`` shapes (:func:`_fusion`)."""
    energy = np.maximum(np.einsum("ij,ij->i", qrs, qrs, dtype=np.float64), 1e-12)
    weights = np.linalg.solve(gram, (basis @ qrs.T).astype(np.float64)).T
    a, b = weights[:, 0], weights[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = b / (a + b)
    left = qrs - weights @ basis.astype(np.float64)
    residual = np.einsum("ij,ij->i", left, left, dtype=np.float64)
    return np.asarray((a > 0) & (b > 0) & (share >= FUSION_MIX[0]) & (share <= FUSION_MIX[1])
                      & (residual <= FUSION_RESIDUAL * energy))


def analyze_beats(ecg: np.ndarray, fs: float) -> BeatTable:
    """Detect, describe and classify the beats of an in-memory lead (tests, short recordings)."""
    from ecgdesk.analysis.detection import detect_qrs
    from ecgdesk.analysis.mains import without_mains

    lead = without_mains(ecg, check_positive("fs", fs))
    samples = detect_qrs(lead, fs).samples
    return classify_beats(extract_beat_features(lead, fs, samples), samples, fs)
