"""The fast ICD-10-CM check (the package's code list, read without importing the package) agrees with
``simple-icd-10-cm``'s own tree on every code, except where that tree takes a category for a block."""

from __future__ import annotations

import warnings

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
