"""Reading studies: the worklist, one study, its report PDF; creating a study."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse

from ecgdesk.service.deps import StoreDep, allowed
from ecgdesk.service.errors import ERRORS
from ecgdesk.service.paging import PAGED, Limit, Offset, page_headers
from ecgdesk.store.enums import StudyStatus
from ecgdesk.workflow.paging import Rows
from ecgdesk.workflow.permissions import Action, Principal
from ecgdesk.workflow.report_files import ReportFile, report_file
from ecgdesk.workflow.schemas import JobOut, StudyCreate, StudyCreated, StudyDetail, StudyPage
from ecgdesk.workflow.studies import create_study_from
from ecgdesk.workflow.views import MAX_PAGE, show_study, study_page

router = APIRouter(prefix="/api/v1/studies", tags=["studies"], responses=ERRORS)

#: Ids are 32-bit in the database: a larger one is a 422, not a 500 from the driver.
StudyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="study id")]


@router.get("")
def worklist(
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.STUDY_LIST)],
    status: StudyStatus | None = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> StudyPage:
    """A page of studies, newest first, optionally of one status (the read is audited)."""
    return study_page(store, who.actor, status, offset, limit)


@router.post("", status_code=201)
def create(
    body: StudyCreate, store: StoreDep, who: Annotated[Principal, allowed(Action.STUDY_CREATE)]
) -> StudyCreated:
    """The patient (found or created) and the order of a new study in status ``ordered``."""
    study_id = create_study_from(store, body, who.actor)
    return StudyCreated(id=study_id, status=StudyStatus.ORDERED)


@router.get("/{study_id}")
def detail(
    study_id: StudyId, store: StoreDep, who: Annotated[Principal, allowed(Action.STUDY_READ)]
) -> StudyDetail:
    """Everything about one study, including the upload's import and analysis progress (audited)."""
    return show_study(store, study_id, who)


@router.get(
    "/{study_id}/report.pdf",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}, "description": "the current report version"}},
)
def report_pdf(
    study_id: StudyId, store: StoreDep, who: Annotated[Principal, allowed(Action.REPORT_READ)]
) -> FileResponse:
    """The current report version's PDF (the signed one once signed); the read is audited."""
    return report_pdf_response(study_id, report_file(store, study_id, who.actor))


def report_pdf_response(study_id: int, found: ReportFile) -> FileResponse:
    return FileResponse(
        found.pdf_path,
        media_type="application/pdf",
        filename=f"study-{study_id}-report-v{found.version}.pdf",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/{study_id}/jobs", responses=PAGED)
def jobs(
    request: Request,
    response: Response,
    study_id: StudyId,
    store: StoreDep,
    who: Annotated[Principal, allowed(Action.JOB_READ)],
    offset: Offset = 0,
    limit: Limit = 50,
) -> list[JobOut]:
    """A page of the study's jobs, newest first (the read is audited). The study's own answer lists the 50
    newest only: until 2026-12-08 a study re-analysed more often than that had its older jobs (and how many
    there were) out of reach."""
    from ecgdesk.workflow.jobs import count_jobs, list_jobs
    from ecgdesk.workflow.permissions import audit_read
    from ecgdesk.workflow.studies import get_study
    from ecgdesk.workflow.views import job_out

    with store.transaction() as session:
        get_study(session, study_id)
        audit_read(session, who.actor, "jobs", "study", study_id)
    rows = Rows([job_out(j) for j in list_jobs(store, study_id=study_id, limit=limit, offset=offset)],
                count_jobs(store, study_id=study_id))
    page_headers(request, response, rows, offset)
    return list(rows)
