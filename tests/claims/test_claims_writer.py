"""The 837P writer: every claim kind passes pyx12 4.0 with zero errors and our own TR3 checks, and a
second parser (x12sdk) reads the same claims back; invalid claims are refused before anything is written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from claims_builders import (
    ADDRESS,
    BILLING,
    ORDERING,
    RECEIVER,
    SUBMITTER,
    claim,
    envelope,
    every_kind,
    line,
    pyx12_errors,
    x12sdk_claims,
    x12sdk_summary,
)

from ecgdesk.claims import (
    ClaimRefusedError,
    Frequency,
    Provider,
    file_problems,
    write_837p,
)
from ecgdesk.claims.x12 import read_text
from ecgdesk.errors import InputError

KINDS = every_kind()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_claim_kind_passes_pyx12_and_our_tr3_checks(kind: str, tmp_path: Path) -> None:
    written = write_837p(KINDS[kind], SUBMITTER, RECEIVER, envelope())
    assert pyx12_errors(written.text, tmp_path) == []
    assert file_problems(read_text(written.text)) == []
    assert written.claim_ids == tuple(c.claim_id for c in KINDS[kind])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_x12sdk_reads_back_the_same_claims(kind: str) -> None:
    written = write_837p(KINDS[kind], SUBMITTER, RECEIVER, envelope())
    parsed = sorted(x12sdk_claims(written.text), key=lambda c: c["claim_id"])
    expected = sorted((x12sdk_summary(c) for c in KINDS[kind]), key=lambda c: c["claim_id"])
    assert parsed == expected


def test_segments_carry_what_the_issue_names() -> None:
    text = write_837p(KINDS["rendering_differs_and_components"], SUBMITTER, RECEIVER, envelope()).text
    segments = [s.split("*") for s in text.replace("\n", "").split("~") if s]
    ids = [s[0] for s in segments]
    clm = segments[ids.index("CLM")]
    assert clm[1] == "K5" and clm[2] == "165.5" and clm[5] == "11:B:1"
    assert segments[ids.index("HI")][1:] == ["ABK:R002", "ABF:R55", "ABF:I4891", "ABF:Z950"]
    sv1 = [s for s in segments if s[0] == "SV1"]
    assert sv1[0][1] == "HC:93010:76" and sv1[0][7] == "2:1"
    assert sv1[1][3:5] == ["UN", "2"]
    assert sv1[2][1] == "HC:93050:26:59:XU:GA"
    assert [s[2] for s in segments if s[0] == "REF" and s[1] == "6R"] == ["K5L1", "K5L2", "K5L3"]
    assert segments[ids.index("NM1", ids.index("HI"))][1:5] == ["82", "1", "LEE", "ANA"]
    assert ["REF", "G1", "AUTH-778"] in segments
    assert all(s[1] == "472" for s in segments if s[0] == "DTP")


def test_monitoring_period_is_a_date_range_and_ordering_provider_per_line() -> None:
    text = write_837p(KINDS["monitoring_period_self"], SUBMITTER, RECEIVER, envelope()).text
    assert "DTP*472*RD8*20261102-20261109~" in text
    assert "NM1*DK*1*ORDER*OLIVER****XX*1245319599~" in text
    assert "SBR*P*18*******MB~" in text
    assert "N4*SPRINGFIELD*IL*627011234~" in text


def test_control_numbers_are_in_isa_gs_and_trailers() -> None:
    text = write_837p([claim()], SUBMITTER, RECEIVER, envelope(control=987654321)).text
    assert "*00501*987654321*0*T*:~" in text
    assert "GS*HC*ECGDESK*MEDICARE*20261120*1030*987654321*X*005010X222A1~" in text
    assert text.endswith("GE*1*987654321~\nIEA*1*987654321~\n")


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            {"billing": replace(BILLING, address=replace(ADDRESS, line1=""))},
            "2010AA billing provider N301",
            "missing",
        ),
        ({"billing": replace(BILLING, npi="1234567890")}, "2010AA billing provider NPI", "not a valid NPI"),
        (
            {"billing": replace(BILLING, address=replace(ADDRESS, line1="PO Box 12"))},
            "N301",
            "post office box",
        ),
        ({"billing": replace(BILLING, address=replace(ADDRESS, zip="62701"))}, "N403 ZIP", "9-digit"),
        ({"billing": replace(BILLING, tin="12345")}, "REF*EI", "9-digit"),
        ({"frequency": Frequency.REPLACEMENT}, "2300 REF*F8", "payer's claim control number"),
        ({"diagnoses": ()}, "HI diagnoses", "1 to 12"),
        ({"diagnoses": ("R002X9Z9",)}, "HI diagnosis 1", "not an ICD-10-CM"),
        ({"rendering": Provider("1111111111", "X")}, "2310B rendering provider NPI", "not a valid NPI"),
        ({"place_of_service": "1"}, "CLM05-1", "2-digit"),
    ],
)
def test_invalid_claims_are_refused_before_writing(change: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(ClaimRefusedError) as info:
        write_837p([claim(**change)], SUBMITTER, RECEIVER, envelope())
    problem = info.value.problems[0]
    assert field in problem.field and reason in problem.reason
    assert "claim ECG000001" in str(info.value)


def test_line_rules_pointers_units_modifiers_and_ordering_npi() -> None:
    bad = claim(
        "C1",
        line("C1L1", "93000", "10", pointers=(3,)),
        line("C1L1", "9300", "0", units=0, modifiers=("26", "5", "59", "XU", "GA")),
        line("C1L3", "93010", "10", ordering=replace(ORDERING, npi="1245319590")),
    )
    with pytest.raises(ClaimRefusedError) as info:
        write_837p([bad], SUBMITTER, RECEIVER, envelope())
    text = "\n".join(str(p) for p in info.value.problems)
    for expected in (
        "3 points past",
        "repeats",
        "not a CPT/HCPCS",
        "at most 4",
        "'5' is not",
        "SV102 charge",
        "SV104 units",
        "2420E ordering provider NPI",
    ):
        assert expected in text


def test_a_delimiter_in_an_identifier_is_refused() -> None:
    with pytest.raises(InputError) as info:
        write_837p([claim(subscriber_id="AB*12")], SUBMITTER, RECEIVER, envelope())
    assert "NM109" in str(info.value)


def test_names_lose_delimiters_instead_of_shifting_elements() -> None:
    odd = claim(billing=replace(BILLING, name="HEART*DIAGNOSTICS: IDTF~"))
    text = write_837p([odd], SUBMITTER, RECEIVER, envelope()).text
    assert "NM1*85*2*HEART DIAGNOSTICS IDTF*****XX*1234567893~" in text


def test_file_checks_catch_a_tampered_total_pointer_zip_and_missing_f8() -> None:
    text = write_837p(
        [claim(frequency=Frequency.REPLACEMENT, payer_claim_number="X1")], SUBMITTER, RECEIVER, envelope()
    ).text
    tampered = (
        text.replace("CLM*ECG000001*300*", "CLM*ECG000001*310*")
        .replace("*UN*1***1~", "*UN*1***5~")
        .replace("N4*SPRINGFIELD*IL*627011234~\nREF*EI", "N4*SPRINGFIELD*IL*62701~\nREF*EI")
        .replace("N3*100 MAIN ST*SUITE 200~", "N3*PO BOX 7~")
        .replace("REF*F8*X1~\n", "")
    )
    problems = {p.field: p.reason for p in file_problems(read_text(tampered))}
    assert "sum of SV102" in problems["CLM02"]
    assert "needs REF*F8" in problems["2300 REF*F8"]
    assert "beyond HI" in next(v for k, v in problems.items() if k.startswith("SV107"))
    assert "9-digit" in problems["2010AA N403"]
    assert "post office box" in problems["2010AA N301"]
    assert "SE01" in problems  # one segment fewer than SE01 says


def test_empty_batch_and_duplicate_claim_ids_are_refused() -> None:
    with pytest.raises(InputError):
        write_837p([], SUBMITTER, RECEIVER, envelope())
    with pytest.raises(InputError) as info:
        write_837p([claim("A"), claim("A")], SUBMITTER, RECEIVER, envelope())
    assert "CLM01" in str(info.value)
