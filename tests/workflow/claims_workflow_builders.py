"""A coded, signed study with billing set-up, built once per module and copied per test."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Integer, create_engine, select, text
from workflow_builders import ORDERING_NPI, PHYSICIAN_NPI, PIN, fake_analyzer, request

from ecgdesk.store import Store, open_store
from ecgdesk.store.models import load_all_models
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.billing import code_study
from ecgdesk.workflow.claims_setup import (
    BillingSetup,
    CoverageSetup,
    PayerSetup,
    add_clinician,
    add_coverage,
    add_payer,
    setup_billing,
)
from ecgdesk.workflow.reporting import interpret, report_study, sign
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.users import add_user

BILLING = BillingSetup(
    name="Heart Diagnostics IDTF",
    npi="1234567893",
    tin="12-3456789",
    taxonomy="261QD0000X",
    address1="100 Main St",
    city="Springfield",
    state="IL",
    zip="62701-1234",
    contact_name="Billing Office",
    contact_phone="217-555-0100",
    submitter_id="ETIN01",
)
MEDICARE = PayerSetup("Medicare Part B", "12345", "MB", "medicare-mac", receiver_id="MACJ5", usage="T")
ACME = PayerSetup("Acme Health Plan", "ACME1", "CI", "commercial-default")
INTERPRETATION = "Sinus rhythm 62-118 bpm. Rare PVCs. No pauses. Symptoms correlate with sinus tachycardia."


def cheap_hashing(patch: pytest.MonkeyPatch) -> None:
    """Cheap argon2/scrypt while a module-scoped template is built (the autouse fixture is per test)."""
    from argon2 import PasswordHasher

    patch.setattr("ecgdesk.workflow.users.SCRYPT_N", 1 << 10)
    patch.setattr("ecgdesk.workflow.users.HASHER", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def add_people(store: Store) -> None:
    add_user(store, "dr.a", "physician", PIN, "Ana Lee, MD", npi=PHYSICIAN_NPI, credentials="MD")
    add_user(store, "tech", "technician", "9999-9999", "Terry Tech")
    add_user(store, "biller", "biller", PIN, "Bea Biller")


def coded_study(
    store: Store, record: Path, patient: str = "P1", payer: PayerSetup = MEDICARE, billing: bool = True
) -> int:
    """A signed, coded ambulatory study of ``patient`` with billing set-up and coverage by ``payer``."""
    study_id = create_study(store, request(patient_id=patient, indications=("R00.2", "R55")), "tech")
    import_recording(store, study_id, record, "tech")
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    report_study(store, study_id, "tech")
    interpret(store, study_id, "dr.a", INTERPRETATION)
    sign(store, study_id, "dr.a", PIN)
    code_study(store, study_id, "biller")
    if not billing:
        return study_id
    setup_billing(store, BILLING, "admin")
    add_clinician(store, ORDERING_NPI, "Order", "Oliver", "", "admin")
    add_payer(store, payer, "admin")
    add_coverage(
        store,
        CoverageSetup(
            patient,
            payer.payer_id,
            f"1EG4TE5MK7{len(patient)}",
            "5 Elm St",
            "Springfield",
            "IL",
            "62702",
            effective_from=date(2020, 1, 1),
        ),
        "admin",
    )
    return study_id


#: The template of each record (by its files' content: modules that import the ``tiny_record`` fixture each
#: write their own copy of the same record), built once per test process: several modules start from the
#: same three studies, and building them (analysis, report, signature, coding) takes seconds.
_CODED: dict[str, Path] = {}


def _content_key(record: Path) -> str:
    digest = hashlib.sha256()
    for part in sorted(record.parent.glob(f"{record.stem}.*")):
        digest.update(part.name.encode() + b"\0" + part.read_bytes())
    return digest.hexdigest()


def three_coded_studies(folder: Path, record: Path) -> Path:
    """A SQLite store in ``folder`` with the billing people and three coded studies (P1 and P2 for
    Medicare, P3 for Acme): built once per test process (the folder of the first call is returned to every
    later one) and never written again; each test works on its copy (:func:`copy_store`)."""
    key = _content_key(record)
    if key not in _CODED:
        _CODED[key] = _build_three_coded_studies(folder, record)
    return _CODED[key]


def _build_three_coded_studies(folder: Path, record: Path) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        cheap_hashing(patch)
        store = open_store(url=f"sqlite:///{folder / 'db.sqlite'}", home=folder / "home")
        add_people(store)
        coded_study(store, record, "P1", MEDICARE)
        coded_study(store, record, "P2", MEDICARE)
        coded_study(store, record, "P3", ACME)
        store.close()
    return folder


def copy_store(template: Path, target: Path, backend: str = "sqlite") -> Store:
    """A copy of the SQLite template (its database and home folder) on ``backend``: building coded studies
    takes seconds, so PostgreSQL cases get the template's rows copied table by table into a scratch
    database (ids kept, sequences moved past them, so the audit chain and every reference stay intact)."""
    shutil.copytree(template, target)
    if backend == "sqlite":
        return open_store(url=f"sqlite:///{target / 'db.sqlite'}", home=target / "home")
    from backends import fresh_postgres_url

    store = open_store(url=fresh_postgres_url(), home=target / "home")
    source = create_engine(f"sqlite:///{target / 'db.sqlite'}")
    try:
        with source.connect() as read, store.engine.begin() as write:
            for table in reversed(load_all_models().sorted_tables):  # rows the migrations seed (audit head)
                write.execute(table.delete())
            for table in load_all_models().sorted_tables:
                rows = [dict(row._mapping) for row in read.execute(select(table))]
                if rows:
                    write.execute(table.insert(), rows)
                key = list(table.primary_key.columns)
                serial = [key[0].name] if len(key) == 1 and isinstance(key[0].type, Integer) else []
                for column in serial:
                    write.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
                            f"COALESCE((SELECT max({column}) FROM {table.name}), 0) + 1, false)"
                        )
                    )
    except BaseException:
        store.close()
        raise
    finally:
        source.dispose()
    return store
