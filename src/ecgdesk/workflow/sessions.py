"""Server-side login sessions and revocable API tokens.

A login creates a new session row (a new random identifier each time, so a planted identifier is never
promoted: no session fixation) with its own CSRF token. The session ends at logout, after ``idle_s`` without
a request, at its absolute lifetime, or when the user is disabled or their password reset; each end is
audited. The cookie value and API tokens are 256-bit random strings of which only the SHA-256 is stored.

An API token belongs to a user and carries that user's role at creation; it is refused once revoked, once
the user is disabled, or if the user's role has changed since.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ecgdesk.errors import AuthenticationError, InputError, NotFoundError, PermissionDeniedError
from ecgdesk.store import Store, append
from ecgdesk.store.enums import Role
from ecgdesk.store.models import User
from ecgdesk.store.service_models import ApiToken, LoginSession
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.login_limit import forget_attempt, take_attempt
from ecgdesk.workflow.paging import Rows, paged
from ecgdesk.workflow.password_policy import check_password
from ecgdesk.workflow.permissions import Action, Principal, authorize
from ecgdesk.workflow.policy import SecurityPolicy
from ecgdesk.workflow.users import UserInfo, authenticate, aware, hash_secret

TOKEN_PREFIX = "ecgd_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    principal: Principal
    expires_at: datetime


def login(
    store: Store,
    username: str,
    password: str,
    client: str = "",
    policy: SecurityPolicy | None = None,
    address: str = "",
) -> NewSession:
    """Check the password (lockout and refusals audited) and open a new session. ``address``: the client's
    address, held to the per-address limit of refused logins (``workflow.login_limit``) first."""
    policy = policy or SecurityPolicy.from_env()
    attempt = take_attempt(store, address, username, policy)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    opened: list[NewSession] = []

    def open_row(session: Session, info: UserInfo) -> None:
        # In the transaction that accepted the password: a session opened afterwards would outlive a
        # password reset committed in between (the reset ends the sessions that exist when it commits).
        opened.append(_open(session, info, token, csrf, client, policy))

    authenticate(store, username, password, policy=policy, accepted=open_row)
    forget_attempt(store, attempt)  # refused: the attempt stays, a failure of its address
    return opened[0]


def _open(
    session: Session, info: UserInfo, token: str, csrf: str, client: str, policy: SecurityPolicy
) -> NewSession:
    """The session row of an accepted login (audited as ``auth:login``)."""
    moment = now()
    row = LoginSession(
        token_sha256=digest(token),
        csrf_token=csrf,
        user_id=info.id,
        created_at=moment,
        last_seen_at=moment,
        # the administrator's lifetime as it is now (the policy passed in may be the start-up one)
        expires_at=moment + timedelta(seconds=policy.current(session).absolute_s),
        client=client[:200],
    )
    session.add(row)
    session.flush()
    append(
        session,
        info.username,
        "auth:login",
        "user",
        info.id,
        None,
        {"session": row.id, "client": client[:200]},
    )
    principal = Principal(
        info.id, info.username, info.role, info.display_name, "session", row.id, None, csrf,
        info.must_change_password,
    )
    return NewSession(token, csrf, principal, row.expires_at)


def _end(session: Session, row: LoginSession, actor: str, reason: str) -> None:
    row.ended_at, row.end_reason = now(), reason
    append(session, actor, "auth:logoff", "user", row.user_id, None, {"session": row.id, "reason": reason})


def _ends_at(row: LoginSession, policy: SecurityPolicy) -> datetime:
    """When ``row`` ends whatever its activity: its lifetime as set at login, or sooner where the
    administrator has shortened the lifetime since (a longer one applies from the next login)."""
    return min(aware(row.expires_at), aware(row.created_at) + timedelta(seconds=policy.absolute_s))


def resolve_session(
    store: Store, token: str, policy: SecurityPolicy | None = None, touch: bool = True
) -> Principal:
    """The user of a live session; an idle, expired or unknown one is refused (and ended, audited).
    ``touch=False``: a background read that does not count as activity (the idle clock keeps running)."""
    policy = policy or SecurityPolicy.from_env()
    refusal: str | None = None
    with store.transaction() as session:
        row = session.scalar(select(LoginSession).where(LoginSession.token_sha256 == digest(token)))
        if row is None or row.ended_at is not None:
            refusal = (
                "no valid session: log in"
                if row is None
                else f"session ended ({row.end_reason}): log in again"
            )
            principal = None
        else:
            user = session.get(User, row.user_id)
            assert user is not None
            moment = now()
            if user.disabled:
                _end(session, row, user.username, "disabled")
                refusal = "account disabled"
            elif moment >= _ends_at(row, live := policy.current(session)):
                _end(session, row, user.username, "lifetime")
                refusal = "session reached its maximum lifetime: log in again"
            elif (moment - aware(row.last_seen_at)).total_seconds() >= live.idle_for(user.role):
                # the administrator's idle limit as it is now (a change applies from the next request)
                _end(session, row, user.username, "idle")
                refusal = "logged off after inactivity: log in again"
            elif touch and (moment - aware(row.last_seen_at)).total_seconds() >= policy.touch_s:
                row.last_seen_at = moment
            principal = Principal(
                user.id,
                user.username,
                Role(user.role),
                user.display_name,
                "session",
                row.id,
                None,
                row.csrf_token,
                bool(user.must_change_password),
            )
    if refusal is not None or principal is None:
        raise AuthenticationError(refusal or "no valid session: log in")
    return principal


def record_csrf_refusal(store: Store, who: Principal, method: str, path: str, token_sent: bool) -> None:
    """Audit a state-changing request of ``who``'s session refused for a missing or wrong CSRF token (a
    cross-site request forged in their browser, or a broken client): the method and path, never the
    token sent."""
    with store.transaction() as session:
        refused = {"method": method[:10], "path": path[:200], "token": "wrong" if token_sent else "missing"}
        append(session, who.username, "auth:csrf-refused", "session", who.session_id, None, refused)


def logout(store: Store, token: str) -> None:
    """End the session (audited); an unknown or ended session is refused like any other request."""
    with store.transaction() as session:
        row = session.scalar(select(LoginSession).where(LoginSession.token_sha256 == digest(token)))
        user = session.get(User, row.user_id) if row is not None and row.ended_at is None else None
        if row is not None and user is not None:
            _end(session, row, user.username, "logout")
    if user is None:
        raise AuthenticationError("no valid session: log in")


def end_user_sessions(session: Session, user_id: int, reason: str) -> None:
    """End every open session of a user (password reset), in the caller's transaction."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now(), end_reason=reason[:20])
    )


