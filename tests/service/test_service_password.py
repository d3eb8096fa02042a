"""A user changes their own password: ``PUT /api/v1/session/password`` and the page ``/account/password``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_builders import PIN, Api, add_people, make_api
from sqlalchemy import select
from test_service_page_permissions import PAGES
from test_service_permissions import ROUTES, _request, _url

from backends import make_store
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.service_models import LoginSession

URL = "/api/v1/session/password"
COOKIE = "ecgdesk_session"


def _client(api: Api, username: str) -> tuple[TestClient, dict[str, str]]:
    """Another browser of ``username``: its own client, cookie and CSRF token."""
    client = TestClient(api.app)
    answer = client.post("/api/v1/session", json={"username": username, "password": PIN})
    assert answer.status_code == 200, answer.text
    return client, {"X-CSRF-Token": answer.json()["csrf_token"]}


def _token(api: Api, username: str) -> str:
    headers = api.login("admin.t")
    made = api.client.post("/api/v1/tokens", json={"username": username, "name": "holter-2"}, headers=headers)
    assert made.status_code == 201, made.text
    secret: str = made.json()["token"]
    return secret


def _audit(api: Api, action: str) -> list[dict[str, object]]:
    with api.store.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [{"actor": r.actor, **json.loads(r.after_json or "{}")} for r in rows]


def test_a_user_changes_their_own_password(api: Api) -> None:
    """The other sessions end and the user's API tokens are revoked; this session goes on under a new
    identifier and CSRF token; the old password no longer logs in, the new one does; audited."""
    secret = _token(api, "tech.t")
    other, _ = _client(api, "tech.t")
    assert other.get("/api/v1/session").status_code == 200
    headers = api.login("tech.t")
    old_cookie = api.client.cookies.get(COOKIE)
    body = {"current_password": PIN, "new_password": "97531-new"}
    answer = api.client.put(URL, json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert len(done["sessions_ended"]) == 2 and len(done["tokens_revoked"]) == 1
    new_cookie = api.client.cookies.get(COOKIE)
    assert new_cookie and new_cookie != old_cookie  # renewed: no identifier from before stays valid
    assert done["csrf_token"] and done["csrf_token"] != headers["X-CSRF-Token"]
    me = api.client.get("/api/v1/session")
    assert me.status_code == 200 and me.json()["csrf_token"] == done["csrf_token"]
    # the renewed session changes things with its new CSRF token only
    assert api.client.put(URL, json=body, headers=headers).status_code == 403
    refused = other.get("/api/v1/session")
    assert refused.status_code == 401 and "password changed" in refused.json()["detail"][0]["msg"]
    stale = TestClient(api.app)
    stale.cookies.set(COOKIE, old_cookie or "")
    assert stale.get("/api/v1/session").status_code == 401
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/studies", headers=bearer).status_code == 401
    assert other.post("/api/v1/session", json={"username": "tech.t", "password": PIN}).status_code == 401
    again = {"username": "tech.t", "password": "97531-new"}
    assert other.post("/api/v1/session", json=again).status_code == 200
    (row,) = _audit(api, "user:password-change")
    assert row["actor"] == "tech.t" and row["sessions_ended"] == done["sessions_ended"]
    assert row["tokens_revoked"] == done["tokens_revoked"]
    with api.store.transaction() as session:
        reasons = dict(session.execute(select(LoginSession.id, LoginSession.end_reason)).all())
    assert sorted(reasons[i] for i in done["sessions_ended"]) == ["password changed", "renewed"]


def test_a_wrong_current_password_is_refused_counted_and_locks(api: Api) -> None:
    """403 (the page stays logged in), nothing changes, and the test policy's third failure locks the
    account as three wrong logins would: then even the right current password is refused."""
    headers = api.login("dr.t")
    for _ in range(3):
        wrong = {"current_password": "1111-1111", "new_password": "97531-new"}
        answer = api.client.put(URL, json=wrong, headers=headers)
        assert answer.status_code == 403 and "current password is not accepted" in answer.text
    answer = api.client.put(URL, json={"current_password": PIN, "new_password": "97531-new"}, headers=headers)
    assert answer.status_code == 403 and "locked" in answer.text
    assert api.client.get("/api/v1/session").status_code == 200
    assert [r["reason"] for r in _audit(api, "auth:refused")] == ["wrong password"] * 3 + ["locked"]
    assert len(_audit(api, "user:lock")) == 1 and not _audit(api, "user:password-change")
    fresh = TestClient(api.app)
    assert fresh.post("/api/v1/session", json={"username": "dr.t", "password": PIN}).status_code == 401


def test_the_new_password_follows_the_policy_and_the_request_needs_csrf(api: Api) -> None:
    headers = api.login("biller.t")
    short = api.client.put(URL, json={"current_password": PIN, "new_password": "123"}, headers=headers)
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "new_password"]
    same = api.client.put(URL, json={"current_password": PIN, "new_password": PIN}, headers=headers)
    assert same.status_code == 422 and same.json()["detail"][0]["loc"] == ["new_password"]
    body = {"current_password": PIN, "new_password": "97531-new"}
    assert api.client.put(URL, json=body).status_code == 403  # no CSRF token
    assert api.client.put(URL, json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    api.client.cookies.clear()
    assert api.client.put(URL, json=body, headers=headers).status_code == 401
    assert not _audit(api, "user:password-change")


def test_an_api_token_cannot_change_its_users_password(api: Api) -> None:
    secret = _token(api, "tech.t")
    api.client.cookies.clear()
    body = {"current_password": PIN, "new_password": "97531-new"}
    answer = api.client.put(URL, json=body, headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 403 and "API token" in answer.text
    api.login("tech.t")  # the password is unchanged


def test_the_password_page_is_linked_from_the_header(api: Api) -> None:
    assert api.client.get("/account/password", follow_redirects=False).status_code == 303
    api.login("biller.t")
    page = api.client.get("/claims")
    assert 'href="/account/password"' in page.text
    form = api.client.get("/account/password")
    assert form.status_code == 200
    for name in ("current_password", "new_password", "repeat_password"):
        assert f'name="{name}"' in form.text
    assert "/static/account.js" in form.text and 'autocomplete="new-password"' in form.text


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Api]:
    """SQLite only: the refusal is the service's and the workflow's, the same on both backends."""
    store = make_store(tmp_path, "sqlite")
    add_people(store)
    yield from make_api(store)
    store.close()


def test_a_reset_password_opens_nothing_but_its_change(web: Api) -> None:
    """Until 2026-12-08 the user kept the password the administrator chose. Now the session it opens reaches
    only who-am-I, log out and the change of password: every other route of the API (walked from
    ``test_service_permissions.ROUTES``, those that check no action included) and every page (``PAGES``)
    is refused 403 naming why, each refusal audited; the start page and the login go to the change; the
    change opens everything again."""
    admin = web.login("admin.t")
    chosen = {"password": "from-the-admin"}
    reset = web.client.put("/api/v1/users/tech.t/password", json=chosen, headers=admin)
    assert reset.status_code == 200 and reset.json()["must_change_password"] is True
    own = web.client.put("/api/v1/users/admin.t/password", json=chosen, headers=admin)
    assert own.status_code == 422 and "giving the current one" in own.text  # a reset asks for none
    rows = web.client.get("/admin/users").text.split("<tr data-username=")
    mine = next(r for r in rows if r.startswith('"admin.t"')).split("</tr>")[0]
    theirs = next(r for r in rows if r.startswith('"tech.t"')).split("</tr>")[0]
    assert "Reset password" in theirs and "must change the password" in theirs
    assert "Reset password" not in mine  # not offered for one's own account
    form = web.client.post(
        "/login", data={"username": "tech.t", "password": "from-the-admin", "next": "/worklist"},
        follow_redirects=False,
    )
    assert form.headers["location"] == "/account/password"
    headers = web.login("tech.t", "from-the-admin")
    assert web.client.get("/api/v1/session").json()["must_change_password"] is True
    still_open = {("GET", "/api/v1/session"), ("DELETE", "/api/v1/session"), ("PUT", URL)}
    walked, before = 0, len(_audit(web, "auth:forbidden"))
    for (method, path), (_, body) in ROUTES.items():
        if (method, path) in still_open:
            continue
        answer = _request(web, method, path, body, headers)
        where = f"{method} {path}: {answer.status_code} {answer.text[:200]}"
        assert answer.status_code == 403, where
        assert answer.json()["detail"][0]["type"] == "PasswordChangeRequiredError", where
        assert "change it first" in answer.json()["detail"][0]["msg"], where
        walked += 1
    for page in PAGES:
        if page in ("/", "/account/password"):
            continue
        answer = web.client.get(_url(page))
        assert answer.status_code == 403 and "Change your password first" in answer.text, page
        walked += 1
    assert walked > 80 and len(_audit(web, "auth:forbidden")) == before + walked  # each one audited
    assert web.client.get("/", follow_redirects=False).headers["location"] == "/account/password"
    assert 'id="password-required"' in web.client.get("/account/password").text
    body = {"current_password": "from-the-admin", "new_password": "tech-t-own-choice"}
    changed = web.client.put(URL, json=body, headers=headers)
    assert changed.status_code == 200, changed.text
    renewed = {"X-CSRF-Token": changed.json()["csrf_token"]}
    assert web.client.get("/api/v1/session").json()["must_change_password"] is False
    assert web.client.get("/api/v1/studies", headers=renewed).status_code == 200
    assert web.client.get("/worklist").status_code == 200
    assert 'id="password-required"' not in web.client.get("/account/password").text
