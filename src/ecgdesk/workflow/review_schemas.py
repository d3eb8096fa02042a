"""The schema models of the review workstation (issue 13): the worklist, the study overview the viewer and
the study page draw, template beats, the strip selection and the billing page.

Part of the one schema family of :mod:`ecgdesk.workflow.schemas` (same base model, same rules), kept in its
own module so the workstation's additions do not crowd that one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from ecgdesk.store.enums import Role, StudyStatus
from ecgdesk.workflow.schemas import InputModel, Model, Stamp, StudyDetail, StudyRow

BeatClass = Literal["N", "S", "V", "F", "Q"]


# ------------------------------------------------------------------------------------------ worklist
class WorklistIn(InputModel):
    """A worklist query; sent in a request body so a patient's name never appears in a URL or a log."""

    statuses: list[StudyStatus] | None = Field(default=None, max_length=7)
    service: str | None = Field(default=None, max_length=40)
    search: str = Field(default="", max_length=100)
    offset: int = Field(default=0, ge=0, le=2**31 - 1)
    limit: int = Field(default=25, ge=1, le=200)


class WorklistRow(StudyRow):
    recording_start: Stamp | None
    duration_h: float | None
    assigned: str | None = Field(description="who acts on it next, or acted last (reviewer, analyst)")
    changed_after_sending: bool = Field(
        default=False,
        description="reported, and its analysis changed (a beat edit, a re-analysis) after its first report "
                    "version was sent to the physician (the report was rendered again: a new version to "
                    "review)",
    )


class WorklistOut(Model):
    items: list[WorklistRow]
    total: int
    offset: int
    limit: int
    counts: dict[str, int] = Field(description="studies per status under the same service and search")
    statuses: list[StudyStatus] = Field(description="the statuses shown")
    default_statuses: list[StudyStatus] = Field(description="what this role works on next")
    services: list[str]


# ------------------------------------------------------------------------------------------ overview
class RowOut(Model):
    label: str
    value: str


class SectionOut(Model):
    title: str
    rows: list[RowOut]


class EpisodeOut(Model):
    index: int
    type: str
    name: str
    start_s: float
    end_s: float
    at: str
    duration: str
    detail: str


class PatientEventOut(Model):
    time_s: float
    at: str
    source: str
    symptom: str
    rhythm: str
    hr_bpm: float | None


class TemplateOut(Model):
    template_id: int
    label: str
    n_beats: int


class StudyOverview(Model):
    """What the study page and the viewer show of one study (the read is audited once)."""

    # review.study_overview fills it in field by field: each value is checked (and a time given its zone)
    # as it is set, as at construction (recording_start went out without its zone on SQLite)
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    study: StudyDetail
    kind: Literal["scanning", "resting_ecg", "stress_test", "none"]
    changed_after_sending: bool = Field(
        default=False,
        description="reported, and its analysis changed (a beat edit, a re-analysis) after its first report "
                    "version was sent to the physician (the report was rendered again: a new version to "
                    "review)",
    )
    fs: float | None = None
    duration_s: float | None = None
    leads: list[str] = Field(default_factory=list)
    lead: str | None = Field(default=None, description="the lead the analysis used")
    recording_start: Stamp | None = None
    header_left: list[RowOut] = Field(default_factory=list)
    header_right: list[RowOut] = Field(default_factory=list)
    sections: list[SectionOut] = Field(default_factory=list)
    trend_interval_s: float = 60.0
    trend_bpm: list[float | None] = Field(default_factory=list)
    episodes: list[EpisodeOut] = Field(default_factory=list)
    patient_events: list[PatientEventOut] = Field(default_factory=list)
    quality_epoch_s: float = 10.0
    quality: str = ""
    templates: list[TemplateOut] = Field(default_factory=list)
    beats_by_class: dict[str, int] = Field(default_factory=dict)
    technician_comments: str = ""
    measurements: dict[str, Any] | None = Field(
        default=None, description="resting 12-lead or stress: the stored measurement document"
    )


# ------------------------------------------------------------------------------------------ templates
class TemplateBeats(Model):
    template_id: int
    label: str
    n_beats: int
    beats_by_label: dict[str, int] = Field(
        default_factory=dict,
        description="the template's beats by their own label: a template groups beats by shape, and a "
        "beat of normal shape that comes early keeps its label S",
    )
    median_uv: list[int] = Field(description="the template's median beat (µV) from median_start on")
    median_start: int = Field(default=0, description="index in the beats' window of median_uv[0]")
    beats_uv: list[list[int]] = Field(description="beats of this template, same window as the median")


