"""The schema family of what crosses a boundary: the JSON API, its OpenAPI document and the CLI's JSON.

Pydantic v2 models, built by the workflow (never by a face) so that ``ecgdesk study show --json`` and
``GET /api/v1/studies/{id}`` give the same document. Input models carry the limits a request must respect
(lengths, patterns, ranges); a violation is a 422 naming the field, or exit status 2 on the CLI.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from ecgdesk.coding import Service, Setting
from ecgdesk.coding.schemas import ClaimDocument, FactsDocument
from ecgdesk.interop.model import OrderPriority
from ecgdesk.store.enums import EditKind, OrderState, Role, StudyStatus
from ecgdesk.workflow.password_policy import MAX_PASSWORD, MIN_PASSWORD


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


#: A moment in UTC; SQLite hands stored times back without their zone, so one is attached.
Stamp = Annotated[datetime, AfterValidator(_utc)]
NAME = Field(min_length=1, max_length=200)
TEXT = Field(min_length=1, max_length=20_000)
SECRET = Field(min_length=1, max_length=1024)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (dates and enums as strings)."""
        return self.model_dump(mode="json")


def refuse_nul(value: Any) -> Any:
    """``value``, unless it is a string (or a list of them) holding a NUL character: see InputModel."""
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(t, str) and "\x00" in t for t in texts):
        raise ValueError("must not contain a NUL character (\\x00)")
    return value


#: The same rule for a string of a query or a form: ``Annotated[str, Query(...), NoNul]``.
NoNul = AfterValidator(refuse_nul)


class InputModel(Model):
    """What a request sends (a body, or a part of one). Besides each field's own limits, no string in it may
    hold a NUL character: PostgreSQL cannot store one (the request failed there with a 500, after part of
    the work), and no name, note or code a person types has one."""

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return refuse_nul(value)


# ------------------------------------------------------------------------------------------- studies
class StudyRow(Model):
    id: int
    status: StudyStatus
    patient_id: str
    patient_name: str
    service: str
    priority: OrderPriority = OrderPriority.ROUTINE
    order_state: OrderState = Field(
        default=OrderState.ACTIVE,
        description="cancelled or on-hold: the ordering system withdrew or holds the order; its study takes "
                    "no recording",
    )
    created_at: Stamp
    updated_at: Stamp


class StudyPage(Model):
    items: list[StudyRow]
    total: int
    offset: int
    limit: int


class PatientOut(Model):
    id: str
    name: str
    birth_date: date
    sex: str


class OrderOut(Model):
    service: str
    ordering_npi: str
    ordering_name: str | None
    indications: list[str]
    duration_days: float | None
    setting: str
    place_of_service: str
    priority: OrderPriority = OrderPriority.ROUTINE
    state: OrderState = OrderState.ACTIVE


class RecordingOut(Model):
    sha256: str
    format: str
    fs: float
    n_leads: int
    n_samples: int
    duration_h: float
    start_time: Stamp | None
    path: str
    #: what the reader had to guess or leave out at import (each analysis carries them into its findings)
    import_warnings: list[str] = []


class AnalysisOut(Model):
    run_id: int
    algorithm_version: str
    input_hash: str
    edited: bool
    analyzable_h: float
    wear_h: float
    total_beats: int | None
    beats_by_class: dict[str, int] | None
    af_burden_pct: float | None
    beats_file: str
    #: what the reader had to guess or leave out (findings messages of code ``recording``)
    warnings: list[str] = []


class ComponentOut(Model):
    component: str
    performer: str
    npi: str | None
    setting: str
    place_of_service: str
    performed_at: Stamp


class ReportOut(Model):
    version: int
    content_sha256: str
    pdf: str
    html: str | None
    reviewed_by: str | None
    created_at: Stamp


class InterpretationOut(Model):
    text: str
    author: str
    updated_at: Stamp


class SignatureOut(Model):
    printed_name: str
    meaning: str
    content_sha256: str
    signed_at: Stamp
    report_version_id: int
    #: The report version's number (1, 2, ...) the signature is over.
    version: int | None = None


class AddendumOut(Model):
    text: str
    author: str
    created_at: Stamp
    #: The author's printed name (``author`` is the user name), as the signature manifestation shows it.
    printed_name: str = ""


class CodingOut(Model):
    facts: FactsDocument
    result: dict[str, Any]
    claim: ClaimDocument
    scrub: list[dict[str, Any]]


