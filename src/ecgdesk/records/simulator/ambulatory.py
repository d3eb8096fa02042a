"""Multi-day ambulatory ECG simulator with exact truth, written in chunks.

The beat timeline (every beat's time and kind, every P wave) is planned first for the whole recording; it
is small (a few bytes a beat). The signal is then rendered and written block by block (10 minutes), so
15 days or more never sit in memory. Beats are sums of Gaussian bumps per wave (P, QRS, T) projected on
each lead with its own gains; the T wave moves with the rate (Framingham QT). Heart rate follows a
day/night rhythm anchored at the start time, respiratory sinus arrhythmia and a slow random drift; baseline
wander, muscle noise and a slowly varying gain are added. Episodes come from :mod:`.events`.
"""

from __future__ import annotations

import csv
import json
import math
from array import array
from collections.abc import Callable, MutableSequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ecgdesk.errors import InputError, check_option
from ecgdesk.records.recording import EventKind, EventMarker, Lead
from ecgdesk.records.simulator.events import (
    EpisodeType,
    Scheduled,
    default_spec,
    parse_event_spec,
    schedule,
)
from ecgdesk.records.simulator.exercise import t_peak_s
from ecgdesk.records.simulator.render import (
    FLUTTER_AV_S,
    FLUTTER_CYCLE_S,
    lead_noise,
    render_components,
    shared_noise,
    span_mask,
)
from ecgdesk.records.writers import open_writer, write_beat_annotations

TRUTH_SCHEMA = "ecgdesk-sim-truth/1"
BLOCK_S = 600.0
#: The level of a railed (saturated) lead-off span, mV: the input limit of a typical Holter amplifier.
RAIL_MV = 5.0
SYMPTOMS = ("palpitations", "dizziness", "chest discomfort", "short of breath", "fatigue", "skipped beats")
#: Per lead (P, QRS, T) gains: a lead-II-like, a V1-like and a V5-like view, repeated with variations.
LEAD_GAINS = ((1.0, 1.0, 1.0), (0.5, -0.8, 0.35), (0.7, 1.25, 1.1))
#: Sinus tachycardia episodes: the rate, and how long the sinus node takes to reach it and to come back.
#: Sinus tachycardia speeds up and slows down gradually, where a paroxysmal SVT starts and stops from one
#: beat to the next (the clinical sign that tells them apart: Page et al., 2015 ACC/AHA/HRS guideline for
#: adult patients with supraventricular tachycardia, JACC 67(13):e27-e115); recovery after exercise is
#: judged by the fall of the rate after one minute, <= 12 bpm being abnormal (Cole et al., NEJM
#: 341:1351-1357, 1999). Until 2026-12-05 the simulator stepped from about 70 to 122 bpm in one beat.
TACHY_BPM = 122.0
TACHY_RISE_S = 30.0
TACHY_FALL_S = 60.0
#: MIT symbol -> AAMI class, for the truth summary.
AAMI = {"N": "N", "j": "N", "A": "S", "V": "V"}
#: Episode type -> MIT-BIH style rhythm label (aux note of a '+' annotation); '(N' marks the return to sinus.
RHYTHM_LABELS = {"af": "(AFIB", "flutter": "(AFL", "vt": "(VT", "svt": "(SVTA", "avb2": "(BII",
                 "avb3": "(BIII", "brady": "(SBR", "tachy": "(ST"}


@dataclass(frozen=True)
class SimulationConfig:
    days: float = 1.0
    leads: int = 2
    fs: float = 250.0
    seed: int = 0
    events: str | Path | None = None
    fmt: str = "wfdb"
    name: str = "sim"
    start: datetime = datetime(2026, 1, 5, 9, 0, 0)

    @property
    def total_s(self) -> float:
        return self.days * 86400.0

    def validate(self) -> None:
        if not 0 < self.days <= 31:
            raise InputError("days", f"must be more than 0 and at most 31, got {self.days:g}")
        if self.total_s < 600:
            raise InputError("days", f"simulate at least 10 minutes, got {self.total_s / 60:.1f} min")
        if not 1 <= self.leads <= 12:
            raise InputError("leads", f"must be 1-12, got {self.leads}")
        if not 100 <= self.fs <= 2000:
            raise InputError("fs", f"must be 100-2000 Hz for an ambulatory ECG, got {self.fs:g}")
        check_option("format", self.fmt, ["wfdb", "ishne"])
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise InputError("name", f"use letters, digits, '-' or '_', got {self.name!r}")


