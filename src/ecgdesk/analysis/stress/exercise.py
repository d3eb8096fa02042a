"""Exercise stress test analysis: stage table, ST at J+60/J+80, METs, Duke score, arrhythmias.

Each stage is measured on the median beat of its last minute (the standard "end of stage" practice), with
the isoelectric level just before the QRS onset (PR segment) as the ST reference.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import interpolate

from ecgdesk.analysis.ecg12.delineation import (
    WaveKind,
    delineate,
    find_fiducials,
    lowpass,
    qrs_correlation,
    remove_baseline,
)
from ecgdesk.analysis.ecg12.resting import MIN_QRS_LIKENESS
from ecgdesk.analysis.stress.protocol import Phase, Stage, StressProtocol
from ecgdesk.analysis.stress.subject import PROTOCOL, StressSubject, stress_subject
from ecgdesk.errors import InputError
from ecgdesk.records.lead_names import doubled_leads, lead_keys, standard_lead_name
from ecgdesk.records.recording import Recording

#: Window of each stage measured: its last minute (shorter stages: all of it).
STAGE_WINDOW_S = 60.0
MIN_WINDOW_S = 8.0
#: 1 mm on the standard ECG grid is 0.1 mV.
MV_PER_MM = 0.1
#: ST slope classes (mV/s from J to J+80 ms): our convention, documented in docs/stress.md.
SLOPE_FLAT_MV_PER_S = 0.3
#: Bruce exercise times (min) Foster's equation is read over: from the end of the first stage to the end
#: of the seventh. Below 1.6 min its cubic falls as time goes on (4.2 METs at 0 min, 4.0 at 1.6: the
#: intercept, not a measurement) and under a completed first stage it is no estimate of capacity; past
#: 23.4 min it falls again.
FOSTER_MIN_MIN = 3.0
FOSTER_MAX_MIN = 21.0


class StSlope(enum.StrEnum):
    UPSLOPING = "upsloping"
    HORIZONTAL = "horizontal"
    DOWNSLOPING = "downsloping"

    @classmethod
    def of(cls, slope_mv_per_s: float) -> StSlope:
        if slope_mv_per_s > SLOPE_FLAT_MV_PER_S:
            return cls.UPSLOPING
        if slope_mv_per_s < -SLOPE_FLAT_MV_PER_S:
            return cls.DOWNSLOPING
        return cls.HORIZONTAL


class DukeRisk(enum.StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"

    @classmethod
    def of(cls, score: float) -> DukeRisk:
        if score >= 5:
            return cls.LOW
        if score <= -11:
            return cls.HIGH
        return cls.MODERATE


@dataclass(frozen=True)
class LeadSt:
    lead: str
    st_j60_mv: float
    st_j80_mv: float
    slope_mv_per_s: float

    @property
    def slope_class(self) -> StSlope:
        return StSlope.of(self.slope_mv_per_s)


@dataclass(frozen=True)
class StageMeasurement:
    stage: Stage
    window_start_s: float
    window_end_s: float
    hr_bpm: float | None
    mets: float | None
    st: tuple[LeadSt, ...]
    #: The stage's median beat, (samples, leads) in mV on the PR-segment baseline, for the report.
    median_beat: np.ndarray | None = field(default=None, repr=False, compare=False)

    def worst_depression(self, excluded: tuple[str, ...] = ("avr",)) -> LeadSt | None:
        leads = [s for s, key in zip(self.st, st_keys(self.st), strict=True) if key not in excluded]
        return min(leads, key=lambda s: s.st_j80_mv) if leads else None


def lead_key(name: str) -> str:
    """The lead's standard name in lower case however the file writes it (``avr`` for ``ECG aVR``, ``Lead
    aVR`` or ``AVR``): aVR's reciprocal ST depression is left out of the ischemic response by this key, and
    was counted, as ischemia, under a prefixed name (stress-1.3). One name on its own: where the file may
    name a lead twice, :func:`st_keys` (which sees all the names) is the key."""
    return (standard_lead_name(name) or name).lower()


def st_keys(st: tuple[LeadSt, ...]) -> list[str]:
    """The keys of a stage's leads with every name of the file in view (records/lead_names.lead_keys): two
    names of one lead (``aVR`` and ``ECG aVR``) are taken for neither, so neither is left out as aVR (until
    stress-1.5 both were, a depression in either never counted, and which ``II`` the report drew was the
    first one's)."""
    return lead_keys([s.lead for s in st])


@dataclass(frozen=True)
class Arrhythmia:
    kind: str  # "ventricular_ectopic", "supraventricular_ectopic", "ventricular_run"
    time_s: float
    phase: Phase
    beats: int = 1


@dataclass
class StressResult:
    protocol: StressProtocol
    stages: list[StageMeasurement]
    resting_hr_bpm: float | None
    peak_hr_bpm: float
    peak_hr_time_s: float
    age_predicted_max_hr: float
    target_hr_bpm: float
    exercise_time_s: float
    #: None where no estimate is given (a Bruce test outside Foster's range: ``warnings`` says so).
    mets: float | None
    max_st_depression_mm: float
    max_st_depression_lead: str | None
    duke_score: float
    arrhythmias: list[Arrhythmia] = field(default_factory=list)
    beats: int = 0
    fs: float = 0.0
    #: Whose age and sex were used (the patient record's); None in results stored before it was kept,
    #: which used the protocol file's (see :func:`subject_of`).
    subject: StressSubject | None = None
    #: What the analysis had to leave out or could not measure (noise taken for beats, a stage without
    #: recording), after the reader's own warnings; one sentence each.
    warnings: tuple[str, ...] = ()

    @property
    def percent_of_predicted_max(self) -> float:
        return 100.0 * self.peak_hr_bpm / self.age_predicted_max_hr

    @property
    def target_reached(self) -> bool:
        return self.peak_hr_bpm >= self.target_hr_bpm

    @property
    def duke_risk(self) -> DukeRisk:
        return DukeRisk.of(self.duke_score)

    @property
    def ischemic_st_response(self) -> bool:
        """At least 1 mm of horizontal or downsloping ST depression at J+80 in any lead but aVR."""
        for stage in self.stages:
            for st, key in zip(stage.st, st_keys(stage.st), strict=True):
                if (key != "avr" and st.st_j80_mv <= -MV_PER_MM
                        and st.slope_class is not StSlope.UPSLOPING):
                    return True
        return False


def foster_bruce_mets(exercise_min: float) -> float:
    """METs from Bruce exercise time (Foster et al. 1984): VO2 = 14.8 - 1.379T + 0.451T^2 - 0.012T^3."""
    t = exercise_min
    return (14.8 - 1.379 * t + 0.451 * t ** 2 - 0.012 * t ** 3) / 3.5


def bruce_mets(exercise_min: float) -> float | None:
    """Foster's estimate where the exercise time lies in the range it is read over, else None."""
    if FOSTER_MIN_MIN <= exercise_min <= FOSTER_MAX_MIN:
        return foster_bruce_mets(exercise_min)
    return None


def _foster_range_warning(exercise_min: float) -> str:
    return (f"Bruce exercise time {exercise_min:.1f} min is outside the "
            f"{FOSTER_MIN_MIN:g}-{FOSTER_MAX_MIN:g} min Foster's equation is read over (the first to the "
            f"seventh stage's end): no METs estimate for the test or for a stage ending outside it")


def acsm_treadmill_mets(speed_mph: float, grade_pct: float) -> float:
    """METs from treadmill speed and grade (ACSM walking equation), for non-Bruce protocols."""
    speed = speed_mph * 26.8224  # m/min
    return (3.5 + 0.1 * speed + 1.8 * speed * grade_pct / 100.0) / 3.5


def duke_treadmill_score(exercise_min: float, st_depression_mm: float, angina_index: int) -> float:
    """Duke treadmill score: exercise minutes - 5 x max ST deviation (mm) - 4 x angina index."""
    return exercise_min - 5.0 * st_depression_mm - 4.0 * angina_index


def _detect_beats(data: np.ndarray, fs: float) -> np.ndarray:
    """QRS fiducials over a long multi-lead recording, in 10 s windows so exercise noise stays local."""
    step = int(10 * fs)
    overlap = int(1 * fs)
    found: list[np.ndarray] = []
    for start in range(0, data.shape[0], step):
        lo, hi = max(0, start - overlap), min(data.shape[0], start + step + overlap)
        if hi - lo < int(2 * fs):
            continue
        peaks = find_fiducials(lowpass(data[lo:hi], fs, 40.0), fs) + lo
        found.append(peaks[(peaks >= start) & (peaks < start + step)])
    beats = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    if beats.size > 1:
        keep = np.concatenate([[True], np.diff(beats) > int(0.2 * fs)])
        beats = beats[keep]
    return beats


def _stage_st(window: np.ndarray, fs: float, names: list[str]) -> tuple[tuple[LeadSt, ...], np.ndarray]:
    """ST levels of each lead on the window's median beat, against a PR-segment baseline.

    The delineation's median-filter baseline would absorb part of a long ST depression at high rates, so
    the median beat is rebuilt from the low-passed signal minus a cubic spline through each beat's PR level.
    """
    d = delineate(window, fs, names)
    qrs = d.leads[0].median_wave(WaveKind.QRS)
    if qrs is None:
        raise InputError("signal", "no QRS complex on the stage's median beat")
    fid = d.median.fiducial_index
    pr_offset = qrs.onset - int(round(0.01 * fs)) - fid
    smooth = lowpass(window, fs, 40.0)
    half = max(1, int(round(0.004 * fs)))
    knots = [f + pr_offset for f in d.fiducials
             if f + pr_offset - half >= 0 and f + pr_offset + half < len(smooth)]
    if len(knots) >= 4:
        levels = np.stack([smooth[k - half:k + half + 1].mean(axis=0) for k in knots])
        baseline = interpolate.CubicSpline(knots, levels, axis=0, extrapolate=True)(np.arange(len(smooth)))
        corrected = smooth - baseline
    else:
        corrected = window - np.median(window, axis=0)
    pre, post = fid, d.median.data.shape[0] - fid
    chosen = [f for f, ok in zip(d.fiducials, d.dominant, strict=True)
              if ok and f - pre >= 0 and f + post <= len(corrected)]
    beat = (np.median(np.stack([corrected[f - pre:f + post] for f in chosen]), axis=0) if chosen
            else d.median.data)
    iso = beat[fid + pr_offset]
    j = qrs.offset
    j60 = min(beat.shape[0] - 1, j + int(round(0.06 * fs)))
    j80 = min(beat.shape[0] - 1, j + int(round(0.08 * fs)))
    out = []
    for i, name in enumerate(names):
        level_j = float(beat[j, i] - iso[i])
        level_80 = float(beat[j80, i] - iso[i])
        out.append(LeadSt(name, float(beat[j60, i] - iso[i]), level_80, (level_80 - level_j) / 0.08))
    return tuple(out), (beat - iso).astype(np.float32)


def _ectopy(beats: np.ndarray, filtered: np.ndarray, fs: float, protocol: StressProtocol) -> list[Arrhythmia]:
    """Premature beats: ventricular when the QRS differs from its neighbours', else supraventricular."""
    if beats.size < 8:
        return []
    rr = np.diff(beats) / fs
    half = int(round(0.06 * fs))
    out: list[Arrhythmia] = []
    run = 0
    for k in range(4, beats.size - 1):
        local = float(np.median(rr[max(0, k - 8):k - 1]))
        premature = rr[k - 1] < 0.8 * local and rr[k] > rr[k - 1] * 1.1
        ventricular = False
        if premature and beats[k] - half >= 0 and beats[k] + half < filtered.shape[0]:
            seg = filtered[beats[k] - half:beats[k] + half].ravel()
            ref = np.median(np.stack([filtered[b - half:b + half].ravel() for b in beats[k - 4:k - 1]
                                      if b - half >= 0]), axis=0)
            denom = float(np.linalg.norm(seg - seg.mean()) * np.linalg.norm(ref - ref.mean()))
            corr = float((seg - seg.mean()) @ (ref - ref.mean())) / denom if denom > 0 else 1.0
            ventricular = corr < 0.8
        time_s = float(beats[k] / fs)
        phase = Phase.PRETEST
        for stage in protocol.stages:
            if stage.start_s <= time_s < stage.end_s:
                phase = stage.phase
        if premature:
            out.append(Arrhythmia("ventricular_ectopic" if ventricular else "supraventricular_ectopic",
                                  time_s, phase))
            run = run + 1 if ventricular else 0
            if run == 3:
                out.append(Arrhythmia("ventricular_run", time_s, phase, beats=3))
        else:
            run = 0
    return out


def _real_intervals(filtered: np.ndarray, beats: np.ndarray, fs: float) -> tuple[np.ndarray, list[str]]:
    """Which RR intervals lie between two real QRS complexes, and a warning for each stretch that does not.

    A burst of noise during exercise is detected as "beats" up to the detector's 300/min; their rate set
    the peak heart rate (240 bpm from 10 s of noise, "target reached"). A "beat" whose QRS correlates less
    than the resting engine's MIN_QRS_LIKENESS with the test's median QRS is noise or an ectopic beat (a
    PVC of the exercise simulator scores below it too): either way not an interval of the dominant rhythm,
    whose rate the stage table and the peak give; the ectopic beats are counted apart (``_ectopy``)."""
    likeness = qrs_correlation(lowpass(filtered, fs, 40.0), beats, fs)
    real = likeness >= MIN_QRS_LIKENESS
    rr_real = real[1:] & real[:-1]
    warnings = []
    noise = np.flatnonzero(~real)
    if noise.size:
        first, last = beats[noise[0]] / fs, beats[noise[-1]] / fs
        warnings.append(f"{noise.size} beats ({first:.1f}-{last:.1f} s) unlike the dominant QRS (noise or "
                        f"ectopic beats): left out of the heart rates")
    return rr_real, warnings


def _beyond_end(stage: Stage, duration_s: float) -> str:
    if stage.start_s >= duration_s:
        return f"stage {stage.name!r} starts at {stage.start_s:g} s, after the recording ends " \
               f"({duration_s:.1f} s): nothing measured for it"
    return f"stage {stage.name!r} ends at {stage.end_s:g} s, after the recording ends " \
           f"({duration_s:.1f} s): measured on its part before the end"


def subject_of(result: StressResult) -> StressSubject:
    """The result's subject; a result stored before subjects were kept used the protocol's age and sex."""
    if result.subject is not None:
        return result.subject
    p = result.protocol
    return StressSubject(p.age, p.sex, PROTOCOL, PROTOCOL, p.age, p.sex, (
        f"Analysed before the patient record's age and sex were used: age {p.age}, sex {p.sex} from the "
        "protocol file; analyse the study again",))


def analyze_stress(recording: Recording, protocol: StressProtocol,
                   progress: Callable[[int], None] | None = None,
                   subject: StressSubject | None = None) -> StressResult:
    """Analyse a continuous exercise-test recording against its protocol.

    ``subject`` is the patient's age and sex (:func:`ecgdesk.analysis.stress.subject.stress_subject`,
    from the patient record); without it the protocol file's are used, and the result says so."""
    subject = subject if subject is not None else stress_subject(protocol)
    fs = recording.fs
    if protocol.exercise_end_s > recording.duration_s + 1.0:
        raise InputError("stages", f"the exercise phase ends at {protocol.exercise_end_s:g} s but the "
                                   f"recording lasts {recording.duration_s:.1f} s", protocol.source)
    data = np.asarray(recording.read(0, recording.n_samples), dtype=np.float64)
    data = np.where(np.isfinite(data), data, 0.0)
    names = [lead.name for lead in recording.leads]
    beats = _detect_beats(data, fs)
    if beats.size < 10:
        raise InputError("signal", f"found {beats.size} QRS complexes in the whole test; cannot analyse it",
                         str(recording.path) if recording.path else None)
    rr_times = beats[1:] / fs
    inst_hr = 60.0 * fs / np.diff(beats)
    filtered = remove_baseline(data, fs)
    rr_real, warnings = _real_intervals(filtered, beats, fs)
    # The protocol's name is typed at the treadmill: "Bruce" read by the ACSM equation gave another
    # figure for the same test (4.7 METs for 3 min, Foster's 4.1).
    bruce = protocol.protocol.strip().lower() == "bruce"
    measured: list[StageMeasurement] = []
    for stage in protocol.stages:
        end = min(stage.end_s, recording.duration_s)
        # Never before the stage's own start: a short stage measured on the stage before it reported that
        # stage's rate (a 2 s exercise stage had the resting 70 bpm), and one after the recording's end
        # the last seconds of the stage before.
        start = max(stage.start_s, end - STAGE_WINDOW_S)
        if stage.end_s > recording.duration_s + 1.0:
            warnings.append(_beyond_end(stage, recording.duration_s))
        in_window = (rr_times >= start) & (rr_times < end) & rr_real
        hr = float(np.median(inst_hr[in_window])) if in_window.sum() >= 3 else None
        window = data[int(start * fs):int(end * fs)] if end - start >= MIN_WINDOW_S else data[:0]
        beat: np.ndarray | None = None
        st: tuple[LeadSt, ...] = ()
        if window.shape[0]:
            try:
                st, beat = _stage_st(window, fs, names)
            except InputError as error:
                warnings.append(f"stage {stage.name!r}: no ST level ({error.reason})")
        elif end > start:
            warnings.append(f"stage {stage.name!r} has {end - start:.1f} s of recording, under the "
                            f"{MIN_WINDOW_S:g} s a median beat needs: no ST level for it")
        mets: float | None = None
        if stage.phase is Phase.EXERCISE:
            if bruce:
                mets = bruce_mets((stage.end_s - protocol.exercise_start_s) / 60.0)
            elif stage.speed_mph is not None and stage.grade_pct is not None:
                mets = acsm_treadmill_mets(stage.speed_mph, stage.grade_pct)
        measured.append(StageMeasurement(stage, start, end, hr, mets, st, beat))
        if progress is not None:
            progress(1)
    exercise_min = protocol.exercise_time_s / 60.0
    ex_mask = (rr_times >= protocol.exercise_start_s) & (rr_times < protocol.exercise_end_s + 60.0)
    # Peak HR: the highest 5-beat median, so a single mis-detected beat cannot set it; over the intervals
    # between real QRS complexes, so a burst of noise cannot either.
    usable = np.flatnonzero(rr_real) if rr_real.any() else np.arange(inst_hr.size)
    real_hr = inst_hr[usable]
    smooth_hr = np.array([np.median(real_hr[max(0, i - 2):i + 3]) for i in range(real_hr.size)])
    candidates = np.flatnonzero(ex_mask[usable]) if ex_mask[usable].any() else np.arange(real_hr.size)
    peak_i = int(candidates[np.argmax(smooth_hr[candidates])])
    worst_mm, worst_lead = 0.0, None
    for m in measured:
        if m.stage.phase is Phase.PRETEST:
            continue
        lead = m.worst_depression()
        if lead is not None and -lead.st_j80_mv / MV_PER_MM > worst_mm:
            worst_mm, worst_lead = -lead.st_j80_mv / MV_PER_MM, lead.lead
    pretest = [m.hr_bpm for m in measured if m.stage.phase is Phase.PRETEST and m.hr_bpm is not None]
    if bruce:
        mets = bruce_mets(exercise_min)
        if mets is None:
            warnings.append(_foster_range_warning(exercise_min))
    else:
        mets = max([m.mets for m in measured if m.mets is not None], default=None)
        if mets is None:
            warnings.append(f"no exercise stage of the {protocol.protocol!r} protocol gives speed_mph and "
                            f"grade_pct: no METs estimate")
    doubled = doubled_leads(names)
    if doubled:
        warnings.append(f"leads {', '.join(doubled)} are named as the same lead: neither is taken for it "
                        f"(each one's ST level counts, none is left out as aVR)")
    apmhr = 220.0 - subject.age  # the age-predicted maximum of Fox et al. (220 - age), at the record's age
    return StressResult(
        protocol=protocol, stages=measured, resting_hr_bpm=pretest[-1] if pretest else None,
        peak_hr_bpm=float(smooth_hr[peak_i]), peak_hr_time_s=float(rr_times[usable[peak_i]]),
        age_predicted_max_hr=apmhr, target_hr_bpm=0.85 * apmhr, exercise_time_s=protocol.exercise_time_s,
        mets=mets, max_st_depression_mm=round(worst_mm, 2), max_st_depression_lead=worst_lead,
        duke_score=duke_treadmill_score(exercise_min, round(worst_mm, 2), int(protocol.angina_index)),
        arrhythmias=_ectopy(beats, filtered, fs, protocol), beats=int(beats.size), fs=fs,
        subject=subject, warnings=(*recording.warnings, *warnings),
    )


def stress_to_dict(result: StressResult) -> dict[str, object]:
    """The ``stress.json`` document (schema in docs/stress.md)."""

    def r(value: float | None, digits: int = 1) -> float | None:
        return None if value is None or not math.isfinite(value) else round(value, digits)

    return {
        "protocol": result.protocol.protocol,
        "age": subject_of(result).age,
        "sex": subject_of(result).sex,
        "patient": subject_of(result).to_dict(),
        "resting_hr_bpm": r(result.resting_hr_bpm),
        "peak_hr_bpm": r(result.peak_hr_bpm),
        "peak_hr_time_s": r(result.peak_hr_time_s),
        "age_predicted_max_hr": r(result.age_predicted_max_hr, 0),
        "target_hr_bpm": r(result.target_hr_bpm, 0),
        "percent_of_predicted_max": r(result.percent_of_predicted_max),
        "target_reached": result.target_reached,
        "exercise_time_s": r(result.exercise_time_s),
        "mets": r(result.mets),
        "max_st_depression_mm": r(result.max_st_depression_mm, 2),
        "max_st_depression_lead": result.max_st_depression_lead,
        "ischemic_st_response": result.ischemic_st_response,
        "angina_index": int(result.protocol.angina_index),
        "duke_score": r(result.duke_score),
        "duke_risk": result.duke_risk.value,
        "reason_stopped": result.protocol.reason_stopped,
        "stages": [
            {"name": m.stage.name, "phase": m.stage.phase.value, "start_s": m.stage.start_s,
             "end_s": m.stage.end_s, "speed_mph": m.stage.speed_mph, "grade_pct": m.stage.grade_pct,
             "bp": None if m.stage.systolic is None else [m.stage.systolic, m.stage.diastolic],
             "hr_bpm": r(m.hr_bpm), "mets": r(m.mets),
             "st": {s.lead: {"j60_mv": r(s.st_j60_mv, 3), "j80_mv": r(s.st_j80_mv, 3),
                             "slope_mv_per_s": r(s.slope_mv_per_s, 2), "slope": s.slope_class.value}
                    for s in m.st}}
            for m in result.stages
        ],
        "arrhythmias": [{"kind": a.kind, "time_s": r(a.time_s), "phase": a.phase.value, "beats": a.beats}
                        for a in result.arrhythmias],
        "beats": result.beats,
        "warnings": list(result.warnings),
    }
