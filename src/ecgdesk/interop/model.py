"""The typed values the interfaces exchange: a signed result going out, an order coming in.

The interop package never reads the store: the workflow builds a :class:`SignedResult` from a signed
study, and turns an :class:`OrderRequest` into an order and a study. Everything here is plain data, so
the message builders and parsers are testable alone and usable as a library.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ecgdesk.errors import InputError
from ecgdesk.names import with_credentials

#: The longest values an order may carry: what the record keeps (a patient id and a placer order number in
#: 64 characters, a printed name in 200, a message control id in 100). A longer one is refused naming its
#: field: cut short it would name another patient or order, and PostgreSQL refuses it mid-transaction.
MAX_ID = 64
MAX_NAME = 200
MAX_MESSAGE_ID = 100

#: Identifier types (HL7 table 0203, FHIR v2-0203) of a patient's record number at the ordering organisation,
#: preferred in this order.
RECORD_NUMBER_TYPES = ("MR", "PI", "PT", "MRT")
#: Identifier types that name a person nationally, for insurance or by a document: never the record number
#: an order is filed under (and an SSN stored as one would be shown on every screen). "NN..." are national
#: person identifiers of a country.
NOT_RECORD_NUMBER_TYPES = frozenset({"SS", "SB", "NI", "NH", "DL", "PPN", "MB", "MC", "MA", "HC", "JHN",
                                     "TAX", "CZ", "BCT", "DR", "NPI", "PRN", "LN", "AN", "VN"})


def in_utc(value: datetime) -> datetime:
    """``value`` in UTC; a time without its zone is UTC already (this project's convention: SQLite hands
    stored times back so), not the host's local time, which ``astimezone`` would take it for: until
    2026-12-07 on a host set to New York an ORU's observation start and signature time went out five hours
    late."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_record_number_type(code: str) -> bool:
    """Whether an identifier of this type (``''``: none given) may be a patient's record number."""
    code = code.strip().upper()
    return code not in NOT_RECORD_NUMBER_TYPES and not (code.startswith("NN") and len(code) == 5)


def within(value: str, limit: int, field: str, source: str) -> str:
    """``value`` when it has at most ``limit`` characters, else an :class:`InputError` naming ``field``."""
    if len(value) > limit:
        raise InputError(field, f"{len(value)} characters; at most {limit} are kept", source)
    return value


class ResultStatus(enum.StrEnum):
    """HL7 v2 OBR-25/OBX-11 and FHIR DiagnosticReport.status of a result we send."""

    FINAL = "F"  # the first signed result
    CORRECTED = "C"  # a signed addendum replaces it

    @property
    def fhir(self) -> str:
        return "final" if self is ResultStatus.FINAL else "corrected"


class OrderControl(enum.StrEnum):
    """What an incoming order asks (HL7 v2 ORC-1, table 0119; FHIR ServiceRequest.status maps onto it)."""

    NEW = "NW"
    CHANGE = "XO"
    CANCEL = "CA"
    HOLD = "HD"  # hold: not worked (no recording) until released or cancelled
    RELEASE = "RL"  # release a previous hold
    #: FHIR status ``active``: a state, not a command. A new order when its placer number is not known, else
    #: the order as it now stands: a change, which also ends a hold (ServiceRequest has no XO nor RL).
    ACTIVE = "active"


#: The order controls an HL7 v2 ORC-1 may carry (``active`` is FHIR's).
V2_ORDER_CONTROLS = (OrderControl.NEW, OrderControl.CHANGE, OrderControl.CANCEL, OrderControl.HOLD,
                     OrderControl.RELEASE)


class OrderPriority(enum.StrEnum):
    """How soon the ordering provider wants the study (FHIR request-priority, which HL7 v2's codes map
    onto), least urgent first: the worklist puts the more urgent of the studies still being worked first."""

    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"

    @property
    def rank(self) -> int:
        """0 for routine up to 3 for STAT."""
        return list(OrderPriority).index(self)


@dataclass(frozen=True)
class PatientInfo:
    """A patient as the EHR knows them: the medical record number and demographics."""

    id: str
    family: str
    given: str
    birth_date: date
    sex: str  # "F", "M" or "U"
    id_authority: str | None = None  # one name of the assigning authority (authority.name)
    #: the assigning authority as the order gave it (CX-4's HD with its ``&``, or the FHIR system): the
    #: result names it back (:mod:`ecgdesk.interop.authority`); None where the order named none
    id_issuer: str | None = None

    @property
    def display(self) -> str:
        return f"{self.family}, {self.given}" if self.given else self.family


@dataclass(frozen=True)
class Provider:
    npi: str | None
    family: str
    given: str = ""
    credentials: str = ""

    @property
    def display(self) -> str:
        name = f"{self.given} {self.family}".strip()
        return with_credentials(name, self.credentials)


@dataclass(frozen=True)
class Measurement:
    """One numeric result (an OBX of type NM, a FHIR Observation); ``key`` names it in our code table."""

    key: str
    value: float
    unit: str


