"""Users with roles: argon2 password hashes, authentication with lockout, and account administration.

Passwords (or PINs) are kept only as argon2id hashes (argon2-cffi). Hashes made by earlier releases with
scrypt still verify and are replaced by an argon2 hash at the user's next successful login, as are argon2
hashes made with weaker parameters than today's. Every refusal (unknown user, wrong password, disabled or
locked account) is written to the audit log before it is raised.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecgdesk.errors import (
    AuthenticationError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    a_role,
    check_option,
    is_digits,
)
from ecgdesk.store import Store, append
from ecgdesk.store.enums import Role
from ecgdesk.store.models import User
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.paging import Rows, paged
from ecgdesk.workflow.password_policy import check_password, password_problem
from ecgdesk.workflow.permissions import Action, Principal, authorize
from ecgdesk.workflow.policy import SecurityPolicy

#: argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4).
HASHER = PasswordHasher()
# Legacy scrypt cost (hashes written before argon2): n=2**14, r=8, p=1.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
WRONG = "wrong user name or password"


def hash_secret(secret: str) -> str:
    """An argon2id hash (PHC string, salt and parameters included) of ``secret``."""
    return HASHER.hash(secret)


def hash_scrypt(secret: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex): the format of earlier releases, still accepted when checking."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def _check_scrypt(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            secret.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


def check_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` matches the stored argon2 (or legacy scrypt) hash, in constant time."""
    if stored.startswith("$argon2"):
        try:
            return HASHER.verify(stored, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return _check_scrypt(secret, stored)


def needs_rehash(stored: str) -> bool:
    """Whether a verified hash should be replaced: not argon2, or argon2 with other parameters."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: Role
    npi: str | None
    credentials: str | None
    disabled: bool = False
    must_change_password: bool = False

    def principal(self, via: str) -> Principal:
        return Principal(
            self.id, self.username, self.role, self.display_name, via,
            must_change_password=self.must_change_password,
        )


def _info(user: User) -> UserInfo:
    return UserInfo(
        user.id,
        user.username,
        user.display_name,
        Role(user.role),
        user.npi,
        user.credentials,
        bool(user.disabled),
        bool(user.must_change_password),
    )


def aware(moment: datetime) -> datetime:
    """``moment`` as UTC-aware (SQLite hands stored times back without their zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def check_npi(value: str, field: str) -> str:
    """A 10-digit NPI whose last digit is its Luhn check digit (with the 80840 prefix)."""
    text = value.strip()
    if len(text) != 10 or not is_digits(text):
        raise InputError(field, f"an NPI is 10 digits, got {value!r}")
    digits = [int(c) for c in "80840" + text[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    if (10 - total % 10) % 10 != int(text[9]):
        raise InputError(field, f"{value!r} fails the NPI check digit")
    return text


def folded(username: str) -> str:
    """The form two user names are compared in: NFKC, then case-folded ("Boss", "ｂｏｓｓ" and "boſs" are
    all "boss")."""
    return unicodedata.normalize("NFKC", username).casefold()


def _check_unique(session: Session, username: str, npi: str | None) -> None:
    """Refuse a name that reads as another user's (the audit log and the signature name users by it), and
    an NPI an active user already has (the claim, the ordering-physician check and the clinician set-up
    find a user by NPI: two would make that lookup pick one of them)."""
    mine = folded(username)
    for other in session.scalars(select(User.username)):
        if other == username:
            raise InputError("username", f"user {username!r} already exists")
        if folded(other) == mine:
            raise InputError(
                "username", f"{username!r} differs from the existing user {other!r} only in case or form"
            )
    if npi is not None:
        _check_npi_free(session, npi, username)


def _check_npi_free(session: Session, npi: str, username: str) -> None:
    holder = session.scalar(
        select(User.username).where(User.npi == npi, User.disabled.is_(False), User.username != username)
    )
    if holder is not None:
        raise InputError(
            "npi", f"NPI {npi} belongs to the active user {holder!r}: one NPI is one clinician's account"
        )


def _keep_an_administrator(session: Session, user: User, change: str) -> None:
    """Refuse to disable or demote ``user`` when no other active administrator would be left.

    The active administrators' rows are locked first: two administrators disabling each other at the same
    moment (or one acting on a principal authenticated before the other disabled them) are put one after
    the other, and the second finds only itself left. Nobody could then manage users again, and with a
    (disabled) administrator on file the setting-up path stays closed."""
    others = session.scalars(
        select(User.username)
        .where(User.role == Role.ADMIN.value, User.disabled.is_(False), User.id != user.id)
        .with_for_update()
    ).all()
    if not others:
        raise InputError("username", f"{user.username!r} is the last active administrator: cannot {change}")


def add_user(
    store: Store,
    username: str,
    role: str,
    password: str,
    display_name: str | None = None,
    npi: str | None = None,
    credentials: str | None = None,
    actor: str = "admin",
    admin_password: str | None = None,
    by: Principal | None = None,
    policy: SecurityPolicy | None = None,
    must_change: bool = False,
) -> UserInfo:
    """Create a user; the password/PIN is kept only as an argon2 hash.

    Until an administrator exists anyone may add users (setting up); after that only an administrator:
    ``by`` (already authenticated), or ``actor`` with ``admin_password`` (a wrong one counts towards
    ``policy``'s lockout, the caller's settings). ``must_change``: the user changes the password at the
    next login (the faces set it when an administrator makes the account; seeding and tests need not).
    """
    role_value = Role(check_option("role", role, [r.value for r in Role]))
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "").replace("-", "").replace(".", "").isalnum()
    ):
        raise InputError("username", f"use up to 64 letters, digits, '.', '-' or '_', got {username!r}")
    if unicodedata.normalize("NFKC", username) != username:
        raise InputError(
            "username", f"{username!r} is not in Unicode NFKC form: write it as "
            f"{unicodedata.normalize('NFKC', username)!r}"
        )
    check_password(password, username=username)
    if npi is not None:
        npi = check_npi(npi, "npi")
    if role_value is Role.PHYSICIAN and npi is None:
        raise InputError("npi", "a physician needs an NPI (the claim names the interpreting provider)")
    if display_name is not None and len(display_name) > 200:
        raise InputError("display_name", "must be at most 200 characters")
    if administrator_exists(store):
        if by is None:
            if admin_password is None:
                raise InputError(
                    "admin",
                    "an administrator exists: adding a user needs an administrator's name and password",
                )
            by = authenticate(store, actor, admin_password, policy=policy).principal("cli")
        authorize(store, by, Action.USER_MANAGE, "user", username)
        actor = by.actor
    hashed = hash_secret(password)  # before the transaction: it holds SQLite's write lock
    with store.transaction() as session:
        _check_unique(session, username, npi)
        user = User(
            username=username,
            display_name=display_name or username,
            role=role_value.value,
            npi=npi,
            credentials=credentials,
            password_hash=hashed,
            created_at=now(),
            disabled=False,
            failed_logins=0,
            must_change_password=must_change,
            username_folded=folded(username),
        )
        session.add(user)
        try:
            session.flush()
        except IntegrityError:
            # another request added this name (or one that folds to it) since the check above read the
            # names: the unique index on the folded name (0028) is what decides, on PostgreSQL too
            raise InputError(
                "username", f"{username!r} (or a name differing only in case or form) was added just now"
            ) from None
        append(
            session,
            actor,
            "user:add",
            "user",
            user.id,
            None,
            {"username": username, "role": role_value.value, "npi": npi, "must_change_password": must_change},
        )
        return _info(user)


def administrator_exists(store: Store) -> bool:
    with store.transaction() as session:
        return session.scalar(select(User.id).where(User.role == Role.ADMIN.value).limit(1)) is not None


def authenticate(
    store: Store,
    username: str,
    password: str,
    role: Role | None = None,
    policy: SecurityPolicy | None = None,
    accepted: Callable[[Session, UserInfo], None] | None = None,
) -> UserInfo:
    """The user if ``password`` is theirs, else :class:`AuthenticationError` (the refusal audited).

    ``policy.lockout_attempts`` wrong passwords in a row lock the account for ``policy.lockout_s`` (the
    administrator's settings as they are at this login, where the environment does not pin them); a
    disabled account is refused even with the right password. With ``role``, another role is refused with
    :class:`PermissionDeniedError`. ``accepted`` runs in the transaction that accepts the password, with
    the user's row locked (a login opens its session there, so a password reset or a disabling at the
    same moment comes wholly before it, and the password is refused, or wholly after, and ends it).
    """
    policy = policy or SecurityPolicy.from_env()
    # The hash is checked outside any transaction: argon2 takes tens of milliseconds by design, and on
    # SQLite a transaction holds the database's write lock (50 logins at once would queue past the busy
    # timeout). The outcome is then recorded in a short transaction.
    with store.transaction() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == username))
    matches = check_secret(password, stored if stored is not None else _dummy_hash())  # same work if unknown
    fresh = hash_secret(password) if matches and stored is not None and needs_rehash(stored) else None
    reason: str | None = None
    with store.transaction() as session:
        user = session.scalar(select(User).where(User.username == username).with_for_update())
        policy = policy.current(session)  # the administrator's lockout settings as they are now
        moment = now()
        if user is None:
            reason = "unknown user"
        elif user.locked_until is not None and aware(user.locked_until) > moment:
            reason = "locked"
        elif not matches or user.password_hash != stored:  # (changed meanwhile: check again next time)
            reason = "wrong password"
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= policy.lockout_attempts:
                user.locked_until = moment + timedelta(seconds=policy.lockout_s)
                user.failed_logins = 0
                until = {"until": user.locked_until.isoformat()}
                append(session, username, "user:lock", "user", user.id, None, until)
        elif user.disabled:
            reason = "disabled"
        else:
            user.failed_logins, user.locked_until = 0, None
            weak = password_problem(password, username)
            if weak is not None and not user.must_change_password:
                # a password stored under an earlier, weaker rule still opens the account, once: to change it
                user.must_change_password = True
                append(session, username, "user:password-weak", "user", user.id, None, {"reason": weak})
            if fresh is not None:
                old = user.password_hash.split("$", 2)[1] if user.password_hash.startswith("$") else "scrypt"
                user.password_hash = fresh
                append(
                    session, username, "user:rehash", "user", user.id, {"scheme": old}, {"scheme": "argon2id"}
                )
        info = _info(user) if user is not None else None
        if reason is None and info is not None and accepted is not None and role in (None, info.role):
            accepted(session, info)
        if reason is not None:  # committed with this transaction, before the refusal is raised
            append(
                session,
                username[:64],
                "auth:refused",
                "user",
                user.id if user else username[:40],
                None,
                {"reason": reason},
            )
    if reason == "locked":
        raise AuthenticationError(
            f"account {username!r} is locked after repeated failed logins; try again later"
        )
    if reason == "disabled":
        raise AuthenticationError(f"account {username!r} is disabled; ask an administrator")
    if reason is not None or info is None:
        raise AuthenticationError(f"{WRONG} (user {username!r})")
    if role is not None and info.role is not role:
        raise PermissionDeniedError(username, info.role.value, f"act as {a_role(role.value)}", [role.value])
    return info


