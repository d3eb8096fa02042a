"""Ventricular flutter and fibrillation (VF): a large, fast, sinusoid-like or chaotic wave with no
countable QRS complex, which a QRS detector misreads and a noise test must not throw away.

Four measurements of a window of the 1-30 Hz signal separate VF from a beating heart and from noise
(Amann, Tratnig & Unterkofler 2005 review the classic VF detection parameters):

- **kurtosis** of the samples: a QRS complex is a rare, tall excursion over a quiet baseline (kurtosis
  10-30), VF oscillates all the time (kurtosis about 3);
- **threshold crossing** (TCSC, Arafat et al. 2009): in 3 s sub-windows, the share of samples above 20 %
  of the window's largest excursion: a beating heart spends most of its time near baseline, VF does not;
- **VF filter leakage** (Kuo & Dillman 1978): the signal added to itself half a mean period later (the
  period from its zero crossings) nearly cancels for a narrow-band oscillation and does not for QRS
  complexes or noise;
- the share of power at 12-30 Hz: VF waves are slow (2-9 Hz); muscle noise and QRS complexes are not.

A window is VF when all four agree (:data:`KURTOSIS_MAX`, :data:`TCSC_MIN`, :data:`LEAKAGE_MAX`,
:data:`HIGH_BAND_MAX`; chosen on the Creighton database and checked against the clean and noise-stressed
MIT-BIH and SVDB epochs and the CinC 2017 strips: ``bench/bench_quality.py``, docs/analysis.md).

An ambulatory epoch (:func:`ventricular_epochs`) with most of its power below 2.5 Hz
(:data:`EPOCH_LOW_BAND_MAX`) must also leak less (:data:`SLOW_LEAKAGE_MAX`): VF waves come at 3-9 Hz,
while a wide wave at 100-150 bpm that is not a near-pure sinusoid is a ventricular tachycardia, whose
complexes belong to the beat analysis; and a looser
*fibrillatory* test (:data:`FIB_TCSC_MIN`, :data:`FIB_LEAKAGE_MAX`, :data:`FIB_HIGH_BAND_MAX`,
no kurtosis limit: clipped waves and shock artefacts raise it) lets the quality gate carry a VF stretch
through its neighbouring epochs that the noise or lead-off tests would call noise or lead off: coarse VF
changes its rate and clips the recorder, and its epochs then miss one of the four strict limits. A
*beating* test (the strict one with :data:`BEATING_HIGH_BAND_MAX` for the 12-30 Hz share) lets it also
take in an epoch where the detector counts the crests of coarse VF as irregular beats. All were chosen
on the 35 Creighton records only, MIT-BIH 207 held out (docs/analysis.md). Missing samples
(a clipped recorder writes them) are bridged by straight lines before the measurements.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from scipy import signal

KURTOSIS_MAX = 5.0
TCSC_MIN = 0.4
LEAKAGE_MAX = 0.55
HIGH_BAND_MAX = 0.06
#: Share of a sub-window's largest excursion that counts as a threshold crossing.
TCSC_LEVEL = 0.2
TCSC_WINDOW_S = 3.0
#: An ambulatory epoch with more of its 1-30 Hz power below 2.5 Hz is VF by itself only below the lower
#: leakage (a near-pure sinusoid), else it is a slow VT; it may still continue a VF stretch as a
#: fibrillatory neighbour (docs/analysis.md, "VF epochs").
EPOCH_LOW_BAND_MAX = 0.6
SLOW_LEAKAGE_MAX = 0.45
LOW_BAND_HZ = 2.5
#: The looser test an epoch next to a VF epoch passes to continue the VF stretch.
FIB_TCSC_MIN = 0.3
FIB_LEAKAGE_MAX = 0.75
FIB_HIGH_BAND_MAX = 0.3
#: The test an epoch with detected beats passes to continue a VF stretch (with irregular beats, the quality
#: gate's :data:`~ecgdesk.analysis.quality.IRREGULAR_RR_CV`): the strict test with a looser 12-30 Hz limit,
#: since the edges of coarse VF waves that a detector counts as beats carry that band.
BEATING_KURTOSIS_MAX = 5.0
BEATING_TCSC_MIN = 0.4
BEATING_LEAKAGE_MAX = 0.55
BEATING_HIGH_BAND_MAX = 0.1
#: The measurements run at about this rate (block means), which keeps 1-30 Hz.
VF_RATE = 100.0
#: VF waves come below this frequency; the 12-30 Hz share of :func:`vf_measures` is QRS edges or muscle
#: noise. :func:`slow_band` keeps only what lies below it, to read VF through high-frequency noise.
FIBRILLATION_TOP_HZ = 12.0
#: VF under noise (:func:`is_vf_under_noise`): at least this share of the window's power below
#: :data:`FIBRILLATION_TOP_HZ` lies within :data:`PEAK_HALF_WIDTH_HZ` of its dominant peak or of that
#: peak's harmonic. Fibrillation is one oscillation whose rate wanders a little; noise that passes the
#: other tests below 12 Hz is a flat band. Synthetic muscle noise over the Creighton and MIT-BIH 207 VF
#: epochs at 12 and 6 dB: 5th percentile 0.55; the noise-stressed DS1 and SVDB epochs that pass the other
#: tests (muscle noise at 0 and -6 dB): 95th percentile 0.44 (docs/analysis.md, "VF under noise").
PEAK_SHARE_MIN = 0.6
PEAK_HALF_WIDTH_HZ = 1.0


@functools.lru_cache(maxsize=16)
def _band(fs: float) -> np.ndarray:
    return np.asarray(signal.butter(2, [1.0, min(30.0, 0.45 * fs)], btype="band", fs=fs, output="sos"))


def threshold_crossing(w: np.ndarray, fs: float) -> np.ndarray:
    """TCSC of each row of ``w`` (zero-mean): the mean over :data:`TCSC_WINDOW_S` sub-windows of the share
    of samples above :data:`TCSC_LEVEL` of the sub-window's largest excursion."""
    n_win, n = w.shape
    sub = max(1, min(n, int(round(TCSC_WINDOW_S * fs))))
    n_sub = max(1, n // sub)
    parts = np.abs(w[:, : n_sub * sub]).reshape(n_win, n_sub, sub)
    peak = np.maximum(parts.max(axis=2, keepdims=True), 1e-12)
    return np.asarray((parts > TCSC_LEVEL * peak).mean(axis=2).mean(axis=1))


def _power_spectrum(w: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Of each row of ``w`` (mean removed): its Hann-windowed power spectrum, the frequencies, the 1-30 Hz
    mask and each row's 1-30 Hz power."""
    spectrum = np.abs(np.fft.rfft(w * np.hanning(w.shape[1]), axis=1)) ** 2
    freqs = np.fft.rfftfreq(w.shape[1], 1.0 / fs)
    band = (freqs >= 1.0) & (freqs <= 30.0)
    return spectrum, freqs, band, np.maximum(spectrum[:, band].sum(axis=1), 1e-30)


def _peak(spectrum: np.ndarray, freqs: np.ndarray, band: np.ndarray,
          total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dominant_peak` from :func:`_power_spectrum`'s output."""
    search = np.flatnonzero((freqs >= 1.5) & (freqs <= FIBRILLATION_TOP_HZ))
    if search.size == 0:
        return np.zeros(spectrum.shape[0]), np.zeros(spectrum.shape[0])
    f0 = freqs[search[np.argmax(spectrum[:, search], axis=1)]]
    near = ((np.abs(freqs[None, :] - f0[:, None]) <= PEAK_HALF_WIDTH_HZ)
            | (np.abs(freqs[None, :] - 2 * f0[:, None]) <= PEAK_HALF_WIDTH_HZ)) & band[None, :]
    return f0, np.asarray((spectrum * near).sum(axis=1) / total)


def vf_measures(windows: np.ndarray, fs: float, peak: bool = False) -> dict[str, np.ndarray]:
    """The four measurements of each row of ``windows`` (1-30 Hz signal, rows of equal length, ``fs``);
    with ``peak``, also :func:`dominant_peak`'s ``peak_hz`` and ``peak_share`` from the same spectrum."""
    w = np.asarray(windows, dtype=np.float64)
    w = w - w.mean(axis=1, keepdims=True)
    n_win, n = w.shape
    m2 = np.mean(w * w, axis=1)
    kurtosis = np.mean(w ** 4, axis=1) / np.maximum(m2 * m2, 1e-30)
    tcsc = threshold_crossing(w, fs)
    crossings = np.count_nonzero(np.diff(np.signbit(w), axis=1), axis=1)
    half = np.clip(np.round(n / np.maximum(crossings, 1)).astype(np.int64), 1, max(1, n // 2))
    leakage = np.ones(n_win)
    for h in np.unique(half):  # few distinct half periods: one vectorised pass each
        rows = np.flatnonzero(half == h)
        a, b = w[rows, h:], w[rows, :-h]
        leakage[rows] = np.abs(a + b).sum(axis=1) / np.maximum((np.abs(a) + np.abs(b)).sum(axis=1), 1e-30)
    spectrum, freqs, band, total = _power_spectrum(w, fs)
    high = (freqs > FIBRILLATION_TOP_HZ) & (freqs <= 30.0)
    low = (freqs >= 1.0) & (freqs < LOW_BAND_HZ)
    out = {"kurtosis": kurtosis, "tcsc": tcsc, "leakage": leakage,
           "high_share": spectrum[:, high].sum(axis=1) / total,
           "low_share": spectrum[:, low].sum(axis=1) / total}
    if peak:
        out["peak_hz"], out["peak_share"] = _peak(spectrum, freqs, band, total)
    return out


def is_vf(measures: dict[str, np.ndarray]) -> np.ndarray:
    """The VF decision on :func:`vf_measures` (module docstring)."""
    return np.asarray((measures["kurtosis"] < KURTOSIS_MAX) & (measures["tcsc"] > TCSC_MIN)
                      & (measures["leakage"] < LEAKAGE_MAX) & (measures["high_share"] < HIGH_BAND_MAX))


def is_vf_epoch(measures: dict[str, np.ndarray]) -> np.ndarray:
    """:func:`is_vf` with the slow-wave rule of the ambulatory epochs (module docstring): a window with
    :data:`EPOCH_LOW_BAND_MAX` or more of its power below :data:`LOW_BAND_HZ` is VF only when it leaks less
    than :data:`SLOW_LEAKAGE_MAX` (a near-pure sinusoid); else it is a slow wide rhythm, for the beats."""
    slow_wave_ok = (measures["low_share"] < EPOCH_LOW_BAND_MAX) | (measures["leakage"] < SLOW_LEAKAGE_MAX)
    return np.asarray(is_vf(measures) & slow_wave_ok)


def is_fibrillatory(measures: dict[str, np.ndarray]) -> np.ndarray:
    """The looser test of an epoch next to VF (module docstring)."""
    return np.asarray((measures["tcsc"] > FIB_TCSC_MIN) & (measures["leakage"] < FIB_LEAKAGE_MAX)
                      & (measures["high_share"] < FIB_HIGH_BAND_MAX))


def is_beating_vf(measures: dict[str, np.ndarray]) -> np.ndarray:
    """The test of an epoch with detected beats next to VF (module docstring)."""
    return np.asarray((measures["kurtosis"] < BEATING_KURTOSIS_MAX) & (measures["tcsc"] > BEATING_TCSC_MIN)
                      & (measures["leakage"] < BEATING_LEAKAGE_MAX)
                      & (measures["high_share"] < BEATING_HIGH_BAND_MAX))


def band_signal(x: np.ndarray, fs: float) -> tuple[np.ndarray, float, int]:
    """``x`` as block means at about :data:`VF_RATE` Hz, band-passed 1-30 Hz forward and backward (the
    squared response: baseline wander, which a single pass lets through, would look like slow waves),
    its rate and the block length."""
    step = max(1, int(fs // VF_RATE))
    x = np.asarray(x)
    if not np.isfinite(x).all():
        x = np.nan_to_num(x)
    m = x.size // step
    # block means summed in float64 from the samples as they are: no float64 copy of the whole signal
    small = (x[: m * step].reshape(m, step).mean(axis=1, dtype=np.float64) if step > 1
             else x.astype(np.float64))
    rate = fs / step
    if small.size < 64:  # too short to filter forward and backward
        return small - (small.mean() if small.size else 0.0), rate, step
    return np.asarray(signal.sosfiltfilt(_band(rate), small - small.mean())), rate, step


@functools.lru_cache(maxsize=16)
def _slow_band(rate: float) -> np.ndarray:
    return np.asarray(signal.butter(2, [1.0, min(FIBRILLATION_TOP_HZ, 0.45 * rate)], btype="band", fs=rate,
                                    output="sos"))


def slow_band(y: np.ndarray, rate: float) -> np.ndarray:
    """The 1-:data:`FIBRILLATION_TOP_HZ` Hz part of :func:`band_signal`'s output ``y`` (forward and
    backward): fibrillation waves without the muscle noise over them."""
    y = np.asarray(y, dtype=np.float64)
    if y.size < 64:
        return y - (y.mean() if y.size else 0.0)
    return np.asarray(signal.sosfiltfilt(_slow_band(rate), y))


def dominant_peak(windows: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``windows`` (a band-limited signal at ``fs``): the frequency of its dominant
    1.5-:data:`FIBRILLATION_TOP_HZ` Hz peak, and the share of its 1-30 Hz power within
    :data:`PEAK_HALF_WIDTH_HZ` of that frequency or of twice it."""
    w = np.asarray(windows, dtype=np.float64)
    return _peak(*_power_spectrum(w - w.mean(axis=1, keepdims=True), fs))


def is_vf_under_noise(slow_windows: np.ndarray, fs: float) -> np.ndarray:
    """VF read through high-frequency noise, per row of ``slow_windows`` (:func:`slow_band` windows): the
    strict test's kurtosis, threshold-crossing and leakage limits (its 12-30 Hz one is the noise's), the
    slow-wave rule of :func:`ventricular_epochs`, one dominant oscillation (:data:`PEAK_SHARE_MIN`) and
    that oscillation at :data:`LOW_BAND_HZ` or faster: below it (150 a minute) a regular wide rhythm's
    complexes, low-passed, look the same, and the beat analysis owns them."""
    w = np.asarray(slow_windows, dtype=np.float64)
    if w.size == 0:
        return np.zeros(w.shape[0], dtype=bool)
    measures = vf_measures(w, fs, peak=True)
    measures["high_share"] = np.zeros(w.shape[0])  # above the band: the noise's, not read
    return np.asarray(is_vf_epoch(measures) & (measures["peak_share"] >= PEAK_SHARE_MIN)
                      & (measures["peak_hz"] >= LOW_BAND_HZ))


def bridge_missing(x: np.ndarray) -> np.ndarray:
    """``x`` with its non-finite samples replaced by straight lines between the finite ones (zeros when
    none is finite): a clipped recorder's missing samples, which zeros would turn into steps. In float64;
    ``x`` itself when every sample is finite."""
    x = np.asarray(x)
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    x = x.astype(np.float64)
    if bad.all():
        return np.zeros_like(x)
    index = np.arange(x.size)
    out = x.copy()
    out[bad] = np.interp(index[bad], index[~bad], x[~bad])
    return out


class VentricularEpochs(NamedTuple):
    """Per-epoch VF tests (boolean arrays): ``vf`` (:func:`is_vf_epoch`: :func:`is_vf` and the slow-wave
    rule), ``fibrillatory`` (:func:`is_fibrillatory`), ``beating`` (:func:`is_beating_vf`) and
    ``under_noise`` (:func:`is_vf_under_noise`, read on the epoch below :data:`FIBRILLATION_TOP_HZ`)."""

    vf: np.ndarray
    fibrillatory: np.ndarray
    beating: np.ndarray
    under_noise: np.ndarray


def ventricular_epochs(x: np.ndarray, fs: float, epoch_len: int,
                       may_be_noise: np.ndarray | None = None) -> VentricularEpochs:
    """The VF tests of each ``epoch_len``-sample epoch of ``x`` (:class:`VentricularEpochs`); the last,
    partial epoch as the others when it is at least 3 s long, else False. Missing samples are bridged.

    ``may_be_noise`` (one bool per epoch): the only epochs whose ``under_noise`` is read (the quality gate
    passes those without countable beats, which it can never call noise); every epoch when not given."""
    n = np.asarray(x).size
    n_ep = -(-n // epoch_len) if n else 0
    vf = np.zeros(n_ep, dtype=bool)
    fib = np.zeros(n_ep, dtype=bool)
    beating = np.zeros(n_ep, dtype=bool)
    under_noise = np.zeros(n_ep, dtype=bool)
    if n_ep == 0:
        return VentricularEpochs(vf, fib, beating, under_noise)
    y, rate, step = band_signal(bridge_missing(x), fs)
    read_slow = np.ones(n_ep, dtype=bool) if may_be_noise is None else np.asarray(may_be_noise, dtype=bool)
    # the 1-12 Hz filter runs over the whole stretch (as the strict band's does) only when an epoch needs it
    slow = slow_band(y, rate) if read_slow.any() else y
    Lw = max(1, epoch_len // step)
    full = min(y.size // Lw, n_ep)
    rows = _epoch_rows(y, Lw, full, n_ep, rate)
    slow_rows = _epoch_rows(slow, Lw, full, n_ep, rate)
    for length in sorted({r.size for r in rows}):
        at = [i for i, r in enumerate(rows) if r.size == length]
        block = np.stack([rows[i] for i in at])
        # the cheap share of time above 20 % first: a beating heart rarely passes even the loose limit
        tcsc = threshold_crossing(block - block.mean(axis=1, keepdims=True), rate)
        maybe = np.flatnonzero(tcsc > min(TCSC_MIN, FIB_TCSC_MIN, BEATING_TCSC_MIN))
        if maybe.size:
            measures = vf_measures(block[maybe], rate)
            index = np.asarray(at)[maybe]
            vf[index] = is_vf_epoch(measures)
            fib[index] = is_fibrillatory(measures)
            beating[index] = is_beating_vf(measures)
        wanted = [i for i in at if read_slow[i]]
        if not wanted:
            continue
        slow_block = np.stack([slow_rows[i] for i in wanted])
        tcsc = threshold_crossing(slow_block - slow_block.mean(axis=1, keepdims=True), rate)
        maybe = np.flatnonzero(tcsc > TCSC_MIN)
        if maybe.size:
            under_noise[np.asarray(wanted)[maybe]] = is_vf_under_noise(slow_block[maybe], rate)
    return VentricularEpochs(vf, fib, beating, under_noise)


def _epoch_rows(y: np.ndarray, Lw: int, full: int, n_ep: int, rate: float) -> list[np.ndarray]:
    """The ``Lw``-sample epochs of ``y`` (the first ``full`` of ``n_ep``), and the partial last one when
    it is at least 3 s long; none when an epoch is under 3 s."""
    rows = [y[i * Lw:(i + 1) * Lw] for i in range(full)] if full and Lw >= int(3 * rate) else []
    tail = y[full * Lw:]
    if full < n_ep and tail.size >= int(3 * rate):
        rows.append(tail)
    return rows
