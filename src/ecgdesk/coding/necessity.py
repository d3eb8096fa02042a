"""Medical necessity data: ICD-10-CM validity, screening-only diagnoses and indication lists.

ICD-10-CM comes from ``simple-icd-10-cm`` (offline; its code set is the April 2026 release, so a code
added later than the date of service is not detected). Indication lists and the screening-only set are
versioned data in ``coding/data/necessity.json`` with their source and effective dates.
"""

from __future__ import annotations

import bisect
import enum
import importlib.util
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

from ecgdesk.coding.codes import Family
from ecgdesk.errors import is_digits

#: The written form of a code (ASCII only): a letter, two letters or digits, then an optional dot and up to
#: four more letters or digits.
_ICD_FORM = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z](?:\.[0-9A-Z]{1,4})?$", re.ASCII)
ICD10CM_RELEASE = "ICD-10-CM April 2026 (simple-icd-10-cm)"
#: The dates of service that code set is in force on: CMS's April 1 update of fiscal year 2026, until the
#: fiscal year 2027 code set takes over on 1 October 2026. It is the only ICD-10-CM set ecgdesk has (none in
#: shared/data, one in the package), so validity is not dated: a date of service outside these is flagged
#: (the ``icd_code_set`` warning), since a code added, deleted or split since is judged wrongly there.
ICD10CM_EFFECTIVE = (date(2026, 4, 1), date(2026, 9, 30))


class IcdStatus(enum.StrEnum):
    """Whether a diagnosis code can go on a claim."""

    BILLABLE = "billable"
    HEADER = "header"  # a valid category or subcategory with more specific codes below it
    UNKNOWN = "unknown"


@cache
def _icd_codes() -> tuple[frozenset[str], tuple[str, ...]]:
    """Every ICD-10-CM code without its dot (chapters and blocks left out), as a set and sorted.

    Read from the code list ``simple-icd-10-cm`` ships, without importing that package: its import
    builds the whole tabular tree from a 10 MB XML file (seconds), where the list loads in a tenth of
    that. ``tests/coding/test_icd_codes.py`` checks the two agree on every code.
    """
    spec = importlib.util.find_spec("simple_icd_10_cm")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    lists = sorted(Path(folders[0], "data").glob("code-list-*.txt")) if folders else []
    if not lists:
        raise RuntimeError("the ICD-10-CM code list of simple-icd-10-cm is not installed")
    text = lists[-1].read_text(encoding="utf-8")
    codes = {line.split(" ")[0].strip() for line in text.splitlines()}
    kept = sorted(c for c in codes if c and not is_digits(c) and "-" not in c)  # no chapters, no blocks
    return frozenset(kept), tuple(kept)


def normalize_icd(code: str) -> str:
    """``r002`` -> ``R00.2``; codes already dotted are only upper-cased."""
    text = code.strip().upper()
    if "." not in text and len(text) > 3:
        text = f"{text[:3]}.{text[3:]}"
    return text


@lru_cache(maxsize=4096)
def icd_status(code: str) -> IcdStatus:
    """Billable (a leaf code), header (valid but not specific enough) or unknown."""
    known, ordered = _icd_codes()
    text = normalize_icd(code)
    if not _ICD_FORM.match(text):
        return IcdStatus.UNKNOWN
    text = text.replace(".", "")
    if text not in known:
        return IcdStatus.UNKNOWN
    after = bisect.bisect_right(ordered, text)
    has_children = after < len(ordered) and ordered[after].startswith(text)
    return IcdStatus.HEADER if has_children else IcdStatus.BILLABLE


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
