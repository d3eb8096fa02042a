"""What was done (``ServiceFacts``) and what is billed (``Claim``), parsed from plain JSON-like data.

These are the two inputs of the coding engine. Both parsers refuse bad input with an
:class:`~ecgdesk.errors.InputError` that names the source file (when given), the field and the reason,
so ``workflow`` and the CLI never see a half-parsed value.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ecgdesk.errors import InputError
from ecgdesk.monitoring.periods import MAX_DAYS as PERIOD_DAYS

Source = str | Path | None

# CPT Category I (5 digits; vaccine administration 4 digits + A), Category II/III (4 digits + F/T), PLA (4
# digits + U), HCPCS Level II (A-V + 4).
# ASCII only: ``\d`` alone would take full-width and other Unicode digits (``９３０００``) for a code.
CODE_PATTERN = re.compile(r"^(?:\d{5}|\d{4}[AFTUM]|[A-V]\d{4})$", re.ASCII)
MODIFIER_PATTERN = re.compile(r"^[0-9A-Z]{2}$", re.ASCII)
POS_PATTERN = re.compile(r"^\d{2}$", re.ASCII)
#: ``YYYY-MM-DD`` only: ``date.fromisoformat`` also takes ``2024W011`` (an ISO week) and ``20240101``.
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
#: Upper bounds of the numbers a service or claim can carry (a year of recording, of prescription).
LIMITS = {"recorded_hours": 366 * 24.0, "prescribed_days": 366.0}
MAX_UNITS = 999  # the claim form's units field holds three digits for these services
MAX_POINTERS = 12  # diagnoses on a claim (the 837P allows 12)


class Service(enum.StrEnum):
    """The kind of ECG service furnished."""

    RESTING_ECG = "resting_ecg"
    RHYTHM_STRIP = "rhythm_strip"
    STRESS_TEST = "stress_test"
    AMBULATORY_ECG = "ambulatory_ecg"
    MOBILE_TELEMETRY = "mobile_telemetry"
    EVENT_MONITOR = "event_monitor"
    IPPE_SCREENING_ECG = "ippe_screening_ecg"
    ARTERIAL_WAVEFORM = "arterial_waveform"


#: services billed once per period of up to 30 days (their lines are dated part by part, rule 4)
PERIOD_SERVICES = frozenset({Service.EVENT_MONITOR, Service.MOBILE_TELEMETRY})


class Setting(enum.StrEnum):
    """Which NCCI/MUE table applies: the practitioner (CMS-1500) or outpatient hospital (UB-04) one."""

    PRACTITIONER = "practitioner"
    HOSPITAL_OUTPATIENT = "hospital_outpatient"


class Component(enum.StrEnum):
    """A piece of work inside a service; the billing entity reports the pieces it furnished."""

    RECORDING = "recording"
    SCANNING = "scanning"
    INTERPRETATION = "interpretation"
    SUPERVISION = "supervision"
    MONITORING = "monitoring"


#: The distinct-service modifiers a study may be marked with (XE separate encounter, XS separate structure,
#: XP separate practitioner, XU unusual non-overlapping service, 59 the generic one; coding/distinct.py).
DISTINCT_MODIFIERS = ("XE", "XS", "XP", "XU", "59")


class Repeat(enum.StrEnum):
    """A repeat of the same service on the same day, by the same or another physician (76/77)."""

    SAME_PHYSICIAN = "same_physician"
    DIFFERENT_PHYSICIAN = "different_physician"


@dataclass(frozen=True)
class ServiceFacts:
    """The facts of one furnished service that decide its codes (the FACTS JSON, see docs/coding.md)."""

    service: Service
    setting: Setting
    place_of_service: str
    start: date
    end: date | None = None
    recorded_hours: float | None = None
    components: frozenset[Component] = frozenset()
    diagnoses: tuple[str, ...] = ()
    repeat: Repeat | None = None
    abn_on_file: bool = False
    interpretation_signed: bool | None = None
    ordering_provider_npi: str | None = None
    provider_id: str | None = None
    prescribed_days: float | None = None
    signed_on: date | None = None
    distinct_modifier: str | None = None

    @property
    def per_period(self) -> bool:
        """Event monitoring and telemetry: one service per period of up to 30 days, whatever the hours."""
        return self.service in PERIOD_SERVICES

    @property
    def completed_on(self) -> date:
        """The day the service was complete: the end of monitoring or its documented early stop.

        A period longer than 30 days is billed one period at a time, so the first period's lines complete
        on its 30th day.
        """
        end = self.end or self.start
        if self.per_period:
            end = min(end, self.start + timedelta(days=PERIOD_DAYS - 1))
        return end

    @property
    def date_of_service(self) -> date:
        """The date the coding tables (codes, indication lists) are looked up on.

        The start of the service, except for a monitoring period: its codes and LCD are those in force when
        it completes (shared/reference/monitoring.md, section 5 edge cases: the DOS is the completion date,
        after SE17023 and the "services on or after" wording of code and LCD changes).
        """
        return self.completed_on if self.per_period else self.start


@dataclass(frozen=True)
class ClaimLine:
    """One service line of a claim."""

    code: str
    date_of_service: date
    modifiers: tuple[str, ...] = ()
    units: int = 1
    diagnosis_pointers: tuple[int, ...] = (1,)
    date_of_service_end: date | None = None
    recorded_hours: float | None = None
    period_end: date | None = None

    @property
    def completed_on(self) -> date:
        """The day the monitoring set of this line completed (the Noridian 29-day rule compares these).

        A per-period line (event monitoring, telemetry) carries its period's end in ``period_end``, since the
        line itself is dated at the hook-up, the end or the signed read; any other multi-day line completes
        at the end of its span.
        """
        return self.period_end or self.date_of_service_end or self.date_of_service

    @property
    def coded_on(self) -> date:
        """The day whose code set and indication lists apply: a period's completion, else the date of
        service."""
        return self.period_end or self.date_of_service


@dataclass(frozen=True)
class Claim:
    """A professional or outpatient claim: header fields plus its lines (the CLAIM JSON)."""

    setting: Setting
    place_of_service: str
    lines: tuple[ClaimLine, ...]
    diagnoses: tuple[str, ...] = ()
    provider_id: str | None = None
    ordering_provider_npi: str | None = None
    abn_on_file: bool = False
    interpretation_signed: bool | None = None
    recorded_hours: float | None = None
    claim_id: str | None = None


# --------------------------------------------------------------------------------------------------
# Field parsers: each names the field in its error. The documents themselves are Pydantic models
# (:mod:`ecgdesk.coding.schemas`), whose fields call these, so a reason reads the same everywhere.


def parse_date(value: Any, field_name: str, source: Source = None) -> date:
    """An ISO ``YYYY-MM-DD`` date, or :class:`InputError` naming ``field_name``."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise InputError(field_name, f"must be a date written YYYY-MM-DD, got {value!r}", source)
    text = value.strip()
    try:
        if not DATE_PATTERN.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(field_name, f"malformed date {value!r}; expected YYYY-MM-DD", source) from None


