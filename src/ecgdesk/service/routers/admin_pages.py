"""Administration pages: accounts (add, disable, reset password, role) and the audit log with filters and
the chain check. The page scripts call the account routes of the JSON API for every change."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ecgdesk.errors import InputError, is_digits
from ecgdesk.service.deps import StoreDep
from ecgdesk.service.web import PageRoute, page_user, render
from ecgdesk.service.web.pager import PageOffset, page_url, pager, within
from ecgdesk.store.enums import Role
from ecgdesk.workflow.app_settings import list_settings
from ecgdesk.workflow.permissions import Action, authorize
from ecgdesk.workflow.schemas import AuditPage, NoNul
from ecgdesk.workflow.users import list_users
from ecgdesk.workflow.views import AuditFilter, audit_export, audit_page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 100
#: Action prefixes suggested in the audit filter (a free field: any prefix or full name is accepted). One per
#: family the workflow writes, so every operation can be found, not only clinical ones.
AUDIT_ACTIONS = (
    "auth:",
    "auth:login",
    "auth:forbidden",
    "auth:csrf-refused",
    "auth:logoff",
    "read:",
    "read:study",
    "read:signal",
    "read:report",
    "read:audit",
    "read:audit-export",
    "patient:",
    "order:",
    "study:",
    "upload:",
    "recording:",
    "analysis:",
    "report:",
    "report:sign",
    "report:sign-batch",
    "report:addendum",
    "interpretation:",
    "component:",
    "status:",
    "coding:",
    "billing:",
    "claim:",
    "claims:",
    "remit:",
    "denial:",
    "interop:",
    "monitor:",
    "user:",
    "token:",
    "settings:",
)


@router.get("/admin/settings")
def settings_page(request: Request, store: StoreDep) -> Response:
    """The application settings (the escalation minutes, the sign-in settings), each changed in place
    through the JSON API; one the service's environment fixes is shown as such, without a form."""
    who = page_user(request)
    values = list_settings(store, who, request.app.state.settings.policy)
    return render(request, "admin_settings.html.j2", who, nav="settings", settings=values)


@router.get("/admin/users")
def users_page(request: Request, store: StoreDep, offset: PageOffset = 0) -> Response:
    """A page of the accounts (``PAGE`` a page, in the order they were added)."""
    who = page_user(request)
    users = list_users(store, who, offset=offset, limit=PAGE)
    last = within(offset, users.total, PAGE)
    if last != offset:  # past the end: to the last page, not an empty list
        return RedirectResponse(page_url("/admin/users", {}, "offset", last), 303)
    pg = pager("/admin/users", {}, "offset", offset, len(users), users.total, PAGE)
    return render(
        request, "admin_users.html.j2", who, nav="users", users=users, roles=[r.value for r in Role], pg=pg
    )


#: One audit filter's query parameters (the page and its CSV export take the same).
UserQ = Annotated[str, Query(max_length=64), NoNul]
StudyQ = Annotated[str, Query(max_length=9), NoNul]
PatientQ = Annotated[str, Query(max_length=64), NoNul]
ActionQ = Annotated[str, Query(max_length=40), NoNul]
WhenQ = Annotated[str, Query(max_length=40), NoNul]


@dataclass(frozen=True)
class AuditQuery:
    """The audit log's filters as typed in the page (query parameters, ``""`` when not given): one
    dependency of the page and of its CSV export, so both take exactly the same parameters."""

    user: UserQ = ""
    study: StudyQ = ""
    patient: PatientQ = ""
    action: ActionQ = ""
    since: WhenQ = ""
    until: WhenQ = ""

    def fields(self) -> dict[str, str]:
        """Every filter by name, in the page's order (the form's values)."""
        return asdict(self)

    def chosen(self) -> dict[str, str]:
        """The filters given (the links' query)."""
        return {k: v for k, v in self.fields().items() if v}

    def where(self) -> AuditFilter:
        """The workflow's filter; a study that is not a number is an :class:`InputError`."""
        if self.study and not is_digits(self.study):
            raise InputError("study", f"a study number, got {self.study!r}")
        return AuditFilter(
            study_id=int(self.study) if self.study else None,
            patient=self.patient or None,
            user=self.user or None,
            action=self.action or None,
            since=self.since or None,
            until=self.until or None,
        )


AuditQueryDep = Annotated[AuditQuery, Depends()]


@router.get("/admin/audit")
def audit_log_page(
    request: Request,
    store: StoreDep,
    query: AuditQueryDep,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> HTMLResponse:
    who = page_user(request)
    authorize(store, who, Action.AUDIT_READ)
    error = ""
    try:
        where = query.where()
        page = audit_page(
            store,
            who.actor,
            where.study_id,
            offset,
            PAGE,
            user=where.user,
            action=where.action,
            since=where.since,
            until=where.until,
            patient=where.patient,
            newest_first=True,
        )
    except InputError as error_:
        error = f"{error_.field}: {error_.reason}"
        page = AuditPage(items=[], total=0, offset=0, limit=PAGE)
    chosen = query.chosen()

    def link(at: int) -> str:
        return "/admin/audit?" + urlencode({**chosen, "offset": at})

    return render(
        request,
        "admin_audit.html.j2",
        who,
        nav="audit",
        page=page,
        f=query.fields(),
        actions=AUDIT_ACTIONS,
        error=error,
        export_url="/admin/audit.csv" + ("?" + urlencode(chosen) if chosen else ""),
        prev_url=link(max(0, offset - PAGE)) if offset > 0 else "",
        next_url=link(offset + PAGE) if offset + PAGE < page.total else "",
    )


CSV_COLUMNS = ("seq", "at", "actor", "action", "entity", "entity_id", "before", "after", "hash")
#: What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """``value`` as a CSV cell a spreadsheet shows as text: the log holds what anybody typed (a failed
    login's user name is the actor of its row), and ``=HYPERLINK(...)`` there ran in the administrator's
    spreadsheet."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@router.get("/admin/audit.csv")
def audit_log_csv(request: Request, store: StoreDep, query: AuditQueryDep) -> Response:
    """The rows the page's filters select, oldest first, as CSV (before/after as JSON); the export itself
    is a row of the log (``read:audit-export``)."""
    who = page_user(request)
    authorize(store, who, Action.AUDIT_READ)
    rows = audit_export(store, who.actor, query.where())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    r.seq, r.at, r.actor, r.action, r.entity, r.entity_id,
                    "" if r.before is None else json.dumps(r.before, sort_keys=True),
                    "" if r.after is None else json.dumps(r.after, sort_keys=True),
                    r.hash,
                )
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"', "Cache-Control": "no-store"},
    )