class TemplateBeatsOut(Model):
    run_id: int = Field(description="the analysis run shown (an edit names it as its ``base_run``)")
    fs: float
    lead: str
    before_s: float = Field(description="each window starts this long before the R peak")
    templates: list[TemplateBeats]
    beats_by_label: dict[str, int] = Field(
        default_factory=dict, description="every beat of the current run by label (the study's counts)"
    )
    outside_templates: dict[str, int] = Field(
        default_factory=dict, description="beats in no template (e.g. unclassifiable Q beats), by label"
    )


class TemplateEditIn(InputModel):
    templates: list[int] = Field(min_length=1, max_length=200)
    label: BeatClass
    base_run: int | None = Field(
        default=None, ge=1, le=2**31 - 1,
        description="the analysis run the editor sees (the beats' or templates' ``run_id``); when another "
                    "run is current (another technician's edit, a re-analysis) the edit is refused, 409",
    )


# ------------------------------------------------------------------------------------------ strips
class StripItem(Model):
    key: str
    kind: Literal["event", "patient", "manual"]
    title: str
    rhythm: str
    detail: str
    start_s: float
    duration_s: float
    focus_s: float
    included: bool


class StripSelectionOut(Model):
    items: list[StripItem]
    customised: bool = Field(description="someone chose: the report prints exactly the included strips")
    editable: bool = Field(description="the study is not signed yet")
    strip_s: float


class StripIncludeIn(InputModel):
    key: str = Field(min_length=1, max_length=200)
    included: bool


class StripAddIn(InputModel):
    start_s: float = Field(ge=0, le=60 * 86400)
    caption: str = Field(min_length=1, max_length=200)
    lead: str | None = Field(default=None, max_length=64)


# ------------------------------------------------------------------------------------------ accounts
class RoleIn(InputModel):
    role: Role


# ------------------------------------------------------------------------------------------ billing
class BillingView(Model):
    """The biller's page: the facts as derived now, the stored coding (codes, explanations, scrubber
    findings with their fixes) and what may be done next."""

    # billing_view fills in the stored coding after construction: checked as set, as StudyOverview
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    study_id: int
    status: StudyStatus
    facts: dict[str, Any]
    signed: bool
    components: list[dict[str, Any]]
    codes: list[dict[str, Any]] = Field(default_factory=list)
    explanations: list[str] = Field(default_factory=list)
    findings: list[dict[str, Any]] = Field(default_factory=list)
    coded_at: Stamp | None = None
    coded_by: str | None = None
    stale: list[str] = Field(default_factory=list)  # why the stored coding is out of date (empty: current)
    # the distinct-service mark: modifier, documented reason, marked_by and marked_at (ISO, UTC)
    distinct: dict[str, str] | None = None
    can_mark: bool = False  # the mark may change (not billed)
    can_code: bool = False
    can_bill: bool = False


# ------------------------------------------------------------------------------------------ batch signing
class BatchSignIn(InputModel):
    """Studies to sign with one entry of the physician's password (``workflow.signing_batch``)."""

    study_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=50)
    password: str = Field(min_length=1, max_length=1024)


class QueuedStudyOut(Model):
    study_id: int
    patient_name: str
    patient_id: str
    service: str
    priority: str
    version: int
    reviewed_at: Stamp | None
    interpretation: str
    ready: bool
    reason: str | None = None
    reviewed_version: int | None = Field(
        default=None,
        description="the version you reviewed (reviewed_at is its review): version itself, or an older one "
                    "when the report was rendered again since (changed after sending, not ready)",
    )
    changed_after_sending: bool = Field(
        default=False, description="as on the worklist: the analysis changed after the report was sent",
    )


class SignedOut(Model):
    study_id: int
    version: int
    printed_name: str
    signed_at: Stamp
    content_sha256: str


class RefusedOut(Model):
    study_id: int
    reason: str


class BatchSignedOut(Model):
    """Each study signed, and each refused with the reason (left unsigned)."""

    meaning: str
    signed: list[SignedOut]
    refused: list[RefusedOut]
