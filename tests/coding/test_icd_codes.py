"""The fast ICD-10-CM check (the package's code list, read without importing the package) agrees with
``simple-icd-10-cm``'s own tree on every code, except where that tree takes a category for a block."""

from __future__ import annotations

import warnings
from datetime import date

from ecgdesk.coding.necessity import IcdStatus, _icd_codes, icd_status, normalize_icd


def _library_status(code: str) -> IcdStatus:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as icd
    text = normalize_icd(code)
    if not icd.is_valid_item(text) or icd.is_chapter_or_block(text):
        return IcdStatus.UNKNOWN
    return IcdStatus.BILLABLE if icd.is_leaf(text) else IcdStatus.HEADER


def test_every_code_agrees_with_the_library_tree() -> None:
    _known, ordered = _icd_codes()
    differ = {code for code in ordered if icd_status(code) != _library_status(code)}
    # The library's is_block is true for the 39 sections that hold a single category of the same name
    # (B20 HIV disease, Z66 do not resuscitate ...): those are categories, billable or not by children.
    assert len(differ) == 39
    assert {"B20", "Z66", "R99", "F99"} <= differ
    assert icd_status("B20") is IcdStatus.BILLABLE and icd_status("C50") is IcdStatus.HEADER


def test_forms_and_non_codes() -> None:
    assert icd_status("I48.91") is icd_status("i4891") is IcdStatus.BILLABLE
    assert icd_status("I48") is IcdStatus.HEADER
    for bad in ("12345", "A00-A09", "1", "I48.９１", "", "I48.91.", "ZZZ"):
        assert icd_status(bad) is IcdStatus.UNKNOWN, bad


def test_a_date_of_service_outside_the_code_set_is_flagged_not_passed_silently() -> None:
    """ecgdesk has one ICD-10-CM code set (April 2026, in force 2026-04-01 to 2026-09-30; shared/data has
    none). Until 2026-12-07 a date of service outside it passed (U07.1 on 2020-03-15) or failed (I48.1 on
    2019-08-01) against it without a word; now a warning says the set does not cover that date."""
    import importlib.util
    from pathlib import Path

    from coding_builders import claim, line_data

    from ecgdesk.coding.necessity import ICD10CM_EFFECTIVE
    from ecgdesk.coding.results import Severity
    from ecgdesk.coding.scrub import scrub

    spec = importlib.util.find_spec("simple_icd_10_cm")
    assert spec is not None and spec.submodule_search_locations is not None
    folder = Path(next(iter(spec.submodule_search_locations)), "data")
    assert [p.name for p in folder.glob("code-list-*.txt")] == ["code-list-April-2026.txt"]  # the set dated
    assert (date(2026, 4, 1), date(2026, 9, 30)) == ICD10CM_EFFECTIVE

    def flagged(*days: str) -> list[str]:
        lines = (line_data("93000", day) for day in days)
        found = scrub(claim(*lines, diagnoses=["U07.1"]), rules=["icd_code_set"])
        assert all(f.severity is Severity.WARNING for f in found)
        return [f.message for f in found]

    assert flagged("2026-04-01") == flagged("2026-09-30") == []
    (message,) = flagged("2020-03-15", "2026-10-01")
    assert "2020-03-15, 2026-10-01 is outside it" in message and "2026-04-01 to 2026-09-30" in message
