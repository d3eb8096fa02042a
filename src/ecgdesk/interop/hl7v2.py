"""HL7 v2.5.1: the signed result out (ORU^R01 with the PDF in an ED OBX), orders in (ORM^O01, OMG^O19,
OML^O21), ACKs.

Messages are built and parsed with hl7apy. Text we put into a field is escaped with the standard escape
sequences (``\\F\\``, ``\\S\\``, ...), so a patient called ``O|Brien`` or a comment with ``^`` cannot shift
the fields behind it. Orders are read leniently (any segment order, unknown segments ignored) but every
field we need is checked, and each problem names the segment, the field and the reason.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timezone

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message, Segment
from hl7apy.parser import parse_message

from ecgdesk.errors import InputError
from ecgdesk.interop import authority
from ecgdesk.interop.codes import code_table, first_orderable
from ecgdesk.interop.hl7v2_text import (
    component,
    escape,
    field_at,
    single,
    split_segments,
    unescape,
)
from ecgdesk.interop.hl7v2_timing import duration_days, order_priority
from ecgdesk.interop.mllp import CHARSETS
from ecgdesk.interop.model import (
    MAX_ID,
    MAX_MESSAGE_ID,
    MAX_NAME,
    RECORD_NUMBER_TYPES,
    V2_ORDER_CONTROLS,
    OrderRequest,
    PatientInfo,
    Provider,
    SignedResult,
    in_utc,
    is_record_number_type,
    within,
)
from ecgdesk.utc_offset import utc_offset

VERSION = "2.5.1"
SENDING_APPLICATION = "ECGDESK"
#: MSH-18 of what we send: every message goes out UTF-8 (mllp.frame, folder files); undeclared, a receiver
#: reads v2 text as ASCII or 8859/1 and a patient Müller arrives as MÃ¼ller.
CHARSET = "UNICODE UTF-8"
#: ORM^O01 (to 2.4, kept since), OMG^O19 (2.5 on: the general clinical order, an ECG's), OML^O21 (lab)
ORDER_TYPES = {("ORM", "O01"), ("OMG", "O19"), ("OML", "O21")}
#: ADT^A08 (update patient information), ADT^A31 (update person information), ADT^A40 (merge patient): what
#: every EHR interface sends beside its orders when a patient's demographics change, or two records are one
PATIENT_TYPES = {("ADT", "A08"), ("ADT", "A31"), ("ADT", "A40")}
_TAKEN = "ORM^O01, OMG^O19, OML^O21, ADT^A08, ADT^A31 or ADT^A40"
_SERVICE_SECTION = "EC"  # HL7 table 0074: electrocardiac (EKG, Holter)
_MAX_TYPE = 40  # MSH-9 with room for a sender's padding; an MSG is 15 characters

def _ts(value: datetime) -> str:
    return in_utc(value).strftime("%Y%m%d%H%M%S+0000")


def _new_message(kind: str, control_id: str, receiver: tuple[str, str] = ("", "")) -> Message:
    message = Message(kind.split("^")[2], version=VERSION)
    message.msh.msh_3 = SENDING_APPLICATION
    message.msh.msh_5 = escape(receiver[0])
    message.msh.msh_6 = escape(receiver[1])
    message.msh.msh_7 = _ts(datetime.now(UTC))
    message.msh.msh_9 = kind
    message.msh.msh_10 = escape(control_id)
    message.msh.msh_11 = "P"
    message.msh.msh_12 = VERSION
    message.msh.msh_18 = CHARSET
    return message


def _segment(message: Message | Segment, name: str, fields: dict[int, str]) -> None:
    segment = message.add_segment(name) if isinstance(message, Message) else message
    for index, value in fields.items():
        if value:
            setattr(segment, f"{name.lower()}_{index}", value)


def _xcn(provider: Provider) -> str:
    """An XCN: NPI ^ family ^ given ^^^^ degree ^^^^^^ NPI (identifier type, XCN-13)."""
    return (
        f"{escape(provider.npi or '')}^{escape(provider.family)}^{escape(provider.given)}^^^^"
        f"{escape(provider.credentials)}^^^^^^{'NPI' if provider.npi else ''}"
    )


def build_oru(result: SignedResult, control_id: str, receiver: tuple[str, str] = ("", "")) -> str:
    """The ORU^R01 of a signed result: interpretation (TX), measurements (NM) and the PDF (ED, base64)."""
    table = code_table()
    message = _new_message("ORU^R01^ORU_R01", control_id, receiver)
    patient = result.patient
    text = message.to_er7()
    segments = [text]
    segments.append(
        f"PID|1||{escape(patient.id)}^^^{authority.cx4(patient.id_issuer, patient.id_authority)}^MR||"
        f"{escape(patient.family)}^{escape(patient.given)}||{patient.birth_date:%Y%m%d}|{escape(patient.sex)}"
    )
    placer = escape(result.placer_order_number or "")
    filler = f"{escape(result.filler_order_number)}^{SENDING_APPLICATION}"
    segments.append(f"ORC|RE|{placer}|{filler}||CM||||{_ts(result.signed_at)}|||{_xcn(result.ordering)}")
    loinc, display = table.study(result.service)
    service_id = f"{loinc}^{escape(display)}^LN" if loinc else f"{escape(result.service)}^{escape(display)}^L"
    start = _ts(result.observed_start) if result.observed_start else ""
    end = _ts(result.observed_end) if result.observed_end else ""
    reasons = "~".join(f"{escape(code)}^^I10" for code in result.indications)
    # OBR-32 (NDL): the interpreter and, as its start, when they signed
    interpreter = (
        f"{escape(result.interpreter.npi or '')}&{escape(result.interpreter.family)}"
        f"&{escape(result.interpreter.given)}^{_ts(result.signed_at)}"
    )
    obr = ["OBR", "1", placer, filler, service_id, "", "", start, end] + [""] * 7
    obr += (
        [_xcn(result.ordering)]
        + [""] * 5
        + [
            _ts(result.signed_at),
            "",
            _SERVICE_SECTION,
            result.status.value,
            "",
            "",
            "",
            "",
            "",
            reasons,
            interpreter,
        ]
    )
    segments.append("|".join(obr))
    # each signature's printed name, time and meaning (21 CFR 11.50) in words, oldest first: a remark
    # (table 0364) each, so a corrected result still names the interpreter beside the addendum's signer
    for at, line in enumerate(result.signature_lines, start=1):
        segments.append(f"NTE|{at}|L|{escape(line)}|RE^Remark^HL70364")
    status = result.status.value
    n = 1
    text_placeholder = "INTERPTEXT"
    if result.interpretation.strip():
        segments.append(
            f"OBX|{n}|TX|INTERP^Interpretation^L||{text_placeholder}||||||{status}"
            f"|||{_ts(result.signed_at)}"
        )
        n += 1
    for m in result.measurements:
        code = table.measurement(m.key)
        ident = f"{code.loinc}^{escape(code.label)}^LN" if code.loinc else f"{m.key}^{escape(code.label)}^L"
        # a corrected result corrects the numbers whose value changed; the others stand as signed (F)
        number_status = status if m.key in result.changed_measurements else "F"
        segments.append(f"OBX|{n}|NM|{ident}||{_number(m.value)}|{escape(m.unit)}^^UCUM|||||{number_status}")
        n += 1
    placeholder = "PDFDATA"
    segments.append(
        f"OBX|{n}|ED|PDF^Signed report^L||{SENDING_APPLICATION}^AP^PDF^Base64^{placeholder}||||||{status}"
    )
    # hl7apy checks the structure; it would also cap ED data and the TX interpretation at 199 characters
    # (it reads OBX-5 as ST), which every interface engine ignores for embedded documents and TX allows
    # (65536), so both go in after the check: an interpretation over 199 characters raised out of the
    # deliverer before 2026-12-07, which stopped at it on every run
    text = _validated("\r".join(segments) + "\r")
    pdf = base64.b64encode(result.pdf).decode("ascii")
    text = text.replace(f"^Base64^{placeholder}|", f"^Base64^{pdf}|", 1)
    return text.replace(f"||{text_placeholder}||", f"||{escape(result.interpretation)}||", 1)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class AckResult:
    code: str  # AA accepted, AE error (received, not processed), AR rejected
    control_id: str
    text: str
    error: str = "207"  # HL7 table 0357: 101 required field missing, 102 data type, 103 table value,
    # 200 unsupported message type, 205 duplicate key, 207 application error
    location: str = ""  # ERR-2, an ERL (segment^sequence^field^repetition^component): see error_location


_LOCATION = re.compile(r"([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+)(?:\.(\d+))?)?")


def error_location(field: str) -> str:
    """ERR-2 of a field named as the readers name it (``PID-7``, ``ORC-7.6``, ``DG1``, ``MSH[2]``): segment
    ^ sequence ^ field ^ repetition ^ component, of the first segment of its name (the one read) unless the
    name gives another; '' for a name that is no position in the message."""
    match = _LOCATION.fullmatch(field)
    if match is None:
        return ""
    segment, sequence, position, sub = match.groups()
    parts = [segment, sequence or "1"]
    if position is not None:
        parts.append(position)
        if sub is not None:
            parts += ["1", sub]
    return "^".join(parts)


def build_ack(ack: AckResult, incoming_type: str = "", receiver: tuple[str, str] = ("", ""),
              control: str = "", ack_types: str = "") -> str:
    """The ACK for a message: MSA with our code and, for AE/AR (CE/CR), an ERR segment with the reason;
    ``control`` its own MSH-10 and ``ack_types`` its MSH-15|MSH-16 (an enhanced-mode application ACK).
    Written directly (answered for every order, it must be cheap); tests check it is a valid 2.5.1 ACK."""
    parts = incoming_type.split("^")
    trigger = parts[1] if len(parts) > 1 and re.fullmatch(r"[A-Z0-9]{3}", parts[1]) else "O01"
    control = control or (f"ACK-{ack.control_id}" if ack.control_id else "ACK")
    types = ack_types or "|"
    segments = [
        f"MSH|^~\\&|{SENDING_APPLICATION}||{escape(receiver[0])}|{escape(receiver[1])}|"
        f"{_ts(datetime.now(UTC))}||ACK^{trigger}^ACK|{escape(control)[:199]}|P|{VERSION}|||{types}||"
        f"{CHARSET}",
        f"MSA|{ack.code}|{escape(ack.control_id)[:199]}|{escape(ack.text[:80])}",
    ]
    if ack.code not in {"AA", "CA"}:
        # ERR-2 where (an interface engine shows and routes errors by it), ERR-3 the code, ERR-4 severity
        segments.append(f"ERR||{ack.location}|{ack.error}^^HL70357|E||||{escape(ack.text)}")
    return "\r".join(segments) + "\r"


def _validated(text: str) -> str:
    """``text`` after hl7apy parsed it strictly against the 2.5.1 structure (a failure here is our bug)."""
    message = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    message.validate()
    return text


def read_ack(raw: str) -> AckResult:
    """The MSA of an ACK we received (MLLP peers answer our ORU with one), with the ERR segment's error
    code and reason when the ACK gives them."""
    segments = split_segments(raw, "ACK")
    fields = segments.get("MSA")
    if not fields:
        raise InputError("MSA", "the acknowledgement has no MSA segment", "ACK")
    msa = fields[0]
    code, text = field_at(msa, 1), unescape(field_at(msa, 3))
    errors = segments.get("ERR") or []
    if not errors:
        return AckResult(code, field_at(msa, 2), text)
    err = errors[0]
    # 2.5 and later: ERR-3 the HL7 error code (table 0357), ERR-8 the message for a person; 2.3 and 2.4:
    # ERR-1 segment^sequence^field^code&text
    error = component(field_at(err, 3), 1) or component(field_at(err, 1), 4)
    reason = unescape(field_at(err, 8)) or component(field_at(err, 3), 2) or component(field_at(err, 1), 4, 2)
    return AckResult(code, field_at(msa, 2), text or reason, error or "207")


def read_ack_of(raw: str, sent: str) -> AckResult:
    """The ACK a peer answered to our message ``sent``, refused (MSA-2) when it acknowledges another
    message: a peer that answers with a stale or mixed-up ACK has not said it received this one."""
    ack = read_ack(raw)
    ours = message_header(sent, "our message")[1]
    answered = unescape(ack.control_id)
    if answered != ours:
        raise InputError("MSA-2", f"the acknowledgement answers message {answered[:40]!r}, not ours "
                                  f"({ours}): not taken as its delivery", "ACK")
    return ack


def _authority(cx: str) -> str | None:
    """The assigning authority of a CX (component 4, an HD): its namespace, else its universal id."""
    return component(cx, 4) or component(cx, 4, 2) or None

def _patient_identifier(field: str, source: str, name: str = "PID-3") -> str:
    """The CX repetition of PID-3 that is the medical record number (by CX-5, table 0203), else the first
    one that is not a national, insurance or document number (``SS``, ``NI``, ``DL``, ``NNxxx`` ...)."""
    repetitions = [cx for cx in field.split("~") if component(cx, 1)]
    for kind in RECORD_NUMBER_TYPES:
        typed = next((cx for cx in repetitions if component(cx, 5).upper() == kind), None)
        if typed is not None:
            return typed
    usable = [cx for cx in repetitions if is_record_number_type(component(cx, 5))]
    if repetitions and not usable:
        kinds = ", ".join(sorted({component(cx, 5) for cx in repetitions}))
        raise InputError(name, f"no record number, only identifiers of type {kinds} (national, insurance "
                                  "or document numbers are not filed as a patient id)", source)
    return usable[0] if usable else ""


#: CE/CWE coding systems (HL7 table 0396) whose codes ``OBR-4`` is looked up in; a code of another system
#: (a local ``L`` or ``99xxx`` code) may mean anything at the sender.
_CPT_SYSTEMS = {"C4", "C5", "CPT", "CPT4", "CPT-4", "HCPCS", "HCPC"}
_LOINC_SYSTEMS = {"LN", "LOINC"}


def _service(field: str, source: str) -> tuple[str, float | None]:
    """(service, default days) of OBR-4: its identifier, else its alternate identifier, when the coding
    system is CPT or LOINC (or not given)."""
    given = [(component(field, at).strip(), component(field, at + 2).strip().upper()) for at in (1, 4)]
    given = [(code, system) for code, system in given if code]
    if not given:
        raise InputError("OBR-4", "the universal service identifier is empty", source)
    readable = [code for code, system in given if not system or system in _CPT_SYSTEMS | _LOINC_SYSTEMS]
    if not readable:
        shown = " and ".join(f"{code}^{system}" for code, system in given)
        raise InputError("OBR-4", f"no CPT (C4) or LOINC (LN) code in {shown}: a code of another coding "
                                  "system cannot be read as an ECG service", source)
    return first_orderable(readable, "OBR-4", source)


def _ordering_provider(xcn: str, field: str, source: str) -> Provider:
    """The ordering provider of the first XCN repetition whose identifier type (XCN-13, or XCN-9 the
    assigning authority) is NPI or not given; its XCN-1 is the NPI."""
    for repetition in xcn.split("~"):
        kind = component(repetition, 13).upper()
        authority = component(repetition, 9).upper()
        typed_npi = kind == "NPI" or authority == "NPI" or (not kind and not authority)
        if component(repetition, 1) and typed_npi:
            return Provider(component(repetition, 1), component(repetition, 2), component(repetition, 3))
    if component(xcn, 1):
        kind = component(xcn, 13) or component(xcn, 9)
        raise InputError(field, f"the ordering provider's identifier {component(xcn, 1)!r} is of type "
                                f"{kind!r}, not an NPI", source)
    return Provider(None, component(xcn, 2), component(xcn, 3))


#: An HL7 v2 DTM (v2.5.1 2.A.22): YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ], any precision.
_DTM = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.\d{1,4})?)?)?)?)?)?([+-]\d{4})?"
)


def _date(value: str, field: str, source: str) -> date:
    """The date a DTM gives to the day (a birth date): the whole value is checked, its time and offset
    are not applied (a birth date is the one the sender wrote, not the UTC day)."""
    match = _DTM.fullmatch(value.strip())
    try:
        if match is None or match.group(3) is None:
            raise ValueError
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise InputError(field, f"expected a date YYYYMMDD (an HL7 DTM to the day at least), got {value!r}",
                         source) from None


#: The longest sending application or facility (MSH-3, MSH-4 namespace id) taken: what a target can name
#: (:data:`ecgdesk.interop.senders.MAX_PART`; HL7 v2.5.1 gives the IS of HD-1 20 characters). A longer one
#: is refused, and never copied into an ACK, the record or the audit log.
MAX_SENDER = 64


def message_sender(text: str) -> tuple[str, str]:
    """(sending application, sending facility) of a v2 message (MSH-3, MSH-4, their namespace ids): whom its
    ACK goes to (MSH-5, MSH-6); empty where the message has no readable MSH or one is over
    :data:`MAX_SENDER` (the reader refuses it; the answer goes unaddressed rather than echo it)."""
    try:
        msh = split_segments(text, "message")["MSH"][0]
    except InputError:
        return "", ""
    sender = component(field_at(msh, 3), 1), component(field_at(msh, 4), 1)
    return ("", "") if max(len(part) for part in sender) > MAX_SENDER else sender


def message_header(text: str, source: str) -> tuple[str, str]:
    """(message type, control id) of any v2 message, checked: what an ACK needs even for a bad message."""
    msh = split_segments(text, source)["MSH"][0]
    kind, control = field_at(msh, 9), unescape(field_at(msh, 10))
    if not control:
        raise InputError("MSH-10", "the message control id is empty", source)
    if not kind:
        raise InputError("MSH-9", "the message type is empty", source)
    if len(kind) > _MAX_TYPE:  # an MSG is 15 characters (ORM^O01^ORM_O01); not echoed into the answer
        raise InputError("MSH-9", f"{len(kind)} characters: not a message type", source)
    for at, name in ((3, "sending application"), (4, "sending facility")):
        size = len(component(field_at(msh, at), 1))
        if size > MAX_SENDER:
            raise InputError(f"MSH-{at}", f"{size} characters: a {name} (namespace id) is at most "
                                          f"{MAX_SENDER} here", source)
    return kind, within(control, MAX_MESSAGE_ID, "MSH-10", source)


#: The fields whose refusal is a reject (AR) rather than an error (AE), with the HL7 table 0357 code: the
#: receiver's checks of the header before any application processing (v2.5.1 2.9.2, original mode).
REJECTING_FIELDS = {"MSH-9": "200", "MSH-9.2": "201", "MSH-11": "202", "MSH-12": "203"}


def is_patient_message(kind: str) -> bool:
    """Whether MSH-9 names a patient administration (ADT) message rather than an order."""
    return component(kind, 1).strip() == "ADT"


def _check_acceptable(msh: list[str], kind: str, source: str, family: set[tuple[str, str]]) -> None:
    """The header checks of a receiver: the message type (MSH-9: one we take, of the reader's ``family``),
    the version (MSH-12: any 2.x, the readers take 2.3 to 2.8 alike) and the processing id (MSH-11:
    production only; a training or debugging message must not create a real order)."""
    for index in (9, 11, 12):  # the message type, processing id and version are one each
        single(msh, index, f"MSH-{index}", source)
    code, event = component(kind, 1), component(kind, 2)
    taken = ORDER_TYPES | PATIENT_TYPES
    if (code, event) not in taken:
        known = any(code == message for message, _ in taken)
        raise InputError("MSH-9.2" if known else "MSH-9",
                         f"message type {kind!r} is not one this receiver takes ({_TAKEN})", source)
    if (code, event) not in family:  # a library caller's reader of the other kind
        what = "an order" if family is ORDER_TYPES else "a patient update or merge"
        raise InputError("MSH-9", f"message type {kind!r} is not {what}", source)
    version = component(field_at(msh, 12), 1).strip()
    if not re.fullmatch(r"2\.\d+(\.\d+)?", version):
        raise InputError("MSH-12", f"version {version!r} is not one this receiver takes (HL7 v2.x)", source)
    processing = component(field_at(msh, 11), 1).strip()
    if processing != "P":
        raise InputError("MSH-11", f"processing id {processing!r}: only production (P) messages create "
                                   "orders or change patients (T training and D debugging do not)", source)


def read_header(
    text: str, source: str, family: set[tuple[str, str]]
) -> tuple[dict[str, list[list[str]]], str, str]:
    """(segments, message type, control id) of one message of ``family`` after the receiver's checks of
    its header: type, version, processing id, character set, one message per frame or file."""
    segments = split_segments(text, source)
    kind, control_id = message_header(text, source)
    _check_acceptable(segments["MSH"][0], kind, source, family)
    charset = component(field_at(segments["MSH"][0], 18), 1).strip().upper()
    if charset and charset not in CHARSETS:
        raise InputError("MSH-18", f"character set {charset!r} is not one this receiver reads (HL7 table "
                                   f"0211: {', '.join(CHARSETS)})", source)
    if len(segments["MSH"]) > 1:  # reading the first alone would drop the others unanswered
        raise InputError("MSH[2]", f"{len(segments['MSH'])} messages (MSH segments) in one frame or file; "
                                   "send each message on its own (batches are not taken)", source)
    return segments, kind, control_id


def only_one(segments: dict[str, list[list[str]]], name: str, what: str, source: str) -> None:
    """Refuse a second ``name`` segment where the message structure holds one: reading the first alone
    dropped the other unsaid (a second PID's patient, a second ORC's placer number and control)."""
    if len(segments.get(name, [])) > 1:
        raise InputError(f"{name}[2]", f"the message holds {len(segments[name])} {what} ({name} segments) "
                                       f"where it may hold one; send one {name} per message", source)


#: XPN-7 name types (HL7 table 0200) never taken for the patient's name while another is given: maiden,
#: nickname, no longer to be used, bad, coded pseudo-name (FHIR's maiden, nickname, old and anonymous)
_NOT_THE_NAME = {"M", "N", "NOUSE", "BAD", "S"}


def patient_name(value: str) -> str:
    """The repetition of PID-5 that is the patient's name: the legal one (XPN-7 ``L``), else the first
    other one with a family name (v2.5.1 sends the legal name first, an empty first repetition where it
    has none), as FHIR's official name is taken. Until 2026-12-08 the first repetition was read: an alias
    sent before the legal name was stored as the patient's, and ``~Roe^Rita`` refused as "empty"."""
    names = [name for name in value.split("~") if component(name, 1)]
    return next((n for n in names if component(n, 7) == "L"),
                next((n for n in names if component(n, 7) not in _NOT_THE_NAME), names[0] if names else ""))


def read_patient(pid: list[str], source: str, id_field: str = "PID-3") -> PatientInfo:
    """The patient of a PID segment: the record number of PID-3 (by identifier type), name, birth date and
    sex, each checked and refused naming its field."""
    record_number = _patient_identifier(field_at(pid, 3), source, id_field)
    patient_id = component(record_number, 1)
    if not patient_id:
        raise InputError(id_field, "the patient identifier is empty", source)
    within(patient_id, MAX_ID, id_field, source)
    name = patient_name(field_at(pid, 5))
    family, given = component(name, 1), component(name, 2)
    if not family:
        raise InputError("PID-5", "the patient's family name is empty", source)
    sex = component(single(pid, 8, "PID-8", source), 1) or "U"  # IS before 2.7, CWE (F^Female^HL70001) since
    if sex not in {"F", "M", "U", "O", "A", "N"}:
        raise InputError("PID-8", f"unknown administrative sex {sex!r} (HL7 table 0001)", source)
    patient = PatientInfo(
        patient_id,
        family,
        given,
        _date(field_at(pid, 7), "PID-7", source),
        "U" if sex in {"O", "A", "N"} else sex,
        _authority(record_number),
        authority.from_cx(record_number),
    )
    within(patient.display, MAX_NAME, "PID-5", source)
    return patient


def parse_order(text: str, source: str = "HL7 message") -> OrderRequest:
    """An ORM^O01, OMG^O19 or OML^O21 as an :class:`OrderRequest` (structure checked; codes checked by the
    workflow)."""
    segments, _, control_id = read_header(text, source, ORDER_TYPES)
    for name in ("PID", "ORC", "OBR"):
        if name not in segments:
            raise InputError(name, f"an order needs a {name} segment", source)
    if len(segments["OBR"]) > 1:
        raise InputError("OBR", f"the message holds {len(segments['OBR'])} orders (OBR segments); ECG Desk "
                                "takes one order per message", source)
    only_one(segments, "ORC", "order controls", source)
    only_one(segments, "PID", "patients", source)
    pid, orc, obr = segments["PID"][0], segments["ORC"][0], segments["OBR"][0]
    for fields, name, indices in ((orc, "ORC", (2, 9)), (obr, "OBR", (2, 4, 5, 6))):
        for index in indices:
            single(fields, index, f"{name}-{index}", source)
    patient = read_patient(pid, source)
    control = next((c for c in V2_ORDER_CONTROLS if c.value == field_at(orc, 1)), None)
    if control is None:
        raise InputError("ORC-1", f"order control {field_at(orc, 1)!r} is not NW, XO, CA, HD or RL", source)
    placer = component(field_at(orc, 2), 1) or component(field_at(obr, 2), 1)
    if not placer:
        raise InputError("ORC-2", "the placer order number is empty", source)
    within(placer, MAX_ID, "ORC-2", source)
    provider_at = "ORC-12" if field_at(orc, 12) else "OBR-16"
    provider_field = field_at(orc, 12) or field_at(obr, 16)
    ordering = _ordering_provider(provider_field, provider_at, source)
    if not ordering.npi:
        raise InputError(provider_at, "the ordering provider's NPI is missing", source)
    within(ordering.display, MAX_NAME, provider_at, source)
    service, default_days = _service(field_at(obr, 4), source)
    read = _indications(segments, obr, source)
    indications = list(read)
    if not indications:
        raise InputError("DG1", "an order needs at least one indication (DG1-3 or OBR-31, ICD-10-CM)", source)
    duration = duration_days(segments, source) or default_days
    requested = component(field_at(orc, 9), 1) or component(field_at(obr, 6), 1)  # 2.3 TS: time^precision
    return OrderRequest(
        control=control,
        message_id=control_id,
        placer_order_number=placer,
        patient=patient,
        ordering=ordering,
        service=service,
        indications=tuple(indications),
        duration_days=duration,
        requested_at=(_datetime(requested, "ORC-9" if field_at(orc, 9) else "OBR-6", source) if requested
                      else None),
        priority=order_priority(segments, orc, obr, source),
        source=source,
        notes=tuple(unescape(field_at(nte, 3)) for nte in segments.get("NTE", []) if field_at(nte, 3)),
        read_from=(
            ("patient-id", "PID-3"), ("name", "PID-5"), ("birth-date", "PID-7"), ("sex", "PID-8"),
            ("ordering-npi", provider_at), ("duration-days", "TQ1-6"),
            *((f"indication:{code}", at) for code, at in read.items()),
        ),
    )


def _indications(segments: dict[str, list[list[str]]], obr: list[str], source: str) -> dict[str, str]:
    """The indication codes of DG1-3 (one per DG1) and OBR-31 (reason for study, repeating), in order, each
    with the field it was first read from (``DG1-3``, ``DG1[2]-3`` ..., ``OBR-31``)."""
    sources: list[tuple[str, str]] = [
        (single(dg1, 3, at, source), at)
        for n, dg1 in enumerate(segments.get("DG1", []), start=1)
        for at in ["DG1-3" if n == 1 else f"DG1[{n}]-3"]
    ]
    sources += [(value, "OBR-31") for value in field_at(obr, 31).split("~")]
    codes: dict[str, str] = {}
    for value, at in sources:
        code = unescape(value.split("^")[0]).strip()
        if code and code not in codes:
            codes[code] = at
    return codes


def _datetime(value: str, field: str, source: str) -> datetime:
    """A DTM of any precision in UTC: a partial one is its first instant (``2026`` is 1 January), as FHIR's
    partial dateTime is read; without an offset the time is taken as UTC."""
    match = _DTM.fullmatch(value.strip())
    if not match:
        raise InputError(field, f"expected a time YYYY[MM[DD[HH[MM[SS]]]]][+/-ZZZZ], got {value!r}", source)
    year, month, day = (int(g) if g else 1 for g in match.group(1, 2, 3))  # a month "00" stays invalid
    hour, minute, second = (int(g) if g else 0 for g in match.group(4, 5, 6))
    offset = match.group(7)
    try:
        # The sender's offset from UTC when it gives one; without one the time is taken as UTC.
        zone = timezone(utc_offset(offset)) if offset else UTC
    except ValueError as error:
        raise InputError(field, f"{error}, in {value!r}", source) from None
    try:
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=zone).astimezone(UTC)
    except ValueError:
        raise InputError(field, f"not a valid time: {value!r}", source) from None
    return stamp
