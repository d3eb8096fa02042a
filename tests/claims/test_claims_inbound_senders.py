"""Inbound X12 as real payers and clearinghouses write it (found by running public sample files through
the readers): numbers that are not numbers, segments of one position in any order, a 277CA without the
billing provider's status, remark codes beside negative amounts, several claim statuses."""

from __future__ import annotations

import pytest

from ecgdesk.claims import X12ValidationError, read_277ca, read_999, read_remittances

ISA = ("ISA*00*          *00*          *ZZ*PAYER          *ZZ*PROVIDER       *240101*1200*^*00501*000000001"
       "*0*P*:")


def _interchange(functional_id: str, version: str, header: str, body: list[str]) -> str:
    """One interchange, one group, one set around ``body``, with its counts and control numbers."""
    segments = [header, *body]
    return "~\n".join(
        [
            ISA,
            f"GS*{functional_id}*PAYER*PROVIDER*20240101*1200*1*X*{version}",
            *segments,
            f"SE*{len(segments) + 1}*0001",
            "GE*1*1",
            "IEA*1*000000001",
        ]
    ) + "~\n"


# --------------------------------------------------------------------------------------------- 999


def _999(ak9: str) -> str:
    body = ["AK1*HC*1*005010X222A1", "AK2*837*0001", "IK5*A", ak9]
    return _interchange("FA", "005010X231A1", "ST*999*0001*005010X231A1", body)


@pytest.mark.parametrize(
    ("ak9", "element", "value"),
    [("AK9*A*1*A*1", "AK903", "A"), ("AK9*A*1*1*1.0", "AK904", "1.0"), ("AK9*A*one*1*1", "AK902", "one"),
     ("AK9*A*1*-1*1", "AK903", "-1")],
)
def test_a_999_count_that_is_not_a_whole_number_is_refused_naming_it(ak9: str, element: str,
                                                                     value: str) -> None:
    with pytest.raises(X12ValidationError) as caught:
        read_999("bad.999", text=_999(ak9))
    assert caught.value.field.endswith(element) and "bad.999" in str(caught.value)
    assert f"{value!r} is not a whole number" in str(caught.value)


# --------------------------------------------------------------------------------------------- 835

PAYER_CONTACTS = ["PER*CX*CLAIMS*TE*8005550101", "PER*BL*EDI DESK*TE*8005550100"]
PATIENT_AND_INSURED = ["NM1*QC*1*DOE*JOHN", "NM1*IL*1*DOE*JANE****MI*M1"]
CLAIM_DATES = ["DTM*232*20240101", "DTM*050*20240102"]
LINE_REFERENCES = ["REF*6R*L1", "REF*HPI*1234567893"]


def _835(
    contacts: list[str] = PAYER_CONTACTS,
    names: list[str] = PATIENT_AND_INSURED,
    dates: list[str] = CLAIM_DATES,
    references: list[str] = LINE_REFERENCES,
    adjudication: tuple[str, ...] = (),
) -> str:
    body = [
        "BPR*I*80*C*CHK************20240105",
        "TRN*1*CHK1*1999999999",
        "N1*PR*PAYER",
        "N3*1 MAIN ST",
        "N4*CITY*ST*12345",
        *contacts,
        "N1*PE*CLINIC*XX*1234567893",
        "LX*1",
        "CLP*C1*1*100*80**MC*ICN1",
        *names,
        *adjudication,
        *dates,
        "SVC*HC:93000*100*80",
        "DTM*472*20240101",
        "CAS*CO*45*20",
        *references,
    ]
    return _interchange("HP", "005010X221A1", "ST*835*0001", body)


@pytest.mark.parametrize(
    "edit",
    [
        {"contacts": PAYER_CONTACTS[::-1]},  # 1000A PER*BL before PER*CX
        {"contacts": [PAYER_CONTACTS[1], "PER*IC**UR*WWW.PAYER.EXAMPLE", PAYER_CONTACTS[0]]},
        {"names": PATIENT_AND_INSURED[::-1]},  # 2100 NM1*IL before NM1*QC
        {"dates": CLAIM_DATES[::-1]},  # 2100 DTM*050 before DTM*232
        {"dates": ["DTM*233*20240103", "DTM*050*20240102", "DTM*232*20240101"]},
        {"references": LINE_REFERENCES[::-1]},  # 2110 REF*HPI before REF*6R
    ],
)
def test_segments_of_one_position_read_in_any_order(edit: dict[str, list[str]]) -> None:
    """The guide gives these segments one position: a sender may write them in any order."""
    (remit,) = read_remittances("order.835", text=_835(**edit))
    claim = remit.claims[0]
    assert claim.patient_name == "DOE, JOHN" and str(claim.date_from) == "2024-01-01"
    assert claim.lines[0].control == "L1" and remit.payer_contact == "EDI DESK TE 8005550100"


