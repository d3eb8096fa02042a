"""The observation code table (``data/observation_codes.json``): LOINC, MDC and local codes per result."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ecgdesk.errors import InputError

LOINC = "http://loinc.org"
MDC = "urn:iso:std:iso:11073:10101"
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class ObservationCode:
    key: str
    label: str
    unit: str
    loinc: str | None
    mdc: str | None


@dataclass(frozen=True)
class CodeTable:
    version: str
    local_system: str
    studies: dict[str, tuple[str | None, str]]
    measurements: dict[str, ObservationCode]

    def study(self, service: str) -> tuple[str | None, str]:
        """(LOINC code or None, display) of the study a service produces."""
        return self.studies.get(service, (None, f"ECG service: {service}"))

    def measurement(self, key: str) -> ObservationCode:
        return self.measurements[key]


@cache
def code_table() -> CodeTable:
    raw: dict[str, Any] = json.loads(
        resources.files("ecgdesk.interop").joinpath("data/observation_codes.json").read_text("utf-8")
    )
    return CodeTable(
        version=raw["version"],
        local_system=raw["local_system"],
        studies={k: (v["loinc"], v["display"]) for k, v in raw["studies"].items()},
        measurements={
            k: ObservationCode(k, v["label"], v["unit"], v["loinc"], v["mdc"])
            for k, v in raw["measurements"].items()
        },
    )


# Universal service ids an order may carry (OBR-4): CPT codes (C4) and LOINC study codes (LN), mapped to
# our service and, for ambulatory codes, the recording length they imply when TQ1-6 gives none.
ORDERABLE: dict[str, tuple[str, float | None]] = {
    "93000": ("resting_ecg", None),
    "93005": ("resting_ecg", None),
    "93010": ("resting_ecg", None),
    "93040": ("rhythm_strip", None),
    "93041": ("rhythm_strip", None),
    "93042": ("rhythm_strip", None),
    "93015": ("stress_test", None),
    "93016": ("stress_test", None),
    "93017": ("stress_test", None),
    "93018": ("stress_test", None),
    "93224": ("ambulatory_ecg", 2.0),
    "93225": ("ambulatory_ecg", 2.0),
    "93226": ("ambulatory_ecg", 2.0),
    "93227": ("ambulatory_ecg", 2.0),
    "93241": ("ambulatory_ecg", 7.0),
    "93242": ("ambulatory_ecg", 7.0),
    "93243": ("ambulatory_ecg", 7.0),
    "93244": ("ambulatory_ecg", 7.0),
    "93245": ("ambulatory_ecg", 15.0),
    "93246": ("ambulatory_ecg", 15.0),
    "93247": ("ambulatory_ecg", 15.0),
    "93248": ("ambulatory_ecg", 15.0),
    "93268": ("event_monitor", 30.0),
    "93270": ("event_monitor", 30.0),
    "93271": ("event_monitor", 30.0),
    "93272": ("event_monitor", 30.0),
    "93228": ("mobile_telemetry", 30.0),
    "93229": ("mobile_telemetry", 30.0),
    "11524-6": ("resting_ecg", None),
    "18754-2": ("ambulatory_ecg", None),
}


def orderable(code: str, field: str, source: str) -> tuple[str, float | None]:
    """(our service, default days) of an orderable code, or an error listing what can be ordered."""
    if code not in ORDERABLE:
        raise InputError(
            field, f"unknown orderable service code {code!r}; known: {', '.join(sorted(ORDERABLE))}", source
        )
    return ORDERABLE[code]


def first_orderable(codes: list[str], field: str, source: str) -> tuple[str, float | None]:
    """(our service, default days) of the first of an order's codes that can be ordered; when none can, the
    first one's error (an order may carry a LOINC panel code before the CPT code, or a local code first)."""
    return orderable(next((code for code in codes if code in ORDERABLE), codes[0]), field, source)
