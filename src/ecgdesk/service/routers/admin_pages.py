"""Administration pages: accounts (add, disable, reset password, role) and the audit log with filters and
the chain check. The page scripts call the account routes of the JSON API for every change."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from ecgdesk.errors import InputError, is_digits
from ecgdesk.service.deps import StoreDep
from ecgdesk.service.web import PageRoute, page_user, render
from ecgdesk.store.enums import Role
from ecgdesk.workflow.permissions import Action, authorize
from ecgdesk.workflow.schemas import AuditPage, NoNul
from ecgdesk.workflow.users import list_users
from ecgdesk.workflow.views import audit_page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 100
#: Action prefixes offered in the audit filter (the log also has the full names).
AUDIT_ACTIONS = (
    "auth:",
    "auth:login",
    "auth:login-failed",
    "auth:logoff",
    "auth:forbidden",
    "read:",
    "read:study",
    "read:signal",
    "read:report",
    "study:",
    "analysis:",
    "report:",
    "report:sign",
    "interpretation:",
    "coding:",
    "user:",
)


@router.get("/admin/users")
def users_page(request: Request, store: StoreDep) -> HTMLResponse:
    who = page_user(request)
    users = list_users(store, who)
    return render(
        request, "admin_users.html.j2", who, nav="users", users=users, roles=[r.value for r in Role]
    )


@router.get("/admin/audit")
def audit_log_page(
    request: Request,
    store: StoreDep,
    user: Annotated[str, Query(max_length=64), NoNul] = "",
    study: Annotated[str, Query(max_length=9), NoNul] = "",
    action: Annotated[str, Query(max_length=40), NoNul] = "",
    since: Annotated[str, Query(max_length=40), NoNul] = "",
    until: Annotated[str, Query(max_length=40), NoNul] = "",
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> HTMLResponse:
    who = page_user(request)
    authorize(store, who, Action.AUDIT_READ)
    filters = {"user": user, "study": study, "action": action, "since": since, "until": until}
    error = ""
    try:
        if study and not is_digits(study):
            raise InputError("study", f"a study number, got {study!r}")
        page = audit_page(
            store,
            who.actor,
            int(study) if study else None,
            offset,
            PAGE,
            user=user or None,
            action=action or None,
            since=since or None,
            until=until or None,
            newest_first=True,
        )
    except InputError as error_:
        error = f"{error_.field}: {error_.reason}"
        page = AuditPage(items=[], total=0, offset=0, limit=PAGE)

    def link(at: int) -> str:
        return "/admin/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "offset": at})

    return render(
        request,
        "admin_audit.html.j2",
        who,
        nav="audit",
        page=page,
        f=filters,
        actions=AUDIT_ACTIONS,
        error=error,
        prev_url=link(max(0, offset - PAGE)) if offset > 0 else "",
        next_url=link(offset + PAGE) if offset + PAGE < page.total else "",
    )
