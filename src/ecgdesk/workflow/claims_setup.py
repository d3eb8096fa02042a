"""Billing set-up as data: the billing provider, clinicians, payers and patients' coverage.

Everything a claim needs besides the study: who bills (NPI, TIN, taxonomy, a street address with ZIP+4,
the EDI submitter id, a claim-number prefix and the charge level as a percentage of the Medicare
national amount), the rendering and ordering clinicians by NPI, the payers (payer id, claim filing
indicator, timely filing days, rule set, EDI receiver) and each patient's coverage (member id,
relationship, subscriber and address). Each is checked on entry with the same TR3 rules the claim writer
applies, so a bad address or NPI is refused here rather than at export. Every change is audited.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.claims.model import RELATIONSHIPS
from ecgdesk.claims.tr3 import FILING_INDICATORS, PO_BOX, STATE, TAXONOMY
from ecgdesk.coding.payer_rules import PayerRules, payer_rules
from ecgdesk.errors import InputError, check_option
from ecgdesk.store import Store, append
from ecgdesk.store.claims_models import BillingProviderRow, ClinicianRow, CoverageRow, PayerRow
from ecgdesk.store.models import Patient, User
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.users import check_npi

PRIORITIES = {"primary": "P", "secondary": "S", "tertiary": "T"}
EDI_ID = re.compile(r"^[A-Za-z0-9 .-]{1,15}$")


@dataclass(frozen=True)
class BillingSetup:
    name: str
    npi: str
    tin: str
    taxonomy: str
    address1: str
    city: str
    state: str
    zip: str
    contact_name: str
    contact_phone: str
    submitter_id: str
    address2: str = ""
    claim_prefix: str = "ECG"
    charge_percent: int = 200


@dataclass(frozen=True)
class PayerSetup:
    name: str
    payer_id: str
    filing_indicator: str
    rules_id: str
    timely_filing_days: int | None = None
    receiver_id: str | None = None
    receiver_name: str | None = None
    usage: str = "P"


@dataclass(frozen=True)
class CoverageSetup:
    patient_id: str  # the patient's external id (as in ``study create --patient-id``)
    payer_id: str  # the payer id (as in ``billing payer add --payer-id``)
    member_id: str
    address1: str
    city: str
    state: str
    zip: str
    relationship: str = "self"
    priority: str = "primary"
    group_number: str = ""
    address2: str = ""
    subscriber_last: str | None = None
    subscriber_first: str | None = None
    subscriber_birth_date: date | None = None
    subscriber_sex: str | None = None
    effective_from: date | None = None
    effective_to: date | None = None


def _text(field: str, value: str, limit: int) -> str:
    text = " ".join(value.split())
    if not text:
        raise InputError(field, "must not be empty")
    if len(text) > limit:
        raise InputError(field, f"at most {limit} characters, got {len(text)}")
    if set("*:^~") & set(text):
        raise InputError(field, f"{value!r} holds an X12 delimiter (* : ^ ~)")
    return text


def _zip(field: str, value: str, nine: bool) -> str:
    digits = value.replace("-", "").strip()
    pattern = r"\d{9}" if nine else r"\d{5}(?:\d{4})?"
    if not re.fullmatch(pattern, digits):
        raise InputError(field, f"{value!r} must be {'the 9-digit ZIP+4' if nine else '5 or 9 digits'}")
    return digits


def _state(value: str) -> str:
    if not STATE.match(value.strip().upper()):
        raise InputError("state", f"{value!r} is not a 2-letter state code")
    return value.strip().upper()


def _check_billing(setup: BillingSetup) -> BillingSetup:
    tin = setup.tin.replace("-", "").strip()
    if not re.fullmatch(r"\d{9}", tin):
        raise InputError("tin", f"{setup.tin!r} must be the 9-digit employer identification number")
    if not TAXONOMY.match(setup.taxonomy.strip()):
        raise InputError("taxonomy", f"{setup.taxonomy!r} is not a provider taxonomy code (e.g. 261QD0000X)")
    address1 = _text("address", setup.address1, 55)
    if PO_BOX.search(f"{setup.address1} {setup.address2}"):
        raise InputError(
            "address", f"{setup.address1!r} is a post office box; the billing provider needs a street address"
        )
    if not EDI_ID.match(setup.submitter_id):
        raise InputError(
            "submitter-id", f"{setup.submitter_id!r} must be 1-15 letters, digits, '.', '-' or spaces"
        )
    if not re.fullmatch(r"[A-Z]{1,8}", setup.claim_prefix):
        raise InputError("claim-prefix", f"{setup.claim_prefix!r} must be 1-8 capital letters")
    if not 100 <= setup.charge_percent <= 1000:
        raise InputError(
            "charge-percent", f"{setup.charge_percent} must be 100-1000 (% of the Medicare amount)"
        )
    phone = re.sub(r"\D", "", setup.contact_phone)
    if len(phone) != 10:
        raise InputError("phone", f"{setup.contact_phone!r} must be a 10-digit phone number")
    return BillingSetup(
        name=_text("name", setup.name, 60),
        npi=check_npi(setup.npi, "npi"),
        tin=tin,
        taxonomy=setup.taxonomy.strip(),
        address1=address1,
        address2=" ".join(setup.address2.split()),
        city=_text("city", setup.city, 30),
        state=_state(setup.state),
        zip=_zip("zip", setup.zip, nine=True),
        contact_name=_text("contact", setup.contact_name, 60),
        contact_phone=phone,
        submitter_id=setup.submitter_id.strip(),
        claim_prefix=setup.claim_prefix,
        charge_percent=setup.charge_percent,
    )


def setup_billing(store: Store, setup: BillingSetup, actor: str) -> int:
    """Create (or update, by NPI) the billing provider and make it the default; returns its id."""
    checked = _check_billing(setup)
    with store.transaction() as session:
        row = session.scalar(select(BillingProviderRow).where(BillingProviderRow.npi == checked.npi))
        before = None if row is None else _billing_dict(row)
        if row is None:
            row = BillingProviderRow(created_at=now(), **asdict(checked))
            session.add(row)
        else:
            for key, value in asdict(checked).items():
                setattr(row, key, value)
        for other in session.scalars(
            select(BillingProviderRow).where(BillingProviderRow.is_default.is_(True))
        ):
            other.is_default = False
        row.is_default = True
        session.flush()
        append(session, actor, "billing:setup", "billing_provider", row.id, before, _billing_dict(row))
        return row.id


def _billing_dict(row: BillingProviderRow) -> dict[str, Any]:
    keys = (
        "name",
        "npi",
        "tin",
        "taxonomy",
        "address1",
        "address2",
        "city",
        "state",
        "zip",
        "contact_name",
        "contact_phone",
        "submitter_id",
        "claim_prefix",
        "charge_percent",
    )
    return {key: getattr(row, key) for key in keys}


def add_clinician(store: Store, npi: str, last: str, first: str, taxonomy: str, actor: str) -> int:
    """Register (or update) a rendering/ordering clinician by NPI; returns its id."""
    npi = check_npi(npi, "npi")
    if taxonomy and not TAXONOMY.match(taxonomy):
        raise InputError("taxonomy", f"{taxonomy!r} is not a provider taxonomy code (e.g. 207RC0000X)")
    values = {
        "last_name": _text("last", last, 60),
        "first_name": " ".join(first.split()),
        "taxonomy": taxonomy,
    }
    with store.transaction() as session:
        row = session.scalar(select(ClinicianRow).where(ClinicianRow.npi == npi))
        if row is None:
            row = ClinicianRow(npi=npi, created_at=now(), **values)
            session.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        session.flush()
        append(session, actor, "billing:clinician", "clinician", row.id, None, {"npi": npi, **values})
        return row.id


def rules_of(payer: PayerRow, day: date | None = None) -> PayerRules:
    """The payer's rule set with the timely filing limit the payer was set up with (``billing payer add
    --timely-filing-days``: its contract's limit; the rule set's own is only the default), for the scrubber
    and every deadline counted from the date of service."""
    return replace(payer_rules(payer.rules_id, day), timely_filing_days=payer.timely_filing_days)


def add_payer(store: Store, setup: PayerSetup, actor: str) -> int:
    """Add (or update, by payer id) a payer; returns its row id."""
    rules = payer_rules(setup.rules_id)
    check_option("filing-indicator", setup.filing_indicator, sorted(FILING_INDICATORS))
    check_option("usage", setup.usage, ["P", "T"])
    payer_id = _text("payer-id", setup.payer_id, 80)
    receiver_id = (setup.receiver_id or payer_id).strip()
    if not EDI_ID.match(receiver_id):
        raise InputError("receiver-id", f"{receiver_id!r} must be 1-15 letters, digits, '.', '-' or spaces")
    days = setup.timely_filing_days if setup.timely_filing_days is not None else rules.timely_filing_days
    if not 1 <= days <= 3650:
        raise InputError("timely-filing-days", f"{days} must be 1-3650")
    values = {
        "name": _text("name", setup.name, 60),
        "filing_indicator": setup.filing_indicator,
        "timely_filing_days": days,
        "rules_id": rules.id,
        "receiver_id": receiver_id,
        "receiver_name": _text("receiver-name", setup.receiver_name or setup.name, 60),
        "usage": setup.usage,
    }
    with store.transaction() as session:
        row = session.scalar(select(PayerRow).where(PayerRow.payer_id == payer_id))
        if row is None:
            row = PayerRow(payer_id=payer_id, created_at=now(), **values)
            session.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        session.flush()
        append(session, actor, "billing:payer", "payer", row.id, None, {"payer_id": payer_id, **values})
        return row.id


def split_name(name: str) -> tuple[str, str]:
    """``"Doe, Jane"`` or ``"Jane Doe"`` or ``"Dana Demo, MD"`` -> (last, first)."""
    text = " ".join(name.split())
    if "," in text:
        last, rest = (part.strip() for part in text.split(",", 1))
        if rest.replace(".", "").upper() in {"MD", "DO", "PHD", "NP", "PA", "RN", "CCT", "MD PHD"}:
            words = last.split()
            return (words[-1], " ".join(words[:-1])) if len(words) > 1 else (last, "")
        return last, rest.split()[0] if rest else ""
    words = text.split()
    return (words[-1], " ".join(words[:-1])) if len(words) > 1 else (text, "")


def add_coverage(store: Store, setup: CoverageSetup, actor: str) -> int:
    """Add a patient's coverage; the subscriber is the patient unless ``relationship`` says otherwise."""
    relationship = RELATIONSHIPS[check_option("relationship", setup.relationship, sorted(RELATIONSHIPS))]
    priority = PRIORITIES[check_option("priority", setup.priority, sorted(PRIORITIES))]
    member = _text("member-id", setup.member_id, 80)
    with store.transaction() as session:
        patient = session.scalar(select(Patient).where(Patient.external_id == setup.patient_id))
        if patient is None:
            raise InputError("patient-id", f"no patient {setup.patient_id!r}; create the study (order) first")
        payer = session.scalar(select(PayerRow).where(PayerRow.payer_id == setup.payer_id))
        if payer is None:
            raise InputError("payer", f"no payer {setup.payer_id!r}; add it with 'ecgdesk billing payer add'")
        if relationship.value == "18":
            last, first = split_name(patient.name)
            birth, sex = patient.birth_date, patient.sex[:1]
        else:
            if not (setup.subscriber_last and setup.subscriber_birth_date and setup.subscriber_sex):
                raise InputError(
                    "subscriber",
                    "give the subscriber's last name, birth date and sex when it is not the patient",
                )
            last, first = setup.subscriber_last, setup.subscriber_first or ""
            birth, sex = setup.subscriber_birth_date, setup.subscriber_sex
        check_option("subscriber-sex", sex, ["F", "M", "U"])
        if setup.effective_to and setup.effective_from and setup.effective_to < setup.effective_from:
            raise InputError("effective-to", "ends before it starts")
        row = CoverageRow(
            patient_id=patient.id,
            payer_id=payer.id,
            priority=priority,
            member_id=member,
            group_number=setup.group_number.strip(),
            relationship=relationship.value,
            subscriber_last=_text("subscriber last name", last, 60),
            subscriber_first=" ".join(first.split()),
            subscriber_birth_date=birth,
            subscriber_sex=sex,
            address1=_text("address", setup.address1, 55),
            address2=" ".join(setup.address2.split()),
            city=_text("city", setup.city, 30),
            state=_state(setup.state),
            zip=_zip("zip", setup.zip, nine=False),
            effective_from=setup.effective_from,
            effective_to=setup.effective_to,
            created_at=now(),
        )
        session.add(row)
        session.flush()
        append(
            session,
            actor,
            "billing:coverage",
            "coverage",
            row.id,
            None,
            {
                "patient": setup.patient_id,
                "payer": setup.payer_id,
                "member_id": member,
                "priority": priority,
                "relationship": relationship.value,
            },
        )
        return row.id