@cache
def _dummy_hash() -> str:
    """A hash to check against when the user does not exist; made on first need, not at every import
    (an argon2 hash costs a command line start as much as the rest of ``study list``)."""
    return hash_secret("not a password: only spends the time of a real check")


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError("user", f"no user {username!r}")
    return user


def list_users(
    store: Store, by: Principal, *, offset: int = 0, limit: int | None = None
) -> Rows[UserInfo]:
    """The accounts in the order they were added; one page of them with ``limit``."""
    authorize(store, by, Action.USER_MANAGE)
    with store.transaction() as session:
        query, total = paged(session, select(User).order_by(User.id), offset, limit)
        return Rows([_info(u) for u in session.scalars(query)], total)


def set_disabled(store: Store, by: Principal, username: str, disabled: bool) -> UserInfo:
    """Disable (or enable again) an account; a disabled user's sessions end, their tokens stop working."""
    from ecgdesk.workflow.sessions import end_user_sessions

    authorize(store, by, Action.USER_MANAGE, "user", username)
    if disabled and username == by.username:
        raise InputError("username", "an administrator cannot disable their own account")
    with store.transaction() as session:
        user = _user(session, username)
        if bool(user.disabled) != disabled:
            if not disabled and user.npi is not None:  # given to another account while this one was off
                _check_npi_free(session, user.npi, username)
            if disabled and user.role == Role.ADMIN.value:
                _keep_an_administrator(session, user, "disable them")
            user.disabled = disabled
            if disabled:  # ended here, not at their next request: enabling again must not revive them
                end_user_sessions(session, user.id, "disabled")
            append(
                session,
                by.actor,
                "user:disable" if disabled else "user:enable",
                "user",
                user.id,
                {"disabled": not disabled},
                {"disabled": disabled},
            )
        return _info(user)


