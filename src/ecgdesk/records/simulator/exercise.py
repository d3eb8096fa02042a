"""Exercise stress test simulator: a 12-lead recording through a Bruce protocol, with its protocol file.

The heart is a dipole whose P, QRS and T loops are sums of Gaussian bumps in three dimensions (x: to the
patient's left, y: inferior, z: anterior); each lead is the projection onto its lead vector, so the 12 leads
stay physiologically consistent (III = II - I, aVF = (II + III) / 2, R-wave progression V1 to V6). Heart rate
follows the workload; QT shortens with rate; an ST-depression vector can be switched on from a chosen
stage; muscle noise and motion wander grow with the treadmill speed; PVCs appear at random.

Writes ``<name>.hea/.dat`` (WFDB, 16-bit, 1 uV resolution), ``<name>.protocol.json`` (docs/stress.md) and
``<name>.truth.json`` (the rate schedule, the injected ST level and the PVC times).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from scipy import signal

from ecgdesk.analysis.stress.protocol import BRUCE_STAGE_S, BRUCE_STAGES, Phase, Stage, StressProtocol
from ecgdesk.errors import InputError, check_positive

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _frontal(deg: float) -> tuple[float, float, float]:
    a = math.radians(deg)
    return (math.cos(a), math.sin(a), 0.0)


def _precordial(deg: float, tilt: float = 0.15) -> tuple[float, float, float]:
    a = math.radians(deg)
    return (math.cos(a), tilt, math.sin(a))


#: Lead vectors (x left, y inferior, z anterior): hexaxial limb leads, precordials in the horizontal plane.
LEAD_VECTORS = np.array([
    _frontal(0), _frontal(60), _frontal(120), _frontal(-150), _frontal(-30), _frontal(90),
    _precordial(115), _precordial(95), _precordial(75), _precordial(55), _precordial(25), _precordial(0),
])
# III and aVF follow from I and II exactly, as on a real electrocardiograph.
LEAD_VECTORS[2] = LEAD_VECTORS[1] - LEAD_VECTORS[0]
LEAD_VECTORS[5] = (LEAD_VECTORS[1] + LEAD_VECTORS[2]) / 2
LEAD_VECTORS[3] = -(LEAD_VECTORS[0] + LEAD_VECTORS[1]) / 2
LEAD_VECTORS[4] = (LEAD_VECTORS[0] - LEAD_VECTORS[2]) / 2

# (time from R in s, width s, dipole (x, y, z) in mV) of the bumps of one beat; T times scale with QT.
_P = ((-0.17, 0.022, (0.06, 0.12, 0.02)),)
_QRS_NORMAL = (
    (-0.028, 0.007, (-0.12, -0.05, 0.25)),   # septal: rightward and anterior
    (0.0, 0.011, (1.05, 0.75, -0.55)),       # main: left, inferior, posterior
    (0.026, 0.009, (-0.35, -0.25, -0.45)),   # terminal: rightward, superior, posterior
)
_QRS_PVC = (
    (-0.02, 0.022, (-0.9, -0.6, 0.9)),
    (0.035, 0.025, (0.6, 0.3, -0.8)),
)
_T = ((1.0, 0.055, (0.28, 0.22, 0.05)),)  # centred at the rate's T peak time (see t_peak_s)
_ST_DIRECTION = np.array([0.62, 0.62, 0.25])  # the injury current points this way; depression = minus it


@dataclass(frozen=True)
class ExerciseConfig:
    age: int = 55
    sex: str = "M"
    exercise_s: float = 540.0
    pretest_s: float = 120.0
    recovery_s: float = 300.0
    fs: float = 500.0
    rest_hr: float = 72.0
    #: Peak rate as a share of the age-predicted maximum (220 - age).
    peak_fraction: float = 0.9
    st_depression_mm: float = 0.0
    st_from_stage: int = 2
    pvc_per_min: float = 0.5
    seed: int = 0
    name: str = "stress"

    def validate(self) -> None:
        check_positive("fs", self.fs)
        if not 50 <= self.fs <= 2000:
            raise InputError("fs", f"must be 50-2000 Hz for an ECG, got {self.fs:g}")
        if not 1 <= self.age <= 110:
            raise InputError("age", f"must be 1-110 years, got {self.age}")
        if self.sex not in ("M", "F", "U"):
            raise InputError("sex", f"must be M, F or U, got {self.sex!r}")
        check_positive("exercise_s", self.exercise_s)
        if self.exercise_s > len(BRUCE_STAGES) * BRUCE_STAGE_S:
            longest = len(BRUCE_STAGES) * BRUCE_STAGE_S
            raise InputError("exercise_s", f"a Bruce protocol lasts at most {longest:g} s")
        for name in ("pretest_s", "recovery_s", "st_depression_mm", "pvc_per_min"):
            if getattr(self, name) < 0:
                raise InputError(name, f"must be >= 0, got {getattr(self, name)}")
        if not 0.4 <= self.peak_fraction <= 1.1:
            raise InputError("peak_fraction", f"must be 0.4-1.1, got {self.peak_fraction}")


@dataclass(frozen=True)
class ExerciseOutput:
    record: Path  # the .hea path
    protocol: Path
    truth: Path


def _protocol(c: ExerciseConfig) -> StressProtocol:
    stages = [Stage("rest", Phase.PRETEST, 0.0, c.pretest_s, systolic=124, diastolic=80)]
    t = c.pretest_s
    for number, (speed, grade) in enumerate(BRUCE_STAGES, start=1):
        if t >= c.pretest_s + c.exercise_s - 1e-6:
            break
        end = min(t + BRUCE_STAGE_S, c.pretest_s + c.exercise_s)
        stages.append(Stage(str(number), Phase.EXERCISE, t, end, speed, grade,
                            systolic=124 + 14 * number, diastolic=80 + (2 if number < 3 else 0)))
        t = end
    peak_sbp = stages[-1].systolic or 150
    minute = 0
    while c.recovery_s - minute * 60.0 > 1e-6:
        start = t + minute * 60.0
        stages.append(Stage(f"recovery {minute + 1}", Phase.RECOVERY, start,
                            start + min(60.0, c.recovery_s - minute * 60.0),
                            systolic=max(120, peak_sbp - 12 * (minute + 1)), diastolic=78))
        minute += 1
    return StressProtocol("bruce", c.age, c.sex, stages, reason_stopped="target heart rate reached")


def _hr_schedule(c: ExerciseConfig) -> Callable[[float], float]:
    peak = max(c.rest_hr + 10, c.peak_fraction * (220 - c.age))
    start, end = c.pretest_s, c.pretest_s + c.exercise_s

    def hr(t: float) -> float:
        if t < start:
            return c.rest_hr
        if t < end:
            # The rate climbs fast in each new stage, then drifts: a concave rise overall.
            x = (t - start) / (end - start)
            return c.rest_hr + 12 + (peak - c.rest_hr - 12) * x ** 0.85
        return c.rest_hr + 8 + (peak - c.rest_hr - 8) * math.exp(-(t - end) / 90.0)
    return hr


def t_peak_s(rr: float) -> float:
    """T peak time after R: the Framingham QT (0.154 s per s of RR around 0.41 s) less 90 ms."""
    return 0.41 + 0.154 * (rr - 1.0) - 0.09


def _bumps(t: np.ndarray, bumps: tuple[tuple[float, float, tuple[float, float, float]], ...],
           scale: float = 1.0, width_scale: float = 1.0) -> np.ndarray:
    out = np.zeros((t.size, 3))
    for centre, width, vector in bumps:
        out += np.outer(np.exp(-0.5 * ((t - centre * scale) / (width * width_scale)) ** 2), vector)
    return out


def simulate_exercise(config: ExerciseConfig, out_dir: Path,
                      progress: Callable[[int], None] | None = None) -> ExerciseOutput:
    """Simulate a Bruce exercise test and write the recording, protocol and truth files."""
    import wfdb

    config.validate()
    c = config
    rng = np.random.default_rng(c.seed)
    fs = c.fs
    protocol = _protocol(c)
    total_s = protocol.stages[-1].end_s
    n = int(round(total_s * fs))
    hr = _hr_schedule(c)
    dipole = np.zeros((n, 3))
    st_start = next((s.start_s for s in protocol.exercise_stages if s.name == str(c.st_from_stage)),
                    protocol.exercise_end_s)
    st_end = protocol.exercise_end_s + 180.0
    beats: list[dict[str, object]] = []
    t = 0.4
    pvc_rate = c.pvc_per_min / 60.0
    last_progress = 0
    while t < total_s - 1.0:
        rr = 60.0 / hr(t) * (1.0 + rng.normal(0.0, 0.012))
        is_pvc = bool(t > c.pretest_s and rng.random() < pvc_rate * rr)
        t_beat = t - 0.3 * rr if is_pvc else t  # a PVC comes early, then a compensatory pause
        t_peak = t_peak_s(rr)  # repolarisation shortens with rate
        lo, hi = max(0, int((t_beat - 0.35) * fs)), min(n, int((t_beat + t_peak + 0.25) * fs))
        local = np.arange(lo, hi) / fs - t_beat
        shape = _bumps(local, _QRS_PVC if is_pvc else _QRS_NORMAL)
        shape += _bumps(local, _T, t_peak, max(0.7, math.sqrt(rr))) * (-1.6 if is_pvc else 1.0)
        if not is_pvc:
            shape += _bumps(local, _P)
        if c.st_depression_mm > 0 and st_start <= t_beat < st_end and not is_pvc:
            # ST level from J to the T wave: a plateau with smooth edges, in mm = 0.1 mV along -ST vector.
            depth = c.st_depression_mm * 0.1 * min(1.0, (t_beat - st_start) / 60.0)
            rise = 1 / (1 + np.exp(-(local - 0.05) / 0.005))
            plateau = rise / (1 + np.exp((local - (t_peak - 0.04)) / 0.02))
            shape -= np.outer(plateau * depth, _ST_DIRECTION / np.linalg.norm(_ST_DIRECTION[:2]))
        dipole[lo:hi] += shape
        beats.append({"time_s": round(t_beat, 4), "kind": "V" if is_pvc else "N"})
        t += rr * (1.5 if is_pvc else 1.0)
        if progress is not None and int(t) > last_progress:
            progress(int(t) - last_progress)
            last_progress = int(t)
    ecg = dipole @ LEAD_VECTORS.T
    # Motion wander at the stride rate and muscle noise, both growing with the treadmill speed.
    time = np.arange(n) / fs
    speed = np.zeros(n)
    for stage in protocol.exercise_stages:
        speed[int(stage.start_s * fs):int(stage.end_s * fs)] = stage.speed_mph or 0.0
    wander = 0.05 * np.sin(2 * np.pi * 0.25 * time)[:, None] * rng.normal(1, 0.3, (1, 12))
    wander += (0.03 * speed / 6.0 * np.sin(2 * np.pi * 1.4 * time))[:, None] * rng.normal(1, 0.3, (1, 12))
    sos = signal.butter(2, [20.0, min(100.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
    muscle = signal.sosfilt(sos, rng.normal(0.0, 1.0, (n, 12)), axis=0)
    muscle *= (0.01 + 0.03 * speed / 6.0)[:, None] / max(float(np.std(muscle)), 1e-9)
    ecg = ecg + wander + muscle
    out_dir.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(c.name, fs=fs, units=["mV"] * 12, sig_name=list(LEADS), p_signal=ecg, fmt=["16"] * 12,
                adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(out_dir),
                base_datetime=datetime(2026, 1, 5, 9, 0, 0),
                comments=[f"ecgdesk exercise simulator seed={c.seed}"])
    protocol_path = out_dir / f"{c.name}.protocol.json"
    protocol_path.write_text(json.dumps(protocol.to_dict(), indent=2) + "\n", encoding="utf-8")
    truth_path = out_dir / f"{c.name}.truth.json"
    truth = {
        "seed": c.seed, "fs": fs, "leads": list(LEADS),
        "peak_hr_bpm": round(max(hr(s) for s in range(int(total_s))), 1),
        "st_depression_mm": c.st_depression_mm, "st_from_s": st_start if c.st_depression_mm else None,
        "st_leads": ["II", "III", "aVF", "V4", "V5", "V6"] if c.st_depression_mm else [],
        "pvcs_s": [b["time_s"] for b in beats if b["kind"] == "V"], "beats": len(beats),
    }
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return ExerciseOutput(out_dir / f"{c.name}.hea", protocol_path, truth_path)