@dataclass(frozen=True)
class PasswordChanged:
    """What a user's own password change ended, by id, and the session that replaces theirs."""

    sessions_ended: tuple[int, ...]
    tokens_revoked: tuple[int, ...]
    session: NewSession | None


def change_password(
    store: Store,
    by: Principal,
    current: str,
    new: str,
    client: str = "",
    policy: SecurityPolicy | None = None,
) -> PasswordChanged:
    """A user sets their own password, proving the current one (a wrong one counts towards the lockout
    exactly as at login; the refusal is audited and raised as :class:`AuthenticationError`).

    Whoever may have known the old password must not keep what it gave them, so in the transaction that
    accepts it: every open session of the user ends (``password changed``), each API token acting as the
    user is revoked (a token is a credential of the same person with their role; the administrator makes a
    new one for a device), and a session changing it (``by.via == "session"``) is renewed: it ends too
    (``renewed``) and a new one, with a new identifier and CSRF token, is opened and returned, so no
    identifier seen before the change stays valid. The audit row ``user:password-change`` names the
    sessions and tokens ended.
    """
    policy = policy or SecurityPolicy.from_env()
    authorize(store, by, Action.PASSWORD_CHANGE, "user", by.user_id)
    if by.via == "token":  # a device acting for the user never holds the user's password
        raise PermissionDeniedError(
            by.username,
            by.role.value,
            Action.PASSWORD_CHANGE.value,
            [],
            "an API token cannot change its user's password: the user logs in and changes it",
        )
    check_password(new, "new_password", by.username)
    if new == current:
        raise InputError("new_password", "must differ from the current password")
    hashed = hash_secret(new)  # before the transaction: argon2 is slow by design
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    done: list[PasswordChanged] = []

    def apply(session: Session, info: UserInfo) -> None:
        # In authenticate's transaction, the user's row locked: a reset or a login at the same moment
        # comes wholly before or after this change.
        user = session.get(User, info.id)
        if user is None or user.id != by.user_id:  # the name is another account's now: change nothing
            raise AuthenticationError("no valid session: log in")
        user.password_hash = hashed
        required, user.must_change_password = bool(user.must_change_password), False
        moment = now()
        open_rows = session.scalars(
            select(LoginSession).where(LoginSession.user_id == info.id, LoginSession.ended_at.is_(None))
        ).all()
        for row in open_rows:
            row.ended_at = moment
            row.end_reason = "renewed" if row.id == by.session_id else "password changed"
        tokens = session.scalars(
            select(ApiToken).where(ApiToken.user_id == info.id, ApiToken.revoked_at.is_(None))
        ).all()
        for live in tokens:
            live.revoked_at = moment
        ended = tuple(sorted(r.id for r in open_rows))
        revoked = tuple(sorted(t.id for t in tokens))
        append(
            session,
            info.username,
            "user:password-change",
            "user",
            info.id,
            None,
            {"sessions_ended": list(ended), "tokens_revoked": list(revoked), "via": by.via,
             "was_required": required},
        )
        changed = replace(info, must_change_password=False)
        renewed = _open(session, changed, token, csrf, client, policy) if by.via == "session" else None
        done.append(PasswordChanged(ended, revoked, renewed))

    authenticate(store, by.username, current, policy=policy, accepted=apply)
    return done[0]