def reset_password(store: Store, by: Principal, username: str, password: str) -> UserInfo:
    """An administrator sets a new password (and lifts a lockout); the user's open sessions end and the
    user must change the password at their next login (the administrator knows this one)."""
    from ecgdesk.workflow.sessions import end_user_sessions

    authorize(store, by, Action.USER_MANAGE, "user", username)
    if username == by.username:
        # a reset asks for no current password: a session left open would give the account away
        raise InputError(
            "username",
            "an administrator changes their own password as any user does, giving the current one "
            "(/account/password, ecgdesk user change-password); a reset is for another user's",
        )
    check_password(password, username=username)
    hashed = hash_secret(password)
    with store.transaction() as session:
        user = _user(session, username)
        user.password_hash = hashed
        user.failed_logins, user.locked_until = 0, None
        user.must_change_password = True
        append(
            session, by.actor, "user:password-reset", "user", user.id, None,
            {"by": by.username, "must_change_password": True},
        )
        end_user_sessions(session, user.id, "password reset")
        return _info(user)


def set_role(store: Store, by: Principal, username: str, role: str) -> UserInfo:
    """An administrator changes a user's role; their open sessions end (a session carries its role)."""
    from ecgdesk.workflow.sessions import end_user_sessions

    authorize(store, by, Action.USER_MANAGE, "user", username)
    new = Role(check_option("role", role, [r.value for r in Role]))
    if username == by.username and new is not Role.ADMIN:
        raise InputError("role", "an administrator cannot take the administrator role from themselves")
    with store.transaction() as session:
        user = _user(session, username)
        if new is Role.PHYSICIAN and user.npi is None:
            raise InputError("role", f"{username!r} has no NPI; a physician needs one (add the user again)")
        if user.role != new.value:
            if user.role == Role.ADMIN.value and not user.disabled:
                _keep_an_administrator(session, user, f"make them {a_role(new.value)}")
            before = {"role": user.role}
            user.role = new.value
            append(session, by.actor, "user:role", "user", user.id, before, {"role": new.value})
            end_user_sessions(session, user.id, "role changed")
        return _info(user)
