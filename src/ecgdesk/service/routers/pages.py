"""The workstation's general pages: log in, the worklist, a new study with its upload, and the static files.

Pages are not part of the JSON API (``include_in_schema=False``); they call the same workflow functions
and permission table, and their scripts call the API for every change.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from ecgdesk.errors import AuthenticationError, EcgDeskError, InputError, TooManyAttemptsError
from ecgdesk.interop.model import OrderPriority
from ecgdesk.service.deps import SettingsDep, StoreDep
from ecgdesk.service.routers.session import open_session
from ecgdesk.service.web import STATIC, PageRoute, page_user, render
from ecgdesk.store.enums import Role, StudyStatus
from ecgdesk.workflow.permissions import Action, Principal, authorize
from ecgdesk.workflow.review import NEXT_FOR_ROLE, SERVICES
from ecgdesk.workflow.schemas import NoNul

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# Bounded: is_file() raises on a name longer than the file system allows (a 500 where 404 is meant).
STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(js|css|svg)$")
STATIC_TYPES = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
SERVICE_NAMES = {
    "ambulatory_ecg": "Ambulatory ECG (Holter/patch)",
    "event_monitor": "Event monitor",
    "mct": "Mobile cardiac telemetry",
    "resting_ecg": "Resting 12-lead ECG",
    "stress_test": "Exercise stress test",
}
NOTICES = {
    "idle": "You were logged off after a period without activity. Log in again to continue.",
    "ended": "Your session has ended. Log in again to continue.",
    "logout": "You are logged out.",
}


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    """Scripts, styles and images of the workstation: ours, from this package, never from elsewhere."""
    path = STATIC / name
    if not STATIC_NAME.match(name) or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        path,
        media_type=STATIC_TYPES[name.rsplit(".", 1)[1]],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


def landing(who: Principal) -> str:
    if who.must_change_password:
        return "/account/password"
    return "/admin/users" if who.role is Role.ADMIN else "/worklist"


@router.get("/")
def start(request: Request) -> Response:
    who = page_user(request)
    return RedirectResponse(landing(who), status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never another host) may follow the login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""


@router.get("/login")
def login_page(request: Request, reason: str = "", next: str = "") -> HTMLResponse:
    return render(
        request, "login.html.j2", None, notice=NOTICES.get(reason, ""), next=_safe_next(next), error=""
    )


@router.post("/login")
def login_form(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64), NoNul] = "",
    password: Annotated[str, Form(max_length=1024), NoNul] = "",
    next: Annotated[str, Form(max_length=500), NoNul] = "",
) -> Response:
    """The login form without scripts (the page's script uses ``POST /api/v1/session``)."""
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}":
        return render(request, "login.html.j2", None, 403, notice="", next="", error="refused: another site")
    target = RedirectResponse(_safe_next(next) or "/", status_code=303)
    try:
        if not username or not password:
            raise InputError("username", "enter your user name and password")
        new = open_session(request, target, store, settings, username, password)
    except TooManyAttemptsError as error:  # the address is at its limit of refused logins: say when
        page = render(
            request, "login.html.j2", None, 429, notice="", next=_safe_next(next), error=error.reason
        )
        page.headers["Retry-After"] = str(error.retry_after_s)
        return page
    except (AuthenticationError, InputError) as error:
        message = getattr(error, "reason", None) or str(error)
        return render(request, "login.html.j2", None, 401, notice="", next=_safe_next(next), error=message)
    if not _safe_next(next) or new.principal.must_change_password:
        target.headers["location"] = landing(new.principal)
    return target


@router.get("/worklist")
def worklist_page(request: Request, store: StoreDep) -> HTMLResponse:
    who = page_user(request)
    authorize(store, who, Action.STUDY_LIST)
    heading = {
        Role.TECHNICIAN: "to record and analyse",
        Role.PHYSICIAN: "reported, waiting for your interpretation and signature",
        Role.BILLER: "signed and coded, to bill",
    }.get(who.role, "")
    return render(
        request,
        "worklist.html.j2",
        who,
        nav="worklist",
        heading=heading,
        statuses=[s.value for s in StudyStatus],
        next_statuses=[s.value for s in NEXT_FOR_ROLE.get(who.role, ())],
        services=SERVICES,
        service_names=SERVICE_NAMES,
    )


@router.get("/signing")
def signing_page(request: Request, store: StoreDep) -> HTMLResponse:
    """The physician's reviewed studies, to sign several with one password (``workflow.signing_batch``)."""
    from ecgdesk.workflow.paging import MAX_PAGE
    from ecgdesk.workflow.reporting import MEANING
    from ecgdesk.workflow.signing_batch import MAX_BATCH, signing_queue

    who = page_user(request)
    authorize(store, who, Action.STUDY_SIGN)
    queue = signing_queue(store, who.username, who.actor, limit=MAX_PAGE)
    return render(
        request, "signing.html.j2", who, nav="signing", queue=queue,
        service_names=SERVICE_NAMES, meaning=MEANING, max_batch=MAX_BATCH,
    )


@router.get("/upload")
def upload_page(request: Request, store: StoreDep) -> HTMLResponse:
    who = page_user(request)
    authorize(store, who, Action.STUDY_CREATE)
    return render(
        request, "upload.html.j2", who, nav="upload", services=SERVICES, service_names=SERVICE_NAMES,
        priorities=[p.value for p in OrderPriority],
    )


@router.get("/account/password")
def password_page(request: Request, store: StoreDep) -> HTMLResponse:
    """The user's own password change (its script calls ``PUT /api/v1/session/password``)."""
    who = page_user(request)
    authorize(store, who, Action.PASSWORD_CHANGE)
    back = landing(replace(who, must_change_password=False))  # where to go once it is changed
    return render(request, "account_password.html.j2", who, nav="account", back=back)


def page_error(error: EcgDeskError) -> str:
    return getattr(error, "reason", None) or str(error)