def test_segments_of_one_position_keep_their_limits_and_requirements() -> None:
    with pytest.raises(X12ValidationError) as caught:
        read_remittances("twice.835", text=_835(dates=[*CLAIM_DATES[::-1], "DTM*050*20240102"]))
    assert caught.value.position == 18 and "DTM*050 occurs more than 1 time(s)" in str(caught.value)
    with pytest.raises(X12ValidationError) as caught:
        read_remittances("no-bl.835", text=_835(contacts=[PAYER_CONTACTS[0], "PER*IC**UR*X.EXAMPLE"]))
    assert "required segment PER*BL (payer technical contact) is missing" in str(caught.value)


def test_a_segment_before_its_position_is_named_out_of_order_not_unexpected() -> None:
    # DTM*232 after the claim's AMT: the qualifier is right, the place is not
    text = _835(dates=["DTM*050*20240102", "AMT*AU*80", "DTM*232*20240101"])
    with pytest.raises(X12ValidationError) as caught:
        read_remittances("late.835", text=text)
    assert "DTM01 '232': DTM is out of order in loop 2100 (claim payment); it comes before AMT" in str(
        caught.value
    )
    assert "allowed" not in str(caught.value)


@pytest.mark.parametrize(
    ("adjudication", "remarks"),
    [
        (("MIA*0***-19.37*N689",), ("N689",)),  # MIA04 is an amount, MIA05 a remark code
        (("MIA*0***-19.37*N689***************MA01*MA02",), ("N689", "MA01", "MA02")),  # MIA20, MIA21
        (("MOA***MA01*****-5.25",), ("MA01",)),  # MOA08 is an amount
        (("MOA*0.8*12.5*MA01*N1*N2*N3*N4*-7*-2.5",), ("MA01", "N1", "N2", "N3", "N4")),  # MOA03-MOA07
    ],
)
def test_remark_codes_are_read_from_their_elements_only(adjudication: tuple[str, ...],
                                                        remarks: tuple[str, ...]) -> None:
    (remit,) = read_remittances("remarks.835", text=_835(adjudication=adjudication))
    assert remit.claims[0].remarks == remarks


# ------------------------------------------------------------------------------------------- 277CA


def _277(billing_provider_status: list[str], claim_status: list[str]) -> str:
    body = [
        "BHT*0085*08*ACK1*20240101*1200*TH",
        "HL*1**20*1",
        "NM1*PR*2*PAYER*****PI*1999999999",
        "TRN*1*R1",
        "DTP*050*D8*20240101",
        "DTP*009*D8*20240101",
        "HL*2*1*21*1",
        "NM1*41*2*CLINIC*****46*SUBMITTER1",
        "TRN*2*B1",
        "STC*A1:19*20240101*WQ*100",
        "HL*3*2*19*1",
        "NM1*85*2*CLINIC*****XX*1234567893",
        *billing_provider_status,
        "HL*4*3*PT",
        "NM1*QC*1*DOE*JOHN****MI*M1",
        "TRN*2*C1",
        *claim_status,
        "REF*1K*ICN1",
        "DTP*472*D8*20240101",
    ]
    return _interchange("HN", "005010X214", "ST*277*0001*005010X214", body)


@pytest.mark.parametrize("billing_provider_status", [[], ["TRN*1*0"], ["STC*A1:19**WQ*100"]])
def test_a_277ca_without_the_billing_provider_trace_or_status_reads(
    billing_provider_status: list[str],
) -> None:
    """X214 2200C TRN and STC are situational; eMedNY and Availity send neither."""
    text = _277(billing_provider_status, ["STC*A2:20*20240101*WQ*100"])
    (status,) = read_277ca("payer.277", text=text).claims
    assert (status.claim_id, status.accepted, status.payer_claim_number) == ("C1", True, "ICN1")


