"""Accounts and sessions over HTTP: login, cookie flags, CSRF, idle and absolute expiry, lockout, logout,
disabled users, password reset, legacy hashes, API tokens; each refusal a 401/403 and an audit row."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from service_builders import PIN, STUDY, Api
from sqlalchemy import select, update

from ecgdesk.errors import InputError
from ecgdesk.store.audit import verify
from ecgdesk.store.models import AuditEntry, User
from ecgdesk.store.service_models import LoginSession
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.policy import SecurityPolicy
from ecgdesk.workflow.users import hash_scrypt


def _actions(api: Api, actor: str | None = None) -> list[str]:
    with api.store.transaction() as session:
        query = select(AuditEntry.action).order_by(AuditEntry.seq)
        if actor is not None:
            query = query.where(AuditEntry.actor == actor)
        return list(session.scalars(query))


def test_healthz_needs_no_session(api: Api) -> None:
    answer = api.client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_login_sets_a_strict_httponly_cookie_and_returns_the_csrf_token(api: Api) -> None:
    answer = api.client.post("/api/v1/session", json={"username": "tech.t", "password": PIN})
    assert answer.status_code == 200
    body = answer.json()
    assert body["username"] == "tech.t" and body["role"] == "technician" and len(body["csrf_token"]) >= 32
    cookie = answer.headers["set-cookie"]
    assert "ecgdesk_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http in the test client; behind TLS it is Secure
    assert api.client.get("/api/v1/session").json()["csrf_token"] == body["csrf_token"]
    assert "auth:login" in _actions(api, "tech.t")


def test_cookie_is_secure_behind_tls(api: Api) -> None:
    answer = api.client.post(
        "https://testserver/api/v1/session", json={"username": "tech.t", "password": PIN}
    )
    assert "Secure" in answer.headers["set-cookie"]


def test_wrong_password_unknown_user_and_wrong_shape(api: Api) -> None:
    for body in ({"username": "tech.t", "password": "0000"}, {"username": "nobody", "password": PIN}):
        answer = api.client.post("/api/v1/session", json=body)
        assert (
            answer.status_code == 401 and "wrong user name or password" in answer.json()["detail"][0]["msg"]
        )
        assert "set-cookie" not in answer.headers
    answer = api.client.post("/api/v1/session", json={"username": "tech.t"})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "password"]
    answer = api.client.post("/api/v1/session", json=["tech.t", PIN])
    assert answer.status_code == 422
    answer = api.client.post(
        "/api/v1/session", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    refused = [a for a in _actions(api) if a == "auth:refused"]
    assert len(refused) == 2


def test_no_fixation_each_login_is_a_new_session(api: Api) -> None:
    api.client.cookies.set("ecgdesk_session", "planted-by-an-attacker")
    api.login("tech.t")
    first = api.client.cookies.get("ecgdesk_session")
    assert first and first != "planted-by-an-attacker"
    api.login("tech.t")
    assert api.client.cookies.get("ecgdesk_session") != first


def test_forged_and_missing_cookies_are_401(api: Api) -> None:
    assert api.client.get("/api/v1/studies").status_code == 401
    api.client.cookies.set("ecgdesk_session", "x" * 43)
    answer = api.client.get("/api/v1/studies")
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")


def test_csrf_token_is_required_on_state_changing_requests(api: Api) -> None:
    headers = api.login("tech.t")
    assert api.client.post("/api/v1/studies/1/comment", json={"text": "x"}).status_code == 403
    wrong = {"X-CSRF-Token": "not-the-token"}
    answer = api.client.post("/api/v1/studies/1/comment", json={"text": "x"}, headers=wrong)
    assert answer.status_code == 403 and answer.json()["detail"][0]["loc"] == ["X-CSRF-Token"]
    assert (
        api.client.post("/api/v1/studies/1/comment", json={"text": "x"}, headers=headers).status_code == 404
    )
    assert api.client.delete("/api/v1/session").status_code == 403  # logout is state-changing too


def test_logout_ends_the_session(api: Api) -> None:
    headers = api.login("tech.t")
    cookie = api.client.cookies.get("ecgdesk_session")
    assert api.client.delete("/api/v1/session", headers=headers).status_code == 204
    api.client.cookies.set("ecgdesk_session", cookie or "")
    assert api.client.get("/api/v1/studies").status_code == 401
    assert "auth:logoff" in _actions(api, "tech.t")


def _age_session(api: Api, seen_ago_s: float = 0, expired: bool = False) -> None:
    with api.store.transaction() as session:
        values: dict[str, object] = {"last_seen_at": now() - timedelta(seconds=seen_ago_s)}
        if expired:
            values["expires_at"] = now() - timedelta(seconds=1)
        session.execute(update(LoginSession).values(**values))


def test_idle_logoff_and_absolute_lifetime(api: Api) -> None:
    api.login("tech.t")
    # 30 s inside the 600 s idle limit: the request itself may take seconds on a loaded machine
    _age_session(api, seen_ago_s=570)
    assert api.client.get("/api/v1/studies").status_code == 200  # still within the 600 s idle limit
    _age_session(api, seen_ago_s=601)
    answer = api.client.get("/api/v1/studies")
    assert answer.status_code == 401 and "inactivity" in answer.json()["detail"][0]["msg"]
    api.login("tech.t")
    _age_session(api, expired=True)
    answer = api.client.get("/api/v1/studies")
    assert answer.status_code == 401 and "maximum lifetime" in answer.json()["detail"][0]["msg"]
    with api.store.transaction() as session:
        reasons = [r.after for r in _rows(session, "auth:logoff")]
    assert {"idle", "lifetime"} <= {r["reason"] for r in reasons}


def test_idle_limit_per_role_is_enforced_by_the_server(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A role configured with a shorter idle limit is logged off by the server after it, the others keep
    the common limit, and the page counts down from the role's own limit (review-ui.md section 4)."""
    policy = replace(api.app.state.settings.policy, idle_by_role=(("physician", 120.0),))
    api.app.state.settings = replace(api.app.state.settings, policy=policy)
    api.login("dr.t")
    assert 'name="idle-seconds" content="120"' in api.client.get("/worklist").text
    _age_session(api, seen_ago_s=150)
    answer = api.client.get("/api/v1/studies")
    assert answer.status_code == 401 and "inactivity" in answer.json()["detail"][0]["msg"]
    api.login("tech.t")
    _age_session(api, seen_ago_s=150)
    assert api.client.get("/api/v1/studies").status_code == 200  # the common 600 s
    assert 'name="idle-seconds" content="600"' in api.client.get("/worklist").text
    monkeypatch.setenv("ECGDESK_IDLE_MINUTES", "30")
    monkeypatch.setenv("ECGDESK_IDLE_MINUTES_PHYSICIAN", "10")
    configured = SecurityPolicy.from_env()
    assert configured.idle_for("physician") == 600 and configured.idle_for("biller") == 1800
    monkeypatch.setenv("ECGDESK_IDLE_MINUTES_ADMIN", "five")
    with pytest.raises(InputError, match="ECGDESK_IDLE_MINUTES_ADMIN"):
        SecurityPolicy.from_env()


