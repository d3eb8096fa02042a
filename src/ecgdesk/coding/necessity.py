"""Medical necessity data: ICD-10-CM validity, screening-only diagnoses and indication lists.

ICD-10-CM comes from ``simple-icd-10-cm`` (offline; its code set is the April 2026 release, so a code
added later than the date of service is not detected). Indication lists and the screening-only set are
versioned data in ``coding/data/necessity.json`` with their source and effective dates.
"""

from __future__ import annotations

import enum
import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from importlib import resources
from types import ModuleType

from ecgdesk.coding.codes import Family

ICD10CM_RELEASE = "ICD-10-CM April 2026 (simple-icd-10-cm)"


class IcdStatus(enum.StrEnum):
    """Whether a diagnosis code can go on a claim."""

    BILLABLE = "billable"
    HEADER = "header"  # a valid category or subcategory with more specific codes below it
    UNKNOWN = "unknown"


@cache
def _icd() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


def normalize_icd(code: str) -> str:
    """``r002`` -> ``R00.2``; codes already dotted are only upper-cased."""
    text = code.strip().upper()
    if "." not in text and len(text) > 3:
        text = f"{text[:3]}.{text[3:]}"
    return text


@lru_cache(maxsize=4096)
def icd_status(code: str) -> IcdStatus:
    """Billable (a leaf code), header (valid but not specific enough) or unknown."""
    icd = _icd()
    text = normalize_icd(code)
    if not icd.is_valid_item(text) or icd.is_chapter_or_block(text):
        return IcdStatus.UNKNOWN
    return IcdStatus.BILLABLE if icd.is_leaf(text) else IcdStatus.HEADER


@dataclass(frozen=True)
class IndicationList:
    """Diagnoses that support a family of services (a payer/LCD list, illustrative where said)."""

    id: str
    title: str
    families: frozenset[Family]
    effective_from: date
    effective_to: date | None
    source: str
    prefixes: tuple[str, ...]

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def supports(self, diagnoses: Iterable[str]) -> bool:
        """Whether any diagnosis falls under one of the listed codes (prefix match on dotted codes)."""
        return any(normalize_icd(dx).startswith(self.prefixes) for dx in diagnoses)


@dataclass(frozen=True)
class ScreeningRule:
    """Screening or routine-exam diagnoses, and the diagnostic families they cannot support."""

    id: str
    source: str
    codes: frozenset[str]
    diagnostic_families: frozenset[Family]

    def only_screening(self, diagnoses: Sequence[str]) -> bool:
        return bool(diagnoses) and all(normalize_icd(dx) in self.codes for dx in diagnoses)


@cache
def _necessity_data() -> tuple[tuple[IndicationList, ...], ScreeningRule]:
    text = resources.files("ecgdesk.coding.data").joinpath("necessity.json").read_text(encoding="utf-8")
    data = json.loads(text)
    lists = tuple(
        IndicationList(
            id=item["id"],
            title=item["title"],
            families=frozenset(Family(f) for f in item["families"]),
            effective_from=date.fromisoformat(item["effective_from"]),
            effective_to=date.fromisoformat(item["effective_to"]) if item.get("effective_to") else None,
            source=item["source"],
            prefixes=tuple(item["prefixes"]),
        )
        for item in data["indication_lists"]
    )
    screening = data["screening_only"]
    rule = ScreeningRule(
        id=screening["id"],
        source=screening["source"],
        codes=frozenset(screening["codes"]),
        diagnostic_families=frozenset(Family(f) for f in screening["diagnostic_families"]),
    )
    return lists, rule


def indication_list(family: Family, day: date) -> IndicationList | None:
    """The indication list in force for ``family`` on ``day`` (None where no list applies)."""
    for item in _necessity_data()[0]:
        if family in item.families and item.in_force(day):
            return item
    return None


def screening_rule() -> ScreeningRule:
    return _necessity_data()[1]
