"""Logins held to a limit per client address (password spraying: one address, many user names, never one
account's lockout), and the client address and scheme believed from trusted reverse proxies only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_builders import PIN, POLICY, UPLOAD_LIMIT, Api, make_api
from sqlalchemy import select

from ecgdesk.errors import InputError
from ecgdesk.service import create_app
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.service_models import LoginFailure, LoginSession
from ecgdesk.workflow.login_limit import address_key
from ecgdesk.workflow.policy import SecurityPolicy

LIMITED = ServiceSettings(upload_limit_bytes=UPLOAD_LIMIT, policy=replace(POLICY, address_attempts=4))
PROXY = "127.0.0.1"
SITE = {"Host": "ecg.example.org", "X-Forwarded-Proto": "https"}


@pytest.fixture
def limited(store: Store) -> Iterator[Api]:
    yield from make_api(store, LIMITED)


def _audited(store: Store, action: str) -> list[dict[str, object]]:
    with store.transaction() as session:
        rows = session.scalars(select(AuditEntry.after_json).where(AuditEntry.action == action))
        return [json.loads(r) for r in rows]


def _login(client: TestClient, username: str, password: str = PIN, **headers: str) -> int:
    body = {"username": username, "password": password}
    return client.post("/api/v1/session", json=body, headers=headers).status_code


def test_one_address_trying_many_names_is_refused_for_a_while_then_a_real_user_gets_in(limited: Api) -> None:
    client = limited.client
    for _ in range(3):  # successes are not failures: they never count towards the limit
        assert _login(client, "tech.t") == 200
    for name in ("tech.t", "dr.t", "biller.t", "nobody"):  # one try each: no account locks
        assert _login(client, name, "1357") == 401
    # the fifth refused login of the address: even the right password waits (else spraying goes on)
    answer = client.post("/api/v1/session", json={"username": "dr.t", "password": PIN})
    assert answer.status_code == 429 and "set-cookie" not in answer.headers
    assert 1 <= int(answer.headers["retry-after"]) <= 900
    assert set(answer.json()) == {"detail"} and set(answer.json()["detail"][0]) == {"loc", "msg", "type"}
    assert "too many failed logins from testclient" in answer.json()["detail"][0]["msg"]
    form = client.post("/login", data={"username": "dr.t", "password": PIN}, follow_redirects=False)
    assert form.status_code == 429 and "retry-after" in form.headers and "set-cookie" not in form.headers
    limitedrows = _audited(limited.store, "auth:address-limited")
    assert len(limitedrows) == 2 and limitedrows[0]["address"] == "testclient"
    assert limitedrows[0]["failures"] == 4
    # another worker (or the service after a restart) holds the address to the same limit
    assert _login(TestClient(create_app(limited.store, LIMITED)), "dr.t") == 429
    # another address is not held up by this one
    assert _login(TestClient(limited.app, client=("198.51.100.20", 4000)), "dr.t") == 200
    # refused attempts do not count: once the window has moved past the failures, the real user gets in
    with limited.store.transaction() as session:
        for row in session.scalars(select(LoginFailure)):
            row.at -= timedelta(seconds=901)
    assert _login(client, "dr.t") == 200
    with limited.store.transaction() as session:  # the old failures were cleared away on the way
        assert session.scalars(select(LoginFailure.address)).all() == []


def test_forwarded_headers_are_believed_from_a_trusted_proxy_only(store: Store) -> None:
    for api in make_api(store, LIMITED):  # trusted: the default, a proxy on this host
        proxy = TestClient(api.app, client=(PROXY, 5000))
        stranger = TestClient(api.app, client=("203.0.113.5", 5000))
        assert _login(proxy, "tech.t", **{"X-Forwarded-For": "198.51.100.7"}) == 200
        # a peer that is not a trusted proxy cannot pose as another client (to dodge the limit)
        for n in range(4):
            assert _login(stranger, f"user{n}", "1357", **{"X-Forwarded-For": f"192.0.2.{n}"}) == 401
        assert _login(stranger, "tech.t", **{"X-Forwarded-For": "192.0.2.99"}) == 429
        with store.transaction() as session:
            clients = session.scalars(select(LoginSession.client).order_by(LoginSession.id)).all()
            failures = set(session.scalars(select(LoginFailure.address)))
        assert clients[-1].startswith("198.51.100.7 ") and failures == {"203.0.113.5"}
        # login CSRF: the Origin is checked against the site the proxy says was asked (https), and a
        # stranger's X-Forwarded-Proto does not make its plain-http request pass for https
        form = {"username": "dr.t", "password": PIN}
        origin = {"Origin": "https://ecg.example.org"}
        answer = proxy.post("/login", data=form, headers={**SITE, **origin}, follow_redirects=False)
        assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]
        downgraded = {**SITE, "Origin": "http://ecg.example.org"}
        assert proxy.post("/login", data=form, headers=downgraded, follow_redirects=False).status_code == 403
        other = TestClient(api.app, client=("203.0.113.6", 5000))
        answer = other.post("/login", data=form, headers={**SITE, **origin}, follow_redirects=False)
        assert answer.status_code == 403 and "set-cookie" not in answer.headers


def test_the_limits_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SecurityPolicy.from_env().address_attempts == 30
    assert ServiceSettings.from_env().trusted_proxies == ("127.0.0.1", "::1")
    monkeypatch.setenv("ECGDESK_LOGIN_ADDRESS_ATTEMPTS", "0")
    monkeypatch.setenv("ECGDESK_LOGIN_ADDRESS_MINUTES", "5")
    monkeypatch.setenv("ECGDESK_TRUSTED_PROXIES", " 10.0.0.0/8, ::1 ")
    policy, settings = SecurityPolicy.from_env(), ServiceSettings.from_env()
    assert (policy.address_attempts, policy.address_window_s) == (0, 300)
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1")
    for name, value in (("ECGDESK_LOGIN_ADDRESS_ATTEMPTS", "-1"), ("ECGDESK_TRUSTED_PROXIES", "nginx")):
        monkeypatch.setenv(name, value)
        with pytest.raises(InputError) as refused:
            ServiceSettings.from_env()
        assert refused.value.field == name
        monkeypatch.delenv(name)
    # an IPv6 client is counted by its /64: a sprayer walking its own prefix is one address
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1" and address_key("testclient") == "testclient"


def test_serve_refuses_a_bad_setting_before_starting_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With --workers 2 each worker crashed on it with a traceback and the parent kept waiting."""
    import uvicorn

    from ecgdesk.cli.main import main

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn started"))
    monkeypatch.setenv("ECGDESK_TRUSTED_PROXIES", "nginx")
    monkeypatch.setenv("ECGDESK_HOME", str(tmp_path))  # (the old code opened the store first)
    monkeypatch.setenv("ECGDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.sqlite'}")
    assert main(["serve", "--workers", "2", "--no-worker"]) == 2
    assert "ECGDESK_TRUSTED_PROXIES" in capsys.readouterr().err
