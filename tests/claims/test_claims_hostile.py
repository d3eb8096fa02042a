"""Hostile X12 files (issue 19): what is not a regular file of plausible size is refused before reading;
oversized elements, non-ASCII procedure codes and unknown status categories are refused naming them."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ecgdesk.claims import X12ValidationError, read_277ca, read_remittances, x12
from ecgdesk.claims.payer_sim import Parties
from ecgdesk.errors import InputError

PARTIES = Parties("MEDICARE PART B", "1999999999", "HEART DIAGNOSTICS IDTF", "1234567893")


def test_a_named_pipe_is_refused_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "835.txt"
    os.mkfifo(fifo)  # opening it would block until a writer came
    with pytest.raises(InputError, match="not a regular file"):
        x12.read_file(fifo)


def test_a_device_is_refused() -> None:
    with pytest.raises(InputError, match="not a regular file"):
        x12.read_file("/dev/zero")  # read_bytes() on it never ends


def test_a_file_larger_than_any_interchange_is_refused_unread(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.835"
    big.write_bytes(b"ISA*" + b"0" * 2000)
    monkeypatch.setattr(x12, "MAX_FILE_BYTES", 1000)
    with pytest.raises(InputError, match=r"2004 bytes.*at most 1000"):
        x12.read_file(big)


# ------------------------------------------------ values the full fuzz run found posted without a word
def _835() -> str:
    from claims_builders import claim

    from ecgdesk.claims.payer_sim import PayerProfile, adjudicate, write_835

    payer = PayerProfile("MEDICARE PART B", "12345", fee_schedule={"93241": Decimal("257.98")})
    return write_835(adjudicate([claim()], payer), PARTIES, "EFT1", date(2026, 12, 1))


def _277(category: str) -> str:
    from claims_builders import claim

    from ecgdesk.claims.payer_sim import ClaimStatus, write_277ca

    return write_277ca([ClaimStatus(claim(), category, "20", payer_claim_number="2201")], PARTIES)


def _element(text: str, segment: str, index: int, value: str) -> str:
    """``text`` with element ``index`` of the first ``segment`` set to ``value``."""
    parts = text.split("~")
    at = next(i for i, s in enumerate(parts) if s.strip().split("*")[0] == segment)
    fields = parts[at].split("*")
    fields[index] = value
    parts[at] = "*".join(fields)
    return "~".join(parts)


def _refused(read: Callable[[], object], field: str, *words: str) -> None:
    with pytest.raises(X12ValidationError) as caught:
        read()
    assert caught.value.field.endswith(field) and "bad.x12" in str(caught.value)
    for word in words:
        assert word in str(caught.value)


def test_valid_835_and_277ca_read() -> None:
    assert read_remittances("ok.835", text=_835())[0].claims[0].claim_id == "ECG000001"
    assert read_277ca("ok.277", text=_277("A2")).claims[0].accepted


def test_an_element_of_a_megabyte_is_refused_naming_it() -> None:
    text = _element(_835(), "N1", 2, "X" * 1_000_000)
    with pytest.raises(X12ValidationError) as caught:
        read_remittances("bad.x12", text=text)
    assert caught.value.field.endswith("N102") and "1000000 characters: longer" in str(caught.value)
    assert len(str(caught.value)) < 300  # the value itself is not echoed


@pytest.mark.parametrize("code", ["\uff19\uff13\uff12\uff14\uff11", "9324", "93241X", "93 41"])
def test_a_procedure_code_that_is_not_ascii_hcpcs_is_refused(code: str) -> None:
    text = _element(_835(), "SVC", 1, f"HC:{code}")
    _refused(lambda: read_remittances("bad.x12", text=text), "SVC01-02", repr(code), "HC procedure code")


@pytest.mark.parametrize(("category", "refused"), [("ZZ", True), ("A9", True), ("a2", True), ("A2", False),
                                                   ("P1", False), ("R16", False), ("F3N", False)])
def test_an_unknown_claim_status_category_is_refused(category: str, refused: bool) -> None:
    text = _277(category)
    if refused:
        _refused(lambda: read_277ca("bad.x12", text=text), "STC01-01", repr(category), "code list 507")
    else:
        assert read_277ca("ok.277", text=text).claims[0].category == category
