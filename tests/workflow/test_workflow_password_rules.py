"""The password rule (NIST SP 800-63B), a password an administrator set changed by its user first, and user
names unique once folded even when two are added at the same instant (PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from race_builders import race_in
from sqlalchemy import select
from workflow_builders import PIN

from backends import make_store
from ecgdesk.errors import AuthenticationError, InputError, PasswordChangeRequiredError
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry, User
from ecgdesk.workflow.permissions import Action, authorize
from ecgdesk.workflow.policy import SecurityPolicy
from ecgdesk.workflow.sessions import change_password
from ecgdesk.workflow.users import add_user, authenticate, hash_secret, reset_password

POLICY = SecurityPolicy(lockout_attempts=2, lockout_s=60)


def _audit(store: Store, action: str) -> list[dict[str, object]]:
    with store.transaction() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        rows = session.scalars(query)
        return [{"actor": r.actor, **json.loads(r.after_json or "{}")} for r in rows]


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("2468", "at least 8 characters"),  # the demo PIN until 2026-12-08
        ("1234567", "at least 8 characters"),
        ("x" * 1025, "at most 1024"),
        ("password1", "most common"),
        ("PassWord123", "most common"),  # compared case-folded
        ("12345678", "most common"),
        ("terry.tech", "user name"),
        ("my-terry.tech-pw", "user name"),
    ],
)
def test_the_password_rule_refuses(store: Store, password: str, says: str) -> None:
    """Until 2026-12-08 four characters of anything were enough (the demo's "2468" among them)."""
    with pytest.raises(InputError, match=says) as info:
        add_user(store, "terry.tech", "technician", password, actor="setup")
    assert info.value.field == "password"


def test_the_password_rule_takes_any_long_enough_uncommon_password(store: Store) -> None:
    """No composition rules: digits only, spaces, letters of any script, a short name inside (below 4
    characters a name is only refused as the whole password)."""
    for i, password in enumerate(("24681357", "correct horse battery", "пароль-очень-длинный", "ann-2468-x")):
        add_user(store, f"user{i}", "technician", password, actor="setup")
    add_user(store, "ann", "admin", "ann-2468-x", actor="setup")


def test_a_password_set_by_an_administrator_opens_only_its_change(store: Store) -> None:
    """Until 2026-12-08 an administrator's reset was the user's password for good (the administrator knew
    it). Now the user may do nothing but change it (each refusal audited, naming why); their own change
    clears it. A lockout meanwhile is still a lockout, and the reset lifts it."""
    boss = add_user(store, "boss", "admin", PIN, actor="setup").principal("cli")
    add_user(store, "tech", "technician", PIN, by=boss, must_change=True)
    assert _audit(store, "user:add")[-1]["must_change_password"] is True
    for _ in range(2):  # locked out on top of it
        with pytest.raises(AuthenticationError, match="wrong user name or password"):
            authenticate(store, "tech", "not-the-password", policy=POLICY)
    with pytest.raises(AuthenticationError, match="locked"):
        authenticate(store, "tech", PIN, policy=POLICY)
    reset_password(store, boss, "tech", "temporary-5813")
    assert _audit(store, "user:password-reset")[-1]["must_change_password"] is True
    info = authenticate(store, "tech", "temporary-5813", policy=POLICY)  # the lockout lifted
    tech = info.principal("cli")
    assert info.must_change_password and tech.must_change_password
    for action in (Action.STUDY_LIST, Action.STUDY_CREATE, Action.USER_MANAGE):
        with pytest.raises(PasswordChangeRequiredError, match="change it first"):
            authorize(store, tech, action)
    refusals = [r for r in _audit(store, "auth:forbidden") if r.get("reason") == "password must be changed"]
    assert [r["action"] for r in refusals] == ["study:list", "study:create", "user:manage"]
    authorize(store, tech, Action.PASSWORD_CHANGE)
    with pytest.raises(InputError, match="user name"):
        change_password(store, tech, "temporary-5813", "tech-tech-tech", policy=POLICY)
    change_password(store, tech, "temporary-5813", "my own 5813", policy=POLICY)
    assert _audit(store, "user:password-change")[-1]["was_required"] is True
    mine = authenticate(store, "tech", "my own 5813", policy=POLICY).principal("cli")
    assert not mine.must_change_password
    authorize(store, mine, Action.STUDY_LIST)


def test_an_administrator_changes_their_own_password_not_resets_it(store: Store) -> None:
    """A reset asks for no current password: an administrator's session left open would give their
    account away. Refused, pointing to the change (which asks for the current one)."""
    boss = add_user(store, "boss", "admin", PIN, actor="setup").principal("cli")
    with pytest.raises(InputError, match="giving the current one") as info:
        reset_password(store, boss, "boss", "a-new-one-2468")
    assert info.value.field == "username"
    assert authenticate(store, "boss", PIN).username == "boss" and not _audit(store, "user:password-reset")


def test_a_stored_password_below_the_rule_logs_in_once_to_be_changed(store: Store) -> None:
    """A password stored under the old rule (4 characters) still opens the account, to change it: the
    login marks the account (audited once) and nothing else is allowed until the change."""
    add_user(store, "dr.old", "admin", PIN, actor="setup")
    with store.transaction() as session:
        row = session.scalar(select(User).where(User.username == "dr.old"))
        assert row is not None
        row.password_hash = hash_secret("2468")
    for _ in range(2):
        info = authenticate(store, "dr.old", "2468")
        assert info.must_change_password
    (marked,) = _audit(store, "user:password-weak")
    assert "at least 8" in str(marked["reason"])
    with pytest.raises(PasswordChangeRequiredError):
        authorize(store, info.principal("cli"), Action.AUDIT_READ)
    change_password(store, info.principal("cli"), "2468", "longer than before")
    assert not authenticate(store, "dr.old", "longer than before").must_change_password


def test_names_folding_alike_added_at_the_same_instant_are_not_both_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until 2026-12-08 the check read the other names and then added the new one: "Boss" and "boss" added
    at the same moment on PostgreSQL each found the other absent and both were added. Now the folded name
    has a unique index: the second waits for the first and is refused, naming the field."""
    store = make_store(tmp_path, "postgresql")
    try:
        boss = add_user(store, "admin", "admin", PIN, actor="setup").principal("cli")
        out = race_in(
            store, monkeypatch, ("users",),
            lambda i: add_user(store, ("Terry", "terry")[i], "technician", PIN, by=boss),
        )
        refused = [o for o in out if isinstance(o, InputError)]
        assert len(refused) == 1 and refused[0].field == "username", out
        assert "only in case or form" in refused[0].reason and "just now" in refused[0].reason
        with store.transaction() as session:
            stored = sorted(session.scalars(select(User.username_folded)))
        assert stored == ["admin", "terry"]
    finally:
        store.close()
