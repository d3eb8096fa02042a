"""The review workstation's pages: Jinja2 templates rendered on the server, small scripts of our own.

Every script, style sheet and font is served from this package (``/static/...``), and the pages' Content
Security Policy forbids loading anything from elsewhere. Pages authenticate with the same server-side
session as the JSON API; each page carries the session's CSRF token in a ``<meta>`` element for the
scripts' state-changing calls. A page needing a session redirects to the login form (saying why: logged
off after inactivity, session ended); a refused role, an unknown id or a bad value in the page's address or
form (a hand-typed ``?offset=-1``) gets a page saying so in words, never the API's JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecgdesk import __version__
from ecgdesk.errors import (
    AuthenticationError,
    EcgDeskError,
    NotFoundError,
    PasswordChangeRequiredError,
    PermissionDeniedError,
)
from ecgdesk.names import with_credentials
from ecgdesk.reports.tables import duration_text
from ecgdesk.service.deps import COOKIE
from ecgdesk.store import Store
from ecgdesk.store.enums import Role
from ecgdesk.workflow.permissions import Action, Principal, allowed, refuse_until_changed
from ecgdesk.workflow.sessions import resolve_session

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["with_credentials"] = with_credentials  # "Dana Demo, MD" and "MD": not "..., MD, MD"
ENV.filters["duration"] = lambda s: f"{s:.0f} s" if s < 59.5 else duration_text(s)  # a resting ECG: "10 s"
#: Nothing comes from another origin: scripts, styles, fonts, images and frames are ECG Desk's own.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
    "connect-src 'self'; frame-src 'self'; object-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ROLE_NAMES = {
    Role.TECHNICIAN: "Technician",
    Role.PHYSICIAN: "Physician",
    Role.BILLER: "Biller",
    Role.ADMIN: "Administrator",
}


def _static_version() -> str:
    """Changes when any static file changes, so browsers never run a stale script after an upgrade."""
    stamps = sorted(int(p.stat().st_mtime) for p in STATIC.iterdir() if p.is_file())
    return f"{__version__}-{stamps[-1] if stamps else 0}"


STATIC_VERSION = _static_version()


#: The pages a user who must change their password first may open (``/`` takes them to the change).
PAGES_WHILE_CHANGING = frozenset({"/", "/account/password"})


def page_user(request: Request, *, frame_only: bool = False) -> Principal:
    """The user of the session cookie (pages only read: no CSRF check here; the API calls carry it).
    ``frame_only``: for the frame of an error page, no refusal of its own."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise AuthenticationError("no session: log in")
    store: Store = request.app.state.store
    who = resolve_session(store, cookie, request.app.state.settings.policy)
    if who.must_change_password and not frame_only and request.url.path not in PAGES_WHILE_CHANGING:
        refuse_until_changed(store, who, f"{request.method} {request.url.path}")
    return who


def render(
    request: Request, template: str, who: Principal | None, status: int = 200, **values: Any
) -> HTMLResponse:
    """A page with the common frame: the user, their role's navigation, the CSRF token, idle logoff."""
    policy = request.app.state.settings.policy
    if who is not None:  # the idle limit in force now (an administrator's change applies at once)
        with request.app.state.store.transaction() as session:
            policy = policy.current(session)
    html = ENV.get_template(template).render(
        request=request,
        who=who,
        role_name=ROLE_NAMES.get(who.role, "") if who else "",
        may=(lambda action: allowed(who.role, Action(action))) if who else (lambda action: False),
        csrf=who.csrf_token if who else "",
        idle_s=int(policy.idle_for(who.role) if who else policy.idle_s),  # the page's own countdown
        static=lambda name: f"/static/{name}?v={STATIC_VERSION}",
        version=__version__,
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _login_redirect(request: Request, error: AuthenticationError) -> RedirectResponse:
    reason = "idle" if "inactivity" in str(error) else ("ended" if request.cookies.get(COOKIE) else "")
    target = request.url.path
    query = f"?next={quote(target, safe='/')}" + (f"&reason={reason}" if reason else "")
    response = RedirectResponse(f"/login{query}", status_code=303, headers={"Cache-Control": "no-store"})
    if request.cookies.get(COOKIE):
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


class PageRoute(APIRoute):
    """A page: no session sends the browser to the login form; a refusal or an error is a page in words."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except RequestValidationError as error:  # the app's handler would answer the API's JSON 422
                return _invalid_page(request, error)
            except StarletteHTTPException as error:  # the form could not be read (400) or is too large (413)
                return _unread_form(request, error)
            except AuthenticationError as error:
                return _login_redirect(request, error)
            except PasswordChangeRequiredError as error:
                return _error_page(request, 403, "Change your password first", str(error))
            except PermissionDeniedError as error:
                return _error_page(request, 403, "Not for your role", str(error))
            except NotFoundError as error:
                return _error_page(request, 404, "Not found", error.reason)
            except EcgDeskError as error:
                return _error_page(request, 409, "Not possible now", getattr(error, "reason", str(error)))

        return handler


def _error_page(
    request: Request, status: int, title: str, message: str, problems: list[dict[str, str]] | None = None
) -> HTMLResponse:
    try:
        who: Principal | None = page_user(request, frame_only=True)
    except EcgDeskError:
        who = None
    return render(
        request, "error.html.j2", who, status=status, title=title, message=message, problems=problems or []
    )


def _unread_form(request: Request, error: StarletteHTTPException) -> HTMLResponse:
    """A form the page could not read at all: as the API answers it (400 is invalid input, 422), in words."""
    if error.status_code == 413:
        return _error_page(request, 413, "Too large", f"The form was not read: {error.detail}.")
    if error.status_code == 400:
        return _error_page(request, 422, "Not valid input", f"The form could not be read: {error.detail}.")
    raise error


#: Where a page's parameter came from, in the words of the person who typed it.
_WHERE = {"query": "in the page address", "path": "in the page address", "body": "in the form"}


def _invalid_page(request: Request, error: RequestValidationError) -> HTMLResponse:
    """422 naming each bad parameter and the reason, never the value (it may be a password)."""
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ())]
        reason = str(item.get("msg", "not valid")).removeprefix("Value error, ")
        where = _WHERE.get(loc[0], "in the request") if loc else "in the request"
        name = loc[-1] if loc else "request"  # ["query", "offset"]: the parameter; ["body"]: the whole form
        problems.append({"name": name, "where": where, "reason": reason[:1].lower() + reason[1:]})
    in_form = any(p["where"] == "in the form" for p in problems)
    title = "Not valid input" if in_form else "Not a valid page address"
    message = "This page cannot take the value given:" if problems else "This request is not valid."
    return _error_page(request, 422, title, message, problems)
