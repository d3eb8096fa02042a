"""What people do to a study: analyse, edit beats, comment, render, interpret, sign, amend, code, bill.

Each route is one workflow function (the CLI's ``ecgdesk study ...`` commands call the same ones) behind
the permission table; the password is checked again at signing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from ecgdesk.errors import AuthenticationError, PermissionDeniedError
from ecgdesk.service.deps import SettingsDep, StoreDep, allowed
from ecgdesk.service.errors import ERRORS
from ecgdesk.service.routers.studies import StudyId
from ecgdesk.store.enums import StudyStatus
from ecgdesk.workflow.analysis_jobs import enqueue_analysis
from ecgdesk.workflow.beat_edits import edit_and_queue
from ecgdesk.workflow.billing import mark_billed
from ecgdesk.workflow.billing_distinct import clear_distinct, mark_distinct
from ecgdesk.workflow.jobs import cancel_study_job
from ecgdesk.workflow.permissions import Action, Principal
from ecgdesk.workflow.reporting import SignatureInfo, add_addendum, interpret, report_study, sign
from ecgdesk.workflow.schemas import (
    AddendumIn,
    BeatEditIn,
    BillIn,
    CodingDone,
    ComponentIn,
    DistinctIn,
    DistinctMark,
    JobOut,
    ReportRendered,
    RunDone,
    SignatureDone,
    SignIn,
    StudyCreated,
    TextEditIn,
)
from ecgdesk.workflow.studies import check_analyzable, record_component, set_technician_comments

router = APIRouter(prefix="/api/v1/studies", tags=["study actions"], responses=ERRORS)
Who = Principal


def _state(store: StoreDep, study_id: int) -> StudyCreated:
    from ecgdesk.workflow.views import study_status

    return StudyCreated(id=study_id, status=StudyStatus(study_status(store, study_id)))


@router.post("/{study_id}/analysis", status_code=202)
def analyze(
    study_id: StudyId, request: Request, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_ANALYZE)]
) -> StudyCreated:
    """Analyse the recording again in the background (reuses the run when the inputs are the same)."""
    check_analyzable(store, study_id)
    job_id = enqueue_analysis(store, study_id, who.actor, again=True)
    request.app.state.work.run_job(store, job_id, request.app.state.settings.jobs == "inline")
    return _state(store, study_id)


@router.post("/{study_id}/jobs/{job_id}/cancel")
def cancel_job(
    study_id: StudyId,
    job_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="job id")],
    store: StoreDep,
    who: Annotated[Who, allowed(Action.JOB_MANAGE)],
) -> JobOut:
    """Cancel a queued or running job of the study (a running analysis stops at its next heartbeat and
    stores nothing); 409 if it has already ended, 404 if the study has no such job."""
    from ecgdesk.workflow.views import job_out

    return job_out(cancel_study_job(store, study_id, job_id, who.actor))


@router.post("/{study_id}/beat-edits")
def edit(
    study_id: StudyId,
    body: BeatEditIn,
    request: Request,
    store: StoreDep,
    who: Annotated[Who, allowed(Action.BEATS_EDIT)],
) -> RunDone:
    """Relabel one beat or every beat of a template; the summary is recomputed (a new run). On a study
    already with the physician the report is rendered again by a job (``report_job``)."""
    done = edit_and_queue(
        store, study_id, body.kind, [body.target], body.label, who.actor, body.base_run
    )
    if done.report_job is not None:  # a sent study's report, rendered again in the background
        request.app.state.work.run_job(store, done.report_job, request.app.state.settings.jobs == "inline")
    return RunDone(run_id=done.run.run_id, reused=done.run.reused, report_job=done.report_job,
                   note=done.note())


@router.post("/{study_id}/comment")
def comment(
    study_id: StudyId, body: TextEditIn, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_COMMENT)]
) -> StudyCreated:
    """The technician's comments printed in the next report version."""
    set_technician_comments(store, study_id, body.text, who.actor, body.base)
    return _state(store, study_id)