def coverage_for(session: Session, patient_id: int, day: date, priority: str = "P") -> CoverageRow | None:
    """The patient's coverage of ``priority`` in force on ``day`` (the newest one)."""
    rows = session.scalars(
        select(CoverageRow)
        .where(CoverageRow.patient_id == patient_id, CoverageRow.priority == priority)
        .order_by(CoverageRow.id.desc())
    ).all()
    for row in rows:
        if (row.effective_from is None or row.effective_from <= day) and (
            row.effective_to is None or day <= row.effective_to
        ):
            return row
    return None


def default_billing(session: Session) -> BillingProviderRow:
    row = session.scalar(select(BillingProviderRow).where(BillingProviderRow.is_default.is_(True)))
    if row is None:
        raise InputError("billing", "no billing provider is set up; run 'ecgdesk billing setup'")
    return row


def clinician(session: Session, npi: str | None, fallback_name: str | None, role: str) -> ClinicianRow:
    """The clinician of ``npi``: registered, or a physician user with that NPI, or the order's name."""
    if not npi:
        raise InputError(role, f"no {role} NPI on the study")
    row = session.scalar(select(ClinicianRow).where(ClinicianRow.npi == npi))
    if row is not None:
        return row
    user = session.scalar(select(User).where(User.npi == npi))
    name = user.display_name if user is not None else fallback_name
    if not name:
        raise InputError(
            role, f"NPI {npi} is not a registered clinician; add it with 'ecgdesk billing clinician add'"
        )
    last, first = split_name(name)
    return ClinicianRow(npi=npi, last_name=last, first_name=first, taxonomy="", created_at=now())


@dataclass(frozen=True)
class BillingOverview:
    billing: dict[str, Any] | None
    clinicians: list[dict[str, Any]]
    payers: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def billing_overview(store: Store) -> BillingOverview:
    """The set-up as plain data (``ecgdesk billing show``)."""
    with store.transaction() as session:
        default = session.scalar(select(BillingProviderRow).where(BillingProviderRow.is_default.is_(True)))
        return BillingOverview(
            billing=_billing_dict(default) if default else None,
            clinicians=[
                {"npi": c.npi, "last": c.last_name, "first": c.first_name, "taxonomy": c.taxonomy}
                for c in session.scalars(select(ClinicianRow).order_by(ClinicianRow.id))
            ],
            payers=[
                {
                    "payer_id": p.payer_id,
                    "name": p.name,
                    "filing_indicator": p.filing_indicator,
                    "timely_filing_days": p.timely_filing_days,
                    "rules": p.rules_id,
                    "receiver_id": p.receiver_id,
                }
                for p in session.scalars(select(PayerRow).order_by(PayerRow.id))
            ],
        )
