"""Users: argon2 (and legacy scrypt) hashes, authentication, and adding users once an administrator exists."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from workflow_builders import PHYSICIAN_NPI, PIN, SECOND_NPI

from ecgdesk.errors import AuthenticationError, InputError, PermissionDeniedError
from ecgdesk.store import Store
from ecgdesk.store.enums import Role
from ecgdesk.store.models import AuditEntry, User
from ecgdesk.workflow.users import (
    add_user,
    authenticate,
    check_secret,
    hash_scrypt,
    hash_secret,
    set_disabled,
    set_role,
)


def test_hash_is_salted_and_checks() -> None:
    first, second = hash_secret(PIN), hash_secret(PIN)
    assert first != second and first.startswith("$argon2id$")
    assert check_secret(PIN, first) and check_secret(PIN, second)
    assert not check_secret(PIN + "x", first) and not check_secret(PIN, "md5$abc")
    legacy = hash_scrypt(PIN)
    assert check_secret(PIN, legacy) and not check_secret(PIN + "x", legacy)
    assert not check_secret(PIN, "$argon2id$garbage")


def test_password_is_never_stored(store: Store) -> None:
    add_user(store, "dr.a", "physician", PIN, "Ana A, MD", npi=PHYSICIAN_NPI)
    with store.transaction() as session:
        row = session.scalar(select(User).where(User.username == "dr.a"))
        assert row is not None and PIN not in row.password_hash
    assert authenticate(store, "dr.a", PIN, Role.PHYSICIAN).display_name == "Ana A, MD"
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        authenticate(store, "nobody", PIN)


def test_once_an_admin_exists_adding_users_needs_their_password(store: Store) -> None:
    add_user(store, "boss", "admin", "9753-9753", actor="setup")  # setting up: no administrator yet
    with pytest.raises(InputError) as info:
        add_user(store, "dr.x", "physician", "1111-1111", npi=PHYSICIAN_NPI, actor="dr.x")
    assert info.value.field == "admin"
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        add_user(
            store, "dr.x", "physician", "1111-1111", npi=PHYSICIAN_NPI, actor="boss", admin_password="0000"
        )
    add_user(store, "tech", "technician", "1111-1111", actor="boss", admin_password="9753-9753")
    with pytest.raises(PermissionDeniedError, match="is a technician"):
        add_user(
            store, "dr.x", "physician", "1111-1111", npi=PHYSICIAN_NPI, actor="tech",
            admin_password="1111-1111",
        )
    assert (
        add_user(
            store, "dr.x", "physician", "1111-1111", npi=PHYSICIAN_NPI, actor="boss",
            admin_password="9753-9753",
        ).role
        is Role.PHYSICIAN
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"username": "bad name", "role": "admin", "password": "1234-1234"}, "username"),
        ({"username": "a", "role": "janitor", "password": "1234-1234"}, "role"),
        ({"username": "a", "role": "admin", "password": "12"}, "password"),
        ({"username": "a", "role": "physician", "password": "1234-1234"}, "npi"),
        ({"username": "a", "role": "physician", "password": "1234-1234", "npi": "123"}, "npi"),
    ],
)
def test_bad_user_is_refused(store: Store, kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(InputError) as info:
        add_user(store, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_a_name_or_npi_that_reads_as_another_users_is_refused(store: Store) -> None:
    """Until 2026-12-07 "Boss", "ｂｏｓｓ" (full width) and "boſs" (long s) were added beside "boss" (the
    audit log and the signature name users by it), and a second physician got an active one's NPI (the
    clinician set-up and the ordering-physician check find the user by NPI)."""
    boss = add_user(store, "boss", "admin", PIN, actor="setup").principal("cli")
    add_user(store, "dr.a", "physician", PIN, npi=PHYSICIAN_NPI, by=boss)
    cases = (("Boss", "only in case"), ("ｂｏｓｓ", "NFKC"), ("bo\u017fs", "NFKC"), ("DR.A", "case"))
    for name, says in cases:
        with pytest.raises(InputError, match=says) as info:
            add_user(store, name, "technician", PIN, by=boss)
        assert info.value.field == "username"
    with pytest.raises(InputError, match=r"belongs to the active user 'dr\.a'") as info:
        add_user(store, "dr.b", "physician", PIN, npi=PHYSICIAN_NPI, by=boss)
    assert info.value.field == "npi"
    add_user(store, "dr.c", "physician", PIN, npi=SECOND_NPI, by=boss)
    # The physician's new account once the old one is disabled; the old one cannot be enabled beside it.
    set_disabled(store, boss, "dr.a", True)
    add_user(store, "dr.a2", "physician", PIN, npi=PHYSICIAN_NPI, by=boss)
    with pytest.raises(InputError, match=r"belongs to the active user 'dr\.a2'"):
        set_disabled(store, boss, "dr.a", False)
    with store.transaction() as session:
        names = sorted(session.scalars(select(User.username)))
    assert names == ["boss", "dr.a", "dr.a2", "dr.c"]


def test_the_last_active_administrator_stays(store: Store) -> None:
    """Until 2026-12-07 two administrators could disable (or demote) each other, the second acting on a
    login made before the first acted (or at the same moment): no active administrator was left, and the
    disabled one on file kept the setting-up path closed. Now the last one's disabling or demotion is
    refused."""
    ann = add_user(store, "ann", "admin", PIN, actor="setup").principal("cli")
    bob = add_user(store, "bob", "admin", PIN, by=ann).principal("cli")
    set_disabled(store, ann, "bob", True)
    for act in (lambda: set_disabled(store, bob, "ann", True), lambda: set_role(store, bob, "ann", "biller")):
        with pytest.raises(InputError, match="'ann' is the last active administrator"):
            act()
    set_disabled(store, ann, "bob", False)
    assert set_role(store, ann, "bob", "biller").role is Role.BILLER
    with pytest.raises(InputError, match="last active administrator"):
        set_role(store, bob, "ann", "technician")
    with store.transaction() as session:
        roles = {name: role for name, role in session.execute(select(User.username, User.role))}
        role_rows = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "user:role")
        audited = session.scalar(role_rows)
    assert roles == {"ann": "admin", "bob": "biller"} and audited == 1
