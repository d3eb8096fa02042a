"""The resting 12-lead ECG analysis: delineation, measurements, rhythm and statements, and its outputs."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgdesk.analysis.ecg12.delineation import Delineation, DelineationParams, delineate, qrs_correlation
from ecgdesk.analysis.ecg12.limb_leads import derive_limb_leads, derived_note, limb_reversal_warning
from ecgdesk.analysis.ecg12.measure import Measurements, measure
from ecgdesk.analysis.ecg12.rhythm import Rhythm, RhythmResult, classify_rhythm
from ecgdesk.analysis.ecg12.statements import Sex, Statement, interpret
from ecgdesk.analysis.io import write_text_atomic
from ecgdesk.errors import InputError
from ecgdesk.records.lead_names import doubled_leads
from ecgdesk.records.recording import Recording

#: Longest stretch analysed: a resting ECG is 10 s; longer recordings are cut to their first minute.
MAX_SECONDS = 60.0
#: 1.6: leads found whatever their spelling (records/lead_names); 1.7: a flat, clipped or doubled lead is
#: left out of the axis and the lead measurements, with a warning naming it; 1.8: III, aVR, aVL and aVF
#: derived from I and II where the file has none of them, a possible left/right arm reversal warned of.
ALGORITHM_VERSION = "ecg12-1.8"
#: Median correlation of the beats' QRS with the median QRS below which the "beats" are noise: real
#: ECGs on LUDB stay above 0.3 (paced with fusion beats) and mostly above 0.9; white or 50 Hz noise is < 0.2.
MIN_QRS_LIKENESS = 0.25
#: A lead whose samples span less than this is flat (no lead of a beating heart is): an electrode off, or
#: a channel the device fills with zeros.
FLAT_MV = 0.01
#: A lead holding its highest or lowest value this long is clipped at its amplifier's rail: no QRS or T
#: apex is that flat.
CLIPPED_S = 0.08
#: ... and that value lies at least this share of the lead's span away from its median level.
RAIL_FROM_BASELINE = 0.25


@dataclass
class RestingEcgResult:
    """Everything the resting ECG report and its files need."""

    recording: Recording
    delineation: Delineation
    measurements: Measurements
    rhythm: RhythmResult
    statements: list[Statement]
    signal: np.ndarray  # the analysed samples, (n, n_leads), mV
    #: What the analysis left out and why (a flat, clipped or doubled lead), one sentence each, after the
    #: reader's own warnings.
    lead_warnings: tuple[str, ...] = ()
    #: The leads computed from I and II because the file has none of them (III, aVR, aVL, aVF): the last
    #: columns of ``signal``.
    derived_leads: tuple[str, ...] = ()

    @property
    def lead_names(self) -> list[str]:
        """The names of ``signal``'s columns: the file's leads, then the derived ones."""
        return [*(lead.name for lead in self.recording.leads), *self.derived_leads]

    @property
    def warnings(self) -> tuple[str, ...]:
        return (*self.recording.warnings, *self.lead_warnings)

    @property
    def rhythm_name(self) -> Rhythm:
        return self.rhythm.rhythm


def source_name(recording: Recording) -> str:
    return str(recording.path) if recording.path is not None else (recording.record_name or "recording")


def _sex_of(recording: Recording) -> Sex:
    patient = recording.patient
    raw = (patient.sex or "").strip().upper()[:1]
    return Sex(raw) if raw in ("M", "F") else Sex.UNKNOWN


def _longest_run(column: np.ndarray, level: float) -> int:
    edges = np.diff(np.concatenate([[0], (column == level).astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((stops - starts).max()) if starts.size else 0


def unusable_leads(data: np.ndarray, fs: float, names: list[str],
                   where: str) -> tuple[frozenset[int], list[str]]:
    """The leads no measurement named after a lead may use, with a warning for each: a flat or clipped lead
    would pull the axis towards the others (a zero lead I turned 16 degrees into 22) and a doubled name
    leaves which lead is which to a guess (one of two ``V5`` overwrote the other's amplitudes)."""
    skip: set[int] = set()
    warnings: list[str] = []
    for i, name in enumerate(names):
        column = data[:, i]
        span = float(np.ptp(column)) if column.size else 0.0
        if span < FLAT_MV:
            skip.add(i)
            warnings.append(f"{where}: lead {name} is flat (its samples span {span:.3f} mV): left out of the "
                            f"axis and the lead measurements")
            continue
        # A rail lies beyond the waves; a flat stretch at the lead's baseline level is an isoelectric
        # segment (LUDB 100's V6 holds its minimum, its baseline, for 92 ms), not clipping.
        level = float(np.median(column))
        rails = [extreme for extreme in (float(column.max()), float(column.min()))
                 if abs(extreme - level) >= RAIL_FROM_BASELINE * span]
        held = max((_longest_run(column, rail) for rail in rails), default=0)
        if held >= CLIPPED_S * fs:
            skip.add(i)
            warnings.append(f"{where}: lead {name} holds its extreme value for {1000 * held / fs:.0f} ms "
                            f"(clipped): left out of the axis and the lead measurements")
    doubled = doubled_leads(names)
    if doubled:
        warnings.append(f"{where}: leads {', '.join(doubled)} are named as the same lead: neither is taken "
                        f"for it (axis and lead measurements)")
    return frozenset(skip), warnings


def analyze_resting(recording: Recording, params: DelineationParams | None = None,
                    sex: Sex | None = None) -> RestingEcgResult:
    """Analyse a resting ECG recording (any lead set; 12 leads give every statement)."""
    stop = min(recording.n_samples, int(MAX_SECONDS * recording.fs))
    if stop < int(2 * recording.fs):
        raise InputError("signal", f"a resting ECG needs at least 2 s of signal, the recording has "
                         f"{recording.n_samples / recording.fs:.2f} s", source_name(recording))
    data = np.asarray(recording.read(0, stop), dtype=np.float64)
    if not np.isfinite(data).any():
        raise InputError("signal", "every sample is NaN or infinite", source_name(recording))
    data = np.where(np.isfinite(data), data, 0.0)
    names = [lead.name for lead in recording.leads]
    source = source_name(recording)
    faulty, _ = unusable_leads(data, recording.fs, names, source)
    data, names, derived = derive_limb_leads(data, names, faulty)
    d = delineate(data, recording.fs, names, params)
    if d.filtered is not None and d.fiducials.size >= 3:
        likeness = float(np.median(qrs_correlation(d.filtered, d.fiducials, recording.fs)))
        if likeness < MIN_QRS_LIKENESS:
            raise InputError("signal", f"no repeating QRS complex (median QRS likeness {likeness:.2f} < "
                                       f"{MIN_QRS_LIKENESS}): the recording looks like noise or a lead-off "
                                       f"tracing", source_name(recording))
    skip, lead_warnings = unusable_leads(data, recording.fs, names, source)
    if derived:
        lead_warnings.append(derived_note(source, derived))
    m = measure(d, skip)
    rhythm = classify_rhythm(data, d)
    has_p = m.p_ms is not None and rhythm.rhythm not in (Rhythm.ATRIAL_FIBRILLATION, Rhythm.ATRIAL_FLUTTER,
                                                         Rhythm.PACED)
    reversal = limb_reversal_warning(m, has_p, source)
    if reversal is not None:
        lead_warnings.append(reversal)
    statements = interpret(m, rhythm, sex if sex is not None else _sex_of(recording))
    return RestingEcgResult(recording, d, m, rhythm, statements, data.astype(np.float32),
                            tuple(lead_warnings), derived)


def _round(value: float | None, digits: int = 1) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def measurements_to_dict(result: RestingEcgResult) -> dict[str, Any]:
    """The ``measurements.json`` document (schema in docs/ecg12.md)."""
    m = result.measurements
    qtc = None if m.qtc is None else {k: _round(v) for k, v in asdict(m.qtc).items()}
    return {
        "algorithm_version": ALGORITHM_VERSION,
        "source": source_name(result.recording),
        "fs": result.recording.fs,
        "hr_bpm": _round(m.hr_bpm),
        "rr_ms": _round(m.rr_ms),
        "p_ms": _round(m.p_ms),
        "pr_ms": _round(m.pr_ms),
        "qrs_ms": _round(m.qrs_ms),
        "qt_ms": _round(m.qt_ms),
        "qtc_ms": qtc,
        "p_axis_deg": _round(m.p_axis_deg, 0),
        "qrs_axis_deg": _round(m.qrs_axis_deg, 0),
        "t_axis_deg": _round(m.t_axis_deg, 0),
        "axis_category": None if m.axis_category is None else m.axis_category.value,
        "rhythm": result.rhythm.rhythm.value,
        "rhythm_reason": result.rhythm.reason,
        "warnings": list(result.warnings),
        "derived_leads": list(result.derived_leads),
        "statements": [
            {"code": s.code, "text": s.text, "measurement": s.measurement, "value": _round(s.value, 2),
             "limit": s.limit, "unit": s.unit, "source": s.source}
            for s in result.statements
        ],
        "beats": int(result.delineation.fiducials.size),
        "beats_in_median": result.delineation.median.n_beats_used,
        "amplitudes_mv": {
            a.lead: {"r": _round(a.r_mv, 3), "s": _round(a.s_mv, 3), "q": _round(a.q_mv, 3),
                     "p": _round(a.p_mv, 3), "t": _round(a.t_mv, 3), "st_j60": _round(a.st_j60_mv, 3),
                     "st_j80": _round(a.st_j80_mv, 3)}
            for a in m.amplitudes.values()
        },
    }


def write_outputs(result: RestingEcgResult, out_dir: Path) -> tuple[Path, Path]:
    """Write ``waves.csv`` (one row per wave per beat per lead) and ``measurements.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = ["lead,wave,onset,peak,offset"]
    for lead in result.delineation.leads:
        for beat in lead.beat_waves:
            for wave in beat:
                rows.append(f"{lead.lead},{wave.kind.value},{wave.onset},{wave.peak},{wave.offset}")
    waves = out_dir / "waves.csv"
    write_text_atomic(waves, "\n".join(rows) + "\n")
    measurements = out_dir / "measurements.json"
    write_text_atomic(measurements, json.dumps(measurements_to_dict(result), indent=2) + "\n")
    return waves, measurements


def read_waves_csv(path: Path) -> list[tuple[str, str, int, int, int]]:
    """Read a ``waves.csv`` back (used by tests and by the benchmark)."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return [(r["lead"], r["wave"], int(r["onset"]), int(r["peak"]), int(r["offset"])) for r in reader]
