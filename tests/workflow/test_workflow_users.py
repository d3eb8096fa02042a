"""Users: argon2 (and legacy scrypt) hashes, authentication, and adding users once an administrator exists."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from workflow_builders import PHYSICIAN_NPI, PIN

from ecgdesk.errors import AuthenticationError, InputError, PermissionDeniedError
from ecgdesk.store import Store
from ecgdesk.store.enums import Role
from ecgdesk.store.models import User
from ecgdesk.workflow.users import add_user, authenticate, check_secret, hash_scrypt, hash_secret


def test_hash_is_salted_and_checks() -> None:
    first, second = hash_secret("2468"), hash_secret("2468")
    assert first != second and first.startswith("$argon2id$")
    assert check_secret("2468", first) and check_secret("2468", second)
    assert not check_secret("2469", first) and not check_secret("2468", "md5$abc")
    legacy = hash_scrypt("2468")
    assert check_secret("2468", legacy) and not check_secret("2469", legacy)
    assert not check_secret("2468", "$argon2id$garbage")


def test_password_is_never_stored(store: Store) -> None:
    add_user(store, "dr.a", "physician", PIN, "Ana A, MD", npi=PHYSICIAN_NPI)
    with store.transaction() as session:
        row = session.scalar(select(User).where(User.username == "dr.a"))
        assert row is not None and PIN not in row.password_hash
    assert authenticate(store, "dr.a", PIN, Role.PHYSICIAN).display_name == "Ana A, MD"
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        authenticate(store, "nobody", PIN)


def test_once_an_admin_exists_adding_users_needs_their_password(store: Store) -> None:
    add_user(store, "boss", "admin", "9753", actor="setup")  # setting up: no administrator yet
    with pytest.raises(InputError) as info:
        add_user(store, "dr.x", "physician", "1111", npi=PHYSICIAN_NPI, actor="dr.x")
    assert info.value.field == "admin"
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        add_user(store, "dr.x", "physician", "1111", npi=PHYSICIAN_NPI, actor="boss", admin_password="0000")
    add_user(store, "tech", "technician", "1111", actor="boss", admin_password="9753")
    with pytest.raises(PermissionDeniedError, match="is a technician"):
        add_user(store, "dr.x", "physician", "1111", npi=PHYSICIAN_NPI, actor="tech", admin_password="1111")
    assert (
        add_user(
            store, "dr.x", "physician", "1111", npi=PHYSICIAN_NPI, actor="boss", admin_password="9753"
        ).role
        is Role.PHYSICIAN
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"username": "bad name", "role": "admin", "password": "1234"}, "username"),
        ({"username": "a", "role": "janitor", "password": "1234"}, "role"),
        ({"username": "a", "role": "admin", "password": "12"}, "password"),
        ({"username": "a", "role": "physician", "password": "1234"}, "npi"),
        ({"username": "a", "role": "physician", "password": "1234", "npi": "123"}, "npi"),
    ],
)
def test_bad_user_is_refused(store: Store, kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(InputError) as info:
        add_user(store, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
