"""Users with roles and a salted scrypt hash of their password or PIN (standard library only)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from ecgdesk.errors import InputError, check_option
from ecgdesk.store import Store, append
from ecgdesk.store.enums import Role
from ecgdesk.store.models import User
from ecgdesk.workflow.lifecycle import now

# scrypt cost: n=2**14, r=8, p=1 (16 MiB, ~50 ms): the OWASP minimum for interactive logins.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
MIN_SECRET = 4


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex) for ``secret``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
    except ValueError:
        return False
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
    return hmac.compare_digest(digest.hex(), expected)


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: Role
    npi: str | None
    credentials: str | None


def _info(user: User) -> UserInfo:
    return UserInfo(user.id, user.username, user.display_name, Role(user.role), user.npi, user.credentials)


def check_npi(value: str, field: str) -> str:
    """A 10-digit NPI whose last digit is its Luhn check digit (with the 80840 prefix)."""
    text = value.strip()
    if len(text) != 10 or not text.isdigit():
        raise InputError(field, f"an NPI is 10 digits, got {value!r}")
    digits = [int(c) for c in "80840" + text[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    if (10 - total % 10) % 10 != int(text[9]):
        raise InputError(field, f"{value!r} fails the NPI check digit")
    return text


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
) -> UserInfo:
    """Create a user; the password/PIN is kept only as a salted scrypt hash.

    Until an administrator exists anyone may add users (setting up); after that, ``actor`` must be an
    administrator and ``admin_password`` their password, so nobody can make themselves a physician.
    """
    role_value = Role(check_option("role", role, [r.value for r in Role]))
    if not username or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise InputError("username", f"use letters, digits, '.', '-' or '_', got {username!r}")
    if len(password) < MIN_SECRET:
        raise InputError("password", f"must be at least {MIN_SECRET} characters")
    if npi is not None:
        npi = check_npi(npi, "npi")
    if role_value is Role.PHYSICIAN and npi is None:
        raise InputError("npi", "a physician needs an NPI (the claim names the interpreting provider)")
    with store.transaction() as session:
        has_admin = session.scalar(select(User.id).where(User.role == Role.ADMIN.value).limit(1)) is not None
    if has_admin:
        if admin_password is None:
            raise InputError(
                "admin", "an administrator exists: adding a user needs an administrator's name and password"
            )
        authenticate(store, actor, admin_password, Role.ADMIN)
    with store.transaction() as session:
        if session.scalar(select(User).where(User.username == username)) is not None:
            raise InputError("username", f"user {username!r} already exists")
        user = User(
            username=username,
            display_name=display_name or username,
            role=role_value.value,
            npi=npi,
            credentials=credentials,
            password_hash=hash_secret(password),
            created_at=now(),
        )
        session.add(user)
        session.flush()
        append(
            session,
            actor,
            "user:add",
            "user",
            user.id,
            None,
            {"username": username, "role": role_value.value, "npi": npi},
        )
        return _info(user)


def authenticate(store: Store, username: str, password: str, role: Role | None = None) -> UserInfo:
    """The user if ``password`` is theirs (and they have ``role``), else :class:`InputError`."""
    with store.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        info = _info(user) if user is not None and check_secret(password, user.password_hash) else None
        if info is None:  # logged in its own transaction, which commits before the refusal is raised
            append(
                session,
                username,
                "auth:refused",
                "user",
                user.id if user else username,
                None,
                {"reason": "unknown user or wrong password"},
            )
    if info is None:
        raise InputError("password", f"wrong password or PIN for user {username!r}, or no such user")
    if role is not None and info.role is not role:
        raise InputError("user", f"{username!r} is a {info.role.value}; this needs a {role.value}")
    return info
