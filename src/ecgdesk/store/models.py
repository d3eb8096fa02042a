"""SQLAlchemy 2 models of the study database (typed ``Mapped[...]`` columns, portable types only).

Portable means: the same models run on SQLite (the default) and PostgreSQL. JSON documents (findings,
facts, claims, audit before/after) are stored as canonical JSON *text*, so what the audit chain hashes is
exactly what is stored, byte for byte, on every backend. Enumerated values are short strings checked by
the workflow (:mod:`ecgdesk.store.enums`). Times are timezone-aware UTC.

The schema is created and upgraded only by the Alembic migrations in ``store/migrations``; these models
must stay in step with them (``tests/store`` checks that the migrated schema matches the models).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



class UtcTime(TypeDecorator[datetime]):
    """A timezone-aware time, stored as UTC. PostgreSQL's ``timestamptz`` converts by itself, but SQLite
    keeps the wall time and drops the offset: a shift given as ``2026-03-08T00:00-05:00`` came back as
    00:00 UTC, five hours early. Every aware time is turned into UTC before it is bound (stored or compared);
    a naive one is already UTC by this project's convention. Read back, SQLite's value is naive UTC
    (``workflow.users.aware`` marks it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value


UTC_TIME = UtcTime()
#: 64-bit on PostgreSQL; SQLite's INTEGER is 64-bit already.
BIG_INT = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    """A person who works in the system: technician, physician, biller or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    npi: Mapped[str | None] = mapped_column(String(10))
    credentials: Mapped[str | None] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    # Accounts (issue 12): an administrator disables users; repeated failed logins lock the account.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTC_TIME)
    # 0027: a password an administrator set (creation, reset), or one below today's policy, is changed by
    # its user before anything else (NIST SP 800-63B 3.1.1.2; the field's practice).
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # 0028: the name NFKC-normalised and case-folded (``workflow.users.folded``), unique: two names that read
    # alike cannot both be added, even at the same instant. Nullable only because SQLite cannot add a NOT
    # NULL column in place; every row has it (the migration filled the older ones).
    username_folded: Mapped[str | None] = mapped_column(String(256), unique=True, index=True)


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    # Merged by the EHR (ADT^A40) into the surviving patient, which now holds its orders, studies and claims;
    # the row stays so that history and the audit log still name it.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    merged_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    # The assigning authority of external_id as the first order naming one gave it (HL7 CX-4's HD, or a FHIR
    # identifier system): results name it back. external_id stays the one key (the CLI, claims and views
    # name a patient by it), so an order of that number from another authority is refused, not filed here.
    id_issuer: Mapped[str | None] = mapped_column(String(200))


class Order(Base):
    """What the ordering provider asked for, and why (indication ICD-10-CM codes)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    ordering_npi: Mapped[str] = mapped_column(String(10))
    ordering_name: Mapped[str | None] = mapped_column(String(200))
    indications_json: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(40))
    duration_days: Mapped[float | None] = mapped_column(Float)
    setting: Mapped[str] = mapped_column(String(40))
    place_of_service: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    # Orders from an EHR: the placer's order number (ORC-2 / ServiceRequest PLAC identifier) and a cancel.
    placer_order_number: Mapped[str | None] = mapped_column(String(64), index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    # On hold (ORC-1 HD / ServiceRequest on-hold) until released (RL / active again): no recording meanwhile.
    held_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    # An OrderPriority value; orders recorded before it was kept are routine.
    priority: Mapped[str] = mapped_column(String(10), default="routine", server_default="routine")
    # The HL7 v2 sender (MSH-3^MSH-4) of the order that created it: its results go to that sender's targets,
    # not another EHR's; None for an order made here or by FHIR (migration 0022).
    sender: Mapped[str | None] = mapped_column(String(200))


class RecordingBlob(Base):
    """An imported recording, stored read-only under its SHA-256 in the blob directory."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    blob_dir: Mapped[str] = mapped_column(String(200))
    main_file: Mapped[str] = mapped_column(String(200))
    original_path: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(20))
    fs: Mapped[float] = mapped_column(Float)
    n_samples: Mapped[int] = mapped_column(BIG_INT)  # 15 days at 2 kHz pass int4 (2^31 - 1)
    n_leads: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    start_time: Mapped[datetime | None] = mapped_column(UTC_TIME)
    size_bytes: Mapped[int] = mapped_column(BIG_INT)  # uploads of several GB (int4 ends at 2 GiB)
    imported_at: Mapped[datetime] = mapped_column(UTC_TIME)


class Study(Base):
    """One ordered service for one patient, moving through :class:`~ecgdesk.store.enums.StudyStatus`."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id"))
    status: Mapped[str] = mapped_column(String(20), index=True)  # the worklist filters on it
    technician_comments: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)
    updated_at: Mapped[datetime] = mapped_column(UTC_TIME)
    # What the reader had to guess or leave out when the recording was imported (a JSON list of sentences),
    # e.g. a side file that is a named pipe and so was not stored: the stored copy reads without a word
    # about it, so every analysis of the study adds these to its findings. NULL: imported before 0013.
    import_warnings_json: Mapped[str | None] = mapped_column(Text)
    # A biller's or the reader's mark that the study's service was distinct (NCCI modifier 59 or X{EPSU})
    # and the documented reason: coding puts the modifier on the line a same-day PTP pair bundles. NULL: not
    # marked (every study before 0025).
    distinct_modifier: Mapped[str | None] = mapped_column(String(2))
    distinct_reason: Mapped[str | None] = mapped_column(Text)


