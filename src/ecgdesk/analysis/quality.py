"""Signal quality per epoch: lead-off (flat, railed, missing), noise, and the analyzable time.

Each ``epoch_s`` epoch (10 s by default) of the analysed lead gets one state. Every test is relative, to
the epoch's own QRS complexes or to the recording's typical values (:class:`QualityReference`), so the
gate does not depend on the gain, the QRS voltage or the sampling rate:

- **lead off**: samples not finite (but see VF below), at least ``rail_fraction`` of the samples on the
  epoch's extreme value (a railed amplifier; not when the beats between those samples repeat alike: a
  simulator's or a test file's baseline is that flat, algorithm 0.5.46), a peak-to-peak range below
  ``flat_fraction`` of the recording's typical range (or below 1 uV), or any ``const_block_s`` stretch
  constant within ``const_fraction`` of that range (an electrode off for part of the epoch; recorded
  baseline, even in a long pause, always moves);
- **noise**: the *inter-beat floor* of the QRS-band energy is high. The detector's energy (5-20 Hz band,
  squared slope over 120 ms: :mod:`ecgdesk.analysis.detection`) is a hump per QRS on a floor near zero
  in a clean ECG of any amplitude, rate or morphology: P and T waves carry little 5-20 Hz slope. Muscle
  noise and electrode motion fill the floor. The floor is the 25th percentile of the energy farther than
  150 ms from every beat, divided by the epoch's median beat hump. An epoch is noise when its floor
  exceeds ``noise_floor_high``, or exceeds both ``noise_floor_low`` and ``noise_floor_factor`` times the
  recording's typical floor (a noisy stretch stands out from the recording's clean ones);
- **ventricular** (``V``): ventricular flutter or fibrillation (:mod:`ecgdesk.analysis.ventricular`): no
  countable QRS, but not noise either: a high floor with the narrow spectrum and wide waves of VF, never
  called noise or lead off. An epoch passing the strict VF test is V; from it the VF stretch grows into
  the neighbouring epochs, on both sides and across a chunk border (:func:`vf_tail`), that would be noise
  or lead off but are fibrillatory (the looser test) and not countable, or that are analyzable but pass
  the beating VF test with irregular beats (coarse VF whose wave crests the detector counts); a
  fibrillatory stretch with irregular beats between two VF epochs is VF too. Lead off gives way to VF
  only where the epoch is not flat, not railed and keeps at least half of its samples: a clipped recorder
  writes missing samples or sits on its rail for moments inside coarse VF, and the missing stretch must
  not hide the VF around it.

On the shared records (``bench/bench_quality.py``) no clean epoch of MIT-BIH, SVDB or LUDB is noise, while
synthetic muscle and electrode-motion noise at 0 dB SNR (NSTDB's definition) is (docs/analysis.md).

Analyzable time is the length of the analyzable epochs; wear time is the length minus lead-off epochs.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import Episode, EpisodeType, EpochState

#: State codes in the uint8 arrays (index into ``STATE_CHARS``).
ANALYZABLE, NOISE, LEAD_OFF, VENTRICULAR = 0, 1, 2, 3
STATE_CHARS = (EpochState.ANALYZABLE.value, EpochState.NOISE.value, EpochState.LEAD_OFF.value,
               EpochState.VENTRICULAR.value)
#: Below this peak-to-peak range (mV) an epoch is flat whatever the recording (no amplifier is that quiet).
FLAT_FLOOR_MV = 1e-3
#: Beats (R peaks) are this far (s) from the samples of the inter-beat floor.
BEAT_CLEARANCE_S = 0.15
#: Percentile of the energy between beats that is the floor.
FLOOR_PERCENTILE = 25
#: The energy is smooth (a 120 ms moving sum): the floor is read on every n-th working-rate sample.
FLOOR_STEP = 3
#: VF stays VF with up to this share of missing (clipped) samples; other epochs are lead off with any.
MAX_MISSING_IN_VF = 0.5
#: Muscle noise band (Hz), capped below Nyquist.
HF_BAND = (40.0, 150.0)
#: An epoch whose beats repeat alike (:func:`_countable`) is never VF: its complexes can be counted.
COUNTABLE_BEATS = 4
COUNTABLE_RR_CV = 0.1
COUNTABLE_HUMP_CV = 0.3
#: Detected beats this irregular (RR coefficient of variation; fewer than two intervals count as irregular)
#: in an epoch passing the beating VF test (:func:`~ecgdesk.analysis.ventricular.is_beating_vf`) are the
#: wave crests of coarse VF, not a rhythm: such an epoch next to VF continues it (docs/analysis.md). 0.2
#: until ambulatory 0.5.27; the R peak placed on each crest's own extreme (0.5.25) made coarse VF read
#: more regular: on Creighton, 0.14 and 0.15 call the most VF epochs VF with the fewest other epochs VF,
#: and 0.14 keeps away from 0.16, where VF drops again (algorithm 0.5.28; MIT-BIH 207 held out, unchanged).
IRREGULAR_RR_CV = 0.14


@dataclass(frozen=True)
class QualityReference:
    """A recording's typical values, the scale every epoch is judged against.

    ``range_mv``: median peak-to-peak range of its epochs; ``floor``: median inter-beat floor ratio;
    ``beat_energy``: median QRS energy hump (units of the detector's energy at the working rate), used for
    an epoch without a beat of its own; ``hf_ratio``: median muscle-band ratio (NaN when not measured).
    """

    range_mv: float
    floor: float
    beat_energy: float
    hf_ratio: float = float("nan")


@dataclass(frozen=True)
class EpochMeasures:
    """Per-epoch measurements (arrays of one value per epoch) before any threshold is applied."""

    missing: np.ndarray  # share of samples not finite
    range_mv: np.ndarray
    at_rail: np.ndarray
    min_block_range_mv: np.ndarray
    beat_energy: np.ndarray  # median beat hump; NaN without a beat
    floor_energy: np.ndarray  # the inter-beat floor
    ventricular: np.ndarray  # VF-like (bool)
    fibrillatory: np.ndarray  # passes the looser VF test (bool): VF next to a VF epoch when not analyzable
    beating_vf: np.ndarray  # coarse VF whose crests the detector counts (bool): VF next to a VF epoch
    irregular: np.ndarray  # detected beats with RR CV over IRREGULAR_RR_CV, or under two intervals (bool)
    countable: np.ndarray  # beats that repeat alike (bool): never noise, never VF
    hf_ratio: np.ndarray  # muscle-band RMS / QRS amplitude; NaN where not measured
    vf_under_noise: np.ndarray  # VF below 12 Hz under high-frequency noise (bool): VF where called noise

    def floor_ratio(self, reference: QualityReference | None) -> np.ndarray:
        fallback = reference.beat_energy if reference is not None else np.nan
        beat = np.where(np.isfinite(self.beat_energy), self.beat_energy, fallback)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = self.floor_energy / beat
        return np.where(np.isfinite(ratio), ratio, 0.0)


def epoch_length(fs: float, config: AnalysisConfig) -> int:
    return max(1, int(round(config.epoch_s * fs)))


def measure_epochs(x: np.ndarray, fs: float, config: AnalysisConfig,
                   beats: np.ndarray | None = None) -> EpochMeasures:
    """The measurements of each epoch of ``x`` (mV, 1-D; the last epoch may be shorter).

    ``beats`` are the R peaks of ``x`` (sample indices); found with :func:`~ecgdesk.analysis.detection.
    detect_qrs` when not given.
    """
    from ecgdesk.analysis.detection import detect_qrs
    from ecgdesk.analysis.ventricular import ventricular_epochs

    x = np.asarray(x, dtype=np.float32).ravel()
    n = x.size
    L = epoch_length(fs, config)
    n_ep = -(-n // L)
    finite_x = np.isfinite(x)
    filled = np.where(finite_x, x, np.float32(0.0)) if not finite_x.all() else x
    counted = _samples_per_epoch(n, L, n_ep)
    missing = _epoch_sums(~finite_x, L, n_ep) / counted
    rng, at_rail, min_block = _level_measures(filled, fs, L, n_ep, config)
    if beats is None:
        beats = detect_qrs(filled, fs).samples if n >= int(0.5 * fs) else np.zeros(0, np.int64)
    beats = np.unique(np.clip(np.asarray(beats, dtype=np.int64), 0, max(n - 1, 0)))
    beat_energy, floor_energy, countable, rr_cv = _energy_measures(filled, fs, L, n_ep, beats)
    vf = ventricular_epochs(x, fs, L, may_be_noise=~countable)
    with np.errstate(invalid="ignore"):
        irregular = ~(rr_cv <= IRREGULAR_RR_CV)  # NaN (under two intervals) counts as irregular
    return EpochMeasures(missing, rng, at_rail, min_block, beat_energy, floor_energy, vf.vf & ~countable,
                         vf.fibrillatory & ~countable, vf.beating & vf.fibrillatory & irregular & ~countable,
                         irregular, countable, _hf_ratio(filled, fs, L, n_ep, beats),
                         vf.under_noise & ~countable)


def _level_measures(x: np.ndarray, fs: float, L: int, n_ep: int, config: AnalysisConfig
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per epoch: peak-to-peak range, share of samples on the extreme value, smallest range of a
    ``const_block_s`` block."""
    n = x.size
    pad = n_ep * L - n
    # the short last epoch is measured over its own samples: padded with its last value (no range)
    ep = np.concatenate([x, np.full(pad, x[-1] if n else 0.0, np.float32)]).reshape(n_ep, L)
    hi, lo = ep.max(axis=1), ep.min(axis=1)
    at_rail = np.maximum((ep == hi[:, None]).mean(axis=1), (ep == lo[:, None]).mean(axis=1))
    if pad:  # the padding must not count as samples on the rail
        last = ep[-1, : L - pad]
        at_rail[-1] = max(float((last == last.max()).mean()), float((last == last.min()).mean()))
    k = max(2, int(round(config.const_block_s * fs)))
    n_blocks = L // k
    if not n_blocks:
        return hi - lo, at_rail, np.full(n_ep, np.inf)
    blocks = ep[:, : n_blocks * k].reshape(n_ep, n_blocks, k)
    block_range = blocks.max(axis=2) - blocks.min(axis=2)
    if pad and (L - pad) // k < n_blocks:  # blocks of the padding are not signal
        block_range[-1, max(1, (L - pad) // k):] = np.inf
    return hi - lo, at_rail, block_range.min(axis=1)


def _energy_measures(x: np.ndarray, fs: float, L: int, n_ep: int, beats: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per epoch: median beat hump of the detector's energy, the inter-beat floor, countable beats and
    the RR coefficient of variation (NaN under two intervals)."""
    from ecgdesk.analysis.detection import WORK_RATE, _decimate, _energy

    beat_energy = np.full(n_ep, np.nan)
    step = max(1, int(fs // WORK_RATE))
    wfs = fs / step
    small = _decimate(x, step)
    if small.size < 16:
        return beat_energy, np.zeros(n_ep), np.zeros(n_ep, dtype=bool), np.full(n_ep, np.nan)
    energy = _energy(small, wfs)
    b = np.unique(np.minimum(beats // step, small.size - 1))
    reach = max(1, int(round(0.05 * wfs)))
    humps = ndimage.maximum_filter1d(energy, size=2 * reach + 1)[b] if b.size else np.zeros(0)
    Lw = max(1, L // step)
    beat_ep = np.minimum(b // Lw, n_ep - 1)
    beat_energy = _grouped_median(humps, beat_ep, n_ep)
    near = np.zeros(energy.size, dtype=np.uint8)
    near[b] = 1
    clear = max(1, int(round(BEAT_CLEARANCE_S * wfs)))
    away = ndimage.maximum_filter1d(near, size=2 * clear + 1) == 0
    return (beat_energy, _epoch_floor(energy, away, Lw, n_ep), *_countable(b, humps, beat_ep, n_ep))


def countable_epochs(x: np.ndarray, fs: float, epoch_len: int, beats: np.ndarray) -> np.ndarray:
    """Whether the beats of each ``epoch_len``-sample epoch of ``x`` repeat alike (:func:`_countable`)."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float32).ravel())
    n_ep = -(-x.size // epoch_len) if x.size else 0
    beats = np.unique(np.clip(np.asarray(beats, dtype=np.int64), 0, max(x.size - 1, 0)))
    return _energy_measures(x, fs, epoch_len, n_ep, beats)[2]


def _hf_ratio(x: np.ndarray, fs: float, L: int, n_ep: int, beats: np.ndarray) -> np.ndarray:
    """Per epoch: RMS of the HF_BAND signal (muscle noise; the QRS has little power there) over the
    median QRS peak-to-peak amplitude of the epoch's beats (NaN without beats, or below 100 Hz)."""
    out = np.full(n_ep, np.nan)
    if fs < 100.0 or beats.size == 0 or x.size < L // 2:
        return out
    hf = signal.sosfilt(_hf_band(fs), x - x[: int(fs)].mean())
    hf *= hf
    rms = np.sqrt(_epoch_sums(hf, L, n_ep) / np.maximum(_samples_per_epoch(x.size, L, n_ep), 1))
    half = max(1, int(round(0.06 * fs)))
    idx = np.clip(beats[:, None] + np.arange(-half, half + 1)[None, :], 0, x.size - 1)
    amplitude = _grouped_median(np.ptp(x[idx], axis=1).astype(np.float64), np.minimum(beats // L, n_ep - 1),
                                n_ep)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(amplitude > 0, rms / amplitude, np.nan)


def _samples_per_epoch(n: int, L: int, n_ep: int) -> np.ndarray:
    """Samples in each of the ``n_ep`` epochs of ``L`` over ``n`` samples (the last may be short)."""
    counted = np.full(n_ep, float(L))
    if n_ep:
        counted[-1] = n - (n_ep - 1) * L
    return counted


def _epoch_sums(values: np.ndarray, L: int, n_ep: int) -> np.ndarray:
    """Sum of ``values`` over each ``L``-sample epoch (float64; the last epoch over its own samples),
    without a padded copy of the whole signal."""
    full = min(values.size // L, n_ep)
    sums = np.zeros(n_ep)
    sums[:full] = values[: full * L].reshape(full, L).sum(axis=1, dtype=np.float64)
    if full < n_ep:
        sums[full:] = values[full * L:].sum(dtype=np.float64)
    return sums


@functools.lru_cache(maxsize=16)
def _hf_band(fs: float) -> np.ndarray:
    return np.asarray(signal.butter(2, [HF_BAND[0], min(HF_BAND[1], 0.45 * fs)], btype="band", fs=fs,
                                    output="sos"))


def _countable(beats: np.ndarray, humps: np.ndarray, epoch: np.ndarray, n_ep: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Epochs whose beats repeat alike: at least COUNTABLE_BEATS beats, RR intervals within
    COUNTABLE_RR_CV and energy humps within COUNTABLE_HUMP_CV of their means. A wide, smooth, regular
    ventricular tachycardia looks like VF to the spectrum, but its complexes can be counted. Also the RR
    coefficient of variation of each epoch (NaN under two intervals)."""
    counts = np.bincount(epoch, minlength=n_ep)

    def cv(values: np.ndarray, group: np.ndarray) -> np.ndarray:
        n = np.maximum(np.bincount(group, minlength=n_ep), 1)
        mean = np.bincount(group, values, minlength=n_ep) / n
        var = np.bincount(group, values * values, minlength=n_ep) / n - mean * mean
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(np.maximum(var, 0.0)) / np.abs(mean)

    same = epoch[1:] == epoch[:-1]
    rr_cv = np.full(n_ep, np.nan)
    if beats.size > 1:
        rr_cv = cv(np.diff(beats).astype(np.float64)[same], epoch[1:][same])
        rr_cv[np.bincount(epoch[1:][same], minlength=n_ep) < 2] = np.nan
    hump_cv = cv(humps.astype(np.float64), epoch)
    with np.errstate(invalid="ignore"):
        return np.asarray((counts >= COUNTABLE_BEATS) & (rr_cv < COUNTABLE_RR_CV)
                          & (hump_cv < COUNTABLE_HUMP_CV)), rr_cv


def _grouped_median(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per group (``group`` sorted ascending); NaN for an empty group."""
    out = np.full(n_groups, np.nan)
    if values.size == 0:
        return out
    counts = np.bincount(group, minlength=n_groups)
    width = int(counts.max())
    table = np.full((n_groups, width), np.nan)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    table[group, np.arange(values.size) - starts[group]] = values
    has = counts > 0
    out[has] = np.nanmedian(table[has], axis=1)
    return out


def _epoch_floor(energy: np.ndarray, away: np.ndarray, Lw: int, n_ep: int) -> np.ndarray:
    """Per epoch, the FLOOR_PERCENTILE-th percentile of the energy at the samples away from beats."""
    m = n_ep * Lw
    e = np.zeros(m, dtype=np.float64)
    ok = np.zeros(m, dtype=bool)
    take = min(m, energy.size)
    e[:take], ok[:take] = energy[:take], away[:take]
    e, ok = e.reshape(n_ep, Lw)[:, ::FLOOR_STEP], ok.reshape(n_ep, Lw)[:, ::FLOOR_STEP]
    counts = ok.sum(axis=1)
    ranked = np.sort(np.where(ok, e, np.inf), axis=1)
    idx = np.clip((counts * FLOOR_PERCENTILE) // 100, 0, ranked.shape[1] - 1)
    out = ranked[np.arange(n_ep), idx]
    return np.where(counts > 0, out, 0.0)


def concat_measures(parts: list[EpochMeasures]) -> EpochMeasures:
    """The measures of consecutive stretches as one."""
    if not parts:
        empty, none = np.zeros(0), np.zeros(0, dtype=bool)
        return EpochMeasures(empty, empty, empty, empty, empty, empty, none, none, none, none, none, empty,
                             none)
    return EpochMeasures(*(np.concatenate([getattr(p, f.name) for p in parts])
                           for f in dataclasses.fields(EpochMeasures)))


def reference_of(measures: EpochMeasures) -> QualityReference:
    """The recording's typical values from the measures of (a sample of) its epochs."""
    usable = (measures.missing == 0) & (measures.range_mv > FLAT_FLOOR_MV)
    if not usable.any():
        return QualityReference(0.0, 0.0, float("nan"))
    energy = measures.beat_energy[usable]
    energy = energy[np.isfinite(energy)]
    beat = float(np.median(energy)) if energy.size else float("nan")
    partial = QualityReference(float(np.median(measures.range_mv[usable])), 0.0, beat)
    hf = measures.hf_ratio[usable]
    hf = hf[np.isfinite(hf)]
    return QualityReference(partial.range_mv, float(np.median(measures.floor_ratio(partial)[usable])), beat,
                            float(np.median(hf)) if hf.size else float("nan"))


def classify_epochs(measures: EpochMeasures, reference: QualityReference,
                    config: AnalysisConfig, previous: int | None = None) -> np.ndarray:
    """State code of each epoch from its measures and the recording's reference (module docstring);
    ``previous`` is the state of the epoch just before the first (the previous chunk's last)."""
    flat = _flat(measures, reference, config)
    constant = measures.min_block_range_mv <= config.const_fraction * reference.range_mv
    railed = _railed(measures, config)
    lead_off = (measures.missing > 0) | flat | railed | constant
    floor = measures.floor_ratio(reference)
    hf = np.nan_to_num(measures.hf_ratio, nan=0.0)
    with np.errstate(invalid="ignore"):
        muscle = (hf > config.noise_hf_high) | (
            (hf > config.noise_hf_low) & (hf > config.noise_floor_factor * np.nan_to_num(reference.hf_ratio,
                                                                                          nan=np.inf)))
    # beats that repeat alike are not hidden by a floor (fast, wide complexes raise it), but muscle noise
    # over them still makes their shapes unreadable
    floor_noise = (floor > config.noise_floor_high) | (
        (floor > config.noise_floor_low) & (floor > config.noise_floor_factor * reference.floor))
    noise = (floor_noise & ~measures.countable) | muscle
    out = np.where(noise, NOISE, ANALYZABLE).astype(np.uint8)
    out[lead_off] = LEAD_OFF
    may_be_vf = _may_be_vf(measures, reference, config)
    out[measures.ventricular & may_be_vf] = VENTRICULAR
    # noise over fibrillation: the noise test fired, but below 12 Hz the epoch is one fibrillating wave
    out[(out == NOISE) & measures.vf_under_noise & may_be_vf] = VENTRICULAR
    _grow_vf(out, *_growth(measures, reference, config, out), previous == VENTRICULAR)
    return out


def _railed(measures: EpochMeasures, config: AnalysisConfig) -> np.ndarray:
    """Most samples on the epoch's extreme value, between no countable beats: an amplifier on its rail.
    Beats that repeat alike between those samples are a baseline that does not move (a simulator's or a
    test file's flat line between its complexes): no beat can hide there, or the rhythm would not be
    regular; a rail held for ``const_block_s`` is lead off by the constant-stretch test anyway."""
    return np.asarray((measures.at_rail >= config.rail_fraction) & ~measures.countable)


def _flat(measures: EpochMeasures, reference: QualityReference, config: AnalysisConfig) -> np.ndarray:
    return np.asarray(measures.range_mv < max(FLAT_FLOOR_MV, config.flat_fraction * reference.range_mv))


def _may_be_vf(measures: EpochMeasures, reference: QualityReference, config: AnalysisConfig) -> np.ndarray:
    """A dropout is lead off, except inside VF, whose large waves can clip the recorder for moments."""
    return np.asarray(~_flat(measures, reference, config) & ~_railed(measures, config)
                      & (measures.missing <= MAX_MISSING_IN_VF))


def _growth(measures: EpochMeasures, reference: QualityReference, config: AnalysisConfig,
            states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The epochs a VF stretch grows over (:func:`_grow_vf`): from a VF epoch on one side, and between
    two VF epochs."""
    fibrillatory = measures.fibrillatory & _may_be_vf(measures, reference, config)
    not_analyzable = states != ANALYZABLE
    return (fibrillatory & (not_analyzable | measures.beating_vf),
            fibrillatory & (not_analyzable | measures.irregular))


def vf_tail(measures: EpochMeasures, states: np.ndarray, reference: QualityReference,
            config: AnalysisConfig) -> int:
    """How many of the last epochs a VF stretch starting just after them would grow over (0 when the
    last epoch is VF already): the streaming analysis turns them to VF when the next chunk starts in VF."""
    if states.size == 0 or states[-1] == VENTRICULAR:
        return 0
    candidate = _growth(measures, reference, config, states)[0]
    stops = np.flatnonzero(~candidate)
    return int(candidate.size - (stops[-1] + 1 if stops.size else 0))


def _grow_vf(states: np.ndarray, candidate: np.ndarray, between: np.ndarray, after_vf: bool) -> None:
    """Turn to VENTRICULAR, in place, every run of ``candidate`` epochs that touches a VF epoch (or the
    start, when the epoch before it, ``after_vf``, was VF), then every run of ``between`` epochs (a looser
    set) with a VF epoch on each side."""
    for a, b in runs(candidate & (states != VENTRICULAR)):
        if (a > 0 and states[a - 1] == VENTRICULAR) or (a == 0 and after_vf) or (
                b < states.size and states[b] == VENTRICULAR):
            states[a:b] = VENTRICULAR
    for a, b in runs(between & (states != VENTRICULAR)):
        if a > 0 and b < states.size and states[a - 1] == VENTRICULAR and states[b] == VENTRICULAR:
            states[a:b] = VENTRICULAR


def epoch_states(x: np.ndarray, fs: float, config: AnalysisConfig, previous: int | None = None,
                 reference: QualityReference | None = None, beats: np.ndarray | None = None) -> np.ndarray:
    """State code (``ANALYZABLE``, ``NOISE``, ``LEAD_OFF``, ``VENTRICULAR``) of each epoch of ``x``.

    ``reference`` is the recording's (:func:`reference_of` over a sample of its epochs); without it, ``x``
    is its own reference. ``beats`` are R peaks of ``x`` when already found. A last epoch under a second
    long takes the state of the one before it (``previous`` when ``x`` holds only that short epoch, e.g.
    the last chunk of a recording).
    """
    x = np.asarray(x, dtype=np.float32).ravel()
    if x.shape[0] == 0:
        return np.zeros(0, dtype=np.uint8)
    return states_of(measure_epochs(x, fs, config, beats), x.shape[0], fs, config, previous, reference)


def states_of(measures: EpochMeasures, n: int, fs: float, config: AnalysisConfig, previous: int | None = None,
              reference: QualityReference | None = None) -> np.ndarray:
    """:func:`epoch_states` of ``n`` samples whose ``measures`` are already taken."""
    L = epoch_length(fs, config)
    states = classify_epochs(measures, reference or reference_of(measures), config, previous)
    tail = n - (states.size - 1) * L
    if tail < max(fs, 2):
        if states.size > 1:
            states[-1] = states[-2]
        elif previous is not None:
            states[-1] = previous
        elif tail < 2:
            states[-1] = LEAD_OFF  # a single sample: nothing to judge
    return states


def is_noise(x: np.ndarray, config: AnalysisConfig) -> bool:
    """Whether a short segment (e.g. the span of a run, at the edge of a noisy stretch that its epoch's
    statistics did not catch) is broadband noise: Gaussian slopes (kurtosis of the first difference below
    ``noise_kurtosis``), above ``noise_min_mv`` and above ``noise_hf_ratio`` times the signal's RMS."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 8 or not np.isfinite(x).all():
        return False
    d2 = np.diff(x) ** 2
    m2 = float(d2.mean())
    if m2 <= 0:
        return False
    kurtosis = float((d2 * d2).mean()) / (m2 * m2)
    ratio = np.sqrt(m2) / max(float(x.std()), 1e-12)
    return (
        kurtosis < config.noise_kurtosis
        and np.sqrt(m2) > config.noise_min_mv
        and ratio > config.noise_hf_ratio
    )


def states_to_string(states: np.ndarray) -> str:
    """Compact one-character-per-epoch form for :class:`~ecgdesk.analysis.findings.QualityEpochs`."""
    table = np.frombuffer("".join(STATE_CHARS).encode(), dtype=np.uint8)
    return table[np.asarray(states, dtype=np.intp)].tobytes().decode()


def states_from_string(text: str) -> np.ndarray:
    """The state codes of a :class:`~ecgdesk.analysis.findings.QualityEpochs` string (its inverse)."""
    from ecgdesk.errors import InputError

    codes = {c: i for i, c in enumerate(STATE_CHARS)}
    unknown = sorted(set(text) - set(codes))
    if unknown:
        raise InputError("quality.states", f"unknown epoch states {unknown}; known: {list(STATE_CHARS)}")
    return np.array([codes[c] for c in text], dtype=np.uint8)


def epoch_seconds(states: np.ndarray, n_samples: int, fs: float, config: AnalysisConfig) -> np.ndarray:
    """Length in seconds of each epoch (the last one may be shorter)."""
    L = epoch_length(fs, config)
    lengths = np.full(states.shape[0], L / fs)
    if states.shape[0]:
        lengths[-1] = (n_samples - L * (states.shape[0] - 1)) / fs
    return lengths


def analyzable_seconds(states: np.ndarray, n_samples: int, fs: float, config: AnalysisConfig) -> float:
    lengths = epoch_seconds(states, n_samples, fs, config)
    return float(lengths[states == ANALYZABLE].sum())


def wear_seconds(states: np.ndarray, n_samples: int, fs: float, config: AnalysisConfig) -> float:
    lengths = epoch_seconds(states, n_samples, fs, config)
    return float(lengths[states != LEAD_OFF].sum())


def sample_analyzable(
    samples: np.ndarray, states: np.ndarray, fs: float, config: AnalysisConfig
) -> np.ndarray:
    """Whether each sample index lies in an analyzable epoch."""
    if states.shape[0] == 0:
        return np.zeros(np.shape(samples), dtype=bool)
    idx = np.minimum(np.asarray(samples, dtype=np.int64) // epoch_length(fs, config), states.shape[0] - 1)
    return np.asarray(states[idx] == ANALYZABLE)


def quality_episodes(states: np.ndarray, n_samples: int, fs: float, config: AnalysisConfig) -> list[Episode]:
    """NOISE, LEAD_OFF and VF (ventricular flutter or fibrillation) episodes: runs of epochs in those
    states."""
    L = epoch_length(fs, config)
    out: list[Episode] = []
    for code, kind in ((NOISE, EpisodeType.NOISE), (LEAD_OFF, EpisodeType.LEAD_OFF),
                       (VENTRICULAR, EpisodeType.VF)):
        for a, b in runs(states == code):
            s0, s1 = a * L, min(b * L, n_samples)
            out.append(
                Episode(kind, s0 / fs, s1 / fs, s0, s1, evidence=f"{b - a} epochs of {config.epoch_s:g} s")
            )
    return out


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index pairs of the runs of True in a 1-D boolean array."""
    m = np.asarray(mask, dtype=np.int8)
    if m.size == 0:
        return []
    edges = np.diff(np.concatenate(([0], m, [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))