def _rows(session: object, action: str) -> list[object]:
    import json
    from types import SimpleNamespace

    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action))  # type: ignore[attr-defined]
    return [SimpleNamespace(actor=r.actor, after=json.loads(r.after_json)) for r in rows]


def test_lockout_after_repeated_failures_then_admin_reset(api: Api) -> None:
    for _ in range(3):  # the test policy locks after 3
        assert (
            api.client.post("/api/v1/session", json={"username": "dr.t", "password": "1111-1111"}).status_code
            == 401
        )
    answer = api.client.post("/api/v1/session", json={"username": "dr.t", "password": PIN})
    assert answer.status_code == 401 and "locked" in answer.json()["detail"][0]["msg"]
    headers = api.login("admin.t")
    answer = api.client.put("/api/v1/users/dr.t/password", json={"password": "8642-8642"}, headers=headers)
    assert answer.status_code == 200
    api.login("dr.t", "8642-8642")
    assert "user:lock" in _actions(api) and "user:password-reset" in _actions(api, "admin.t")


def test_disabled_user_is_refused_and_their_sessions_end(api: Api) -> None:
    api.login("biller.t")
    biller_cookie = api.client.cookies.get("ecgdesk_session")
    headers = api.login("admin.t")
    assert api.client.post("/api/v1/users/biller.t/disable", headers=headers).json()["disabled"] is True
    answer = api.client.post("/api/v1/session", json={"username": "biller.t", "password": PIN})
    assert answer.status_code == 401 and "disabled" in answer.json()["detail"][0]["msg"]
    api.client.cookies.clear()
    api.client.cookies.set("ecgdesk_session", biller_cookie or "")
    assert api.client.get("/api/v1/studies").status_code == 401
    headers = api.login("admin.t")
    assert api.client.post("/api/v1/users/admin.t/disable", headers=headers).status_code == 422
    assert api.client.post("/api/v1/users/nobody/disable", headers=headers).status_code == 404
    api.client.post("/api/v1/users/biller.t/enable", headers=headers)
    api.login("biller.t")