@pytest.mark.parametrize(
    ("claim_status", "category", "reason"),
    [
        (["STC*A2:20*20240101*WQ*100******A7:21:IL"], "A7", "A2 accepted into adjudication (status code 20); "
         "A7 rejected for invalid information (status code 21, entity IL)"),
        (["STC*A2:20*20240101*WQ*100*******A6:35"], "A6", "A6 rejected for missing information"),  # STC11
        (["STC*A2:20*20240101*WQ*100", "STC*A8:562:85*20240101*U*100"], "A8",
         "A2 accepted into adjudication (status code 20); A8 rejected for relational field in error "
         "(status code 562, entity 85)"),
    ],
)
def test_a_rejection_in_any_claim_status_rejects_the_claim(claim_status: list[str], category: str,
                                                           reason: str) -> None:
    (status,) = read_277ca("payer.277", text=_277([], claim_status)).claims
    assert status.rejected and not status.accepted and status.category == category
    assert reason in status.reason()


def test_several_accepting_statuses_keep_the_first_and_list_all() -> None:
    text = _277([], ["STC*A1:19*20240101*WQ*100", "STC*A2:20*20240101*WQ*100"])
    (status,) = read_277ca("payer.277", text=text).claims
    assert status.category == "A1" and [s.category for s in status.statuses] == ["A1", "A2"]


# ----------------------------------------------------------------------------- several interchanges


def test_a_file_of_several_interchanges_reads_every_one() -> None:
    """Clearinghouse downloads concatenate the interchanges of a day."""
    second = _835().replace("CHK1", "CHK2").replace("CLP*C1", "CLP*C2")
    remits = read_remittances("day.835", text=_835() + second)
    assert [(r.trace_number, r.claims[0].claim_id) for r in remits] == [("CHK1", "C1"), ("CHK2", "C2")]
    accepted = _277([], ["STC*A2:20*20240101*WQ*100"])
    rejected = _277([], ["STC*A7:21*20240101*U*100"]).replace("TRN*2*C1", "TRN*2*C2")
    statuses = read_277ca("day.277", text=accepted + rejected).claims
    assert [(s.claim_id, s.rejected) for s in statuses] == [("C1", False), ("C2", True)]
    acks = read_999("day.999", text=_999("AK9*A*1*1*1") + _999("AK9*R*1*1*0"))
    assert [a.group_status for a in acks] == ["A", "R"]


def test_a_fault_in_a_later_interchange_is_named_at_its_place_in_the_file() -> None:
    first = _835()
    second = first.replace("CLP*C1*1*100*80", "CLP*C1*1*100*81")
    with pytest.raises(X12ValidationError) as caught:
        read_remittances("day.835", text=first + second)
    assert caught.value.position == first.count("~") + 13 and "claim C1 does not balance" in str(caught.value)
    with pytest.raises(X12ValidationError) as caught:
        read_remittances("day.835", text=first + second.replace("GE*1*1", "GE*2*1"))
    assert caught.value.position == 2 * first.count("~") - 1 and caught.value.field.endswith("GE01")


def test_a_later_interchange_with_other_separators_is_refused() -> None:
    first = _835()
    other = first.replace("*P*:~", "*P*>~", 1).replace("HC:93000", "HC>93000")
    with pytest.raises(X12ValidationError) as caught:
        read_remittances("day.835", text=first + other)
    assert caught.value.position == first.count("~") + 1 and caught.value.field.endswith("ISA16")
    assert "other separators" in str(caught.value)


@pytest.mark.parametrize("amount", ["1e2", "1_00", "+100", " 100", "100.0.0", "NaN", "Infinity"])
def test_an_amount_is_written_as_x12_writes_numbers(amount: str) -> None:
    # Python's Decimal reads "1e2" and "1_00" as 100: an X12 amount has digits, a minus and a point only
    text = _835().replace("CLP*C1*1*100*80", f"CLP*C1*1*{amount}*80")
    with pytest.raises(X12ValidationError) as caught:
        read_remittances("amount.835", text=text)
    assert "CLP03" in str(caught.value) and "is not an amount" in str(caught.value)


@pytest.mark.parametrize("amount", ["100", "100.", ".5", "-19.37", "0.00"])
def test_amounts_as_x12_writes_them_are_read(amount: str) -> None:
    text = _835().replace("CLP*C1*1*100*80", f"CLP*C1*1*{amount}*80")
    try:
        (remit,) = read_remittances("amount.835", text=text)
    except X12ValidationError as error:  # the claim may not balance, but never for the number's form
        assert "is not an amount" not in str(error)
    else:
        assert str(remit.claims[0].charge) in {amount, amount.rstrip(".")}
