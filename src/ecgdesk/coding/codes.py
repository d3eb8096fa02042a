"""The code table: every code the engine knows, with our own paraphrase, family, parts and dates.

Read from ``coding/data/codes.csv`` (one loader, rows with their source). Dates are inclusive; an empty
``valid_from`` means the code existed before any date we look at. The Category III >15-day codes
(0937T-0940T) have an uncertain start date: set it with ``ECGDESK_0937T_EFFECTIVE=YYYY-MM-DD``.
"""

from __future__ import annotations

import csv
import enum
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from importlib import resources

from ecgdesk.coding.facts import Component
from ecgdesk.errors import InputError

UNCERTAIN_START_ENV = "ECGDESK_0937T_EFFECTIVE"


class Family(enum.StrEnum):
    """A group of codes that describe one kind of service (global code plus its parts)."""

    RESTING_ECG = "resting_ecg"
    RHYTHM_STRIP = "rhythm_strip"
    STRESS_TEST = "stress_test"
    HOLTER = "holter"
    EXTENDED_7D = "extended_7d"
    EXTENDED_15D = "extended_15d"
    EXTENDED_30D = "extended_30d"
    EXTENDED_21D_LEGACY = "extended_21d_legacy"
    MOBILE_TELEMETRY = "mobile_telemetry"
    EVENT_MONITOR = "event_monitor"
    TRANSTELEPHONIC_LEGACY = "transtelephonic_legacy"
    ARTERIAL_WAVEFORM = "arterial_waveform"
    IPPE_ECG = "ippe_ecg"
    UNLISTED = "unlisted"
    RELATED = "related"


AMBULATORY_FAMILIES = frozenset(
    {
        Family.HOLTER,
        Family.EXTENDED_7D,
        Family.EXTENDED_15D,
        Family.EXTENDED_30D,
        Family.EXTENDED_21D_LEGACY,
        Family.MOBILE_TELEMETRY,
        Family.EVENT_MONITOR,
        Family.TRANSTELEPHONIC_LEGACY,
    }
)
DURATION_FAMILIES = frozenset(
    {
        Family.HOLTER,
        Family.EXTENDED_7D,
        Family.EXTENDED_15D,
        Family.EXTENDED_30D,
        Family.EXTENDED_21D_LEGACY,
    }
)


class Part(enum.StrEnum):
    """Whether a code is the whole service, its technical part or its professional part."""

    GLOBAL = "global"
    TECHNICAL = "technical"
    PROFESSIONAL = "professional"


@dataclass(frozen=True)
class CodeInfo:
    """One row of the code table (our paraphrase, never the AMA descriptor)."""

    code: str
    family: Family
    part: Part
    components: frozenset[Component]
    min_hours: float | None
    max_hours: float | None
    pctc: int | None
    per_30_days: bool
    valid_from: date | None
    valid_to: date | None
    replaced_by: tuple[str, ...]
    uncertain: bool
    paraphrase: str
    source: str

    def valid_on(self, day: date) -> bool:
        """Whether the code may be reported for a service on ``day``."""
        return (self.valid_from is None or day >= self.valid_from) and (
            self.valid_to is None or day <= self.valid_to
        )

    @property
    def allows_26_tc(self) -> bool:
        """Only PC/TC indicator 1 codes take modifiers 26 and TC."""
        return self.pctc == 1

    @property
    def is_professional(self) -> bool:
        return Component.INTERPRETATION in self.components or Component.SUPERVISION in self.components


def _optional_date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _optional_float(text: str) -> float | None:
    return float(text) if text else None


def _uncertain_start() -> date | None:
    text = os.environ.get(UNCERTAIN_START_ENV, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(UNCERTAIN_START_ENV, f"malformed date {text!r}; expected YYYY-MM-DD") from None


@cache
def _load(uncertain_start: date | None) -> Mapping[str, CodeInfo]:
    table: dict[str, CodeInfo] = {}
    text = resources.files("ecgdesk.coding.data").joinpath("codes.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines()):
        info = CodeInfo(
            code=row["code"],
            family=Family(row["family"]),
            part=Part(row["part"]),
            components=frozenset(Component(c) for c in row["components"].split("|") if c),
            min_hours=_optional_float(row["min_hours"]),
            max_hours=_optional_float(row["max_hours"]),
            pctc=int(row["pctc"]) if row["pctc"] else None,
            per_30_days=row["per_30_days"] == "Y",
            valid_from=_optional_date(row["valid_from"]),
            valid_to=_optional_date(row["valid_to"]),
            replaced_by=tuple(c for c in row["replaced_by"].split("|") if c),
            uncertain=row["uncertain"] == "Y",
            paraphrase=row["paraphrase"],
            source=row["source"],
        )
        if info.uncertain and uncertain_start is not None:
            info = replace(info, valid_from=uncertain_start)
        table[info.code] = info
    return table


def code_table() -> Mapping[str, CodeInfo]:
    """All known codes by code (honours ``ECGDESK_0937T_EFFECTIVE``)."""
    return _load(_uncertain_start())


def code_info(code: str) -> CodeInfo | None:
    """The row of ``code``, or ``None`` for a code outside our table (E/M visits and the like)."""
    return code_table().get(code)


def family_codes(family: Family) -> Iterator[CodeInfo]:
    """The codes of one family, global first."""
    rows = [info for info in code_table().values() if info.family is family]
    order = {Part.GLOBAL: 0, Part.TECHNICAL: 1, Part.PROFESSIONAL: 2}
    return iter(sorted(rows, key=lambda info: (order[info.part], info.code)))


def separate_sets(a: CodeInfo, b: CodeInfo) -> bool:
    """Whether two monitoring codes are two sets, not parts of one: the same part twice, or two families.

    The parts of one set (hook-up, scanning, reading) may be billed on different days and by different
    providers (coding.md 2.1: no PTP edit among them); only a second set counts against a period.
    """
    if a.family is not b.family:
        return True
    return bool(a.components & b.components) or a.code == b.code


def find_code(family: Family, part: Part, component: Component | None = None) -> CodeInfo:
    """The code of ``family`` for ``part`` (and, for technical parts, the one holding ``component``)."""
    for info in family_codes(family):
        if info.part is part and (component is None or component in info.components):
            return info
    raise LookupError(f"no {part.value} code with {component} in family {family.value}")