def test_scrypt_hash_still_verifies_and_is_rehashed_at_login(api: Api) -> None:
    with api.store.transaction() as session:
        session.execute(update(User).where(User.username == "tech.t").values(password_hash=hash_scrypt(PIN)))
    api.login("tech.t")
    with api.store.transaction() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "tech.t"))
        assert stored is not None and stored.startswith("$argon2id$")
        assert verify(session).ok
    assert "user:rehash" in _actions(api, "tech.t")


def test_api_token_acts_with_its_role_and_can_be_revoked(api: Api) -> None:
    headers = api.login("admin.t")
    made = api.client.post(
        "/api/v1/tokens", json={"username": "tech.t", "name": "holter-station-2"}, headers=headers
    )
    assert made.status_code == 201 and made.json()["role"] == "technician"
    secret, token_id = made.json()["token"], made.json()["id"]
    assert secret not in str(api.client.get("/api/v1/tokens").json())  # the secret is shown only once
    api.client.cookies.clear()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/studies", headers=bearer).status_code == 200
    # No CSRF for a bearer token (a browser never sends it by itself); the role still applies.
    assert (
        api.client.post("/api/v1/studies/1/sign", json={"password": PIN}, headers=bearer).status_code == 403
    )
    answer = api.client.post("/api/v1/studies", json={"bad": 1}, headers=bearer)
    assert answer.status_code == 422
    headers = api.login("admin.t")
    assert api.client.delete(f"/api/v1/tokens/{token_id}", headers=headers).json()["revoked_at"] is not None
    api.client.cookies.clear()
    answer = api.client.get("/api/v1/studies", headers=bearer)
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"][0]["msg"]
    assert (
        api.client.get("/api/v1/studies", headers={"Authorization": "Bearer ecgd_forged"}).status_code == 401
    )


def test_users_are_managed_by_an_administrator_only(api: Api) -> None:
    headers = api.login("admin.t")
    body = {"username": "tech2", "role": "technician", "password": "5555-5555"}
    body["display_name"] = "<b>Tech</b> 2"
    made = api.client.post("/api/v1/users", json=body, headers=headers)
    assert made.status_code == 201 and made.json()["display_name"] == "<b>Tech</b> 2"
    assert api.client.post("/api/v1/users", json=body, headers=headers).status_code == 422  # exists
    assert {u["username"] for u in api.client.get("/api/v1/users").json()} >= {"admin.t", "tech2"}
    headers = api.login("tech2", "5555-5555")
    body["username"] = "tech3"
    assert api.client.post("/api/v1/users", json=body, headers=headers).status_code == 403
    assert api.client.get("/api/v1/users").status_code == 403


def test_enabling_an_account_again_does_not_revive_its_sessions(api: Api) -> None:
    api.login("biller.t")
    biller_cookie = api.client.cookies.get("ecgdesk_session") or ""
    headers = api.login("admin.t")
    assert api.client.post("/api/v1/users/biller.t/disable", headers=headers).status_code == 200
    assert api.client.post("/api/v1/users/biller.t/enable", headers=headers).json()["disabled"] is False
    api.client.cookies.clear()
    api.client.cookies.set("ecgdesk_session", biller_cookie)
    answer = api.client.get("/api/v1/session")
    assert answer.status_code == 401 and "session ended (disabled)" in answer.json()["detail"][0]["msg"]
    api.login("biller.t")  # the account itself works again, with a new session


