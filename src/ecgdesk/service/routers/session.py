"""``/api/v1/session``: log in (a new server-side session and its CSRF token), who am I, log out."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request, Response

from ecgdesk.errors import AuthenticationError
from ecgdesk.service.deps import COOKIE, CurrentUser, SettingsDep, StoreDep
from ecgdesk.service.errors import ERRORS
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.store import Store
from ecgdesk.workflow.schemas import LoginIn, SessionOut
from ecgdesk.workflow.sessions import NewSession, login, logout

router = APIRouter(prefix="/api/v1/session", tags=["session"], responses=ERRORS)


def _secure(request: Request, mode: str) -> bool:
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def open_session(
    request: Request,
    response: Response,
    store: Store,
    settings: ServiceSettings,
    username: str,
    password: str,
) -> NewSession:
    """Log in (the API's and the login form's way) and set the new session's cookie on ``response``."""
    old = request.cookies.get(COOKIE)
    client = f"{request.client.host if request.client else '?'} {request.headers.get('user-agent', '')}"
    new = login(store, username, password, client, settings.policy)
    if old:  # a cookie the browser still had is never reused: it ends with this login
        with contextlib.suppress(AuthenticationError):  # unknown or already ended: nothing to end
            logout(store, old)
    response.set_cookie(
        COOKIE,
        new.token,
        max_age=int(settings.policy.absolute_s),
        httponly=True,
        samesite="strict",
        secure=_secure(request, settings.cookie_secure),
        path="/",
    )
    return new


@router.post("")
def log_in(
    body: LoginIn, request: Request, response: Response, store: StoreDep, settings: SettingsDep
) -> SessionOut:
    """Check the password (lockout after repeated failures) and open a new session: the cookie is
    HttpOnly, SameSite=Strict, Secure behind TLS; send ``csrf_token`` as ``X-CSRF-Token`` on every
    state-changing request."""
    new = open_session(request, response, store, settings, body.username, body.password)
    p = new.principal
    return SessionOut(
        username=p.username, display_name=p.display_name, role=p.role, csrf_token=new.csrf_token, via=p.via
    )


@router.get("")
def who_am_i(who: CurrentUser) -> SessionOut:
    """The current user, and the session's CSRF token (for a page that reloaded)."""
    return SessionOut(
        username=who.username,
        display_name=who.display_name,
        role=who.role,
        csrf_token=who.csrf_token,
        via=who.via,
    )


@router.delete("", status_code=204)
def log_out(request: Request, response: Response, store: StoreDep, who: CurrentUser) -> Response:
    """End the session (audited) and clear the cookie."""
    token = request.cookies.get(COOKIE)
    if token and who.via == "session":
        logout(store, token)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
