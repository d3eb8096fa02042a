"""Loop layouts of the transactions ECG Desk receives: 835 (X221A1), 999 (X231A1) and 277CA (X214).

Transcribed from the loop and segment tables of the implementation guides as pyx12 4.0 maps them
(``835.5010.X221.A1.xml``, ``999.5010X231.A1.xml``, ``277.5010.X214.xml``): the segments, their order,
which are required, and the elements posting relies on. Segments we do not read are still placed, so a
file with them in the right place passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ecgdesk.claims.grammar import Loop, Seg, Transaction, codes, valid_date
from ecgdesk.claims.x12 import Delimiters, Segment

CAS_GROUPS = codes("CO", "OA", "PI", "PR")
CLP_STATUS = codes("1", "2", "3", "4", "19", "20", "21", "22", "23", "25")
PRODUCT_QUALIFIERS = codes("AD", "ER", "HC", "HP", "IV", "N4", "N6", "NU", "UI", "WK")
#: a procedure code in ASCII only (full-width or other Unicode digits are not the code they look like):
#: HC is a 5-character HCPCS/CPT code, the other qualifiers' codes are at most 48 letters and digits
_HCPCS = re.compile(r"[A-Z0-9]{5}")
_PRODUCT_CODE = re.compile(r"[A-Za-z0-9.-]{1,48}")
#: STC01-1 / STC10-1 / STC11-1 claim status category codes (X12 external code list 507): acknowledgement
#: A0-A8, data search unsuccessful D0, error E0-E4, finalized F0-F4 (F3F, F3N), pending P0-P5, request for
#: more information R0-R16
STATUS_CATEGORIES = codes(
    *(f"A{n}" for n in range(9)), "D0", *(f"E{n}" for n in range(5)), *(f"F{n}" for n in range(5)),
    "F3F", "F3N", *(f"P{n}" for n in range(6)), *(f"R{n}" for n in range(17)),
)


def _cas(segment: Segment, delims: Delimiters) -> Iterator[tuple[str, str]]:
    """CAS: up to six (reason, amount, quantity) triplets; a reason needs its amount."""
    for start in (2, 5, 8, 11, 14, 17):
        reason, amount = segment.get(start), segment.get(start + 1)
        if reason and not amount:
            yield segment.name(start + 1), f"adjustment reason {reason!r} has no amount"
        if amount and not reason:
            yield segment.name(start), f"amount {amount!r} has no adjustment reason code"
        if amount:
            try:
                float(amount)
            except ValueError:
                yield segment.name(start + 1), f"{amount!r} is not an amount"


def _procedure(segment: Segment, delims: Delimiters, index: int, required: bool) -> Iterator[tuple[str, str]]:
    value = segment.get(index)
    if not value:
        if required:
            yield segment.name(index), "the procedure composite (qualifier:code) is missing"
        return
    parts = value.split(delims.component)
    if parts[0] not in PRODUCT_QUALIFIERS:
        yield (
            f"{segment.name(index)}-01",
            f"{parts[0]!r} is not a product/service qualifier (HC, AD, ...); is the component "
            f"separator {delims.component!r} used?",
        )
    elif len(parts) < 2 or not parts[1]:
        yield f"{segment.name(index)}-02", "the procedure code is missing"
    elif not (_HCPCS if parts[0] == "HC" else _PRODUCT_CODE).fullmatch(parts[1]):
        shape = "5 ASCII capital letters or digits" if parts[0] == "HC" else "1-48 ASCII letters or digits"
        yield f"{segment.name(index)}-02", f"{parts[1]!r} is not a {parts[0]} procedure code ({shape})"


def _svc(segment: Segment, delims: Delimiters) -> Iterator[tuple[str, str]]:
    """SVC01 (as paid) is required, SVC06 (as submitted) is optional; both are qualifier:code."""
    yield from _procedure(segment, delims, 1, True)
    yield from _procedure(segment, delims, 6, False)


def _plb(segment: Segment, delims: Delimiters) -> Iterator[tuple[str, str]]:
    for start in (3, 5, 7, 9, 11, 13):
        composite, amount = segment.get(start), segment.get(start + 1)
        if composite and not amount:
            yield segment.name(start + 1), "provider adjustment without an amount"
        if composite and not composite.split(delims.component)[0]:
            yield segment.name(start), "provider adjustment reason code missing"


def _stc(segment: Segment, delims: Delimiters) -> Iterator[tuple[str, str]]:
    """STC01: category and status code are both required; a category (STC01, STC10, STC11) is one of code
    list 507."""
    value = segment.get(1)
    parts = value.split(delims.component) if value else []
    if len(parts) < 2 or not parts[0] or not parts[1]:
        yield segment.name(1), f"{value!r}: status category and status code are required"
    for index in (1, 10, 11):
        category = (segment.get(index).split(delims.component) if segment.get(index) else [""])[0]
        if category and category not in STATUS_CATEGORIES:
            yield f"{segment.name(index)}-01", (f"{category!r} is not a claim status category code (X12 code "
                                                "list 507: A0-A8, D0, E0-E4, F0-F4, P0-P5, R0-R16)")


def _nm1(qualifier: str, name: str, required: bool = False, repeat: int = 1) -> Seg:
    return Seg("NM1", name, key=(1, codes(qualifier)), required=required, repeat=repeat, elements=(1, 2))


# --------------------------------------------------------------------------------------------- 835

_2110 = Loop(
    "2110",
    "service payment",
    (
        Seg("SVC", "service payment", required=True, elements=(2, 3), amounts=(2, 3), check=_svc),
        Seg(
            "DTM", "service date", key=(1, codes("150", "151", "472")), repeat=2, elements=(1, 2), dates=(2,)
        ),
        Seg("CAS", "service adjustment", repeat=99, elements=(1, 2, 3), codes={1: CAS_GROUPS}, check=_cas),
        Seg(
            "REF",
            "service identification",
            key=(1, codes("1S", "APC", "BB", "E9", "G1", "G3", "LU", "RB")),
            repeat=8,
            elements=(1, 2),
        ),
        Seg("REF", "line item control number", key=(1, codes("6R")), elements=(1, 2)),
        Seg(
            "REF",
            "rendering provider",
            key=(1, codes("0B", "1A", "1B", "1C", "1D", "1G", "1H", "1J", "D3", "G2", "HPI", "SY", "TJ")),
            repeat=10,
            elements=(1, 2),
        ),
        Seg("REF", "healthcare policy", key=(1, codes("0K")), repeat=5, elements=(1, 2)),
        Seg("AMT", "service supplemental amount", repeat=9, elements=(1, 2), amounts=(2,)),
        Seg("QTY", "service supplemental quantity", repeat=6, elements=(1, 2)),
        Seg("LQ", "remark code", repeat=99, elements=(1, 2), codes={1: codes("HE", "RX")}),
    ),
    repeat=999,
)

_2100 = Loop(
    "2100",
    "claim payment",
    (
        Seg(
            "CLP",
            "claim payment",
            required=True,
            elements=(1, 2, 3, 4, 6, 7),
            codes={2: CLP_STATUS},
            amounts=(3, 4, 5),
        ),
        Seg("CAS", "claim adjustment", repeat=99, elements=(1, 2, 3), codes={1: CAS_GROUPS}, check=_cas),
        _nm1("QC", "patient", required=True),
        _nm1("IL", "insured"),
        _nm1("74", "corrected patient/insured"),
        _nm1("82", "service provider"),
        _nm1("TT", "crossover carrier"),
        _nm1("PR", "corrected priority payer"),
        _nm1("GB", "other subscriber"),
        Seg("MIA", "inpatient adjudication", elements=(1,)),
        Seg("MOA", "outpatient adjudication"),
        Seg(
            "REF",
            "other claim identification",
            key=(
                1,
                codes("1L", "1W", "28", "6P", "9A", "9C", "BB", "CE", "EA", "F8", "G1", "G3", "IG", "SY"),
            ),
            repeat=5,
            elements=(1, 2),
        ),
        Seg(
            "REF",
            "rendering provider",
            key=(1, codes("0B", "1A", "1B", "1C", "1D", "1G", "1H", "1J", "D3", "G2", "LU")),
            repeat=10,
            elements=(1, 2),
        ),
        Seg("DTM", "statement date", key=(1, codes("232", "233")), repeat=2, elements=(1, 2), dates=(2,)),
        Seg("DTM", "coverage expiration", key=(1, codes("036")), elements=(1, 2), dates=(2,)),
        Seg("DTM", "claim received", key=(1, codes("050")), elements=(1, 2), dates=(2,)),
        Seg("PER", "claim contact", key=(1, codes("CX")), repeat=2, elements=(1,)),
        Seg("AMT", "claim supplemental amount", repeat=13, elements=(1, 2), amounts=(2,)),
        Seg("QTY", "claim supplemental quantity", repeat=14, elements=(1, 2)),
        _2110,
    ),
    required=True,
    repeat=0,
)

REMITTANCE = Transaction(
    "835",
    "HP",
    codes("005010X221A1"),
    Loop(
        "835",
        "health care claim payment/advice",
        (
            Seg("ST", "transaction set header"),
            Seg(
                "BPR",
                "financial information",
                required=True,
                elements=(1, 2, 3, 4, 16),
                codes={1: codes("C", "D", "H", "I", "P", "U"), 3: codes("C", "D")},
                amounts=(2,),
                dates=(16,),
            ),
            Seg(
                "TRN", "reassociation trace number", required=True, elements=(1, 2, 3), codes={1: codes("1")}
            ),
            Seg("CUR", "foreign currency", elements=(1, 2)),
            Seg("REF", "receiver identification", key=(1, codes("EV")), elements=(1, 2)),
            Seg("REF", "version identification", key=(1, codes("F2")), elements=(1, 2)),
            Seg("DTM", "production date", key=(1, codes("405")), elements=(1, 2), dates=(2,)),
            Loop(
                "1000A",
                "payer identification",
                (
                    Seg("N1", "payer", key=(1, codes("PR")), required=True, elements=(1, 2)),
                    Seg("N3", "payer address", required=True, elements=(1,)),
                    Seg("N4", "payer city/state/ZIP", required=True, elements=(1,)),
                    Seg(
                        "REF",
                        "additional payer id",
                        key=(1, codes("2U", "EO", "HI", "NF")),
                        repeat=4,
                        elements=(1, 2),
                    ),
                    Seg("PER", "payer business contact", key=(1, codes("CX")), elements=(1,)),
                    Seg(
                        "PER",
                        "payer technical contact",
                        key=(1, codes("BL")),
                        required=True,
                        repeat=0,
                        elements=(1,),
                    ),
                    Seg("PER", "payer web site", key=(1, codes("IC")), elements=(1, 3, 4)),
                ),
                required=True,
            ),
            Loop(
                "1000B",
                "payee identification",
                (
                    Seg("N1", "payee", key=(1, codes("PE")), required=True, elements=(1, 2, 3, 4)),
                    Seg("N3", "payee address", elements=(1,)),
                    Seg("N4", "payee city/state/ZIP", elements=(1,)),
                    Seg(
                        "REF",
                        "payee additional id",
                        key=(1, codes("0B", "D3", "PQ", "TJ")),
                        repeat=0,
                        elements=(1, 2),
                    ),
                    Seg("RDM", "remittance delivery method", elements=(1,)),
                ),
                required=True,
            ),
            Loop(
                "2000",
                "header number",
                (
                    Seg("LX", "header number", required=True, elements=(1,)),
                    Seg("TS3", "provider summary", elements=(1, 2, 3, 4, 5), dates=(3,), unused=(9, 11)),
                    Seg("TS2", "provider supplemental summary"),
                    _2100,
                ),
                repeat=0,
            ),
            Seg("PLB", "provider adjustment", repeat=0, elements=(1, 2, 3, 4), dates=(2,), check=_plb),
        ),
    ),
)

# --------------------------------------------------------------------------------------------- 999

ACKNOWLEDGMENT = Transaction(
    "999",
    "FA",
    codes("005010X231A1", "005010X231"),
    Loop(
        "999",
        "implementation acknowledgment",
        (
            Seg("ST", "transaction set header"),
            Seg("AK1", "functional group response header", required=True, elements=(1, 2, 3)),
            Loop(
                "2000",
                "transaction set response",
                (
                    Seg("AK2", "transaction set response header", required=True, elements=(1, 2)),
                    Loop(
                        "2100",
                        "error identification",
                        (
                            Seg("IK3", "error identification", required=True, elements=(1, 2)),
                            Seg("CTX", "segment context", repeat=10),
                            Loop(
                                "2110",
                                "data element note",
                                (
                                    Seg("IK4", "data element note", elements=(3,)),
                                    Seg("CTX", "element context", repeat=10),
                                ),
                                repeat=0,
                            ),
                        ),
                        repeat=0,
                    ),
                    Seg(
                        "IK5",
                        "transaction set response trailer",
                        required=True,
                        elements=(1,),
                        codes={1: codes("A", "E", "M", "R", "W", "X")},
                    ),
                ),
                repeat=0,
            ),
            Seg(
                "AK9",
                "functional group response trailer",
                required=True,
                elements=(1, 2, 3, 4),
                codes={1: codes("A", "E", "M", "P", "R", "W", "X")},
                whole_numbers=(2, 3, 4),  # sets included, received, accepted: read as counts
            ),
        ),
    ),
)

# ------------------------------------------------------------------------------------------- 277CA


def _hl(level: str) -> tuple[int, frozenset[str]]:
    return (3, codes(level))


def _dtp_date(segment: Segment, delims: Delimiters) -> Iterator[tuple[str, str]]:
    kind, value = segment.get(2), segment.get(3)
    parts = value.split("-") if kind == "RD8" else [value]
    if kind not in ("D8", "RD8") or not all(valid_date(p) for p in parts):
        yield segment.name(3), f"{value!r} is not a valid {kind or 'D8'} date"


_2200D = Loop(
    "2200D",
    "claim status tracking number",
    (
        Seg("TRN", "claim status tracking number", key=(1, codes("2")), required=True, elements=(1, 2)),
        Seg("STC", "claim level status", required=True, repeat=0, elements=(2,), dates=(2,), check=_stc),
        Seg("REF", "payer claim control number", key=(1, codes("1K")), elements=(1, 2)),
        Seg("REF", "clearinghouse claim number", key=(1, codes("D9")), elements=(1, 2)),
        Seg("REF", "institutional bill type", key=(1, codes("BLT")), elements=(1, 2)),
        Seg(
            "DTP",
            "claim service date",
            key=(1, codes("472")),
            required=True,
            elements=(1, 2, 3),
            check=_dtp_date,
        ),
        Loop(
            "2220D",
            "service line information",
            (
                Seg("SVC", "service line", required=True, elements=(2,)),
                Seg("STC", "service line status", required=True, elements=(2,), check=_stc),
                Seg("REF", "line item id", key=(1, codes("FJ")), elements=(1, 2)),
                Seg("REF", "prescription number", key=(1, codes("XZ")), elements=(1, 2)),
                Seg("DTP", "service line date", key=(1, codes("472")), elements=(1, 2, 3)),
            ),
            repeat=0,
        ),
    ),
    repeat=0,
)


CLAIM_ACKNOWLEDGMENT = Transaction(
    "277",
    "HN",
    codes("005010X214"),
    Loop(
        "277",
        "health care claim acknowledgment",
        (
            Seg("ST", "transaction set header"),
            Seg(
                "BHT",
                "beginning of hierarchical transaction",
                required=True,
                elements=(1, 2, 3, 4, 6),
                codes={1: codes("0085")},
                dates=(4,),
            ),
            Loop(
                "2000A",
                "information source level",
                (
                    Seg("HL", "information source level", key=_hl("20"), required=True, elements=(1, 3, 4)),
                    Seg(
                        "NM1",
                        "information source",
                        key=(1, codes("PR", "AY")),
                        required=True,
                        elements=(1, 2),
                    ),
                    Seg(
                        "TRN",
                        "transmission receipt control",
                        key=(1, codes("1")),
                        required=True,
                        elements=(1, 2),
                    ),
                    Seg("DTP", "receipt date", key=(1, codes("050")), required=True, check=_dtp_date),
                    Seg("DTP", "process date", key=(1, codes("009")), required=True, check=_dtp_date),
                    Loop(
                        "2000B",
                        "information receiver level",
                        (
                            Seg(
                                "HL",
                                "information receiver level",
                                key=_hl("21"),
                                required=True,
                                elements=(1, 2, 3, 4),
                            ),
                            _nm1("41", "information receiver", required=True),
                            Seg("TRN", "receiver trace", key=(1, codes("2")), required=True, elements=(1, 2)),
                            Seg("STC", "receiver status", repeat=0, check=_stc),
                            Seg("QTY", "accepted/rejected quantity", repeat=2, elements=(1, 2)),
                            Seg("AMT", "accepted/rejected amount", repeat=2, elements=(1, 2), amounts=(2,)),
                            Loop(
                                "2000C",
                                "billing provider of service level",
                                (
                                    Seg(
                                        "HL",
                                        "billing provider level",
                                        key=_hl("19"),
                                        required=True,
                                        elements=(1, 2, 3, 4),
                                    ),
                                    _nm1("85", "billing provider", required=True),
                                    # TRN and STC are situational in the guide (X214 2200C): payers such as
                                    # eMedNY and Availity leave them out of every 277CA
                                    Seg(
                                        "TRN",
                                        "provider of service trace",
                                        key=(1, codes("1")),
                                        elements=(1, 2),
                                    ),
                                    Seg(
                                        "STC",
                                        "billing provider status",
                                        repeat=0,
                                        elements=(3, 4),
                                        unused=(2,),
                                        check=_stc,
                                    ),
                                    Seg("REF", "provider secondary id", elements=(1, 2)),
                                    Seg("QTY", "accepted/rejected quantity", repeat=2, elements=(1, 2)),
                                    Seg("AMT", "accepted/rejected amount", repeat=2, elements=(1, 2)),
                                    Loop(
                                        "2000D",
                                        "patient level",
                                        (
                                            Seg(
                                                "HL",
                                                "patient level",
                                                key=_hl("PT"),
                                                required=True,
                                                elements=(1, 2, 3),
                                            ),
                                            _nm1("QC", "patient", required=True),
                                            _2200D,
                                        ),
                                        repeat=0,
                                    ),
                                ),
                                required=True,
                                repeat=0,
                            ),
                        ),
                        required=True,
                    ),
                ),
                required=True,
                repeat=0,
            ),
        ),
    ),
)

INBOUND = {t.functional_id: t for t in (REMITTANCE, ACKNOWLEDGMENT, CLAIM_ACKNOWLEDGMENT)}