class UploadOut(Model):
    """The latest upload of the study and its background import and analysis."""

    id: int
    state: Literal["received", "importing", "analyzing", "done", "failed"]
    progress: float
    message: str
    files: list[str]
    size_bytes: int
    updated_at: Stamp


class JobOut(Model):
    """A background job about the study (its analysis): status, attempts, progress, error."""

    id: int
    kind: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    attempts: int
    max_attempts: int
    progress: float
    error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    #: queued after a transient error: not run before this time
    not_before: datetime | None = None
    #: "retry after HH:MM:SS UTC (attempt k of n): reason" while it waits for that time
    retry_wait: str | None = None


class DistinctOut(Model):
    """A study's distinct-service mark as the study's view shows it: the modifier, the documented reason,
    and who set it when (the audit row that set it; None for a mark no audit row records)."""

    modifier: str
    reason: str
    marked_by: str | None = None
    marked_at: datetime | None = None


class StudyDetail(Model):
    """Everything known about one study."""

    id: int
    status: StudyStatus
    patient: PatientOut
    order: OrderOut
    recording: RecordingOut | None = None
    analysis: AnalysisOut | None = None
    components: list[ComponentOut] = []
    reports: list[ReportOut] = []
    interpretation: InterpretationOut | None = None
    signatures: list[SignatureOut] = []
    addenda: list[AddendumOut] = []
    coding: CodingOut | None = Field(
        default=None,
        description="the latest coding (facts, codes, claim, scrubber findings): null until coded, and "
        "always null where the reader's role may not see a study's billing (study:billing: billers)",
    )
    upload: UploadOut | None = None
    distinct: DistinctOut | None = Field(
        default=None,
        description="the study's distinct-service mark (modifier 59 / X{EPSU}, study distinct): null when "
        "not marked",
    )
    jobs: list[JobOut] | None = Field(
        default_factory=list,
        description="the study's background jobs (import, analysis), or null where the reader's role may not "
        "read jobs (job:read in the permission table: technicians, administrators)",
    )
    signature_state: str = "unsigned"
    audit_rows: int = 0


class StudyCreate(InputModel):
    """A new patient (or an existing one, same identity) and the order of a study."""

    patient_id: str = Field(min_length=1, max_length=64)
    name: str = NAME
    birth_date: date
    sex: Literal["M", "F", "U"]
    service: Service
    ordering_npi: str = Field(pattern=r"^[0-9]{10}$")
    indications: list[str] = Field(min_length=1, max_length=12)
    duration_days: float | None = Field(default=None, gt=0, le=60)
    setting: Setting = Setting.PRACTITIONER
    place_of_service: str | None = Field(default=None, pattern=r"^[0-9]{2}$")
    ordering_name: str | None = Field(default=None, max_length=200)
    priority: OrderPriority = OrderPriority.ROUTINE
    overlap_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="a documented medical-necessity reason to order a Holter, event or telemetry set that "
        "completes within 29 days of another set of the patient (audited; its claim is still held)",
    )


class StudyCreated(Model):
    id: int
    status: StudyStatus


class TextIn(InputModel):
    text: str = TEXT


class TextEditIn(TextIn):
    """A text that replaces the one saved (technician comments, interpretation)."""

    base: str | None = Field(
        default=None,
        max_length=20_000,
        description="the text the editor started from: when the saved text differs (someone saved "
        "meanwhile), 409 and nothing is changed; left out, the saved text is replaced",
    )


class SignIn(InputModel):
    password: str = SECRET


class AddendumIn(InputModel):
    text: str = TEXT
    password: str = SECRET


class BeatEditIn(InputModel):
    kind: EditKind
    target: int = Field(ge=0, le=2**31 - 1)
    label: Literal["N", "S", "V", "F", "Q"]
    base_run: int | None = Field(
        default=None, ge=1, le=2**31 - 1,
        description="the analysis run the editor sees (the beats' or templates' ``run_id``); when another "
                    "run is current (another technician's edit, a re-analysis) the edit is refused, 409",
    )


class ComponentIn(InputModel):
    component: Literal["recording", "scanning", "interpretation", "supervision", "monitoring"]
    performer: str = NAME
    npi: str | None = Field(default=None, pattern=r"^[0-9]{10}$")


class BillIn(InputModel):
    reference: str = Field(min_length=1, max_length=64)


