"""``/api/v1/session``: log in (a new server-side session and its CSRF token), who am I, log out."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request, Response

from ecgdesk.errors import AuthenticationError, PermissionDeniedError
from ecgdesk.service.deps import COOKIE, CurrentUser, SettingsDep, StoreDep
from ecgdesk.service.errors import ERRORS, LOGIN_LIMITED
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.store import Store
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.permissions import Action
from ecgdesk.workflow.schemas import LoginIn, PasswordChangedOut, PasswordChangeIn, SessionOut
from ecgdesk.workflow.sessions import NewSession, change_password, login, logout
from ecgdesk.workflow.users import aware

router = APIRouter(prefix="/api/v1/session", tags=["session"], responses=ERRORS)


def _secure(request: Request, mode: str) -> bool:
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def address(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted reverse proxy forwarded
    (``ServiceSettings.trusted_proxies``); an untrusted peer's X-Forwarded-For is ignored."""
    return request.client.host if request.client else ""


def _client(request: Request) -> str:
    return f"{request.client.host if request.client else '?'} {request.headers.get('user-agent', '')}"


def _set_cookie(request: Request, response: Response, settings: ServiceSettings, new: NewSession) -> None:
    response.set_cookie(
        COOKIE,
        new.token,
        # the session's own end (the administrator's lifetime at login), not the start-up default
        max_age=max(1, int((aware(new.expires_at) - now()).total_seconds())),
        httponly=True,
        samesite="strict",
        secure=_secure(request, settings.cookie_secure),
        path="/",
    )


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
    new = login(store, username, password, _client(request), settings.policy, address(request))
    if old:  # a cookie the browser still had is never reused: it ends with this login
        with contextlib.suppress(AuthenticationError):  # unknown or already ended: nothing to end
            logout(store, old)
    _set_cookie(request, response, settings, new)
    return new


@router.post("", responses=LOGIN_LIMITED)
def log_in(
    body: LoginIn, request: Request, response: Response, store: StoreDep, settings: SettingsDep
) -> SessionOut:
    """Check the password (lockout after repeated failures; refused logins from one address over its limit
    are a 429 with Retry-After) and open a new session: the cookie is
    HttpOnly, SameSite=Strict, Secure behind TLS; send ``csrf_token`` as ``X-CSRF-Token`` on every
    state-changing request."""
    new = open_session(request, response, store, settings, body.username, body.password)
    p = new.principal
    return SessionOut(
        username=p.username, display_name=p.display_name, role=p.role, csrf_token=new.csrf_token, via=p.via,
        must_change_password=p.must_change_password,
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
        must_change_password=who.must_change_password,
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


@router.put("/password")
def change_own_password(
    body: PasswordChangeIn,
    request: Request,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    who: CurrentUser,
) -> PasswordChangedOut:
    """Change your own password, giving the current one. Your other sessions end and the API tokens acting
    as you are revoked; this session is renewed (a new cookie and CSRF token, in this answer). A wrong
    current password is a 403 (the session stays) and counts towards the lockout as at login."""
    try:
        done = change_password(
            store, who, body.current_password, body.new_password, _client(request), settings.policy
        )
    except AuthenticationError as error:
        # The session is fine; the password given as the current one is not: 403, the page stays.
        reason = f"the current password is not accepted: {error.reason}"
        raise PermissionDeniedError(
            who.username, who.role.value, Action.PASSWORD_CHANGE.value, [who.role.value], reason
        ) from None
    if done.session is not None:
        _set_cookie(request, response, settings, done.session)
    return PasswordChangedOut(
        username=who.username,
        csrf_token=done.session.csrf_token if done.session is not None else None,
        sessions_ended=list(done.sessions_ended),
        tokens_revoked=list(done.tokens_revoked),
    )