# ------------------------------------------------------------------------------------------- API tokens
@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    username: str
    role: Role
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _token_info(row: ApiToken, username: str) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.name,
        username,
        Role(row.role),
        row.created_by,
        row.created_at,
        row.last_used_at,
        row.revoked_at,
    )


def create_token(store: Store, by: Principal, username: str, name: str) -> tuple[TokenInfo, str]:
    """A new API token acting as ``username`` with their role; the secret is shown only here, once."""
    authorize(store, by, Action.USER_MANAGE, "user", username)
    if not name.strip() or len(name) > 100:
        raise InputError("name", "a token needs a name of 1 to 100 characters (the device or integration)")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError("username", f"no user {username!r}")
        row = ApiToken(
            token_sha256=digest(secret),
            name=name.strip(),
            user_id=user.id,
            role=user.role,
            created_by=by.actor,
            created_at=now(),
        )
        session.add(row)
        session.flush()
        append(
            session,
            by.actor,
            "token:create",
            "user",
            user.id,
            None,
            {"token": row.id, "name": row.name, "role": row.role},
        )
        return _token_info(row, user.username), secret


def revoke_token(store: Store, by: Principal, token_id: int) -> TokenInfo:
    authorize(store, by, Action.USER_MANAGE, "token", token_id)
    with store.transaction() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFoundError("token", f"no API token with id {token_id}")
        user = session.get(User, row.user_id)
        assert user is not None
        if row.revoked_at is None:
            row.revoked_at = now()
            append(
                session,
                by.actor,
                "token:revoke",
                "user",
                row.user_id,
                None,
                {"token": row.id, "name": row.name},
            )
        return _token_info(row, user.username)


def list_tokens(
    store: Store, by: Principal, *, offset: int = 0, limit: int | None = None
) -> Rows[TokenInfo]:
    """The API tokens in the order they were made; one page of them with ``limit``."""
    authorize(store, by, Action.USER_MANAGE)
    with store.transaction() as session:
        query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
        query, total = paged(session, query, offset, limit)
        return Rows([_token_info(row, name) for row, name in session.execute(query)], total)


def resolve_token(store: Store, secret: str, policy: SecurityPolicy | None = None) -> Principal:
    """The principal an API token acts as; a revoked, unknown or stale token is refused (audited)."""
    policy = policy or SecurityPolicy.from_env()
    refusal: str | None = None
    with store.transaction() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest(secret)))
        user = session.get(User, row.user_id) if row is not None else None
        if row is None or user is None:
            refusal = "unknown API token"
        elif row.revoked_at is not None:
            refusal = "API token revoked"
        elif user.disabled:
            refusal = "account disabled"
        elif user.role != row.role:
            refusal = "the user's role changed since the token was made"
        if refusal is not None:
            append(
                session,
                user.username if user else "?",
                "auth:refused",
                "token",
                row.id if row else "?",
                None,
                {"reason": refusal},
            )
        else:
            assert row is not None and user is not None
            moment = now()
            if (
                row.last_used_at is None
                or (moment - aware(row.last_used_at)).total_seconds() >= policy.touch_s
            ):
                row.last_used_at = moment
            return Principal(user.id, user.username, Role(row.role), user.display_name, "token", None, row.id)
    raise AuthenticationError(refusal)