class DistinctIn(InputModel):
    """A study's service was distinct: the modifier chosen (XE, XS, XP, XU, 59) and the documented reason
    (checked by ``workflow.billing_distinct``, the same checks as the CLI's)."""

    modifier: str = Field(max_length=8)
    reason: str = Field(max_length=2000)


class DistinctMark(Model):
    modifier: str
    reason: str


class ReportRendered(Model):
    version: int
    content_sha256: str
    reused: bool


class SignatureDone(Model):
    version: int
    printed_name: str
    signed_at: Stamp
    content_sha256: str


class RunDone(Model):
    run_id: int
    reused: bool
    report_version: int | None = Field(
        default=None,
        description="the report version rendered again with the edit, once rendered (``study edit``); over "
                    "HTTP the render is a job (``report_job``) and this is null",
    )
    report_job: int | None = Field(
        default=None,
        description="an edit of a study already sent to the physician queues the render of its report as "
                    "this job (in the study's ``jobs``: its progress, then ``result.version``, the new "
                    "version, and the study reported again, on the physician's worklist)",
    )
    note: str = Field(default="", description="what happened to the report, in words")


class CodingDone(Model):
    claim_lines: list[str]
    findings: list[dict[str, Any]]


# ------------------------------------------------------------------------------------------- accounts
class LoginIn(InputModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = SECRET


class SessionOut(Model):
    username: str
    display_name: str
    role: Role
    csrf_token: str | None
    via: str
    must_change_password: bool = Field(
        default=False,
        description="the password was set by an administrator (or is below the password rule): until it is "
        "changed (PUT /api/v1/session/password) every other request is refused 403",
    )


class UserOut(Model):
    id: int
    username: str
    display_name: str
    role: Role
    npi: str | None
    credentials: str | None
    disabled: bool
    must_change_password: bool = False


class SettingOut(Model):
    """An application setting (workflow.app_settings): its value, its default, who last changed it."""

    name: str
    label: str
    value: int | float = Field(description="the value in force (a fixed one: the environment's)")
    default: int | float
    changed_by: str | None
    changed_at: Stamp | None
    low: int = Field(description="the smallest value accepted")
    high: int = Field(description="the largest value accepted")
    fixed_by: str | None = Field(
        description="the environment variable of the service that sets this value and wins over the "
        "stored setting (a change is refused), or null"
    )


class SettingIn(InputModel):
    # Checked by the workflow (app_settings.check_number), not here: after the role check, so another
    # role is refused 403 whatever it sent, and each refusal is audited (settings:refused). JSON true and
    # false are refused there too (pydantic's integers would take true as 1).
    value: int | float | str | bool | None = Field(
        description="a whole number within the setting's low and high (a number or its digits), or the text "
        "\"default\" to set it back to its default"
    )


class UserCreate(InputModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    role: Role
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    display_name: str | None = Field(default=None, max_length=200)
    npi: str | None = Field(default=None, pattern=r"^[0-9]{10}$")
    credentials: str | None = Field(default=None, max_length=50)


class PasswordIn(InputModel):
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)


class PasswordChangeIn(InputModel):
    """A user's own password change: the current password, and the new one (the same policy as
    :class:`PasswordIn`)."""

    current_password: str = SECRET
    new_password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)


class PasswordChangedOut(Model):
    username: str
    csrf_token: str | None = Field(description="the renewed session's token (send it as X-CSRF-Token)")
    sessions_ended: list[int] = Field(description="every session of the user that ended, this one included")
    tokens_revoked: list[int] = Field(description="the API tokens acting as the user, now revoked")


class TokenCreate(InputModel):
    username: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)


class TokenOut(Model):
    id: int
    name: str
    username: str
    role: Role
    created_by: str
    created_at: Stamp
    last_used_at: Stamp | None
    revoked_at: Stamp | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret, shown only once")


# ------------------------------------------------------------------------------------------- audit
class AuditRowOut(Model):
    seq: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str
    before: Any
    after: Any
    hash: str


class AuditPage(Model):
    items: list[AuditRowOut]
    total: int
    offset: int
    limit: int


class AuditVerifyOut(Model):
    ok: bool
    rows: int
    head_hash: str
    problem: str | None
    problem_seq: int | None


class Health(Model):
    status: Literal["ok"]


class ErrorItem(Model):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(Model):
    """Every 4xx body: ``detail`` lists the field(s) and the reason(s)."""

    detail: list[ErrorItem]
