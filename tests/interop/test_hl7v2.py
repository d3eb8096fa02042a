"""HL7 v2: the ORU we send parses back with a second library; orders are read and refused field by field."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from interop_builders import PDF, orm, signed_result

from ecgdesk.errors import InputError
from ecgdesk.interop import hl7v2
from ecgdesk.interop.mllp import decode
from ecgdesk.interop.model import OrderControl, ResultStatus


def test_oru_parses_back_with_the_hl7_library_and_carries_the_pdf_byte_for_byte() -> None:
    text = hl7v2.build_oru(signed_result(), "CTRL-1")
    message = hl7.parse(text)
    assert str(message.segment("MSH")[9]) == "ORU^R01^ORU_R01"
    ed = next(s for s in message if str(s[0]) == "OBX" and str(s[2]) == "ED")
    assert base64.b64decode(str(ed[5][0][4])) == PDF
    pid = message.segment("PID")
    assert hl7v2.unescape(str(pid[3][0][0])) == "P|1"
    assert hl7v2.unescape(str(pid[5][0][0])) == "O'Brien^x"
    tx = next(s for s in message if str(s[0]) == "OBX" and str(s[2]) == "TX")
    assert hl7v2.unescape(str(tx[5])) == "Sinus rhythm | rare PVCs.\nNo pauses & no AF ~ ok."
    numbers = {str(s[3][0][0]): float(str(s[5])) for s in message if str(s[0]) == "OBX" and str(s[2]) == "NM"}
    assert numbers == {"8867-4": 72.0, "af_burden": 1.25, "v_beats": 1234.0}
    obr = message.segment("OBR")
    assert str(obr[25]) == "F" and str(obr[2]) == "PL-100" and str(obr[24]) == "EC"
    assert str(obr[32]).startswith("1234567893&Lee&Ana")


def test_oru_is_valid_2_5_1_for_hl7apy_and_corrected_results_say_c() -> None:
    """The report, its interpretation and PDF are corrected (C); a number only where its value changed: an
    unchanged one stays F (every OBX was C before, telling the EHR each value had been wrong)."""
    result = signed_result(status=ResultStatus.CORRECTED, report_version=2,
                           changed_measurements=frozenset({"af_burden"}))
    text = hl7v2.build_oru(result, "CTRL-2")
    message = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert message.validate()
    statuses = {str(s[3][0][1]): str(s[11]) for s in hl7.parse(text) if str(s[0]) == "OBX"}
    assert str(hl7.parse(text).segment("OBR")[25]) == "C"
    assert statuses == {"Interpretation": "C", "Mean heart rate": "F", "Atrial fibrillation burden": "C",
                        "Ventricular ectopic beats": "F", "Signed report": "C"}


def test_order_is_read_with_its_fields() -> None:
    order = hl7v2.parse_order(orm(extra="TQ1|1|||||14^d"), "orders.hl7")
    assert order.control is OrderControl.NEW and order.message_id == "C1"
    assert order.patient.id == "P123" and order.patient.display == "Doe, Jane" and order.patient.sex == "F"
    assert order.ordering.npi == "1245319599" and order.service == "ambulatory_ecg"
    assert order.indications == ("R00.2",) and order.duration_days == 14.0
    assert hl7v2.parse_order(orm(), "o").duration_days == 15.0  # the code's default when TQ1 gives none


def test_oml_and_obr31_indications_are_accepted() -> None:
    text = orm(kind="OML^O21^OML_O21", icd="").replace("^C4", "^C4|||||||||||||||||||||||||||I48.0^^I10")
    order = hl7v2.parse_order(text, "o")
    assert order.indications == ("I48.0",)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("HELLO", "MSH"),
        (orm().replace("MSH|^~\\&", "MSH|^^\\&"), "MSH-2"),  # other delimiters are read (test_interop_strict)
        (orm(kind="ORU^R01^ORU_R01"), "MSH-9"),
        (orm(kind="ADT^A01^ADT_A01"), "MSH-9.2"),  # ADT: A08, A31 and A40 are taken
        (orm(kind="ADT^A08^ADT_A01"), "MSH-9"),  # taken, but not an order
        (orm(control=""), "MSH-10"),
        ("\r".join(s for s in orm().split("\r") if not s.startswith("PID")), "PID"),
        (orm(dob="19561399"), "PID-7"),
        (orm(dob="yesterday"), "PID-7"),
        (orm(sex="Q"), "PID-8"),
        (orm(ctrl="ZZ"), "ORC-1"),
        (orm(npi=""), "ORC-12"),
        (orm(code="99999"), "OBR-4"),
        (orm(icd=""), "DG1"),
        (orm(extra="TQ1|1|||||14^fortnights"), "TQ1-6"),
        (orm().replace("|P", "|\x00P", 1), "MSH-11"),  # NUL bytes were stored as part of the value
        (orm(placer="P\x00-100"), "ORC-2"),
        (orm(extra="NTE|1||a\x1bb"), "NTE-3"),
        # a Windows-1252 file read as the 8859/1 it is taken for (no MSH-18): its curly quote (0x92) and
        # ellipsis (0x85) are C1 control characters there, and were stored in the patient's name
        (decode(orm(name="O\u2019Brien^Jane").encode("cp1252")), "PID-5"),
        (decode(orm(name="Roe^Jane\u2026").encode("cp1252")), "PID-5"),
        (orm(name="Roe^Ja\u0085ne"), "PID-5"),  # the same control character sent as UTF-8
        # a UTF-16 file (Windows' "Unicode" text) was refused as not starting with an MSH segment
        (decode(orm().encode("utf-16")), "MSH-18"),
        (decode(orm().encode("utf-16-be")), "MSH-18"),
    ],
)
def test_bad_orders_name_segment_and_field(text: str, field: str) -> None:
    with pytest.raises(InputError) as caught:
        hl7v2.parse_order(text, "bad.hl7")
    assert caught.value.field == field
    assert "bad.hl7" in str(caught.value)


def test_ack_has_msa_and_err_and_reads_back() -> None:
    text = hl7v2.build_ack(hl7v2.AckResult("AE", "C9", "bad | NPI", "103"), "ORM^O01^ORM_O01")
    message = hl7.parse(text)
    assert str(message.segment("MSA")[1]) == "AE" and str(message.segment("ERR")[3][0][0]) == "103"
    assert hl7v2.read_ack(text) == hl7v2.AckResult("AE", "C9", "bad | NPI", "103")  # ERR-3 read back
    for code in ("AA", "AE", "AR"):
        ack = hl7v2.build_ack(hl7v2.AckResult(code, "C|10", "why ^ not"), "OML^O21^OML_O21")
        assert parse_message(ack, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()


def test_a_general_clinical_order_omg_o19_is_read_as_an_order() -> None:
    """OMG^O19 is HL7 v2.5's general clinical order (what ORM^O01 became for orders that are neither lab nor
    pharmacy, such as an ECG); it was rejected (AR 200, 'not an order')."""
    text = orm(kind="OMG^O19^OMG_O19").replace("^I10\r", "^I10|||W\r")  # DG1-6, required in 2.5.1
    structure = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert structure.name == "OMG_O19" and structure.validate()  # a valid 2.5.1 OMG^O19, for hl7apy
    order = hl7v2.parse_order(text, "omg.hl7")
    assert (order.control, order.service, order.placer_order_number) == (OrderControl.NEW, "ambulatory_ecg",
                                                                         "PL-100")


@pytest.fixture
def host_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_without_their_zone_go_out_as_utc_whatever_the_host_zone(host_in_new_york: None) -> None:
    """SQLite hands stored times back without their zone (UTC by this project's convention); ``astimezone``
    took them for the host's local time: on a host set to New York the ORU's observation start (the
    recording's) and signature time, the FHIR resources' and the DICOM's went out five hours late."""
    from datetime import datetime

    from ecgdesk.interop import fhir

    naive = signed_result(signed_at=datetime(2026, 12, 1, 14, 30),
                          observed_start=datetime(2026, 11, 20, 8, 0),
                          observed_end=datetime(2026, 11, 28, 8, 0))
    obr = hl7.parse(hl7v2.build_oru(naive, "CTRL-1")).segment("OBR")
    assert (str(obr[7]), str(obr[8])) == ("20261120080000+0000", "20261128080000+0000")
    assert hl7v2.build_oru(naive, "C").count("20261201143000+0000") == \
        hl7v2.build_oru(signed_result(), "C").count("20261201143000+0000") > 0
    assert fhir._instant(datetime(2026, 11, 20, 8, 0)) == "2026-11-20T08:00:00Z"
