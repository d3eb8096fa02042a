"""When an HL7 v2 order is to be worked: its duration (TQ1-6) and priority (TQ1-9, ORC-7.6, OBR-27.6, OBR-5).

TQ1 repeats in 2.5.1 (one per timing of the order); every one is read. Until 2026-12-07 only the first
was: a second TQ1's STAT was worked as routine, and a duration the second gave otherwise went unsaid.
"""

from __future__ import annotations

import re

from ecgdesk.errors import InputError
from ecgdesk.interop.hl7v2_text import component, field_at, single
from ecgdesk.interop.model import OrderPriority


def _tq1s(segments: dict[str, list[list[str]]]) -> list[tuple[str, list[str]]]:
    """Each TQ1 with the name its fields go by in an error: ``TQ1`` for the first, ``TQ1[2]`` ..."""
    return [("TQ1" if n == 1 else f"TQ1[{n}]", tq1) for n, tq1 in enumerate(segments.get("TQ1", []), start=1)]


def duration_days(segments: dict[str, list[list[str]]], source: str) -> float | None:
    """TQ1-6 service duration (``14^d``, ``48^h``) in days, when the order gives one; two TQ1s that give
    different durations are refused (which one the recorder is to be worn for would be a guess)."""
    found: float | None = None
    for name, tq1 in _tq1s(segments):
        given = single(tq1, 6, f"{name}-6", source)
        if not given:
            continue
        value, unit = component(given, 1), component(given, 2).lower()
        factor = {"d": 1.0, "day": 1.0, "h": 1 / 24, "hr": 1 / 24, "wk": 7.0}.get(unit)
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if factor is None or not 0 < number < 1000:
            raise InputError(
                f"{name}-6", f"expected a service duration like '14^d' or '48^h', got {value}^{unit}", source
            )
        days = round(number * factor, 4)
        if found is not None and days != found:
            raise InputError(f"{name}-6", f"a service duration of {days:g} days where an earlier TQ1 gives "
                                          f"{found:g}: send the one the order is for", source)
        found = days
    return found


# HL7 tables 0027 and 0485 (and the words some senders write instead). Pre-op, callback and as-needed orders
# are worked as routine; a "timing critical within N seconds or minutes" one as STAT.
_PRIORITIES = {
    "S": OrderPriority.STAT, "STAT": OrderPriority.STAT, "A": OrderPriority.ASAP, "ASAP": OrderPriority.ASAP,
    "T": OrderPriority.ASAP, "URGENT": OrderPriority.URGENT,
    "R": OrderPriority.ROUTINE, "ROUTINE": OrderPriority.ROUTINE, "P": OrderPriority.ROUTINE,
    "C": OrderPriority.ROUTINE, "PRN": OrderPriority.ROUTINE,
}
_TIMING_CRITICAL = {"TS": OrderPriority.STAT, "TM": OrderPriority.STAT, "TH": OrderPriority.ASAP,
                    "TD": OrderPriority.ROUTINE, "TW": OrderPriority.ROUTINE, "TL": OrderPriority.ROUTINE}


def order_priority(
    segments: dict[str, list[list[str]]], orc: list[str], obr: list[str], source: str
) -> OrderPriority:
    """The most urgent of the priorities the order gives: every TQ1-9 (2.5), the priority component of ORC-7
    or OBR-27 (the timing/quantity before 2.5, still sent) and OBR-5; routine when none is given. Where the
    places disagree the more urgent wins: a STAT order worked as routine costs more than the reverse."""
    given = [
        *((f"{name}-9", component(field_at(tq1, 9), 1)) for name, tq1 in _tq1s(segments)),
        ("ORC-7.6", component(field_at(orc, 7), 6)),
        ("OBR-27.6", component(field_at(obr, 27), 6)),
        ("OBR-5", component(field_at(obr, 5), 1)),
    ]
    found = [OrderPriority.ROUTINE]
    for field, value in given:
        code = value.strip().upper()
        if not code:
            continue
        timing = _TIMING_CRITICAL.get(code[:2]) if re.fullmatch(r"T[SMHDWL]\d+", code) else None
        priority = _PRIORITIES.get(code, timing)
        if priority is None:
            raise InputError(field, f"unknown order priority {value.strip()!r} (HL7 table 0485: S stat, "
                                    "A asap, R routine, P preop, C callback, T timing critical, PRN)", source)
        found.append(priority)
    return max(found, key=lambda p: p.rank)
