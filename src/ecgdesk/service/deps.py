"""Typed dependencies of the routes: the store, the current user, the permission check and CSRF.

``CurrentUser`` authenticates by the session cookie (and, on a state-changing request, its CSRF token in
``X-CSRF-Token``; a refusal for it is audited, ``auth:csrf-refused``) or by an API token in
``Authorization: Bearer ...`` (no CSRF: a bearer token is never sent by a browser on its own).
``Allowed(Action.X)`` adds the role check against the one permission table.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request

from ecgdesk.service.errors import ServiceError
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.store import Store
from ecgdesk.workflow.permissions import Action, Principal, authorize, refuse_until_changed
from ecgdesk.workflow.sessions import record_csrf_refusal, resolve_session, resolve_token

COOKIE = "ecgdesk_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: What a session whose password must be changed first may still ask: who am I, log out, change it.
OPEN_WHILE_CHANGING = frozenset(
    {("GET", "/api/v1/session"), ("DELETE", "/api/v1/session"), ("PUT", "/api/v1/session/password")}
)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]


BACKGROUND_HEADER = "X-ECGDesk-Background"


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_user(request: Request, store: StoreDep, settings: SettingsDep) -> Principal:
    token = bearer(request)
    if token is not None:
        return resolve_token(store, token, settings.policy)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        from ecgdesk.errors import AuthenticationError

        raise AuthenticationError("no session: log in with POST /api/v1/session")
    # A page's own timer (the monitoring queue's refresh) reads without counting as the user's activity,
    # so a screen left open still logs off after the idle time.
    background = request.method in SAFE_METHODS and request.headers.get(BACKGROUND_HEADER) == "1"
    principal = resolve_session(store, cookie, settings.policy, touch=not background)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode(), (principal.csrf_token or "").encode()):
            record_csrf_refusal(store, principal, request.method, request.url.path, bool(sent))
            raise ServiceError(
                403, CSRF_HEADER, "missing or wrong CSRF token on a state-changing request", "csrf"
            )
    if principal.must_change_password and (request.method, request.url.path) not in OPEN_WHILE_CHANGING:
        # here, not only in authorize: some routes check no action (the session's own reads)
        refuse_until_changed(store, principal, f"{request.method} {request.url.path}")
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def allowed(action: Action) -> Any:
    """A dependency: the current user, if their role may do ``action`` (else 403, audited)."""

    def check(store: StoreDep, principal: CurrentUser) -> Principal:
        authorize(store, principal, action)
        return principal

    check.__name__ = f"allowed_{action.name.lower()}"
    check.action = action  # type: ignore[attr-defined]  # read by refuse_unparsed_caller
    return Depends(check)


def checked_by_workflow(action: Action) -> Any:
    """Mark a route whose role check lies in the workflow function it calls (shared with the CLI, which
    audits the refusal with the entity), so that a body that does not parse is refused for the role
    first all the same (``refuse_unparsed_caller``)."""

    def mark(endpoint: Any) -> Any:
        endpoint.checks = action
        return endpoint

    return mark


def _route_actions(dependant: Any) -> list[Action]:
    found: list[Action] = []
    for sub in getattr(dependant, "dependencies", ()):
        action = getattr(sub.call, "action", None)
        if isinstance(action, Action):
            found.append(action)
        found.extend(_route_actions(sub))
    return found


def refuse_unparsed_caller(request: Request) -> None:
    """Raise the refusal the route's own checks would give, for a request whose body could not be read.

    FastAPI reads a JSON body before it runs a route's dependencies, so a body that is not JSON was
    answered 422 before the caller was identified: an anonymous caller learnt how a route reads its
    body, and a role that may not use the route got no audited 403. This runs the same checks, in the
    same order (identity, CSRF, role), and returns only if they all pass.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    names = {getattr(sub.call, "__name__", "") for sub in dependant.dependencies}
    actions = _route_actions(dependant)
    marked = getattr(getattr(route, "endpoint", None), "checks", None)
    if isinstance(marked, Action):
        actions.append(marked)
    if not actions and "current_user" not in names:
        return  # an open route (the sign-in itself): nothing to check first
    store = get_store(request)
    principal = current_user(request, store, get_settings(request))
    for action in actions:
        authorize(store, principal, action)
