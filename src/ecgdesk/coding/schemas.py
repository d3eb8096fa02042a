"""The FACTS and CLAIM JSON as Pydantic v2 models: one schema for the CLI's JSON files, the coding rows the
store keeps and the HTTP API's OpenAPI document.

Each field is checked by the coding package's own field parser (:mod:`ecgdesk.coding.facts`), so a reason
reads the same wherever the data came from; a refusal becomes one :class:`~ecgdesk.errors.InputError` that
names the field by its path in the document (``lines[0].modifiers[1]``) and the source file. The models
convert to and from the frozen dataclasses the engine works on (:class:`ServiceFacts`, :class:`Claim`).
Unknown keys are ignored, as the hand-written parsers did, so stored rows written with more keys still read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo, field_validator

from ecgdesk.coding.facts import (
    DISTINCT_MODIFIERS,
    LIMITS,
    MAX_POINTERS,
    MAX_UNITS,
    MODIFIER_PATTERN,
    Claim,
    ClaimLine,
    Component,
    Repeat,
    Service,
    ServiceFacts,
    Setting,
    Source,
    parse_code,
    parse_date,
    parse_diagnoses,
    parse_npi,
    parse_number,
    parse_pos,
    parse_str_list,
    parse_strict_bool,
)
from ecgdesk.errors import InputError, check_option


def _required(check: Callable[[Any, str], Any]) -> BeforeValidator:
    """``check(value, field)`` on a field that must be present and not null."""

    def run(value: Any) -> Any:
        if value is None:
            raise InputError("", "is required but missing")
        return check(value, "")

    return BeforeValidator(run)


def _optional(check: Callable[[Any, str], Any]) -> BeforeValidator:
    return BeforeValidator(lambda value: None if value is None else check(value, ""))


def _option(allowed: list[str]) -> Callable[[Any, str], Any]:
    return lambda value, name: check_option(name, value, allowed)


def _nonempty_names(value: Any, name: str) -> list[str]:
    names = parse_str_list(value, name)
    if not names:
        raise InputError(name, "must list at least one component this entity furnished")
    return names


def _modifier(value: Any) -> str:
    text = str(value).upper()
    if not MODIFIER_PATTERN.match(text):
        raise InputError("", f"{text!r} is not a 2-character modifier")
    return text


def _whole(value: Any, name: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not float(value).is_integer()
    ):
        raise InputError(name, f"must be a whole number, got {value!r}")
    if abs(value) > MAX_UNITS:
        raise InputError(name, f"{value!r} is out of range (at most {MAX_UNITS})")
    return int(value)


def _pointers(value: Any, name: str) -> list[int]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(p, int) and not isinstance(p, bool) for p in value
    ):
        raise InputError(name, f"must be a list of integers, got {value!r}")
    if len(value) > MAX_POINTERS or any(abs(p) > MAX_POINTERS for p in value):
        raise InputError(
            name, f"at most {MAX_POINTERS} pointers, each 1 to {MAX_POINTERS}, got {list(value)!r}"
        )
    return list(value)


def _at_most(limit: float) -> Callable[[Any, str], float]:
    return lambda value, name: parse_number(value, name, maximum=limit)


def _lines(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise InputError(name, "must be a non-empty list of claim lines")
    return value


Pos = Annotated[str, _required(parse_pos)]
Diagnoses = Annotated[list[str], BeforeValidator(lambda value: parse_diagnoses(value, ""))]
Npi = Annotated[str | None, _optional(parse_npi)]
Hours = Annotated[float | None, _optional(_at_most(LIMITS["recorded_hours"]))]
Days = Annotated[float | None, _optional(_at_most(LIMITS["prescribed_days"]))]
Flag = Annotated[bool, BeforeValidator(lambda value: parse_strict_bool(value, ""))]
MaybeFlag = Annotated[bool | None, _optional(parse_strict_bool)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FactsDocument(_Model):
    """The facts of one furnished service that decide its codes (docs/coding.md, "FACTS")."""

    service: Annotated[Service, _required(_option([s.value for s in Service]))]
    setting: Annotated[Setting, _required(_option([s.value for s in Setting]))]
    place_of_service: Pos
    start: Annotated[date, _required(parse_date)]
    end: Annotated[date | None, _optional(parse_date)] = None
    recorded_hours: Hours = None
    components: Annotated[
        list[Annotated[Component, BeforeValidator(lambda value: check_option("", value, list(Component)))]],
        _required(_nonempty_names),
    ]
    diagnoses: Diagnoses = []
    repeat: Annotated[Repeat | None, _optional(_option([r.value for r in Repeat]))] = None
    abn_on_file: Flag = False
    interpretation_signed: MaybeFlag = None
    ordering_provider_npi: Npi = None
    provider_id: Npi = None
    prescribed_days: Days = None
    signed_on: Annotated[date | None, _optional(parse_date)] = None
    distinct_modifier: Annotated[str | None, _optional(_option(list(DISTINCT_MODIFIERS)))] = None

    @field_validator("end")
    @classmethod
    def _not_before_start(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start")
        if end is not None and start is not None and end < start:
            raise InputError("end", f"{end.isoformat()} is before start {start.isoformat()}")
        return end

    def to_facts(self) -> ServiceFacts:
        return ServiceFacts(
            **{name: getattr(self, name) for name in type(self).model_fields if name not in _TUPLES},
            components=frozenset(self.components),
            diagnoses=tuple(self.diagnoses),
        )

    @classmethod
    def from_facts(cls, facts: ServiceFacts) -> Self:
        # model_construct: the dataclass is already checked, and a service's facts may be incomplete while
        # its study is in progress (no component furnished yet) and still be shown
        values = {name: getattr(facts, name) for name in cls.model_fields}
        lists = {"components": sorted(facts.components), "diagnoses": list(facts.diagnoses)}
        return cls.model_construct(**{**values, **lists})


class ClaimLineDocument(_Model):
    """One service line of a claim."""

    code: Annotated[str, _required(parse_code)]
    date_of_service: Annotated[date, _required(parse_date)]
    modifiers: Annotated[
        list[Annotated[str, BeforeValidator(_modifier)]], BeforeValidator(lambda v: parse_str_list(v, ""))
    ] = []
    units: Annotated[int, BeforeValidator(lambda value: _whole(value, ""))] = 1
    diagnosis_pointers: Annotated[list[int], BeforeValidator(lambda value: _pointers(value, ""))] = [1]
    date_of_service_end: Annotated[date | None, _optional(parse_date)] = None
    recorded_hours: Hours = None
    period_end: Annotated[date | None, _optional(parse_date)] = None

    @field_validator("date_of_service_end")
    @classmethod
    def _not_before_service(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("date_of_service")
        if end is not None and start is not None and end < start:
            raise InputError("date_of_service_end", f"{end.isoformat()} is before the date of service")
        return end

    def to_line(self) -> ClaimLine:
        return ClaimLine(
            **{name: getattr(self, name) for name in type(self).model_fields if name not in _TUPLES},
            modifiers=tuple(self.modifiers),
            diagnosis_pointers=tuple(self.diagnosis_pointers),
        )

    @classmethod
    def from_line(cls, line: ClaimLine) -> Self:
        values = {name: getattr(line, name) for name in cls.model_fields}
        return cls.model_construct(
            **{
                **values,
                "modifiers": list(line.modifiers),
                "diagnosis_pointers": list(line.diagnosis_pointers),
            }
        )


class ClaimDocument(_Model):
    """A professional or outpatient claim: header fields plus its lines (docs/coding.md, "CLAIM")."""

    setting: Annotated[Setting, _required(_option([s.value for s in Setting]))]
    place_of_service: Pos
    lines: Annotated[list[ClaimLineDocument], _required(_lines)]
    diagnoses: Diagnoses = []
    provider_id: Npi = None
    ordering_provider_npi: Npi = None
    abn_on_file: Flag = False
    interpretation_signed: MaybeFlag = None
    recorded_hours: Hours = None
    claim_id: Annotated[str | None, BeforeValidator(lambda value: None if value is None else str(value))] = (
        None
    )

    def to_claim(self) -> Claim:
        return Claim(
            **{name: getattr(self, name) for name in type(self).model_fields if name not in _TUPLES},
            lines=tuple(line.to_line() for line in self.lines),
            diagnoses=tuple(self.diagnoses),
        )

    @classmethod
    def from_claim(cls, claim: Claim) -> Self:
        values = {name: getattr(claim, name) for name in cls.model_fields}
        lines = [ClaimLineDocument.from_line(line) for line in claim.lines]
        return cls.model_construct(**{**values, "lines": lines, "diagnoses": list(claim.diagnoses)})


#: fields kept as lists or sets in the models and as tuples or frozensets in the dataclasses
_TUPLES = {"components", "diagnoses", "modifiers", "diagnosis_pointers", "lines"}


def _path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def input_error(error: ValidationError, whole: str, prefix: str, source: Source) -> InputError:
    """The first refusal of ``error`` as one InputError, the field named by its path in the document."""
    first = error.errors()[0]
    field = _path(first["loc"])
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, InputError):
        reason = cause.reason
    elif first["type"] == "missing":
        reason = "is required but missing"
    elif first["type"] in ("model_type", "dict_type", "model_attributes_type"):
        reason = f"must be a JSON object, got {type(first['input']).__name__}"
    else:
        reason = first["msg"]
    if not field:
        return InputError(prefix.rstrip(".") or whole, reason, source)
    return InputError(f"{prefix}{field}", reason, source)


def facts_from_dict(data: Any, source: Source = None) -> ServiceFacts:
    """Parse the FACTS JSON object into :class:`ServiceFacts`; raise :class:`InputError` naming the field."""
    try:
        return FactsDocument.model_validate(data).to_facts()
    except ValidationError as error:
        raise input_error(error, "<facts>", "", source) from None


def claim_from_dict(data: Any, source: Source = None, prefix: str = "") -> Claim:
    """Parse the CLAIM JSON object into a :class:`Claim`; raise :class:`InputError` naming the field.

    ``prefix`` is put before every field name (``"[3]."`` for the fourth claim of a history file).
    """
    try:
        return ClaimDocument.model_validate(data).to_claim()
    except ValidationError as error:
        raise input_error(error, "<claim>", prefix, source) from None


def facts_to_dict(facts: ServiceFacts) -> dict[str, Any]:
    """The FACTS JSON object of ``facts`` (what :func:`facts_from_dict` reads back)."""
    return FactsDocument.from_facts(facts).model_dump(mode="json")


def claim_to_dict(claim: Claim) -> dict[str, Any]:
    """The CLAIM JSON object of ``claim`` (what :func:`claim_from_dict` reads back)."""
    return ClaimDocument.from_claim(claim).model_dump(mode="json")
