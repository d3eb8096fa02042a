"""Interpretive statements of a resting ECG, each carrying the measurement that triggered it.

The criteria are a table (``CRITERIA``) with their source, so a reviewer can see and change them without
reading control flow. Every criterion reads one named measurement from :func:`measurement_values`.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from dataclasses import dataclass

from ecgdesk.analysis.ecg12.measure import Measurements
from ecgdesk.analysis.ecg12.rhythm import Rhythm, RhythmResult


class Sex(enum.StrEnum):
    MALE = "M"
    FEMALE = "F"
    UNKNOWN = "U"


@dataclass(frozen=True)
class Criterion:
    """One statement rule: ``measurement`` compared (``op``) with ``limit`` in ``unit``."""

    code: str
    text: str
    measurement: str
    op: str  # one of ">", ">=", "<", "<="
    limit: float
    unit: str
    source: str
    requires: tuple[str, ...] = ()  # other statement codes that must hold too
    excludes: tuple[str, ...] = ()  # statement codes that suppress this one


@dataclass(frozen=True)
class Statement:
    code: str
    text: str
    measurement: str
    value: float
    limit: float
    unit: str
    source: str

    def describe(self) -> str:
        digits = 2 if self.unit == "mV" else 0
        return f"{self.text} ({self.measurement} {self.value:.{digits}f} {self.unit}; limit {self.limit:g})"


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}

AHA = "AHA/ACCF/HRS 2009 recommendations for the standardization and interpretation of the ECG"
CRITERIA: tuple[Criterion, ...] = (
    Criterion("first_degree_av_block", "First-degree AV block", "pr_ms", ">", 200.0, "ms", AHA,
              requires=("sinus",)),
    Criterion("short_pr", "Short PR interval", "pr_ms", "<", 120.0, "ms", AHA, requires=("sinus",)),
    Criterion("complete_bbb", "Complete bundle branch block", "qrs_ms", ">=", 120.0, "ms", AHA,
              excludes=("paced",)),
    Criterion("incomplete_bbb", "Incomplete bundle branch block", "qrs_ms", ">=", 110.0, "ms", AHA,
              excludes=("paced", "complete_bbb")),
    # -90 to -180 degrees is the northwest quadrant, not a left axis (AHA/ACCF/HRS 2009: "right superior
    # axis"; ventricular rhythms, lead reversal, severe right ventricular hypertrophy)
    Criterion("extreme_axis_deviation", "Extreme axis deviation (northwest axis)", "qrs_axis_deg", "<", -90.0,
              "deg", AHA),
    Criterion("left_axis_deviation", "Left axis deviation", "qrs_axis_deg", "<", -30.0, "deg", AHA,
              excludes=("extreme_axis_deviation",)),
    Criterion("right_axis_deviation", "Right axis deviation", "qrs_axis_deg", ">", 90.0, "deg", AHA),
    Criterion("prolonged_qtc_male", "Prolonged QTc", "qtc_bazett_ms", ">", 450.0, "ms", AHA,
              requires=("male",), excludes=("complete_bbb", "paced")),
    Criterion("prolonged_qtc_female", "Prolonged QTc", "qtc_bazett_ms", ">", 460.0, "ms", AHA,
              requires=("female",), excludes=("complete_bbb", "paced")),
    Criterion("prolonged_qtc", "Prolonged QTc", "qtc_bazett_ms", ">", 460.0, "ms", AHA,
              requires=("sex_unknown",), excludes=("complete_bbb", "paced")),
    Criterion("lvh_sokolow_lyon", "LVH by voltage (Sokolow-Lyon)", "sokolow_lyon_mv", ">=", 3.5, "mV",
              "Sokolow & Lyon 1949: S in V1 + R in V5 or V6", excludes=("complete_bbb",)),
    Criterion("lvh_cornell_male", "LVH by voltage (Cornell)", "cornell_mv", ">", 2.8, "mV",
              "Casale et al. 1985: R in aVL + S in V3", requires=("male",), excludes=("complete_bbb",)),
    Criterion("lvh_cornell_female", "LVH by voltage (Cornell)", "cornell_mv", ">", 2.0, "mV",
              "Casale et al. 1985: R in aVL + S in V3", requires=("female",), excludes=("complete_bbb",)),
    Criterion("st_elevation", "ST elevation", "max_st_elevation_mv", ">=", 0.1, "mV",
              "ST level at J+60 ms, 1 mm in any lead (0.2 mV in V2-V3 for ischemia per Fourth UDMI)",
              excludes=("complete_bbb", "paced")),
    Criterion("st_depression", "ST depression", "max_st_depression_mv", ">=", 0.1, "mV",
              "ST level at J+60 ms, 1 mm below the PR segment in any lead except aVR",
              excludes=("complete_bbb", "paced")),
    Criterion("low_voltage_limb", "Low QRS voltage (limb leads)", "max_limb_qrs_mv", "<", 0.5, "mV", AHA),
    Criterion("low_voltage_precordial", "Low QRS voltage (precordial leads)", "max_precordial_qrs_mv", "<",
              1.0, "mV", AHA),
)

_LIMB = ("i", "ii", "iii", "avr", "avl", "avf")
_PRECORDIAL = ("v1", "v2", "v3", "v4", "v5", "v6")
_SINUS = {Rhythm.SINUS_RHYTHM, Rhythm.SINUS_BRADYCARDIA, Rhythm.SINUS_TACHYCARDIA, Rhythm.SINUS_ARRHYTHMIA}


def measurement_values(m: Measurements) -> dict[str, float]:
    """The named values the criteria read; a value the ECG cannot give (missing lead or wave) is absent."""
    values: dict[str, float] = {"hr_bpm": m.hr_bpm, "qrs_ms": m.qrs_ms}
    if m.pr_ms is not None:
        values["pr_ms"] = m.pr_ms
    if m.qrs_axis_deg is not None:
        values["qrs_axis_deg"] = m.qrs_axis_deg
    if m.qtc is not None:
        values["qtc_bazett_ms"] = m.qtc.bazett
    amp = m.amplitudes
    if "v1" in amp and ("v5" in amp or "v6" in amp):
        r_lateral = max(amp[lead].r_mv for lead in ("v5", "v6") if lead in amp)
        values["sokolow_lyon_mv"] = -amp["v1"].s_mv + r_lateral
    if "avl" in amp and "v3" in amp:
        values["cornell_mv"] = amp["avl"].r_mv - amp["v3"].s_mv
    st_leads = [a for name, a in amp.items() if name != "avr"]
    if st_leads:
        values["max_st_elevation_mv"] = max(a.st_j60_mv for a in st_leads)
        values["max_st_depression_mv"] = max(-a.st_j60_mv for a in st_leads)
    if all(lead in amp for lead in _LIMB):
        values["max_limb_qrs_mv"] = max(amp[lead].qrs_peak_to_peak_mv for lead in _LIMB)
    if all(lead in amp for lead in _PRECORDIAL):
        values["max_precordial_qrs_mv"] = max(amp[lead].qrs_peak_to_peak_mv for lead in _PRECORDIAL)
    return values


def interpret(m: Measurements, rhythm: RhythmResult, sex: Sex = Sex.UNKNOWN,
              criteria: tuple[Criterion, ...] = CRITERIA) -> list[Statement]:
    """Rhythm statement first, then every criterion that holds, in table order."""
    values = measurement_values(m)
    context = {"sinus": rhythm.rhythm in _SINUS, "paced": rhythm.rhythm is Rhythm.PACED,
               "male": sex is Sex.MALE, "female": sex is Sex.FEMALE, "sex_unknown": sex is Sex.UNKNOWN}
    rhythm_text = rhythm.rhythm.value.replace("_", " ").capitalize()
    statements = [Statement(rhythm.rhythm.value, f"{rhythm_text}: {rhythm.reason}", "hr_bpm", m.hr_bpm,
                            0.0, "bpm", "rhythm classifier (ecgdesk.analysis.ecg12.rhythm)")]
    fired: set[str] = set()
    for c in criteria:
        value = values.get(c.measurement)
        if value is None or not all(context.get(r, r in fired) for r in c.requires):
            continue
        if any(context.get(e, False) or e in fired for e in c.excludes):
            continue
        if _OPS[c.op](value, c.limit):
            fired.add(c.code)
            statements.append(Statement(c.code, c.text, c.measurement, value, c.limit, c.unit, c.source))
    return statements
