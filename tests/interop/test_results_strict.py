"""The results we send, as a strict receiver reads them: one frame, valid 2.5.1 / R4, our own text escaped,
the signature's printed name, time and meaning carried."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import hl7
from fhir.resources.R4B.bundle import Bundle
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from interop_builders import signed_result

from ecgdesk.interop import fhir, hl7v2, mllp
from ecgdesk.interop.model import ResultStatus, SignatureEntry, SignedResult


def test_control_characters_in_our_text_are_escaped_and_the_oru_stays_one_frame() -> None:
    """A VT or FS pasted into an interpretation went out raw: the receiver's MLLP reader starts a new frame
    at VT or ends it at FS, cutting the result (and its PDF) short."""
    text = "Sinus rhythm\x0b pasted\x1c text\x00 and\ttab"
    oru = hl7v2.build_oru(signed_result(interpretation=text), "C1")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", oru)
    assert mllp.FrameReader().feed(mllp.frame(oru)) == [oru.encode()]
    tx = next(s for s in hl7.parse(oru) if str(s[0]) == "OBX" and str(s[2]) == "TX")
    assert hl7v2.unescape(str(tx[5])) == "Sinus rhythm pasted text and\ttab"  # controls are no text to keep


def test_control_characters_in_our_text_are_left_out_of_the_fhir_bundle() -> None:
    """FHIR strings hold no control character but tab, CR and LF (and have no escape for them): a pasted VT
    made the DiagnosticReport one a strict server (or our own order reader) refuses."""
    result = signed_result(interpretation="Sinus rhythm\x0b pasted\x00 text\tand\nlines")
    bundle = fhir.build_bundle(result)
    fhir._refuse_control_characters(bundle, "our bundle")  # the rule our reader applies to what it takes
    report = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"
    )
    assert report["conclusion"] == "Sinus rhythm pasted text\tand\nlines"


def test_our_messages_declare_the_utf_8_they_are_sent_in() -> None:
    """Without MSH-18 a receiver reads v2 text as ASCII or 8859/1: a patient 'Müller' sent as UTF-8 arrived as
    'MÃ¼ller'. The ORU and the ACK now say UNICODE UTF-8 (HL7 table 0211), which is how they are sent."""
    patient = signed_result().patient
    named = type(patient)("P1", "Müller", "Zoë", patient.birth_date, "F")
    oru = hl7v2.build_oru(signed_result(patient=named), "C1")
    ack = hl7v2.build_ack(hl7v2.AckResult("AE", "C1", "patient Müller held"), "ORM^O01")
    for text in (oru, ack):
        message = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        assert message.validate() and str(hl7.parse(text).segment("MSH")[18]) == "UNICODE UTF-8"
        assert mllp.declared_charset(mllp.frame(text)) == "UNICODE UTF-8"


def _signed() -> SignedResult:
    return signed_result(signed_by="Lee, Ana", signature_meaning="Interpreted by")


def test_the_oru_carries_the_signature_printed_name_time_and_meaning() -> None:
    """21 CFR 11.50 (claims.md): a signed record shows the signer's printed name, the date and time and the
    meaning of the signature; the ORU carried the interpreter's NPI and name in OBR-32 and no meaning."""
    message = hl7.parse(hl7v2.build_oru(_signed(), "C1"))
    obr = message.segment("OBR")
    assert str(obr[32][0][1]) == "20261201143000+0000"  # OBR-32.2: when the interpreter signed
    note = hl7v2.unescape(str(message.segment("NTE")[3]))
    assert note == "Interpreted by Lee, Ana, electronically signed 2026-12-01 14:30 UTC"


def test_the_diagnostic_report_has_a_provenance_with_the_signature() -> None:
    bundle = fhir.build_bundle(_signed())
    resources = {e["resource"]["resourceType"]: e for e in bundle["entry"]}
    provenance, report = resources["Provenance"]["resource"], resources["DiagnosticReport"]
    assert provenance["target"] == [{"reference": report["fullUrl"]}]
    assert provenance["recorded"] == "2026-12-01T14:30:00Z"
    signature = provenance["signature"][0]
    assert signature["when"] == "2026-12-01T14:30:00Z" and signature["who"]["display"] == "Lee, Ana"
    assert provenance["agent"][0]["role"][0]["text"] == "Interpreted by"
    assert report["resource"]["resultsInterpreter"][0]["display"] == "Lee, Ana"
    Bundle.model_validate(bundle)


def test_a_corrected_bundle_has_a_provenance_for_every_signature() -> None:
    """The FHIR result of an addendum carried a Provenance for the addendum's signature only, while its ORU
    (NTEs) and PDF name every signature: the receiver could not tell who interpreted the study. One
    Provenance per signature now, oldest first, the addendum's typed as an Addendum Signature (ASTM E1762)."""
    first = SignatureEntry("Interpreted by", "Lee, Ana", datetime(2026, 12, 1, 14, 30, tzinfo=UTC))
    result = signed_result(status=ResultStatus.CORRECTED, report_version=2, signed_by="Roe, Ben",
                           signature_meaning="Addendum by", signed_at=datetime(2026, 12, 2, 9, 5, tzinfo=UTC),
                           earlier_signatures=(first,))
    bundle = fhir.build_bundle(result)
    Bundle.model_validate(bundle)
    kinds = {e["resource"]["resourceType"]: e["fullUrl"] for e in bundle["entry"]}
    report_url = kinds["DiagnosticReport"]
    provenances = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"]
    assert [(p["recorded"], p["agent"][0]["role"][0]["text"], p["signature"][0]["who"]["display"])
            for p in provenances] == [("2026-12-01T14:30:00Z", "Interpreted by", "Lee, Ana"),
                                      ("2026-12-02T09:05:00Z", "Addendum by", "Roe, Ben")]
    assert [p["signature"][0]["type"][0]["display"] for p in provenances] == ["Author's Signature",
                                                                             "Addendum Signature"]
    assert all(p["target"] == [{"reference": report_url}] for p in provenances)
    assert all(p["signature"][0]["who"] == p["agent"][0]["who"] for p in provenances)  # signer is the agent