def parse_code(value: Any, field_name: str, source: Source = None) -> str:
    """A CPT or HCPCS code (``93000``, ``0296T``, ``G0403``), upper-cased, or :class:`InputError`."""
    text = str(value).strip().upper() if isinstance(value, str | int) else ""
    if not CODE_PATTERN.match(text):
        raise InputError(
            field_name,
            f"{value!r} is not a CPT/HCPCS code (5 digits, 4 digits + A/F/T/U/M, or a letter A-V + 4 digits)",
            source,
        )
    return text


def parse_strict_bool(value: Any, field_name: str, source: Source = None) -> bool:
    """``true`` or ``false`` only (not 0/1, not ``"yes"``)."""
    if not isinstance(value, bool):
        raise InputError(field_name, f"must be true or false, got {value!r}", source)
    return value


def parse_number(
    value: Any, field_name: str, source: Source = None, minimum: float = 0.0, maximum: float = float("inf")
) -> float:
    """A finite number from ``minimum`` to ``maximum`` (not a boolean, not NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InputError(field_name, f"must be a number, got {value!r}", source)
    if value < minimum or value == float("inf"):
        raise InputError(field_name, f"must be a finite number >= {minimum:g}, got {value!r}", source)
    if value > maximum:
        raise InputError(field_name, f"{value!r} is out of range (at most {maximum:g})", source)
    return float(value)


def parse_str_list(value: Any, field_name: str, source: Source = None) -> list[str]:
    """A list of strings, each stripped."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InputError(field_name, f"must be a list of strings, got {value!r}", source)
    return [v.strip() for v in value]


def parse_pos(value: Any, field_name: str, source: Source = None) -> str:
    """A 2-digit CMS place-of-service code (``11``; the number 11 is accepted too)."""
    text = f"{value:02d}" if isinstance(value, int) and not isinstance(value, bool) else str(value).strip()
    if not POS_PATTERN.match(text):
        raise InputError(field_name, f"must be a 2-digit CMS place-of-service code, got {value!r}", source)
    return text


def parse_npi(value: Any, field_name: str, source: Source = None) -> str:
    """An NPI or payer provider id as text (a JSON number is accepted)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InputError(field_name, f"must be a string, got {value!r}", source)
    return value.strip()


def parse_diagnoses(value: Any, field_name: str, source: Source = None) -> list[str]:
    """ICD-10-CM codes, upper-cased."""
    return [code.upper() for code in parse_str_list(value, field_name, source)]


# --------------------------------------------------------------------------------------------------
# The documents (validated by the Pydantic models of ecgdesk.coding.schemas, imported on first use so the
# CLI's start does not load Pydantic).


def facts_from_dict(data: Any, source: Source = None) -> ServiceFacts:
    """Parse the FACTS JSON object into :class:`ServiceFacts`; raise :class:`InputError` naming the field."""
    from ecgdesk.coding import schemas

    return schemas.facts_from_dict(data, source)


def claim_from_dict(data: Any, source: Source = None, prefix: str = "") -> Claim:
    """Parse the CLAIM JSON object into a :class:`Claim`; raise :class:`InputError` naming the field.

    ``prefix`` is put before every field name (``"[3]."`` for the fourth claim of a history file).
    """
    from ecgdesk.coding import schemas

    return schemas.claim_from_dict(data, source, prefix)


def history_from_list(data: Any, source: Source = None) -> tuple[Claim, ...]:
    """Parse a HISTORY JSON array of earlier claims (fields named ``[i].field``)."""
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise InputError("<history>", "must be a JSON array of claims", source)
    return tuple(claim_from_dict(item, source, prefix=f"[{i}].") for i, item in enumerate(data))
