"""The priority of an incoming order (STAT, ASAP, urgent, routine): read from every place HL7 v2 senders put
it and from a FHIR ServiceRequest, the most urgent winning where places disagree, an unknown code refused
naming the field."""

from __future__ import annotations

import pytest
from interop_builders import orm, service_request

from ecgdesk.errors import InputError
from ecgdesk.interop import fhir, hl7v2
from ecgdesk.interop.model import OrderPriority

STAT, ASAP, URGENT, ROUTINE = OrderPriority.STAT, OrderPriority.ASAP, OrderPriority.URGENT, \
    OrderPriority.ROUTINE
ORC = "ORC|NW|PL-100|||||{tq}|||||1245319599^Smith^John^^^^^^^^^^NPI"
OBR = "OBR|1|PL-100||93245^Extended ECG monitoring^C4|{obr5}||||||||||||||||||||||{tq}"


def _order(tq1: str = "", orc_tq: str = "", obr_tq: str = "", obr5: str = "") -> str:
    lines = orm().split("\r")
    lines = [ORC.format(tq=orc_tq) if line.startswith("ORC|") else line for line in lines]
    lines = [OBR.format(tq=obr_tq, obr5=obr5) if line.startswith("OBR|") else line for line in lines]
    if tq1:
        lines.insert(3, f"TQ1|1||||||||{tq1}")  # after the ORC it belongs to
    return "\r".join(lines)


def test_the_templates_put_each_value_in_its_field() -> None:
    lines = _order(tq1="Z", orc_tq="W", obr_tq="X", obr5="Y").split("\r")
    orc, obr, tq1 = (lines[i].split("|") for i in (2, 4, 3))
    assert (orc[0], orc[7], orc[12][:10]) == ("ORC", "W", "1245319599")
    assert (obr[0], obr[27], obr[5]) == ("OBR", "X", "Y") and (tq1[0], tq1[9]) == ("TQ1", "Z")


@pytest.mark.parametrize(("order", "expected"), [
    (_order(), ROUTINE),
    (_order(tq1="S^Stat^HL70485"), STAT),
    (_order(tq1="A"), ASAP),
    (_order(tq1="R^Routine^HL70485"), ROUTINE),
    (_order(tq1="P"), ROUTINE),  # pre-op, callback and as-needed orders are worked as routine
    (_order(tq1="PRN"), ROUTINE),
    (_order(tq1="TM30"), STAT),  # timing critical within 30 minutes
    (_order(tq1="TH4"), ASAP),
    (_order(tq1="TD2"), ROUTINE),
    (_order(orc_tq="1^^^^^S"), STAT),  # 2.3-2.4: the sixth component of the quantity/timing
    (_order(obr_tq="^^^^^A"), ASAP),
    (_order(obr5="stat"), STAT),  # the words some senders write
    (_order(obr5="URGENT"), URGENT),
    (_order(tq1="R", orc_tq="^^^^^S"), STAT),  # places disagree: the more urgent is worked
    (_order(tq1="S", obr_tq="^^^^^R"), STAT),
    # a second TQ1 (timing repeats in 2.5.1) was not read: its STAT was worked as routine
    (_order(tq1="R").replace("TQ1|1||||||||R", "TQ1|1||||||||R\rTQ1|2||||||||S"), STAT),
])
def test_hl7_priority_is_read_from_every_place_senders_put_it(order: str, expected: OrderPriority) -> None:
    assert hl7v2.parse_order(order).priority is expected


@pytest.mark.parametrize(("order", "field"), [
    (_order(tq1="Z"), "TQ1-9"),
    (_order(orc_tq="^^^^^SOON"), "ORC-7.6"),
    (_order(obr_tq="^^^^^T5"), "OBR-27.6"),  # the timing-critical codes need their unit
    (_order(obr5="9"), "OBR-5"),
    (_order(obr5="U"), "OBR-5"),  # no table has it; a guess at "urgent" could be wrong either way
    (_order(tq1="R").replace("TQ1|1||||||||R", "TQ1|1||||||||R\rTQ1|2||||||||Z"), "TQ1[2]-9"),
    (_order(tq1="R").replace("TQ1|1||||||||R", "TQ1|1|||||14^d|||R\rTQ1|2|||||7^d|||R"), "TQ1[2]-6"),
])
def test_an_unknown_hl7_priority_is_refused_naming_the_field(order: str, field: str) -> None:
    """Also in a second TQ1, named TQ1[2]-9; and two TQ1 durations that disagree (the first was read)."""
    with pytest.raises(InputError) as info:
        hl7v2.parse_order(order, "order.hl7")
    assert info.value.field == field and "order.hl7" in str(info.value)
    assert ("duration" if field == "TQ1[2]-6" else "priority") in str(info.value)


def _request(document: dict) -> dict:
    return next(e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "ServiceRequest")


@pytest.mark.parametrize("value", ["routine", "urgent", "asap", "stat"])
def test_fhir_priority_is_read(value: str) -> None:
    document = service_request()
    _request(document)["priority"] = value
    assert fhir.parse_service_request(document, "sr.json").priority is OrderPriority(value)
    assert fhir.parse_service_request(service_request(), "sr.json").priority is ROUTINE


def test_a_fhir_priority_outside_its_value_set_is_refused() -> None:
    document = service_request()
    _request(document)["priority"] = "whenever"
    with pytest.raises(InputError) as info:
        fhir.parse_service_request(document, "sr.json")
    assert info.value.field == "ServiceRequest.priority" and "whenever" in str(info.value)
