"""The standard spelling of a 12-lead ECG lead name written another way.

Devices and exports name the leads of a standard 12-lead ECG in many ways: ``ECG II`` and ``EKG-V1``
(EDF labels), ``Lead aVR``, ``AVR`` or ``avr``, ``DII`` or ``D2`` (Spanish, Portuguese, Italian and French
devices), ``Ableitung II`` (German). The resting analysis finds leads by their standard names (the axis
from I to aVF, the P wave in II, Sokolow-Lyon from V1 and V5/V6); a lead written otherwise was not found
and the measurement left out without a word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_BY_KEY = {name.lower(): name for name in STANDARD_LEADS}
_BY_KEY.update({"di": "I", "dii": "II", "diii": "III", "d1": "I", "d2": "II", "d3": "III"})
_PREFIX = re.compile(r"^(ecg|ekg|lead|ableitung|deriva[cç][aã]o|derivaci[oó]n|derivazione|d[eé]rivation)"
                     r"[\s_.:-]*", re.IGNORECASE)


def standard_lead_name(name: str) -> str | None:
    """``II`` for ``ECG II``, ``dii`` or ``Ableitung II``; None when ``name`` names no lead of the standard
    12 (a bare number does not: ``2`` is a channel as often as lead II)."""
    key = _PREFIX.sub("", name.strip()).strip().lower().replace(" ", "")
    return _BY_KEY.get(key)


def standard_lead_names(names: Sequence[str]) -> list[str]:
    """``names`` with each lead of the standard 12 in its standard spelling; the others unchanged.

    Nothing is renamed when two names would become the same lead (``II`` and ``ECG II``): which is the
    lead is not ours to guess."""
    standard = [standard_lead_name(name) or name for name in names]
    if len(set(standard)) < len(standard):
        return list(names)
    return standard


def lead_keys(names: Sequence[str]) -> list[str]:
    """The names the analyses look leads up by: the standard spelling in lower case (``ii`` for ``ECG II``,
    ``DII`` and ``ii``); what the outputs call a lead stays the name the file gives."""
    return [name.lower() for name in standard_lead_names(names)]
