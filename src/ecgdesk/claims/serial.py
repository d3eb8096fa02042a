"""A :class:`ProfessionalClaim` as plain JSON data and back (stored with the claim, shown over HTTP).

Amounts are strings (``"125.50"``) so no float rounding enters; dates are ISO strings.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import date
from decimal import Decimal
from typing import Any

from ecgdesk.claims.model import (
    Address,
    BillingProvider,
    Frequency,
    PayerInfo,
    Person,
    ProfessionalClaim,
    Provider,
    Relationship,
    ServiceLine,
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def claim_to_dict(claim: ProfessionalClaim) -> dict[str, Any]:
    data: dict[str, Any] = _plain(asdict(claim))
    data["frequency"] = claim.frequency.value
    data["relationship"] = claim.relationship.value
    data["total_charge"] = f"{claim.total_charge:.2f}"
    return data


def _address(data: dict[str, Any]) -> Address:
    return Address(**data)


def _person(data: dict[str, Any] | None) -> Person | None:
    if data is None:
        return None
    values = dict(data)
    values["birth_date"] = date.fromisoformat(values["birth_date"])
    values["address"] = _address(values["address"])
    return Person(**values)


def _provider(data: dict[str, Any] | None) -> Provider | None:
    return Provider(**data) if data is not None else None


def _line(data: dict[str, Any]) -> ServiceLine:
    values = dict(data)
    values["charge"] = Decimal(values["charge"])
    values["date_from"] = date.fromisoformat(values["date_from"])
    values["date_to"] = date.fromisoformat(values["date_to"]) if values.get("date_to") else None
    values["modifiers"] = tuple(values.get("modifiers", ()))
    values["pointers"] = tuple(values.get("pointers", (1,)))
    values["ordering"] = _provider(values.get("ordering"))
    return ServiceLine(**values)


def claim_from_dict(data: dict[str, Any]) -> ProfessionalClaim:
    names = {f.name for f in fields(ProfessionalClaim)}
    values = {k: v for k, v in data.items() if k in names}
    billing = dict(values["billing"])
    billing["address"] = _address(billing["address"])
    values["billing"] = BillingProvider(**billing)
    values["payer"] = PayerInfo(**values["payer"])
    subscriber = _person(values["subscriber"])
    assert subscriber is not None
    values["subscriber"] = subscriber
    values["patient"] = _person(values.get("patient"))
    values["relationship"] = Relationship(values["relationship"])
    values["frequency"] = Frequency(values["frequency"])
    values["diagnoses"] = tuple(values["diagnoses"])
    values["lines"] = tuple(_line(x) for x in values["lines"])
    values["rendering"] = _provider(values.get("rendering"))
    return ProfessionalClaim(**values)