def test_a_password_reset_at_the_moment_of_a_login_ends_that_session_too(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The administrator resets dr.t's password just after the login checked the old one: the login's
    session was opened after the reset had ended dr.t's sessions, and kept working on the old password."""
    from ecgdesk.workflow import sessions
    from ecgdesk.workflow.users import authenticate, reset_password

    admin = authenticate(api.store, "admin.t", PIN).principal("session")

    def then_reset(*args: object, **kwargs: object) -> object:
        checked = authenticate(*args, **kwargs)  # type: ignore[arg-type]
        reset_password(api.store, admin, "dr.t", "8642-8642")
        return checked

    monkeypatch.setattr(sessions, "authenticate", then_reset)
    api.login("dr.t")
    answer = api.client.get("/api/v1/session")
    assert answer.status_code == 401 and "password reset" in answer.json()["detail"][0]["msg"]


def test_an_administrators_password_reset_ends_every_session_of_the_user(api: Api) -> None:
    """dr.t is logged in from two browsers; after the reset each one's next request is a 401."""
    from fastapi.testclient import TestClient

    browsers = [TestClient(api.app), TestClient(api.app)]
    for browser in browsers:
        assert browser.post("/api/v1/session", json={"username": "dr.t", "password": PIN}).status_code == 200
        assert browser.get("/api/v1/studies").status_code == 200
    headers = api.login("admin.t")
    reset = api.client.put("/api/v1/users/dr.t/password", json={"password": "8642-8642"}, headers=headers)
    assert reset.status_code == 200
    for browser in browsers:
        answer = browser.get("/api/v1/studies")
        assert answer.status_code == 401 and "password reset" in answer.json()["detail"][0]["msg"]
    assert api.client.get("/api/v1/session").status_code == 200  # the administrator's own goes on


def test_a_disabled_users_api_token_is_refused(api: Api) -> None:
    headers = api.login("admin.t")
    made = api.client.post("/api/v1/tokens", json={"username": "tech.t", "name": "holter-3"}, headers=headers)
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    assert api.client.get("/api/v1/studies", headers=bearer).status_code == 200
    assert api.client.post("/api/v1/users/tech.t/disable", headers=headers).status_code == 200
    answer = api.client.get("/api/v1/studies", headers=bearer)
    assert answer.status_code == 401 and "account disabled" in answer.json()["detail"][0]["msg"]
    with api.store.transaction() as session:
        refused = session.scalars(select(AuditEntry.after_json).where(AuditEntry.action == "auth:refused"))
        assert [json.loads(r) for r in refused] == [{"reason": "account disabled"}]


def test_re_entered_passwords_lock_by_the_apps_setting_not_the_environment(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app was built with a lockout after 3 (service_builders.POLICY); the environment says 50. Wrong
    # passwords re-entered at signing, at an addendum and at batch signing count as wrong logins do.
    monkeypatch.setenv("ECGDESK_LOCKOUT_ATTEMPTS", "50")
    made = api.client.post("/api/v1/studies", json=STUDY, headers=api.login("tech.t"))
    study = made.json()["id"]
    headers = api.login("dr.t")
    wrong = {"password": "1111-1111"}
    assert api.client.post(f"/api/v1/studies/{study}/sign", json=wrong, headers=headers).status_code == 403
    answer = api.client.post(
        f"/api/v1/studies/{study}/addendum", json={**wrong, "text": "Late note."}, headers=headers
    )
    assert answer.status_code == 403
    answer = api.client.post(
        "/api/v1/signing/batch", json={**wrong, "study_ids": [study]}, headers=headers
    )
    assert answer.status_code == 403
    answer = api.client.post("/api/v1/session", json={"username": "dr.t", "password": PIN})
    assert answer.status_code == 401 and "locked" in answer.json()["detail"][0]["msg"]
    assert "user:lock" in _actions(api)
