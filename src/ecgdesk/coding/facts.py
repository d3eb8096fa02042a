"""What was done (``ServiceFacts``) and what is billed (``Claim``), parsed from plain JSON-like data.

These are the two inputs of the coding engine. Both parsers refuse bad input with an
:class:`~ecgdesk.errors.InputError` that names the source file (when given), the field and the reason,
so ``workflow`` and the CLI never see a half-parsed value.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ecgdesk.errors import InputError, check_option

Source = str | Path | None

# CPT Category I (5 digits), Category II/III (4 digits + F/T), PLA (4 digits + U), HCPCS Level II (A-V + 4).
# ASCII only: ``\d`` alone would take full-width and other Unicode digits (``９３０００``) for a code.
CODE_PATTERN = re.compile(r"^(?:\d{5}|\d{4}[FTUM]|[A-V]\d{4})$", re.ASCII)
MODIFIER_PATTERN = re.compile(r"^[0-9A-Z]{2}$", re.ASCII)
POS_PATTERN = re.compile(r"^\d{2}$", re.ASCII)
#: ``YYYY-MM-DD`` only: ``date.fromisoformat`` also takes ``2024W011`` (an ISO week) and ``20240101``.
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


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

    @property
    def date_of_service(self) -> date:
        """The date the coding tables are looked up on (the start of the service)."""
        return self.start


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
# Field parsers: each names the field in its error.


def _require(data: Mapping[str, Any], name: str, prefix: str, source: Source) -> Any:
    if name not in data or data[name] is None:
        raise InputError(f"{prefix}{name}", "is required but missing", source)
    return data[name]


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
            f"{value!r} is not a CPT/HCPCS code (5 digits, 4 digits + F/T/U, or a letter A-V + 4 digits)",
            source,
        )
    return text


def _parse_bool(value: Any, field_name: str, source: Source) -> bool:
    if not isinstance(value, bool):
        raise InputError(field_name, f"must be true or false, got {value!r}", source)
    return value


def _parse_optional_bool(data: Mapping[str, Any], name: str, prefix: str, source: Source) -> bool | None:
    value = data.get(name)
    return None if value is None else _parse_bool(value, f"{prefix}{name}", source)


def _parse_number(value: Any, field_name: str, source: Source, minimum: float = 0.0,
                  maximum: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InputError(field_name, f"must be a number, got {value!r}", source)
    if value < minimum or value == float("inf"):
        raise InputError(field_name, f"must be a finite number >= {minimum:g}, got {value!r}", source)
    if value > maximum:
        raise InputError(field_name, f"{value!r} is out of range (at most {maximum:g})", source)
    return float(value)


#: Upper bounds of the numbers a service or claim can carry (a year of recording, of prescription).
LIMITS = {"recorded_hours": 366 * 24.0, "prescribed_days": 366.0}
MAX_UNITS = 999  # the claim form's units field holds three digits for these services
MAX_POINTERS = 12  # diagnoses on a claim (the 837P allows 12)


def _parse_optional_number(data: Mapping[str, Any], name: str, prefix: str, source: Source) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    return _parse_number(value, f"{prefix}{name}", source, maximum=LIMITS.get(name, float("inf")))


def _parse_str_list(value: Any, field_name: str, source: Source) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InputError(field_name, f"must be a list of strings, got {value!r}", source)
    return [v.strip() for v in value]


def _parse_pos(value: Any, field_name: str, source: Source) -> str:
    text = f"{value:02d}" if isinstance(value, int) and not isinstance(value, bool) else str(value).strip()
    if not POS_PATTERN.match(text):
        raise InputError(field_name, f"must be a 2-digit CMS place-of-service code, got {value!r}", source)
    return text


def _parse_npi_text(data: Mapping[str, Any], name: str, prefix: str, source: Source) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InputError(f"{prefix}{name}", f"must be a string, got {value!r}", source)
    return value.strip()


def _parse_diagnoses(value: Any, field_name: str, source: Source) -> tuple[str, ...]:
    codes = _parse_str_list(value, field_name, source)
    return tuple(code.upper() for code in codes)


def _parse_choice(data: Mapping[str, Any], name: str, prefix: str, allowed: list[str], source: Source) -> str:
    value = _require(data, name, prefix, source)
    return str(check_option(f"{prefix}{name}", value, allowed, source))


def _check_mapping(data: Any, field_name: str, source: Source) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InputError(field_name, f"must be a JSON object, got {type(data).__name__}", source)
    return data


# --------------------------------------------------------------------------------------------------


def facts_from_dict(data: Any, source: Source = None) -> ServiceFacts:
    """Parse the FACTS JSON object into :class:`ServiceFacts`; raise :class:`InputError` naming the field."""
    data = _check_mapping(data, "<facts>", source)
    service = Service(_parse_choice(data, "service", "", [s.value for s in Service], source))
    setting = Setting(_parse_choice(data, "setting", "", [s.value for s in Setting], source))
    pos = _parse_pos(_require(data, "place_of_service", "", source), "place_of_service", source)
    start = parse_date(_require(data, "start", "", source), "start", source)
    end = parse_date(data["end"], "end", source) if data.get("end") is not None else None
    if end is not None and end < start:
        raise InputError("end", f"{end.isoformat()} is before start {start.isoformat()}", source)
    component_names = _parse_str_list(_require(data, "components", "", source), "components", source)
    if not component_names:
        raise InputError("components", "must list at least one component this entity furnished", source)
    components = frozenset(
        Component(check_option(f"components[{i}]", name, [c.value for c in Component], source))
        for i, name in enumerate(component_names)
    )
    repeat_value = data.get("repeat")
    repeat = (
        None
        if repeat_value is None
        else Repeat(check_option("repeat", repeat_value, [None, *[r.value for r in Repeat]], source))
    )
    abn = data.get("abn_on_file", False)
    return ServiceFacts(
        service=service,
        setting=setting,
        place_of_service=pos,
        start=start,
        end=end,
        recorded_hours=_parse_optional_number(data, "recorded_hours", "", source),
        components=components,
        diagnoses=_parse_diagnoses(data.get("diagnoses", []), "diagnoses", source),
        repeat=repeat,
        abn_on_file=_parse_bool(abn, "abn_on_file", source),
        interpretation_signed=_parse_optional_bool(data, "interpretation_signed", "", source),
        ordering_provider_npi=_parse_npi_text(data, "ordering_provider_npi", "", source),
        provider_id=_parse_npi_text(data, "provider_id", "", source),
        prescribed_days=_parse_optional_number(data, "prescribed_days", "", source),
    )


def _parse_line(data: Any, index: int, source: Source) -> ClaimLine:
    prefix = f"lines[{index}]."
    data = _check_mapping(data, f"lines[{index}]", source)
    code = parse_code(_require(data, "code", prefix, source), f"{prefix}code", source)
    dos = parse_date(_require(data, "date_of_service", prefix, source), f"{prefix}date_of_service", source)
    modifier_list = _parse_str_list(data.get("modifiers", []), f"{prefix}modifiers", source)
    modifiers = tuple(m.upper() for m in modifier_list)
    for j, modifier in enumerate(modifiers):
        if not MODIFIER_PATTERN.match(modifier):
            raise InputError(f"{prefix}modifiers[{j}]", f"{modifier!r} is not a 2-character modifier", source)
    units_value = data.get("units", 1)
    if (
        isinstance(units_value, bool)
        or not isinstance(units_value, int | float)
        or not math.isfinite(units_value)
        or not float(units_value).is_integer()
    ):
        raise InputError(f"{prefix}units", f"must be a whole number, got {units_value!r}", source)
    if abs(units_value) > MAX_UNITS:
        raise InputError(f"{prefix}units", f"{units_value!r} is out of range (at most {MAX_UNITS})", source)
    pointers_value = data.get("diagnosis_pointers", [1])
    if not isinstance(pointers_value, list | tuple) or not all(
        isinstance(p, int) and not isinstance(p, bool) for p in pointers_value
    ):
        raise InputError(
            f"{prefix}diagnosis_pointers", f"must be a list of integers, got {pointers_value!r}", source
        )
    if len(pointers_value) > MAX_POINTERS or any(abs(p) > MAX_POINTERS for p in pointers_value):
        raise InputError(f"{prefix}diagnosis_pointers", f"at most {MAX_POINTERS} pointers, each 1 to "
                                                        f"{MAX_POINTERS}, got {pointers_value!r}", source)
    end_value = data.get("date_of_service_end")
    end = parse_date(end_value, f"{prefix}date_of_service_end", source) if end_value is not None else None
    if end is not None and end < dos:
        raise InputError(
            f"{prefix}date_of_service_end", f"{end.isoformat()} is before the date of service", source
        )
    return ClaimLine(
        code=code,
        date_of_service=dos,
        modifiers=modifiers,
        units=int(units_value),
        diagnosis_pointers=tuple(pointers_value),
        date_of_service_end=end,
        recorded_hours=_parse_optional_number(data, "recorded_hours", prefix, source),
    )


def claim_from_dict(data: Any, source: Source = None, prefix: str = "") -> Claim:
    """Parse the CLAIM JSON object into a :class:`Claim`; raise :class:`InputError` naming the field.

    ``prefix`` is put before every field name (``"[3]."`` for the fourth claim of a history file).
    """
    data = _check_mapping(data, prefix.rstrip(".") or "<claim>", source)
    setting = Setting(_parse_choice(data, "setting", prefix, [s.value for s in Setting], source))
    pos = _parse_pos(_require(data, "place_of_service", prefix, source), f"{prefix}place_of_service", source)
    lines_value = _require(data, "lines", prefix, source)
    if not isinstance(lines_value, list) or not lines_value:
        raise InputError(f"{prefix}lines", "must be a non-empty list of claim lines", source)
    lines = tuple(_parse_prefixed_line(line, i, prefix, source) for i, line in enumerate(lines_value))
    claim_id = data.get("claim_id")
    return Claim(
        setting=setting,
        place_of_service=pos,
        lines=lines,
        diagnoses=_parse_diagnoses(data.get("diagnoses", []), f"{prefix}diagnoses", source),
        provider_id=_parse_npi_text(data, "provider_id", prefix, source),
        ordering_provider_npi=_parse_npi_text(data, "ordering_provider_npi", prefix, source),
        abn_on_file=_parse_bool(data.get("abn_on_file", False), f"{prefix}abn_on_file", source),
        interpretation_signed=_parse_optional_bool(data, "interpretation_signed", prefix, source),
        recorded_hours=_parse_optional_number(data, "recorded_hours", prefix, source),
        claim_id=None if claim_id is None else str(claim_id),
    )


def _parse_prefixed_line(data: Any, index: int, prefix: str, source: Source) -> ClaimLine:
    if not prefix:
        return _parse_line(data, index, source)
    try:
        return _parse_line(data, index, source)
    except InputError as error:
        raise InputError(f"{prefix}{error.field}", error.reason, source) from None


def history_from_list(data: Any, source: Source = None) -> tuple[Claim, ...]:
    """Parse a HISTORY JSON array of earlier claims (fields named ``[i].field``)."""
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise InputError("<history>", "must be a JSON array of claims", source)
    return tuple(claim_from_dict(item, source, prefix=f"[{i}].") for i, item in enumerate(data))
