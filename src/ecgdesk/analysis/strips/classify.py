"""``classify_strip(recording) -> StripResult``: triage of one event-monitor rhythm strip.

Order of the checks: a strip shorter than :data:`MIN_DURATION_S` or a flat line is ``~`` at once; a
ventricular arrhythmia (VT, ventricular flutter or VF: :mod:`~ecgdesk.analysis.strips.ventricular`) is
``V`` at once, before anything can call its waves noise; a strip without a
repeating QRS complex (fewer than :data:`MIN_BEATS` detections, or no detection like the median beat) is
``~`` at once, with the reason; anything else goes through the features
(:mod:`~ecgdesk.analysis.strips.features`) and the committed tree model
(:mod:`~ecgdesk.analysis.strips.model`). The reason text names the figures a monitoring technician
checks on the strip: rate, RR irregularity, P waves, QRS width, odd beats, pauses, noise.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import numpy as np

from ecgdesk.analysis.strips.features import PreparedStrip, StripFeatures
from ecgdesk.analysis.strips.model import TreeEnsemble, default_ensemble
from ecgdesk.analysis.strips.signal import QRS_BAND_TOP_HZ, prepare
from ecgdesk.analysis.strips.ventricular import fibrillation_through_noise, ventricular_arrhythmia
from ecgdesk.records.recording import Recording

#: The strip classifier's rules and model together; bumped with every change of a result (the model file
#: has its own version). 1.1.0: the run unlike the strip's narrow beat (VT, issue 18); 1.1.1: the VT check
#: skips the beat classifier where no rule can fire (same results, faster); 1.2.0: model 1.2.0, retrained
#: on the current QRS detector's features; 1.3.0: model 1.3.0, retrained on the features of the detector's
#: T-wave slope test (ambulatory 0.5.15); 1.4.0: model 1.4.0, retrained with R peaks placed on the lead
#: with mains hum notched out (ambulatory 0.5.22); 1.5.0: model 1.5.0, retrained with the R peaks of beats
#: of the other polarity placed on their own QRS (ambulatory 0.5.25); 1.5.1: the VT rules read the QRS width
#: of ambulatory 0.5.29, the fast wide-complex rule the span it was chosen on (same model); 1.5.2: the beat
#: templates of ambulatory 0.5.30 (every shared strip's result identical); 1.5.3: a V call rough all over
#: is Q (ambulatory 0.5.31; every shared strip's result identical); 1.5.4: such beats are set aside and the
#: rest classified again (ambulatory 0.5.32; identical again); 1.6.0: a strip about to be called noisy is
#: first read for fibrillation below 12 Hz (VF and flutter under muscle noise are V, not noise); 1.6.1: that
#: reading also asks for one dominant oscillation at 150 a minute or faster, as the ambulatory gate's
#: (ambulatory 0.5.43); 1.6.2: the fast wide-complex rule stands down when, low-passed at 15 Hz, the strip's
#: beats come slower than 100 bpm (muscle noise counted as fast wide beats); 1.6.3: a strip with muscle noise
#: whose beats are a quarter or more fewer below 15 Hz is noisy; 1.7.0: where no ventricular rule found
#: anything, flutter / fibrillation is also looked for in 5 s windows, by the ambulatory epochs' test (VF
#: filling only part of every 10 s window, beside its onset or an artefact); 1.7.1: the fast wide-complex
#: rule does not fire on a strip with more than 60 % of its power above 40 Hz (broadband noise); 1.7.2: an A
#: strip regular only in stretches says so in its reason (labels unchanged); 1.7.3: with no lead asked for, a
#: flat first lead gives way to the first lead that is not flat (:func:`reading_lead`); 1.8.0: the VT run
#: rules look at beats up to 0.2 s before the strip's end (1 s before), and a run unlike the narrow beat that
#: reaches the end needs 4 beats, not 6 (VT at the end of an event strip, issue 18).
ALGORITHM_VERSION = "strips 1.8.0"
#: Shorter strips are not classified.
MIN_DURATION_S = 5.0
#: A strip whose 1st-99th percentile span is below this (mV) is a flat line.
FLAT_SPAN_MV = 0.03
#: Fewer R peaks than this: no repeating QRS complex.
MIN_BEATS = 3
#: A strip with more than this share of its power above 40 Hz carries broadband (muscle) noise, and only
#: then are its beats looked for below the QRS band too (handheld recorders that low-pass at 40 Hz never
#: pay for the second detection: the highest of the CinC 2017 strips is 0.015).
EMG_POWER_SHARE = 0.02
#: When fewer than this share of the detected beats remain on the strip low-passed at the top of the QRS
#: band, the detector counted that noise as beats: the strip is too noisy to read (strips 1.6.3).
BEATS_KEPT_BELOW_QRS_BAND = 0.75


class StripLabel(enum.StrEnum):
    """The four triage classes of the PhysioNet/CinC 2017 challenge."""

    NORMAL = "N"
    AF = "A"
    OTHER = "O"
    NOISY = "~"
    VENTRICULAR = "V"  # decided by a rule before the model (not a CinC 2017 class)

    @property
    def meaning(self) -> str:
        return _MEANING[self]


_MEANING = {
    StripLabel.NORMAL: "normal sinus rhythm",
    StripLabel.AF: "atrial fibrillation or flutter",
    StripLabel.OTHER: "other rhythm",
    StripLabel.NOISY: "too noisy to read",
    StripLabel.VENTRICULAR: "ventricular arrhythmia (VT, ventricular flutter or fibrillation)",
}


@dataclass(frozen=True)
class StripResult:
    """What the triage says about one strip.

    ``probabilities`` maps each label to the model's probability; it is empty when a check decided
    before the model (short, flat, no QRS). ``heart_rate_bpm`` is ``None`` when fewer than two beats.
    ``strip`` is the prepared strip (300 Hz, band-passed, R peaks) when it got that far, so a caller can
    read more from the same beats without detecting them again.
    """

    label: StripLabel
    confidence: float
    probabilities: dict[StripLabel, float]
    heart_rate_bpm: float | None
    reason: str
    features: StripFeatures | None = None
    strip: PreparedStrip | None = None


def _fmt_p_waves(f: StripFeatures) -> str:
    if not np.isfinite(f.p_coherence):
        return "P waves not assessed"
    if f.p_coherence < 0.12 or f.p_amp_ratio < 0.04:
        return "no P waves"
    if f.p_coherence > 0.35:
        return "P waves present"
    return "P waves unclear"


def _af_words(f: StripFeatures) -> str:
    """How an A strip's rhythm reads: irregular in every stretch, or regular somewhere (flutter with a
    fixed block, AF in part of the strip) and then regular overall or only in stretches."""
    if f.rr_local_cv_min > 0.04 or not np.isfinite(f.rr_local_cv_min):
        return "irregularly irregular RR"
    if f.hr_bpm <= 100:
        return "atrial activity without sinus P waves"
    # the RR CV under which the N reason also says "regular RR"
    return "fast regular atrial activity" if f.rr_cv < 0.1 else "fast atrial activity, regular in stretches"


def _reason(label: StripLabel, f: StripFeatures) -> str:
    hr = f"{f.hr_bpm:.0f} bpm" if np.isfinite(f.hr_bpm) else "rate unknown"
    cv = f"RR CV {f.rr_cv:.2f}" if np.isfinite(f.rr_cv) else "RR CV n/a"
    if label is StripLabel.AF:
        return f"{_af_words(f)} ({cv}), {_fmt_p_waves(f)}, {hr}"
    if label is StripLabel.NORMAL:
        regularity = "regular RR" if f.rr_cv < 0.1 else "variable RR (sinus arrhythmia or artefact?)"
        return f"sinus rhythm {hr}, {regularity} ({cv}), {_fmt_p_waves(f)}, QRS {f.qrs_width_ms:.0f} ms"
    if label is StripLabel.NOISY:
        parts = [f"noisy signal: beat-to-template correlation {f.beat_corr_mean:.2f}"
                 if np.isfinite(f.beat_corr_mean) else "noisy signal: beats not consistent"]
        if f.hf_power_ratio > 0.05:
            parts.append(f"{100 * f.hf_power_ratio:.0f}% of power above 40 Hz")
        if f.max_gap_s > 3:
            parts.append(f"{f.max_gap_s:.1f} s without a detected beat")
        return ", ".join(parts)
    notes = []
    if f.hr_bpm > 100:
        notes.append(f"tachycardia {hr}")
    elif f.hr_bpm < 50:
        notes.append(f"bradycardia {hr}")
    if np.isfinite(f.frac_beats_odd) and f.frac_beats_odd >= 0.05:
        notes.append(f"{100 * f.frac_beats_odd:.0f}% of beats differ from the median beat (ectopy?)")
    if np.isfinite(f.rr_min_ratio) and f.rr_min_ratio < 0.75:
        notes.append(f"premature beats (shortest RR {100 * f.rr_min_ratio:.0f}% of median)")
    if np.isfinite(f.rr_max_ratio) and f.rr_max_ratio > 1.6:
        notes.append(f"pause/long RR ({f.rr_max_ratio:.1f}x median)")
    if f.qrs_width_ms >= 120:
        notes.append(f"wide QRS {f.qrs_width_ms:.0f} ms")
    if not notes:
        notes.append(f"not normal sinus rhythm per model ({cv}, {_fmt_p_waves(f)}, {hr})")
    return "; ".join(notes)


def classify_signal(ecg: np.ndarray, fs: float, model: TreeEnsemble | None = None) -> StripResult:
    """Classify one lead given as samples in mV at ``fs`` Hz (the core of :func:`classify_strip`)."""
    x = np.asarray(ecg, dtype=np.float64).ravel()
    duration = x.size / fs
    if duration < MIN_DURATION_S:
        return StripResult(StripLabel.NOISY, 1.0, {}, None,
                           f"strip shorter than {MIN_DURATION_S:.0f} s ({duration:.1f} s)")
    span = _span_mv(x)
    if span < FLAT_SPAN_MV:
        return StripResult(StripLabel.NOISY, 1.0, {}, None,
                           f"flat line (amplitude {span:.3f} mV, lead off?)")
    strip = prepare(x, fs)
    ventricular = ventricular_arrhythmia(strip)
    if ventricular is not None:
        rate = (60.0 * strip.fs / float(np.median(np.diff(strip.peaks)))
                if ventricular.kind == "vt" and strip.peaks.size > 1 else None)
        return StripResult(StripLabel.VENTRICULAR, 1.0, {}, rate, ventricular.reason, None, strip)
    feats = strip.features
    hr = float(feats.hr_bpm) if np.isfinite(feats.hr_bpm) else None
    # each way to "noisy" below asks first whether the noise lies over fibrillation: VF is never noise
    if strip.peaks.size < MIN_BEATS:
        return _fibrillating(strip) or StripResult(
            StripLabel.NOISY, 1.0, {}, hr, f"no repeating QRS complex ({strip.peaks.size} beats found)",
            feats, strip)
    # Beats found, but none alike: the detector followed noise. The model has 14 noisy strips to learn
    # from, so this is decided here; no labelled cinc2017 strip has even 99 % of its beats odd.
    if np.isfinite(feats.frac_beats_odd) and feats.frac_beats_odd >= 1.0:
        return _fibrillating(strip) or StripResult(
            StripLabel.NOISY, 1.0, {}, hr, f"no repeating QRS complex (none of {strip.peaks.size} detections "
                                           "is like the median beat)", feats, strip)
    # Many beats that are not there below the QRS band: the detector counted muscle noise as beats, and
    # the rhythm read from them (irregular, P waves lost) would be the model's AF.
    if feats.hf_power_ratio > EMG_POWER_SHARE:
        n, low = strip.peaks.size, strip.peaks_below_qrs_band.size
        if low < BEATS_KEPT_BELOW_QRS_BAND * n:
            return _fibrillating(strip) or StripResult(
                StripLabel.NOISY, 1.0, {}, hr,
                f"noisy signal: muscle noise ({100 * feats.hf_power_ratio:.0f}% of power above 40 Hz) "
                f"counted as beats: {n - low} of {n} detections are not there below "
                f"{QRS_BAND_TOP_HZ:.0f} Hz", feats, strip)
    ensemble = model if model is not None else default_ensemble()
    proba = ensemble.predict_proba(feats.vector()[None, :])[0]
    probs = {StripLabel(c): float(p) for c, p in zip(ensemble.classes, proba, strict=True)}
    label = max(probs, key=lambda k: probs[k])
    return ((_fibrillating(strip) if label is StripLabel.NOISY else None)
            or StripResult(label, probs[label], probs, hr, _reason(label, feats), feats, strip))


def _fibrillating(strip: PreparedStrip) -> StripResult | None:
    """``V`` when the strip's noise lies over fibrillation waves
    (:func:`~ecgdesk.analysis.strips.ventricular.fibrillation_through_noise`), else ``None``."""
    found = fibrillation_through_noise(strip)
    return None if found is None else StripResult(StripLabel.VENTRICULAR, 1.0, {}, None, found.reason, None,
                                                  strip)


def classify_strip(recording: Recording, lead: str | int | None = None,
                   model: TreeEnsemble | None = None) -> StripResult:
    """Classify a rhythm strip as N (sinus), A (AF/flutter), O (other) or ~ (noisy), with the reason.

    Parameters
    ----------
    recording
        Any recording; strips are usually one lead of 10-60 s.
    lead
        Lead name or index; when not given, the first lead, or the first one that is not a flat line
        (:func:`reading_lead`; the reason then says so).
    model
        A tree ensemble other than the committed one (tests, retraining).
    """
    index, samples = read_strip_lead(recording, lead)
    result = classify_signal(samples, recording.fs, model)
    if lead is not None or index == 0:
        return result
    names = recording.lead_names
    return replace(result, reason=f"lead {names[0]} flat (electrode off?), lead {names[index]} read: "
                                  f"{result.reason}")


def reading_lead(recording: Recording, lead: str | int | None = None) -> int:
    """The index of the lead a strip is read from: the one asked for; else the first lead, unless it is a
    flat line (:data:`FLAT_SPAN_MV`: an electrode off) and a later lead is not, then the first such lead. A
    multi-channel event recorder whose first electrode came off still sends a readable strip."""
    return _live_lead(recording, lead)[0]


def read_strip_lead(recording: Recording, lead: str | int | None = None, start: int = 0,
                    stop: int | None = None) -> tuple[int, np.ndarray]:
    """:func:`reading_lead`'s index and that lead's samples ``[start, stop)``, the strip read once: finding
    the live lead of a multi-lead strip already reads it."""
    index, samples = _live_lead(recording, lead)
    if samples is None:
        return index, recording.read(start, stop, leads=index)[:, 0]
    return index, samples[start:stop]


def _live_lead(recording: Recording, lead: str | int | None) -> tuple[int, np.ndarray | None]:
    """:func:`reading_lead`'s index, with that lead's samples when finding it meant reading them (None
    otherwise)."""
    if lead is not None:
        return recording.lead_index(lead), None
    if recording.n_leads == 1:
        return 0, None
    for j in range(recording.n_leads):  # one lead at a time: most strips stop at the first
        samples = recording.read(leads=j)[:, 0]
        if _span_mv(samples) >= FLAT_SPAN_MV:
            return j, samples
    return 0, None


def _span_mv(x: np.ndarray) -> float:
    """The 1st-99th percentile span of the finite samples (0 when none)."""
    finite = np.asarray(x, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(np.subtract(*np.percentile(finite, [99, 1]))) if finite.size else 0.0