@dataclass
class Timeline:
    """Planned beats (seconds, MIT symbol) and P waves (seconds, abnormal?) of the whole recording."""

    beat_t: np.ndarray
    beat_sym: np.ndarray
    beat_rr: np.ndarray
    p_t: np.ndarray
    p_abnormal: np.ndarray
    episodes: list[dict[str, object]] = field(default_factory=list)
    af_spans: list[tuple[float, float]] = field(default_factory=list)
    flutter_spans: list[tuple[float, float]] = field(default_factory=list)
    flat_spans: list[tuple[float, float]] = field(default_factory=list)  # every lead-off span
    rail_spans: list[tuple[float, float]] = field(default_factory=list)  # those that are railed, not flat
    noise_spans: list[tuple[float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class SimulationResult:
    record: Path
    annotations: Path
    truth: Path
    diary: Path
    n_samples: int
    n_beats: int


def _sinus_rr(clock_h: float, t: float, drift: float) -> float:
    circadian = 10.0 * math.cos(2 * math.pi * (clock_h - 15.0) / 24.0)  # fastest mid-afternoon
    hr = (68.0 + circadian + 3.0 * math.sin(2 * math.pi * 0.25 * t)  # respiratory sinus arrhythmia
          + 2.0 * math.sin(2 * math.pi * 0.1 * t + 0.7))  # LF (Mayer wave, baroreflex) component
    return 60.0 / max(40.0, hr + drift)


def _pr(rr: float) -> float:
    """PR interval (s) of a conducted sinus beat: shorter at fast rates (0.12 s at 150 bpm, 0.20 s at 45)."""
    return min(0.20, max(0.12, 0.09 + 0.08 * rr))


def plan_timeline(config: SimulationConfig, plan: list[Scheduled], rates: dict[EpisodeType, float],
                  rng: np.random.Generator) -> Timeline:
    """Every beat and P wave, episode by episode (a Python loop over beats: about 1 s per day)."""
    total = config.total_s
    start_h = config.start.hour + config.start.minute / 60.0
    beats_t = array("d")  # compact: 8 bytes a beat, not a Python float object each
    beats_s: list[str] = []
    p_t = array("d")
    p_ab = array("B")
    tl = Timeline(np.zeros(0), np.zeros(0, "<U1"), np.zeros(0), np.zeros(0), np.zeros(0, bool))
    pvc_p, pac_p = rates.get(EpisodeType.PVC, 0.0) / 3600.0, rates.get(EpisodeType.PAC, 0.0) / 3600.0
    t, drift, k = 0.5, 0.0, 0
    queue = list(plan)

    def beat(time: float, sym: str, p: float | None = None, abnormal: bool = False) -> None:
        beats_t.append(time)
        beats_s.append(sym)
        if p is not None:
            p_t.append(p)
            p_ab.append(abnormal)

    while t < total - 1.0:
        if queue and t >= queue[0].start_s:
            ep = queue.pop(0)
            t = _episode(ep, t, beat, p_t, p_ab, tl, rng,
                         _sinus_rr((start_h + t / 3600.0) % 24.0, t, drift))
            continue
        drift += -drift * 0.02 + rng.normal(0.0, 0.6)
        rr = _sinus_rr((start_h + t / 3600.0) % 24.0, t, drift)
        nxt = t + rr
        if queue and nxt >= queue[0].start_s:
            t = max(nxt, queue[0].start_s)
            beat(t, "N", t - _pr(rr))
            continue
        u = rng.random()
        if u < pvc_p * rr:  # PVC: early, no P, full compensatory pause
            at = round(t + 0.62 * rr, 3)
            beat(at, "V")
            tl.episodes.append({"type": "pvc", "start_s": at, "end_s": at, "beats": 1})
            t += 2 * rr
            beat(t, "N", t - _pr(rr))
        elif u < (pvc_p + pac_p) * rr:  # PAC: early abnormal P, the sinus node resets (non-compensatory)
            at = t + 0.72 * rr
            beat(at, "A", at - 0.14, True)
            tl.episodes.append({"type": "pac", "start_s": round(at, 3), "end_s": round(at, 3), "beats": 1})
            t = at + rr
            beat(t, "N", t - _pr(rr))
        else:
            t = nxt
            beat(t, "N", t - _pr(rr))
        k += 1
    tl.beat_t = np.asarray(beats_t)
    tl.beat_sym = np.asarray(beats_s, dtype="<U1")
    order = np.argsort(tl.beat_t, kind="stable")
    tl.beat_t, tl.beat_sym = tl.beat_t[order], tl.beat_sym[order]
    tl.beat_rr = np.diff(np.concatenate([[tl.beat_t[0] - 0.8], tl.beat_t])) if tl.beat_t.size else tl.beat_t
    tl.p_t, tl.p_abnormal = np.asarray(p_t), np.asarray(p_ab).astype(bool)
    return tl


def _tachy_rr(t: float, start: float, end: float, sinus_rr: float) -> float:
    """RR (s) of a sinus tachycardia beat at ``t``: the sinus node speeds up from the rate before the
    episode to :data:`TACHY_BPM` over :data:`TACHY_RISE_S` and slows down again over :data:`TACHY_FALL_S`
    before ``end`` (raised-cosine ramps), as its autonomic drive changes over tens of seconds; it does not
    jump from one beat to the next as a paroxysmal SVT does."""
    x = max(0.0, min(1.0, (t - start) / TACHY_RISE_S, (end - t) / TACHY_FALL_S))
    before = 60.0 / sinus_rr
    return 60.0 / (before + (TACHY_BPM - before) * (0.5 - 0.5 * math.cos(math.pi * x)))


def _episode(ep: Scheduled, t: float, outer: Callable[..., None], p_t: MutableSequence[float],
             p_ab: MutableSequence[int],
             tl: Timeline, rng: np.random.Generator, sinus_rr: float) -> float:
    """Generate one episode's beats from ``t`` (``sinus_rr``: the sinus RR there); returns the time of
    its last beat."""
    end = ep.start_s + ep.duration_s
    record: dict[str, object] = {"type": ep.type.value, "start_s": round(t, 3)}
    first: list[float] = []

    def beat(time: float, sym: str, p: float | None = None, abnormal: bool = False) -> None:
        if not first:
            first.append(time)
        outer(time, sym, p, abnormal)

    n = 0
    if ep.type is EpisodeType.AF:
        while t < end:
            t += float(np.clip(0.68 * (1 + 0.28 * rng.standard_normal()), 0.33, 1.7))
            beat(t, "N")
            n += 1
        tl.af_spans.append((ep.start_s, t))
    elif ep.type is EpisodeType.FLUTTER:
        # Typical flutter: atria at 300/min on an absolute 0.2 s grid (the sawtooth in render.shared_noise
        # keeps that phase), each QRS 0.24 s after the flutter wave it conducts. Episodes alternate
        # variable conduction (2:1 to 4:1, irregular) and fixed 4:1 (regular, 75 bpm).
        variable = sum(e["type"] == "flutter" for e in tl.episodes) % 2 == 0
        record["conduction"] = "variable" if variable else "4:1"
        wave = math.ceil(t / FLUTTER_CYCLE_S) * FLUTTER_CYCLE_S
        begin = wave
        while wave < end:
            wave += FLUTTER_CYCLE_S * (int(rng.choice((2, 3, 4), p=(0.3, 0.3, 0.4))) if variable else 4)
            beat(wave + FLUTTER_AV_S, "N")
            n += 1
        t = wave + FLUTTER_AV_S
        tl.flutter_spans.append((begin, wave))
    elif ep.type is EpisodeType.PAUSE:
        t += ep.duration_s  # sinus arrest: no P, no QRS
        beat(t, "N", t - 0.16)
        record["start_s"] = round(t - ep.duration_s, 3)
        n = 0
    elif ep.type in (EpisodeType.VT, EpisodeType.COUPLET):
        rr = 0.36 if ep.type is EpisodeType.VT else 0.45
        for _ in range(ep.beats):
            t += rr * (1 + 0.03 * rng.standard_normal())
            beat(t, "V")
            n += 1
        record["end_s"] = round(t, 3)
        outer(t + 1.1, "N", t + 1.1 - 0.16)
        t += 1.1
    elif ep.type is EpisodeType.SVT:
        for _ in range(ep.beats):
            t += 0.38 * (1 + 0.02 * rng.standard_normal())
            beat(t, "A")
            n += 1
        record["end_s"] = round(t, 3)
        outer(t + 0.9, "N", t + 0.9 - 0.16)
        t += 0.9
    elif ep.type is EpisodeType.AVB2:
        # Alternately Mobitz I (Wenckebach 4:3: PR 0.16, 0.26, 0.32 s, then a P without QRS) and Mobitz II
        # (3:2: constant PR 0.18 s, every third P not conducted); atria at 80 bpm.
        mobitz_1 = sum(e["type"] == "avb2" for e in tl.episodes) % 2 == 0
        cycle = (0.16, 0.26, 0.32, None) if mobitz_1 else (0.18, 0.18, None)
        record["mobitz"] = "I" if mobitz_1 else "II"
        p = t
        i = blocked = 0
        pr = 0.18
        while p < end:
            p += 0.75
            step = cycle[i % len(cycle)]
            i += 1
            if step is None:
                p_t.append(p)
                p_ab.append(False)
                blocked += 1
            else:
                pr = step
                beat(p + pr, "N", p)
                n += 1
        record["blocked_p"] = blocked
        t = p + pr if cycle[(i - 1) % len(cycle)] is not None else p + 0.75 + 0.16
        if cycle[(i - 1) % len(cycle)] is None:  # the episode ended on a blocked P: the next one conducts
            outer(t, "N", t - 0.16)
    elif ep.type is EpisodeType.AVB3:
        p = t
        blocked = 0
        while p < end:  # atria at 80 bpm, dissociated junctional escape at 42 bpm
            p += 0.75
            p_t.append(p)
            p_ab.append(False)
            blocked += 1
        record["blocked_p"] = blocked
        q = t
        while q < end:
            q += 1.43
            beat(q, "j")
            n += 1
        t = max(p, q)
    elif ep.type is EpisodeType.BRADY:
        while t < end:
            t += 60.0 / 44.0 * (1 + 0.02 * rng.standard_normal())
            beat(t, "N", t - 0.17)
            n += 1
    elif ep.type is EpisodeType.TACHY:
        begin = t
        while t < end:
            rr = _tachy_rr(t, begin, end, sinus_rr)
            t += rr * (1 + 0.02 * rng.standard_normal())
            beat(t, "N", t - _pr(rr))
            n += 1
    else:  # lead-off or noise: the heart goes on in sinus rhythm
        span = (t, end)
        (tl.flat_spans if ep.type is EpisodeType.LEAD_OFF else tl.noise_spans).append(span)
        if ep.type is EpisodeType.LEAD_OFF:  # alternately flat (1st, 3rd ...) and railed (saturated)
            railed = len(tl.flat_spans) % 2 == 0
            record["signal"] = "railed" if railed else "flat"
            if railed:
                tl.rail_spans.append(span)
        record["end_s"] = round(end, 3)  # the span, not the last beat inside it
        record["lead"] = "all"
        while t < end:
            t += 0.85
            beat(t, "N", t - 0.16)
            n += 1
    if first and ep.type not in (EpisodeType.PAUSE, EpisodeType.LEAD_OFF, EpisodeType.NOISE,
                                 EpisodeType.AVB3):
        record["start_s"] = round(first[0], 3)  # the episode's first beat
    record.setdefault("end_s", round(t, 3))
    record["beats"] = n
    if n and ep.type not in (EpisodeType.LEAD_OFF, EpisodeType.NOISE):
        duration = float(str(record["end_s"])) - float(str(record["start_s"]))
        record["rate_bpm"] = round(60.0 * max(n - 1, 1) / max(duration, 1e-9), 1)
    tl.episodes.append(record)
    return t


def _lead_gains(n_leads: int) -> np.ndarray:
    gains = [LEAD_GAINS[i % 3] for i in range(n_leads)]
    return np.asarray([[g * (1.0 - 0.08 * (i // 3)) for g in gain] for i, gain in enumerate(gains)])


def _triggers(count: int, tl: Timeline, total: float, rng: np.random.Generator) -> list[tuple[float, str]]:
    """Patient-triggered markers: half during episodes (the patient felt it), half at random."""
    during = [e for e in tl.episodes if e["type"] not in ("pvc", "pac", "lead_off")]
    out = []
    for i in range(count):
        if i % 2 == 0 and during:
            ep = during[int(rng.integers(len(during)))]
            at = (float(ep["start_s"]) + float(ep["end_s"])) / 2  # type: ignore[arg-type]
        else:
            at = float(rng.uniform(60.0, total - 60.0))
        out.append((at, SYMPTOMS[int(rng.integers(len(SYMPTOMS)))]))
    return sorted(out)


def simulate(config: SimulationConfig, out_dir: Path,
             progress: Callable[[float], object] | None = None) -> SimulationResult:
    """Simulate and write the recording, ``.atr`` beat truth, ``.diary.csv`` and ``.truth.json``."""
    config.validate()
    spec = default_spec(config.total_s) if config.events in (None, "") else parse_event_spec(config.events)
    rng = np.random.default_rng(config.seed)
    total = config.total_s
    plan = schedule(spec, total, rng)
    tl = plan_timeline(config, plan, spec.rates_per_h, rng)
    triggers = _triggers(spec.triggers, tl, total, rng)
    fs = config.fs
    n_total = int(round(total * fs))
    leads = [Lead(f"ch{i + 1}" if config.leads > 3 else ("II", "V1", "V5")[i]) for i in range(config.leads)]
    markers = [EventMarker(int(at * fs), label, EventKind.PATIENT_TRIGGERED) for at, label in triggers]
    gains = _lead_gains(config.leads)
    out_dir.mkdir(parents=True, exist_ok=True)
    block = int(BLOCK_S * fs)
    with open_writer(out_dir, config.name, config.fmt, fs, leads, start_time=config.start,
                     device="ecgdesk simulator", events=markers) as writer:
        for index, start in enumerate(range(0, n_total, block)):
            n = min(block, n_total - start)
            p, q, t = render_components(start, n, fs, tl.beat_t, tl.beat_sym, tl.beat_rr, tl.p_t,
                                        tl.p_abnormal, t_peak_s)
            noise_mask = span_mask(start, n, fs, tl.noise_spans)
            af_mask = span_mask(start, n, fs, tl.af_spans)
            flutter_mask = span_mask(start, n, fs, tl.flutter_spans)
            flat = span_mask(start, n, fs, tl.flat_spans) > 0
            rail = span_mask(start, n, fs, tl.rail_spans) > 0
            seconds = (start + np.arange(n)) / fs
            gain = 1.0 + 0.1 * np.sin(2 * np.pi * seconds / 10800.0)
            data = np.empty((n, config.leads), dtype=np.float32)
            common = shared_noise(start, n, fs, af_mask, flutter_mask)
            block_rng = np.random.default_rng([config.seed, index])  # each block its own stream: seedable
            for li in range(config.leads):
                g = gains[li]
                x = (g[0] * p + g[1] * q + g[2] * t) * gain + common * (0.8 + 0.2 * li)
                x += lead_noise(n, fs, block_rng, noise_mask)
                x[flat] = 0.0  # electrode off: the amplifier sees nothing ...
                x[rail] = RAIL_MV  # ... or is driven to its limit
                data[:, li] = x
            writer.write(data)
            if progress is not None:
                progress(n / fs)
        record = writer.close()
    visible = np.ones(tl.beat_t.size, dtype=bool)
    for a, b in tl.flat_spans:
        visible &= ~((tl.beat_t >= a) & (tl.beat_t < b))
    keep = visible & (tl.beat_t * fs < n_total)
    samples = np.round(tl.beat_t[keep] * fs).astype(np.int64)
    stem = out_dir / config.name
    ann_samples, ann_symbols, ann_aux = _with_rhythms(samples, tl.beat_sym[keep].tolist(), tl.episodes, fs)
    atr = write_beat_annotations(stem, "atr", ann_samples, ann_symbols, fs, aux_notes=ann_aux)
    diary = out_dir / f"{config.name}.diary.csv"
    with diary.open("w", newline="", encoding="utf-8") as handle:
        writer_csv = csv.writer(handle)
        writer_csv.writerow(["time", "symptom"])
        for at, label in triggers:
            writer_csv.writerow([(config.start + timedelta(seconds=at)).isoformat(timespec="seconds"), label])
    truth = _truth(config, tl, keep, triggers, n_total)
    truth_path = out_dir / f"{config.name}.truth.json"
    truth_path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return SimulationResult(record, atr, truth_path, diary, n_total, int(samples.size))


def _with_rhythms(samples: np.ndarray, symbols: list[str], episodes: list[dict[str, object]],
                  fs: float) -> tuple[np.ndarray, list[str], list[str]]:
    """The beats plus MIT-BIH style rhythm annotations ('+', aux note '(AFIB' ... '(N'), in sample order.

    A rhythm annotation sits at its episode's first beat (``start_s``); the return to sinus ('(N') sits at
    the first beat after ``end_s``. The recording opens with '(N' at sample 0.
    """
    marks: list[tuple[int, str]] = [(0, "(N")]
    for ep in sorted(episodes, key=lambda e: float(str(e["start_s"]))):
        label = RHYTHM_LABELS.get(str(ep["type"]))
        if label is None:
            continue
        begin = int(round(float(str(ep["start_s"])) * fs))
        after = int(np.searchsorted(samples, int(round(float(str(ep["end_s"])) * fs)), side="right"))
        finish = int(samples[after]) if after < samples.size else None
        marks.append((begin, label))
        if finish is not None:
            marks.append((finish, "(N"))
    marks.sort(key=lambda m: m[0])  # stable: the order given at equal samples stays
    rhythm_samples = np.asarray([m[0] for m in marks], dtype=np.int64)
    # A rhythm change comes before the beat at its sample. Few marks: insert them, no sort of every beat.
    where = np.searchsorted(samples, rhythm_samples, side="left")
    all_samples = np.insert(samples, where, rhythm_samples)
    all_symbols, all_aux = list(symbols), [""] * len(symbols)
    for at, (_, label) in zip(where.tolist()[::-1], marks[::-1], strict=True):  # from the end: indices hold
        all_symbols.insert(at, "+")
        all_aux.insert(at, label)
    return all_samples, all_symbols, all_aux


def _truth(config: SimulationConfig, tl: Timeline, keep: np.ndarray, triggers: list[tuple[float, str]],
           n_total: int) -> dict[str, object]:
    symbols = tl.beat_sym[keep]
    by_symbol = {s: int(np.sum(symbols == s)) for s in sorted(set(symbols.tolist()))}
    by_class: dict[str, int] = {}
    for s, count in by_symbol.items():
        by_class[AAMI[s]] = by_class.get(AAMI[s], 0) + count
    unreadable = sum(b - a for a, b in tl.flat_spans + tl.noise_spans)
    analyzable = config.total_s - unreadable
    af = sum(b - a for a, b in tl.af_spans)
    return {
        "schema": TRUTH_SCHEMA, "fs": config.fs, "n_samples": n_total, "leads": config.leads,
        "start_time": config.start.isoformat(), "seed": config.seed,
        "episodes": sorted(tl.episodes, key=lambda e: float(e["start_s"])),  # type: ignore[arg-type]
        "patient_triggers": [{"time_s": round(at, 3), "symptom": label} for at, label in triggers],
        "summary": {"beats_by_symbol": by_symbol, "beats_by_class": by_class, "total_beats": int(keep.sum()),
                    "af_s": round(af, 1), "af_burden_pct": round(100 * af / max(analyzable, 1e-9), 3),
                    "flutter_s": round(sum(b - a for a, b in tl.flutter_spans), 1),
                    "analyzable_s": round(analyzable, 1)},
    }