@router.post("/{study_id}/report")
def render(
    study_id: StudyId, store: StoreDep, who: Annotated[Who, allowed(Action.REPORT_RENDER)]
) -> ReportRendered:
    """Render the report of the current analysis (a new version only if its content changed)."""
    info = report_study(store, study_id, who.actor)
    return ReportRendered(version=info.version, content_sha256=info.content_sha256, reused=info.reused)


@router.post("/{study_id}/interpretation")
def interpretation(
    study_id: StudyId, body: TextEditIn, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_INTERPRET)]
) -> ReportRendered:
    """The physician writes the interpretation and reviews the resulting report version."""
    info = interpret(store, study_id, who.username, body.text, body.base)
    return ReportRendered(version=info.version, content_sha256=info.content_sha256, reused=info.reused)


def reauthenticated(error: AuthenticationError, who: Principal, action: Action) -> PermissionDeniedError:
    # The session is fine; the password re-entered to sign is not: 403, so the page does not log out.
    reason = f"the password re-entered to sign is not accepted: {error.reason}"
    return PermissionDeniedError(who.username, who.role.value, action.value, [who.role.value], reason)


def _signature(info: SignatureInfo) -> SignatureDone:
    return SignatureDone(
        version=info.version,
        printed_name=info.printed_name,
        signed_at=info.signed_at,
        content_sha256=info.content_sha256,
    )


@router.post("/{study_id}/sign")
def sign_report(
    study_id: StudyId,
    body: SignIn,
    store: StoreDep,
    settings: SettingsDep,
    who: Annotated[Who, allowed(Action.STUDY_SIGN)],
) -> SignatureDone:
    """Sign the reviewed report version; the physician's password is checked again here."""
    try:
        info = sign(store, study_id, who.username, body.password, settings.policy)
    except AuthenticationError as error:
        raise reauthenticated(error, who, Action.STUDY_SIGN) from None
    return _signature(info)


@router.post("/{study_id}/addendum")
def addendum(
    study_id: StudyId,
    body: AddendumIn,
    store: StoreDep,
    settings: SettingsDep,
    who: Annotated[Who, allowed(Action.STUDY_ADDENDUM)],
) -> SignatureDone:
    """Amend a signed report: a new version with the addendum, signed with the re-entered password."""
    try:
        info = add_addendum(store, study_id, who.username, body.password, body.text, settings.policy)
    except AuthenticationError as error:
        raise reauthenticated(error, who, Action.STUDY_ADDENDUM) from None
    return _signature(info)


@router.post("/{study_id}/components")
def component(
    study_id: StudyId,
    body: ComponentIn,
    store: StoreDep,
    who: Annotated[Who, allowed(Action.COMPONENT_RECORD)],
) -> StudyCreated:
    """Record who performed a component (supervision, monitoring ...)."""
    record_component(store, study_id, body.component, body.performer, body.npi, who.actor)
    return _state(store, study_id)


@router.post("/{study_id}/coding")
def code(study_id: StudyId, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_CODE)]) -> CodingDone:
    """Derive the coding facts, select the codes and scrub the claim."""
    from ecgdesk.workflow.billing import code_study

    outcome = code_study(store, study_id, who.actor)
    return CodingDone(claim_lines=outcome.claim_lines(), findings=[f.to_dict() for f in outcome.findings])


@router.put("/{study_id}/distinct")
def distinct(
    study_id: StudyId, body: DistinctIn, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_DISTINCT)]
) -> DistinctMark:
    """Mark the study's service distinct (modifier 59 / XE / XS / XP / XU) with its documented reason."""
    mark = mark_distinct(store, study_id, body.modifier, body.reason, who)
    return DistinctMark(**mark)


@router.delete("/{study_id}/distinct")
def undistinct(
    study_id: StudyId, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_DISTINCT)]
) -> StudyCreated:
    """Remove the study's distinct-service mark (its stored coding is then out of date)."""
    clear_distinct(store, study_id, who)
    return _state(store, study_id)


@router.post("/{study_id}/bill")
def bill(
    study_id: StudyId, body: BillIn, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_BILL)]
) -> StudyCreated:
    """Record that the claim was submitted (final status)."""
    mark_billed(store, study_id, who.actor, body.reference)
    return _state(store, study_id)
