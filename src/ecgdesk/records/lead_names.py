"""The standard spelling of a 12-lead ECG lead name written another way.

Devices and exports name the leads of a standard 12-lead ECG in many ways: ``ECG II`` and ``EKG-V1``
(EDF labels), ``Lead aVR``, ``AVR`` or ``avr``, ``DII`` or ``D2`` (Spanish, Portuguese, Italian and French
devices), ``Ableitung II`` (German), ``MDC_ECG_LEAD_AVR`` (HL7 aECG codes kept by an export), ``Lead I
(Einthoven)`` (DICOM code meanings), ``V1-C1`` (a chest lead with its IEC name). The resting analysis
finds leads by their standard names (the axis from I to aVF, the P wave in II, Sokolow-Lyon from V1 and
V5/V6); a lead written otherwise was not found and the measurement left out without a word.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_BY_KEY = {name.lower(): name for name in STANDARD_LEADS}
_BY_KEY.update({"di": "I", "dii": "II", "diii": "III", "d1": "I", "d2": "II", "d3": "III"})
_PREFIX = re.compile(r"^(mdc_ecg_lead_|ecg|ekg|lead|ableitung|deriva[cç][aã]o|derivaci[oó]n|derivazione|"
                     r"d[eé]rivation)[\s_.:-]*", re.IGNORECASE)
#: DICOM's code meanings end with the lead system's name: "Lead I (Einthoven)", "Lead V1 (Wilson)"; an EDF
#: label holds 16 characters, so an export may keep "Lead I (Einthove" or "Lead aVR (Goldbe".
_SYSTEM = re.compile(r"\s*\(([a-z]+)\)?$", re.IGNORECASE)
_SYSTEMS = ("einthoven", "goldberger", "wilson")
#: A chest lead with its IEC name beside it, either way round ("V1-C1", "C1/V1"); a bare "C1" stays
#: unknown (a channel as often as a chest lead).
_PAIRED = re.compile(r"^(?:v([1-6])[-/]c([1-6])|c([1-6])[-/]v([1-6]))$")


def standard_lead_name(name: str) -> str | None:
    """``II`` for ``ECG II``, ``dii`` or ``Ableitung II``; None when ``name`` names no lead of the standard
    12 (a bare number does not: ``2`` is a channel as often as lead II)."""
    name = name.strip()
    system = _SYSTEM.search(name)
    if system and any(full.startswith(system.group(1).lower()) for full in _SYSTEMS):
        name = name[:system.start()]
    key = _PREFIX.sub("", name).strip().lower().replace(" ", "")
    paired = _PAIRED.match(key)
    if paired:
        first, second = [g for g in paired.groups() if g is not None]
        return f"V{first}" if first == second else None
    return _BY_KEY.get(key)


def standard_lead_names(names: Sequence[str]) -> list[str]:
    """``names`` with each lead of the standard 12 in its standard spelling; the others unchanged.

    Two names that would become the same lead (``II`` and ``ECG II``) are both left as written: which is
    the lead is not ours to guess. The other leads are still renamed (until 2026-12-07 nothing was, so one
    doubled lead cost a file written ``ECG I`` ... ``ECG V6`` its axis)."""
    standard, counts = _standardised(names)
    return [name if counts[std] > 1 else std for name, std in zip(names, standard, strict=True)]


def doubled_leads(names: Sequence[str]) -> list[str]:
    """The names (as written) of the leads that two or more names of ``names`` stand for."""
    standard, counts = _standardised(names)
    return [name for name, std in zip(names, standard, strict=True) if counts[std] > 1]


def _standardised(names: Sequence[str]) -> tuple[list[str], Counter[str]]:
    """Each name's standard spelling (the name itself where it names no standard lead), and how many
    names stand for each."""
    standard = [standard_lead_name(name) or name for name in names]
    return standard, Counter(standard)


def lead_keys(names: Sequence[str]) -> list[str]:
    """The names the analyses look leads up by: the standard spelling in lower case (``ii`` for ``ECG II``,
    ``DII`` and ``ii``); what the outputs call a lead stays the name the file gives. A lead named twice
    (``II`` and ``ECG II``, or ``V5`` twice) gets a key no analysis looks for (``ii#2``): neither is taken
    for the lead."""
    standard, counts = _standardised(names)
    return [f"{name.lower()}#{i + 1}" if counts[std] > 1 else std.lower()
            for i, (name, std) in enumerate(zip(names, standard, strict=True))]
