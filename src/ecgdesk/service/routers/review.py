"""The review workstation's API (issue 13): the role's worklist, a study's overview, template beats and
multi-template relabel, the report's strip selection, the report PDF shown inline, the billing page's data
and an account's role.

Each route is one workflow function behind the permission table (the reads are audited there).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from ecgdesk.service.deps import StoreDep, allowed
from ecgdesk.service.errors import ERRORS
from ecgdesk.service.routers.studies import StudyId, report_pdf_response
from ecgdesk.service.routers.users import Username, _user
from ecgdesk.store.enums import EditKind
from ecgdesk.workflow.beat_edits import edit_and_queue
from ecgdesk.workflow.billing_view import billing_view
from ecgdesk.workflow.permissions import Action, Principal
from ecgdesk.workflow.report_files import report_file
from ecgdesk.workflow.review import study_overview, template_beats, worklist
from ecgdesk.workflow.review_schemas import (
    BillingView,
    RoleIn,
    StripAddIn,
    StripIncludeIn,
    StripSelectionOut,
    StudyOverview,
    TemplateBeatsOut,
    TemplateEditIn,
    WorklistIn,
    WorklistOut,
)
from ecgdesk.workflow.schemas import InputModel, RunDone, UserOut
from ecgdesk.workflow.strip_selection import add_strip, remove_strip, set_strip_included, strip_selection
from ecgdesk.workflow.users import set_role

router = APIRouter(prefix="/api/v1", tags=["review workstation"], responses=ERRORS)
Who = Principal


class StripKeyIn(InputModel):
    key: str


@router.post("/worklist")
def role_worklist(
    body: WorklistIn, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_LIST)]
) -> WorklistOut:
    """The worklist of the signed-in role (what it works on next unless ``statuses`` says otherwise), with
    counts per status. A POST so that a searched name never appears in a URL or an access log."""
    return worklist(store, who.actor, who.role, body)


@router.get("/studies/{study_id}/overview")
def overview(
    study_id: StudyId, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_READ)]
) -> StudyOverview:
    """The study with its summary tables, heart-rate trend, episodes, patient events and signal quality."""
    return study_overview(store, study_id, who)


@router.get("/studies/{study_id}/templates")
def templates(
    study_id: StudyId,
    store: StoreDep,
    who: Annotated[Who, allowed(Action.SIGNAL_READ)],
    per_template: Annotated[int, Query(ge=1, le=50)] = 12,
) -> TemplateBeatsOut:
    """Each morphology template's median beat and some of its beats from across the recording (µV)."""
    return template_beats(store, study_id, who.actor, per_template)


@router.post("/studies/{study_id}/template-edits")
def relabel_templates(
    study_id: StudyId,
    body: TemplateEditIn,
    request: Request,
    store: StoreDep,
    who: Annotated[Who, allowed(Action.BEATS_EDIT)],
) -> RunDone:
    """Relabel every beat of the chosen templates; the summary is recomputed once (a new run). On a study
    already with the physician the report is rendered again by a job (``report_job``)."""
    done = edit_and_queue(
        store, study_id, EditKind.TEMPLATE, body.templates, body.label, who.actor, body.base_run
    )
    if done.report_job is not None:  # a sent study's report, rendered again in the background
        request.app.state.work.run_job(store, done.report_job, request.app.state.settings.jobs == "inline")
    return RunDone(run_id=done.run.run_id, reused=done.run.reused, report_job=done.report_job,
                   note=done.note())


@router.get("/studies/{study_id}/strips")
def strips(
    study_id: StudyId, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_READ)]
) -> StripSelectionOut:
    """The strips the report proposes and those added, each with whether the report prints it."""
    return strip_selection(store, study_id, who.actor)


@router.put("/studies/{study_id}/strips")
def include_strip(
    study_id: StudyId,
    body: StripIncludeIn,
    store: StoreDep,
    who: Annotated[Who, allowed(Action.STRIPS_SELECT)],
) -> StripSelectionOut:
    """Include or leave out one strip; from then on the report prints exactly the selection."""
    set_strip_included(store, study_id, body.key, body.included, who.actor)
    return strip_selection(store, study_id)


@router.post("/studies/{study_id}/strips", status_code=201)
def new_strip(
    study_id: StudyId, body: StripAddIn, store: StoreDep, who: Annotated[Who, allowed(Action.STRIPS_SELECT)]
) -> StripSelectionOut:
    """Add a strip from any point of the recording, with its caption."""
    add_strip(store, study_id, body.start_s, body.caption, who.actor, body.lead)
    return strip_selection(store, study_id)


@router.post("/studies/{study_id}/strips/remove")
def drop_strip(
    study_id: StudyId, body: StripKeyIn, store: StoreDep, who: Annotated[Who, allowed(Action.STRIPS_SELECT)]
) -> StripSelectionOut:
    """Remove a strip that was added."""
    remove_strip(store, study_id, body.key, who.actor)
    return strip_selection(store, study_id)


@router.get(
    "/studies/{study_id}/report/preview.pdf",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}, "description": "the current version, inline"}},
)
def report_preview(
    study_id: StudyId, store: StoreDep, who: Annotated[Who, allowed(Action.REPORT_READ)]
) -> FileResponse:
    """The current report version's PDF to show in the page (``report.pdf`` downloads it); audited."""
    found = report_file(store, study_id, who.actor)
    response = report_pdf_response(study_id, found)
    response.headers["content-disposition"] = response.headers["content-disposition"].replace(
        "attachment", "inline", 1
    )
    response.headers["X-Report-Version"] = str(found.version)
    response.headers["X-Report-Signed"] = "true" if found.signed else "false"
    return response


@router.get("/studies/{study_id}/billing")
def billing(
    study_id: StudyId, store: StoreDep, who: Annotated[Who, allowed(Action.STUDY_BILLING)]
) -> BillingView:
    """The coding facts as derived now, the selected codes with their explanations and the scrubber's
    findings with their fixes."""
    return billing_view(store, study_id, who.actor)


@router.put("/users/{username}/role")
def change_role(
    username: Username, body: RoleIn, store: StoreDep, who: Annotated[Who, allowed(Action.USER_MANAGE)]
) -> UserOut:
    """Give a user another role (their open sessions end)."""
    return _user(set_role(store, who, username, body.role.value))
