"""Accounts and API tokens (administrators): add, list, disable, enable, reset a password; tokens; the
application settings (the escalation minutes, the sign-in settings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from ecgdesk.service.deps import CurrentUser, SettingsDep, StoreDep, checked_by_workflow
from ecgdesk.service.errors import ERRORS
from ecgdesk.service.paging import PAGED, Limit, Offset, page_headers
from ecgdesk.workflow.app_settings import change_setting, list_settings
from ecgdesk.workflow.permissions import Action
from ecgdesk.workflow.schemas import (
    PasswordIn,
    SettingIn,
    SettingOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
)
from ecgdesk.workflow.sessions import TokenInfo, create_token, list_tokens, revoke_token
from ecgdesk.workflow.users import (
    UserInfo,
    add_user,
    administrator_exists,
    list_users,
    reset_password,
    set_disabled,
)

router = APIRouter(prefix="/api/v1", tags=["accounts"], responses=ERRORS)
Username = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
SettingName = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$")]


def _user(info: UserInfo) -> UserOut:
    return UserOut(
        id=info.id,
        username=info.username,
        display_name=info.display_name,
        role=info.role,
        npi=info.npi,
        credentials=info.credentials,
        disabled=info.disabled,
        must_change_password=info.must_change_password,
    )


def _token(info: TokenInfo) -> TokenOut:
    return TokenOut(**info.__dict__)


@router.get("/users", responses=PAGED)
def users(
    request: Request,
    response: Response,
    store: StoreDep,
    who: CurrentUser,
    offset: Offset = 0,
    limit: Limit = 100,
) -> list[UserOut]:
    """A page of the accounts, in the order they were added."""
    rows = list_users(store, who, offset=offset, limit=limit)
    page_headers(request, response, rows, offset)
    return [_user(u) for u in rows]


@router.post("/users", status_code=201)
@checked_by_workflow(Action.USER_MANAGE)
def add(body: UserCreate, store: StoreDep, who: CurrentUser) -> UserOut:
    info = add_user(
        store,
        body.username,
        body.role.value,
        body.password,
        body.display_name,
        body.npi,
        body.credentials,
        by=who,
        must_change=administrator_exists(store),  # an administrator made it (not the first, setting up)
    )
    return _user(info)


@router.post("/users/{username}/disable")
def disable(username: Username, store: StoreDep, who: CurrentUser) -> UserOut:
    """Disable an account: its sessions and tokens stop working at once."""
    return _user(set_disabled(store, who, username, True))


@router.post("/users/{username}/enable")
def enable(username: Username, store: StoreDep, who: CurrentUser) -> UserOut:
    return _user(set_disabled(store, who, username, False))


@router.put("/users/{username}/password")
@checked_by_workflow(Action.USER_MANAGE)
def reset(username: Username, body: PasswordIn, store: StoreDep, who: CurrentUser) -> UserOut:
    """Set a new password (lifts a lockout, ends the user's sessions); the user must change it at the next
    login. One's own password is changed with PUT /api/v1/session/password instead."""
    return _user(reset_password(store, who, username, body.password))


@router.get("/tokens", responses=PAGED)
def tokens(
    request: Request,
    response: Response,
    store: StoreDep,
    who: CurrentUser,
    offset: Offset = 0,
    limit: Limit = 100,
) -> list[TokenOut]:
    """A page of the API tokens, in the order they were made."""
    rows = list_tokens(store, who, offset=offset, limit=limit)
    page_headers(request, response, rows, offset)
    return [_token(t) for t in rows]


@router.post("/tokens", status_code=201)
@checked_by_workflow(Action.USER_MANAGE)
def new_token(body: TokenCreate, store: StoreDep, who: CurrentUser) -> TokenCreated:
    """A token acting as a user with their role; the secret is in this answer only."""
    info, secret = create_token(store, who, body.username, body.name)
    return TokenCreated(**info.__dict__, token=secret)


@router.delete("/tokens/{token_id}")
def revoke(token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], store: StoreDep, who: CurrentUser) -> TokenOut:
    return _token(revoke_token(store, who, token_id))


@router.get("/settings")
def settings(store: StoreDep, who: CurrentUser, service: SettingsDep) -> list[SettingOut]:
    """The application settings, their defaults and who last changed them (administrators); a sign-in
    setting the service's environment fixes names that variable (``fixed_by``)."""
    return [SettingOut(**vars(v)) for v in list_settings(store, who, service.policy)]


@router.put("/settings/{name}")
@checked_by_workflow(Action.SETTINGS_MANAGE)
def change(
    name: SettingName, body: SettingIn, store: StoreDep, who: CurrentUser, service: SettingsDep
) -> SettingOut:
    """Change one setting (audited as ``settings:change`` with the value before); one the service's
    environment fixes is refused (409)."""
    return SettingOut(**vars(change_setting(store, who, name, body.value, service.policy)))