class AnalysisRun(Base):
    """One analysis of a study's recording (or a technician-edited derivation of one)."""

    __tablename__ = "analysis_runs"
    __table_args__ = (UniqueConstraint("study_id", "input_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"))
    parent_run_id: Mapped[int | None] = mapped_column(ForeignKey("analysis_runs.id"))
    algorithm_version: Mapped[str] = mapped_column(String(100))
    input_hash: Mapped[str] = mapped_column(String(64))
    findings_json: Mapped[str] = mapped_column(Text)
    beats_sha256: Mapped[str] = mapped_column(String(64))
    beats_path: Mapped[str] = mapped_column(Text)
    analyzable_s: Mapped[float] = mapped_column(Float)
    wear_s: Mapped[float] = mapped_column(Float)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class BeatEdit(Base):
    """A technician's relabel of one beat or of a whole template, producing a new analysis run."""

    __tablename__ = "beat_edits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    base_run_id: Mapped[int] = mapped_column(ForeignKey("analysis_runs.id"))
    result_run_id: Mapped[int] = mapped_column(ForeignKey("analysis_runs.id"))
    kind: Mapped[str] = mapped_column(String(10))
    target: Mapped[int] = mapped_column(Integer)
    new_label: Mapped[str] = mapped_column(String(1))
    n_beats_changed: Mapped[int] = mapped_column(Integer)
    user: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class ReportVersion(Base):
    """A rendered scanning report; versions are never overwritten (an addendum is a new version)."""

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("study_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    version: Mapped[int] = mapped_column(Integer)
    analysis_run_id: Mapped[int] = mapped_column(ForeignKey("analysis_runs.id"))
    content_sha256: Mapped[str] = mapped_column(String(64))
    # SHA-256 of what the version was rendered from (run, text, comments, header, addenda): checked by
    # review and signing without rebuilding or re-analysing anything (see workflow/report_inputs.py).
    inputs_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_path: Mapped[str] = mapped_column(Text)
    html_path: Mapped[str | None] = mapped_column(Text)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    interpretation_text: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTC_TIME)
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class Interpretation(Base):
    """The physician's current interpretation text of a study (its history is in the audit log)."""

    __tablename__ = "interpretations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTC_TIME)


class Signature(Base):
    """A physician's signature over the exact content (SHA-256) of one report version."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    report_version_id: Mapped[int] = mapped_column(ForeignKey("report_versions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    printed_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(50))
    content_sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTC_TIME)


class Addendum(Base):
    """An amendment written after signing; it lives in a new report version, never an overwrite."""

    __tablename__ = "addenda"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    report_version_id: Mapped[int] = mapped_column(ForeignKey("report_versions.id"))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class ComponentPerformance(Base):
    """Who performed which component of the service, and where."""

    __tablename__ = "component_performances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    component: Mapped[str] = mapped_column(String(20))
    performer: Mapped[str] = mapped_column(String(200))
    npi: Mapped[str | None] = mapped_column(String(10))
    setting: Mapped[str] = mapped_column(String(40))
    place_of_service: Mapped[str] = mapped_column(String(2))
    performed_at: Mapped[datetime] = mapped_column(UTC_TIME)


class CodingRecord(Base):
    """The facts derived from a study, the codes selected, the claim and the scrubber's findings."""

    __tablename__ = "coding_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    facts_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str] = mapped_column(Text)
    claim_json: Mapped[str] = mapped_column(Text)
    scrub_json: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_TIME)


class AuditEntry(Base):
    """One row of the append-only audit log; ``hash`` chains it to the row before (see ``audit.py``)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40), index=True)  # the audit trail of one study
    before_json: Mapped[str] = mapped_column(Text)
    after_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head (last sequence number and hash), so deleting the newest rows is detected too."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AppSetting(Base):
    """An application setting an administrator changed (its default is in the code or its packaged table;
    a row here overrides it). Each change is audited (``settings:change``) with the value before."""

    __tablename__ = "app_settings"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value_json: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTC_TIME)


def load_all_models() -> MetaData:
    """``Base.metadata`` with every table of every area (migrations, schema checks).

    The other areas' model modules are imported where they are used, not with this one: building ~50
    declarative classes costs a command such as ``study list`` a fifth of a second it does not need.
    Each model module imports the modules whose tables its foreign keys name.
    """
    from ecgdesk.store import (  # noqa: F401
        claims_models,
        interop_models,
        jobs_models,
        lock_models,
        monitoring_models,
        monitoring_strip_models,
        service_models,
        workstation_models,
    )

    return Base.metadata