@dataclass(frozen=True)
class SignatureEntry:
    """One signature of a report as signed: its meaning, printed name and time (21 CFR 11.50)."""

    meaning: str
    printed_name: str
    signed_at: datetime

    @property
    def line(self) -> str:
        return (f"{self.meaning} {self.printed_name}, electronically signed "
                f"{in_utc(self.signed_at):%Y-%m-%d %H:%M} UTC")


@dataclass(frozen=True)
class SignedResult:
    """Everything a result message carries for one signed report version of one study."""

    study_id: int
    service: str  # ambulatory_ecg, resting_ecg, stress_ecg, ... (our Service values)
    status: ResultStatus
    report_version: int
    patient: PatientInfo
    ordering: Provider
    interpreter: Provider
    signed_at: datetime
    observed_start: datetime | None
    observed_end: datetime | None
    interpretation: str
    pdf: bytes
    placer_order_number: str | None = None
    indications: tuple[str, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    uid_seed: str = ""  # what makes this study's DICOM UIDs unique across installations
    signed_by: str = ""  # the signer's printed name as signed (the signature's, kept if the user is renamed)
    signature_meaning: str = "Interpreted by"  # what the signature means (21 CFR 11.50(a)(3))
    #: the signatures of the report's earlier versions, oldest first: a corrected result still names the
    #: physician whose interpretation it carries, as its PDF does
    earlier_signatures: tuple[SignatureEntry, ...] = ()
    #: the measurements whose value differs from what an earlier signed version of the report said: a
    #: corrected result corrects these (FHIR Observation.status ``corrected``), the others stay ``final``
    changed_measurements: frozenset[str] = frozenset()

    @property
    def printed_name(self) -> str:
        return self.signed_by or self.interpreter.display

    @property
    def signature_line(self) -> str:
        """Printed name, date and time, and meaning of the signature, as 21 CFR 11.50 asks of a signed
        record, in words: what the ORU's NTE carries."""
        return SignatureEntry(self.signature_meaning, self.printed_name, self.signed_at).line

    @property
    def signature_lines(self) -> tuple[str, ...]:
        """Every signature of the report up to this version, oldest first (this version's last)."""
        return (*(entry.line for entry in self.earlier_signatures), self.signature_line)

    @property
    def filler_order_number(self) -> str:
        """Our id of the order, stable across corrected results (the study)."""
        return f"ECGDESK-{self.study_id}"


@dataclass(frozen=True)
class OrderRequest:
    """An order from the EHR (HL7 ORM^O01/OMG^O19/OML^O21, a FHIR ServiceRequest), checked field by field."""

    control: OrderControl
    message_id: str  # MSH-10, or the ServiceRequest's id/identifier: what de-duplicates a resend
    placer_order_number: str
    patient: PatientInfo
    ordering: Provider
    service: str
    indications: tuple[str, ...]
    duration_days: float | None = None
    requested_at: datetime | None = None
    priority: OrderPriority = OrderPriority.ROUTINE
    source: str = ""  # the file, peer or URL the message came from (for messages and the audit log)
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: where an HL7 v2 order's values were read from, for the errors of the checks the study makes of them
    #: (ERR-2 names the field the sender filled): (check field, message field) pairs, e.g.
    #: ("ordering-npi", "OBR-16"), and an indication by its code, ("indication:R00.2", "OBR-31")
    read_from: tuple[tuple[str, str], ...] = ()

    def field_of(self, check_field: str, code: str | None = None) -> str | None:
        """The message field a value the study's checks refused came from (``code``: the indication)."""
        key = f"{check_field}:{code}" if code is not None else check_field
        return dict(self.read_from).get(key)


class PatientEvent(enum.StrEnum):
    """What a patient administration message (HL7 v2 ADT, a FHIR Patient) asks of a patient we keep."""

    UPDATE = "A08"  # update patient information (the EHR's demographics changed)
    UPDATE_PERSON = "A31"  # update person information (the master patient index's own update): read alike
    MERGE = "A40"  # merge patient: the prior id's record (MRG-1) is now the surviving id's (PID-3)

    @property
    def is_merge(self) -> bool:
        return self is PatientEvent.MERGE


@dataclass(frozen=True)
class PatientUpdate:
    """A patient's demographics as the EHR now holds them (ADT^A08/A31, a FHIR Patient), or a merge
    (ADT^A40: ``prior_id`` is the record number that no longer stands, ``patient`` the surviving one)."""

    event: PatientEvent
    message_id: str
    patient: PatientInfo
    prior_id: str | None = None
    source: str = ""
    #: the message field each value was read from (``("patient-id", "PID-3")``, ``("prior-id", "MRG-1")``)
    read_from: tuple[tuple[str, str], ...] = ()
    #: the assigning authority of ``prior_id`` as given (MRG-1.4); None where none was named
    prior_issuer: str | None = None

    def field_of(self, what: str) -> str:
        return dict(self.read_from).get(what, what)
