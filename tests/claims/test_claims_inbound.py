"""Reading 835, 999 and 277CA files: the real samples with their real defects are refused with the
segment, position and reason; fixed copies and our simulated payer's files read and balance."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from claims_builders import COMMERCIAL, claim, line, pyx12_errors

from conftest import shared_path
from ecgdesk.claims import (
    ProviderAdjustment,
    X12Error,
    X12ValidationError,
    read_277ca,
    read_999,
    read_remittances,
)
from ecgdesk.claims.payer_sim import (
    ClaimStatus,
    Denial,
    Parties,
    PayerProfile,
    adjudicate,
    reverse,
    write_277ca,
    write_835,
    write_999,
)

PARTIES = Parties("MEDICARE PART B", "1999999999", "HEART DIAGNOSTICS IDTF", "1234567893")
PAYER = PayerProfile(
    "MEDICARE PART B",
    "12345",
    fee_schedule={"93241": Decimal("257.98"), "93000": Decimal("14.31"), "93010": Decimal("7.99")},
    deny={"93010": Denial()},
)


def _lfh(name: str) -> Path:
    return shared_path("x12", "linuxforhealth", "835", name)


def _ims(name: str) -> Path:
    return shared_path("x12", "imsweb", name)


def _fix_managed_care() -> str:
    text = _lfh("managed-care.835").read_text()
    text = text.replace("20002316", "20020316").replace(
        "N4*RAPID CITY*SD*55111~", "N4*RAPID CITY*SD*55111~\nPER*BL*EDI DESK*TE*6055550100~"
    )
    return text.replace("SE*26*", "SE*27*")


# --------------------------------------------------------------------------------------- real samples


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("managed-care.835", ["segment 4 BPR16", "'20002316' is not a valid date", "PER*BL"]),
        ("medicare-part-a.835", ["PER*BL", "TS309"]),
        ("cob-contractural-adjustment.835", ["BPR16", "SVC01-01", "component separator"]),
        ("secondary-payment.835", ["BPR16", "segment 29 SVC01-01"]),
        ("tertiary-payment.835", ["SVC01-02", "procedure code is missing"]),
    ],
)
def test_failing_linuxforhealth_835s_are_refused_with_segment_and_reason(
    name: str, expected: list[str]
) -> None:
    with pytest.raises(X12ValidationError) as info:
        read_remittances(_lfh(name))
    text = str(info.value) + " | " + " | ".join(str(i) for i in info.value.issues)
    assert name in str(info.value)
    for part in expected:
        assert part in text


@pytest.mark.shared_data
def test_our_checks_agree_with_pyx12_on_the_real_835s(tmp_path: Path) -> None:
    for path in sorted(shared_path("x12", "linuxforhealth", "835").glob("*.835")):
        assert pyx12_errors(path.read_text(), tmp_path), path.name  # pyx12 also finds errors
    fixed = _fix_managed_care()
    assert pyx12_errors(fixed, tmp_path) == []
    assert read_remittances("managed-care-fixed.835", text=fixed)


@pytest.mark.shared_data
def test_fixed_managed_care_835_reads_and_balances() -> None:
    (remit,) = read_remittances("managed-care-fixed.835", text=_fix_managed_care())
    assert remit.payment == Decimal("945.00") and remit.key == ("1935665544", "7170066655")
    assert remit.payment_date == date(2002, 3, 16)
    first, second = remit.claims
    assert (first.claim_id, first.paid, first.patient_responsibility) == (
        "5554555444",
        Decimal("450.00"),
        Decimal("300.00"),
    )
    assert [(a.group, a.reason, a.amount) for a in first.adjustments] == [("CO", "A2", Decimal("50.00"))]
    assert [(a.group, a.reason) for a in second.lines[0].adjustments] == [("PR", "1"), ("CO", "45")]
    assert second.lines[0].code == "93555" and second.lines[0].date_from == date(2002, 3, 10)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("edit", "where", "reason"),
    [
        (("BPR*I*945.00", "BPR*I*999.00"), "segment 4 BPR02", "does not equal claims paid 945.00"),
        (("SVC*HC:99211*800.00*500.00", "SVC*HC:99211*800.00*520.00"), "SVC03", "line does not balance"),
        (("CAS*CO*A2*50.00", "CAS*CO*A2*-50.00"), "CLP04", "claim 5554555444 does not balance"),
    ],
)
def test_unbalanced_835s_are_refused_whole(edit: tuple[str, str], where: str, reason: str) -> None:
    with pytest.raises(X12ValidationError) as info:
        read_remittances("unbalanced.835", text=_fix_managed_care().replace(*edit))
    assert where in str(info.value) and reason in str(info.value)


@pytest.mark.shared_data
def test_wrong_separators_and_truncation_are_named() -> None:
    fixed = _fix_managed_care()
    with pytest.raises(X12Error) as info:
        read_remittances("pipes.835", text=fixed.replace("*", "|", 3))
    assert "segment 1" in str(info.value)
    with pytest.raises(X12Error) as info:
        read_remittances("colons.835", text=fixed.replace("SVC*HC:", "SVC*HC>"))
    assert "SVC01-01" in str(info.value) and "component separator" in str(info.value)
    cut = fixed[: fixed.index("CLP*8765432112")]
    with pytest.raises(X12Error) as info:
        read_remittances("truncated.835", text=cut)
    assert "no SE trailer" in str(info.value)
    with pytest.raises(X12Error) as info:
        read_remittances("short.835", text=fixed[:60])
    assert "ends inside the ISA" in str(info.value)


@pytest.mark.shared_data
def test_every_imsweb_837_is_refused_as_an_835_with_a_position(tmp_path: Path) -> None:
    folder = shared_path("x12", "imsweb")
    for path in sorted(folder.glob("x12_*.txt")):
        if "999" in path.name or "277ca" in path.name:
            continue
        with pytest.raises(X12Error) as info:
            read_remittances(path)
        assert re.search(r"segment \d+", str(info.value)), path.name
        assert path.name in str(info.value)


@pytest.mark.shared_data
def test_imsweb_bad_first_line_names_the_isa_element() -> None:
    with pytest.raises(X12Error) as info:
        read_remittances(_ims("x12_bad_first_line.txt"))
    assert "ISA02" in str(info.value) and "10 characters" in str(info.value)
    with pytest.raises(X12Error) as info:
        read_remittances(_ims("x12_no_isa_line.txt"))
    assert "starts with 'ISA'" in str(info.value)
    with pytest.raises(X12Error) as info:
        read_remittances(_ims("x12_bad_segment_identifier.txt"))
    assert "segment 6" in str(info.value) and "not a segment identifier" in str(info.value)


@pytest.mark.shared_data
def test_imsweb_acknowledgements_raw_and_fixed() -> None:
    (rejected,) = read_999(_ims("x12_999_rejected.txt"))
    assert rejected.group_status == "R" and not rejected.set_status("0028").accepted
    assert "NM (segment 17): unrecognized segment" in rejected.sets[0].errors[0]
    with pytest.raises(X12ValidationError) as info:
        read_999(_ims("x12_999_accepted.txt"))
    assert "GS05" in str(info.value) and "IEA02" in str(info.value)
    fixed = _ims("x12_999_accepted.txt").read_text().replace("*102497*", "*102459*")
    (accepted,) = read_999("fixed", text=fixed.replace("IEA*1*000000001", "IEA*1*000000286"))
    assert accepted.set_status("0001").accepted
    # the 2200C billing provider TRN/STC these files leave out is situational in X214 (real payers such as
    # eMedNY leave it out too): the rejected one reads as it is, the accepted one only has a bad service date
    (status,) = read_277ca(_ims("x12_277ca_rejected.txt")).claims
    assert status.category == "A7" and status.rejected and status.payer_claim_number
    with pytest.raises(X12ValidationError) as info:
        read_277ca(_ims("x12_277ca_accepted.txt"))
    assert "segment 24 DTP03" in str(info.value) and "'10010101'" in str(info.value)
    assert len(info.value.issues) == 1
    text = _ims("x12_277ca_accepted.txt").read_text().replace("10010101", "20110301")
    (status,) = read_277ca("fixed", text=text).claims
    assert status.category == "A2" and status.accepted and status.payer_claim_number


# --------------------------------------------------------------------------------- simulated payer


def _claims() -> list:
    return [
        claim(),
        claim(
            "ECG000002",
            line("ECG000002L1", "93010", "25.50", modifiers=("76",)),
            line("ECG000002L2", "93000", "40", units=2),
        ),
    ]


def test_simulated_835_passes_pyx12_reads_back_and_balances(tmp_path: Path) -> None:
    decided = adjudicate(_claims(), PAYER)
    plb = [ProviderAdjustment("1234567893", date(2026, 12, 31), "L6", "ECG000001", Decimal("-1.27"), 0)]
    text = write_835([*decided, reverse(decided[0])], PARTIES, "EFT0001", date(2026, 12, 1), 7, plb)
    assert pyx12_errors(text, tmp_path) == []
    (remit,) = read_remittances("sim.835", text=text)
    assert [c.status for c in remit.claims] == ["1", "1", "22"]
    assert remit.payment == Decimal("22.90") + Decimal("1.27")
    reversal = remit.claims[2]
    assert reversal.reversal and reversal.paid == -remit.claims[0].paid
    assert [(a.group, a.reason) for a in reversal.lines[0].adjustments] == [("CO", "45"), ("PR", "2")]
    denied = remit.claims[1].lines[0]
    assert denied.paid == 0 and denied.remarks == ("N115",) and denied.control == "ECG000002L1"
    assert remit.provider_adjustments[0].reason == "L6"


def test_simulated_835_of_a_commercial_claim_with_several_provider_adjustments_passes_pyx12(
    tmp_path: Path,
) -> None:
    """The 837's commercial indicator (CI) is not an 835 CLP06 code, and pyx12 4.0 takes one PLB segment
    only (its footer loop; the TR3 allows more): the simulated payer writes CLP06 15 and puts a provider's
    adjustments of one fiscal date in one PLB, six at most (a seventh needs a second segment, which the TR3
    allows and our reader reads), and every adjustment reads back."""
    decided = adjudicate([claim(payer=COMMERCIAL)], PAYER)
    fiscal = date(2026, 12, 31)
    plb = [ProviderAdjustment("1234567893", fiscal, reason, f"REF{i}", Decimal(amount), 0)
           for i, (reason, amount) in enumerate([("L6", "-1.27"), ("WO", "20.00"), ("72", "5.00"),
                                                 ("FB", "-3.00"), ("L6", "-0.50"), ("WO", "1.00"),
                                                 ("72", "2.00")])]
    for adjustments, segments in ((plb[:6], 1), (plb, 2)):
        text = write_835(decided, PARTIES, "EFT0002", date(2026, 12, 1), 8, adjustments)
        assert text.count("PLB*") == segments
        assert next(s for s in text.split("~") if "CLP*" in s).split("*")[6] == "15"
        if segments == 1:
            assert pyx12_errors(text, tmp_path) == []
        (remit,) = read_remittances("sim.835", text=text)
        assert [(p.reason, p.reference, p.amount) for p in remit.provider_adjustments] == [
            (p.reason, p.reference, p.amount) for p in adjustments
        ]
        assert remit.payment == decided[0].paid - sum((p.amount for p in adjustments), Decimal(0))


def test_simulated_acknowledgements_pass_pyx12_and_read(tmp_path: Path) -> None:
    rejected = write_999("42", ["0001"], False, PARTIES)
    assert pyx12_errors(rejected, tmp_path) == []
    (ack,) = read_999("sim.999", text=rejected)
    assert ack.group_control == "42" and not ack.set_status("0001").accepted
    claims = _claims()
    text = write_277ca(
        [
            ClaimStatus(claims[0], "A2", "20", payer_claim_number="2200001"),
            ClaimStatus(claims[1], "A7", "562", "85"),
        ],
        PARTIES,
    )
    assert pyx12_errors(text, tmp_path) == []
    statuses = read_277ca("sim.277", text=text).claims
    assert [(s.claim_id, s.accepted, s.rejected) for s in statuses] == [
        ("ECG000001", True, False),
        ("ECG000002", False, True),
    ]
    assert "rejected for invalid information" in statuses[1].reason()


def test_an_835_where_a_999_is_expected_is_refused() -> None:
    text = write_835(adjudicate(_claims(), PAYER), PARTIES, "EFT1", date(2026, 12, 1))
    with pytest.raises(X12ValidationError) as info:
        read_999("wrong.x12", text=text)
    assert "GS01" in str(info.value) and "'HP'" in str(info.value)
