"""Every route x every role: the one permission table decides, over HTTP and on the command line.

Each API route is listed here with the action it performs; the test fails when a route is added without
being listed. A role the table allows never gets 401/403 (it may get 404/409/422 for this request); every
other role gets 403, and each refusal is an ``auth:forbidden`` audit row.
"""

from __future__ import annotations

from typing import Any

import pytest
from service_builders import PEOPLE, PIN, STUDY, Api
from sqlalchemy import func, select
from test_service_page_permissions import unlisted_routes

from ecgdesk.store.enums import Role
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.permissions import ON_OWN_STUDY, PERMISSIONS, Action

BILLING = {
    "name": "Heart Diagnostics IDTF",
    "npi": "1234567893",
    "tin": "123456789",
    "taxonomy": "261QD0000X",
    "address1": "100 Main St",
    "city": "Springfield",
    "state": "IL",
    "zip": "627011234",
    "contact_name": "Billing",
    "contact_phone": "2175550100",
    "submitter_id": "ETIN01",
}

#: (method, path) -> (action or None for any signed-in user, JSON body)
ROUTES: dict[tuple[str, str], tuple[Action | None, Any]] = {
    ("GET", "/api/v1/session"): (None, None),
    ("DELETE", "/api/v1/session"): (None, None),
    # the same password twice: refused as input (422) after the role check, so nobody's password changes
    ("PUT", "/api/v1/session/password"): (
        Action.PASSWORD_CHANGE,
        {"current_password": PIN, "new_password": PIN},
    ),
    ("GET", "/api/v1/studies"): (Action.STUDY_LIST, None),
    ("POST", "/api/v1/studies"): (Action.STUDY_CREATE, STUDY),
    ("GET", "/api/v1/studies/{study_id}"): (Action.STUDY_READ, None),
    ("GET", "/api/v1/studies/{study_id}/report.pdf"): (Action.REPORT_READ, None),
    ("GET", "/api/v1/studies/{study_id}/signal"): (Action.SIGNAL_READ, None),
    ("POST", "/api/v1/studies/{study_id}/analysis"): (Action.STUDY_ANALYZE, None),
    ("POST", "/api/v1/studies/{study_id}/jobs/{job_id}/cancel"): (Action.JOB_MANAGE, None),
    ("GET", "/api/v1/studies/{study_id}/jobs"): (Action.JOB_READ, None),
    ("POST", "/api/v1/studies/{study_id}/beat-edits"): (
        Action.BEATS_EDIT,
        {"kind": "beat", "target": 0, "label": "N"},
    ),
    ("POST", "/api/v1/studies/{study_id}/comment"): (Action.STUDY_COMMENT, {"text": "ok"}),
    ("POST", "/api/v1/studies/{study_id}/report"): (Action.REPORT_RENDER, None),
    ("POST", "/api/v1/studies/{study_id}/interpretation"): (
        Action.STUDY_INTERPRET,
        {"text": "Sinus rhythm."},
    ),
    ("POST", "/api/v1/studies/{study_id}/sign"): (Action.STUDY_SIGN, {"password": PIN}),
    ("GET", "/api/v1/signing/queue"): (Action.STUDY_SIGN, None),
    ("POST", "/api/v1/signing/batch"): (Action.STUDY_SIGN, {"study_ids": [1], "password": PIN}),
    ("POST", "/api/v1/studies/{study_id}/addendum"): (Action.STUDY_ADDENDUM, {"text": "x", "password": PIN}),
    ("POST", "/api/v1/studies/{study_id}/components"): (
        Action.COMPONENT_RECORD,
        {"component": "supervision", "performer": "Dr. S"},
    ),
    ("POST", "/api/v1/studies/{study_id}/coding"): (Action.STUDY_CODE, None),
    ("POST", "/api/v1/studies/{study_id}/bill"): (Action.STUDY_BILL, {"reference": "CLM-1"}),
    ("PUT", "/api/v1/studies/{study_id}/distinct"): (
        Action.STUDY_DISTINCT,
        {"modifier": "XU", "reason": "own order and tracing before the Holter hook-up"},
    ),
    ("DELETE", "/api/v1/studies/{study_id}/distinct"): (Action.STUDY_DISTINCT, None),
    ("POST", "/api/v1/studies/{study_id}/recording"): (Action.RECORDING_IMPORT, None),
    ("GET", "/api/v1/audit"): (Action.AUDIT_READ, None),
    ("GET", "/api/v1/audit/verify"): (Action.AUDIT_VERIFY, None),
    ("GET", "/api/v1/users"): (Action.USER_MANAGE, None),
    ("POST", "/api/v1/users"): (
        Action.USER_MANAGE,
        {"username": "new.user", "role": "biller", "password": "1234-1234"},
    ),
    ("POST", "/api/v1/users/{username}/disable"): (Action.USER_MANAGE, None),
    ("POST", "/api/v1/users/{username}/enable"): (Action.USER_MANAGE, None),
    ("PUT", "/api/v1/users/{username}/password"): (Action.USER_MANAGE, {"password": "1234-1234"}),
    ("GET", "/api/v1/tokens"): (Action.USER_MANAGE, None),
    ("POST", "/api/v1/tokens"): (Action.USER_MANAGE, {"username": "tech.t", "name": "device"}),
    ("DELETE", "/api/v1/tokens/{token_id}"): (Action.USER_MANAGE, None),
    ("POST", "/api/v1/monitoring/transmissions"): (Action.MONITOR_INGEST, None),
    ("GET", "/api/v1/monitoring/queue"): (Action.MONITOR_QUEUE_READ, None),
    ("GET", "/api/v1/monitoring/queue/counts"): (Action.MONITOR_QUEUE_READ, None),
    ("POST", "/api/v1/monitoring/queue/{item_id}/review"): (Action.MONITOR_REVIEW, {"action": "reviewed"}),
    ("GET", "/api/v1/monitoring/queue/{item_id}"): (Action.MONITOR_QUEUE_READ, None),
    ("POST", "/api/v1/monitoring/notifications/{notification_id}/ack"): (Action.MONITOR_REVIEW, {}),
    ("GET", "/api/v1/monitoring/notifications"): (Action.MONITOR_QUEUE_READ, None),
    ("GET", "/api/v1/monitoring/enrolments/{enrolment_id}/daily"): (Action.MONITOR_QUEUE_READ, None),
    ("GET", "/api/v1/monitoring/enrolments/{enrolment_id}"): (Action.MONITOR_PERIOD_READ, None),
    ("POST", "/api/v1/monitoring/enrolments/{enrolment_id}/device-swap"): (
        Action.MONITOR_DEVICE_SWAP,
        {"device": "DEV-2", "at": "2026-12-02T10:00:00Z", "reason": "battery"},
    ),
    ("GET", "/api/v1/studies/{study_id}/deliveries"): (Action.STUDY_READ, None),
    ("GET", "/api/v1/studies/{study_id}/result"): (Action.RESULT_EXPORT, None),
    ("POST", "/api/v1/interop/orders"): (Action.ORDER_RECEIVE, {"resourceType": "Patient"}),
    # The review workstation (issue 13).
    ("POST", "/api/v1/worklist"): (Action.STUDY_LIST, {}),
    ("GET", "/api/v1/studies/{study_id}/overview"): (Action.STUDY_READ, None),
    ("GET", "/api/v1/studies/{study_id}/templates"): (Action.SIGNAL_READ, None),
    ("POST", "/api/v1/studies/{study_id}/template-edits"): (
        Action.BEATS_EDIT,
        {"templates": [0], "label": "N"},
    ),
    ("GET", "/api/v1/studies/{study_id}/strips"): (Action.STUDY_READ, None),
    ("PUT", "/api/v1/studies/{study_id}/strips"): (
        Action.STRIPS_SELECT,
        {"key": "event:x", "included": False},
    ),
    ("POST", "/api/v1/studies/{study_id}/strips"): (Action.STRIPS_SELECT, {"start_s": 1, "caption": "x"}),
    ("POST", "/api/v1/studies/{study_id}/strips/remove"): (Action.STRIPS_SELECT, {"key": "manual:1"}),
    ("GET", "/api/v1/studies/{study_id}/report/preview.pdf"): (Action.REPORT_READ, None),
    ("GET", "/api/v1/studies/{study_id}/billing"): (Action.STUDY_BILLING, None),
    ("PUT", "/api/v1/users/{username}/role"): (Action.USER_MANAGE, {"role": "biller"}),
    ("GET", "/api/v1/billing"): (Action.BILLING_READ, None),
    ("PUT", "/api/v1/billing"): (Action.BILLING_SETUP, BILLING),
    ("POST", "/api/v1/billing/clinicians"): (Action.BILLING_SETUP, {"npi": "1245319599", "last": "Order"}),
    ("POST", "/api/v1/billing/payers"): (
        Action.BILLING_SETUP,
        {"name": "Medicare", "payer_id": "12345", "filing_indicator": "MB", "rules_id": "medicare-mac"},
    ),
    ("POST", "/api/v1/billing/coverages"): (
        Action.COVERAGE_ADD,
        {
            "patient_id": STUDY["patient_id"],
            "payer_id": "12345",
            "member_id": "1EG4",
            "address1": "5 Elm St",
            "city": "Springfield",
            "state": "IL",
            "zip": "62702",
        },
    ),
    ("GET", "/api/v1/claims"): (Action.CLAIM_READ, None),
    ("POST", "/api/v1/claims"): (Action.CLAIM_CREATE, {"study_id": 1}),
    ("GET", "/api/v1/claims/{claim_id}"): (Action.CLAIM_READ, None),
    ("GET", "/api/v1/claims/{claim_id}/837p"): (Action.CLAIM_EXPORT, None),
    ("GET", "/api/v1/studies/{study_id}/claims"): (Action.CLAIM_READ, None),
    ("POST", "/api/v1/claims/export"): (Action.CLAIM_EXPORT, {}),
    ("POST", "/api/v1/claims/{claim_id}/correct"): (Action.CLAIM_CORRECT, {}),
    ("POST", "/api/v1/claims/acks"): (Action.CLAIM_ACK, None),
    ("POST", "/api/v1/remittances"): (Action.REMIT_POST, None),
    ("GET", "/api/v1/remittances/unmatched"): (Action.CLAIM_READ, None),
    ("GET", "/api/v1/denials"): (Action.CLAIM_READ, None),
    ("POST", "/api/v1/denials/{item_id}/work"): (Action.DENIAL_WORK, {"action": "write_off"}),
    ("GET", "/api/v1/ar/aging"): (Action.AR_READ, None),
    ("GET", "/api/v1/settings"): (Action.SETTINGS_MANAGE, None),
    ("PUT", "/api/v1/settings/{name}"): (Action.SETTINGS_MANAGE, {"value": 5}),
}
OPEN = {("GET", "/healthz"), ("POST", "/api/v1/session")}


def test_every_action_has_a_row_in_the_table() -> None:
    assert set(PERMISSIONS) == set(Action)
    assert all(PERMISSIONS[a] for a in Action)


def test_every_route_is_in_the_matrix(api: Api) -> None:
    """Every route of the app is in the OpenAPI document, and every one of those is in ROUTES, or is a
    page listed in ``test_service_page_permissions.PAGES``."""
    routes = {(method.upper(), path) for path, item in api.app.openapi()["paths"].items() for method in item}
    routes -= OPEN
    assert routes == set(ROUTES), "list each new route with its action in ROUTES"
    # the pages are not in the document: every route of the app is walked, each page must be listed
    unlisted = unlisted_routes(api.app, routes | OPEN)
    assert not unlisted, f"list each new page with the actions it checks in PAGES: {unlisted}"


def _forbidden(api: Api) -> int:
    with api.store.transaction() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "auth:forbidden")
            )
            or 0
        )


@pytest.mark.parametrize("username", list(PEOPLE))
def test_route_by_role_matrix(api: Api, username: str) -> None:
    role = Role(PEOPLE[username])
    headers = api.login("tech.t")
    assert api.client.post("/api/v1/studies", json=STUDY, headers=headers).status_code == 201
    for (method, path), (action, body) in ROUTES.items():
        if method == "DELETE" and path == "/api/v1/session":
            continue  # logs the user out: checked at the end
        headers = api.login(username)
        url = path.format(
            study_id=1, username="biller.t", token_id=1, claim_id="ECG0000001", item_id=1, enrolment_id=1,
            name="escalate_emergent_minutes", job_id=1, notification_id=1,
        )
        before = _forbidden(api)
        kwargs: dict[str, Any] = {"headers": headers}
        if path.endswith("/recording"):
            kwargs["files"] = [("files", ("x.csv", b"time,ecg\n0,0\n", "text/csv"))]
        elif body is not None:
            kwargs["json"] = body
        answer = api.client.request(method, url, **kwargs)
        # a role that may do it only on its own studies (ON_OWN_STUDY: a physician marks a study distinct
        # only as its ordering or interpreting physician): dr.t neither ordered nor reads study 1
        may = action is None or (role in PERMISSIONS[action] and role not in ON_OWN_STUDY.get(action, ()))
        where = f"{method} {path} as {role.value}: {answer.status_code} {answer.text[:200]}"
        if may:
            assert answer.status_code not in (401, 403, 500), where
            assert _forbidden(api) == before, where
        else:
            assert answer.status_code == 403, where
            assert _forbidden(api) == before + 1, where
    headers = api.login(username)
    assert api.client.delete("/api/v1/session", headers=headers).status_code == 204


def _permitted(action: Action | None) -> str:
    """A user whose role may perform ``action`` (the technician for routes open to any user)."""
    if action is None:
        return "tech.t"
    return next(name for name, role in PEOPLE.items() if Role(role) in PERMISSIONS[action])


def _url(path: str) -> str:
    return path.format(
        study_id=1, username="biller.t", token_id=1, claim_id="ECG0000001", item_id=1, enrolment_id=1,
        name="escalate_emergent_minutes", job_id=1, notification_id=1,
    )


def _request(api: Api, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    url = _url(path)
    kwargs: dict[str, Any] = {"headers": headers}
    if path.endswith("/recording"):
        kwargs["files"] = [("files", ("x.csv", b"time,ecg\n0,0\n", "text/csv"))]
    elif body is not None:
        kwargs["json"] = body
    return api.client.request(method, url, **kwargs)


def _audit_rows(api: Api, actor: str | None = None) -> int:
    query = select(func.count()).select_from(AuditEntry)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    with api.store.transaction() as session:
        return int(session.scalar(query) or 0)


def _last_action(api: Api) -> str | None:
    with api.store.transaction() as session:
        return session.scalar(select(AuditEntry.action).order_by(AuditEntry.seq.desc()).limit(1))


def test_every_state_changing_route_needs_the_csrf_token(api: Api) -> None:
    """With a session cookie and the right role but no X-CSRF-Token (or a wrong one), every POST, PUT and
    DELETE is refused with 403 naming the header, before anything is done."""
    headers = api.login("tech.t")
    assert api.client.post("/api/v1/studies", json=STUDY, headers=headers).status_code == 201
    changing = [(m, p, a, b) for (m, p), (a, b) in ROUTES.items() if m != "GET"]
    assert len(changing) > 30
    for method, path, action, body in changing:
        for sent in ({}, {"X-CSRF-Token": "forged"}):
            api.login(_permitted(action))
            before = _audit_rows(api)
            answer = _request(api, method, path, body, sent)
            where = f"{method} {path} with {sent}: {answer.status_code} {answer.text[:200]}"
            assert answer.status_code == 403, where
            assert answer.json()["detail"][0]["loc"] == ["X-CSRF-Token"], where
            # nothing done, nothing recorded as done: the refusal's own row only
            assert _audit_rows(api) == before + 1 and _last_action(api) == "auth:csrf-refused", where


#: GET routes that read no patient data: the caller's own session, accounts, the practice's billing set-up,
#: balances summed by payer, the monitoring queue's counts by priority
NOT_PATIENT_DATA = {
    "/api/v1/session",
    "/api/v1/users",
    "/api/v1/tokens",
    "/api/v1/billing",
    "/api/v1/ar/aging",
    "/api/v1/monitoring/queue/counts",
    "/api/v1/settings",  # the escalation minutes: no patient's data
}


def test_every_read_of_patient_data_is_audited(api: Api) -> None:
    """Every GET that answers 200 with patient data appends an audit row naming the reader; none may be
    kept in the browser's cache (until 2026-12-07 only the pages said so)."""
    headers = api.login("tech.t")
    assert api.client.post("/api/v1/studies", json=STUDY, headers=headers).status_code == 201
    answered, unaudited = 0, []
    for (method, path), (action, body) in ROUTES.items():
        if method != "GET" or path in NOT_PATIENT_DATA:
            continue
        reader = _permitted(action)
        api.login(reader)
        before = _audit_rows(api, reader)
        answer = _request(api, method, path, body, {})
        where = f"GET {path} as {reader}: {answer.status_code} {answer.text[:200]}"
        assert answer.status_code < 500, where
        # never kept in the browser's cache (a shared workstation, after logoff)
        assert answer.headers.get("cache-control") == "no-store", where
        if answer.status_code == 200:
            answered += 1
            if _audit_rows(api, reader) == before:
                unaudited.append(where)
    assert not unaudited
    assert answered >= 8  # most reads answer with data in this state; the rest are checked in their flows
    session = api.client.get("/api/v1/session")  # the CSRF token
    assert session.headers.get("cache-control") == "no-store", session.headers


def test_a_body_that_is_not_json_is_refused_for_who_sends_it_first(api: Api) -> None:
    """FastAPI reads a JSON body before a route's dependencies, so a body that did not parse was answered
    422 before the caller was identified: an anonymous caller was told how the route reads its body, a
    cross-site request without the CSRF token and a role that may not use the route got a 422 and no
    audit row. Now the same checks come first, in the same order; only a caller the route would serve
    is told the body is wrong."""
    headers = api.login("tech.t")
    assert api.client.post("/api/v1/studies", json=STUDY, headers=headers).status_code == 201
    broken, json_type = b'{"truncated', {"Content-Type": "application/json"}
    with_body = [(m, p, a) for (m, p), (a, b) in ROUTES.items() if isinstance(b, dict) and m != "GET"]
    assert len(with_body) > 20
    for method, path, action in with_body:
        url = _url(path)
        where = f"{method} {path}"
        api.client.cookies.clear()
        answer = api.client.request(method, url, content=broken, headers=json_type)
        assert answer.status_code == 401, f"{where} anonymous: {answer.status_code} {answer.text[:200]}"
        api.login(_permitted(action))
        before = _audit_rows(api)
        answer = api.client.request(method, url, content=broken, headers=json_type)
        assert answer.status_code == 403 and _last_action(api) == "auth:csrf-refused", where
        assert _audit_rows(api) == before + 1, where
        refused = [name for name, role in PEOPLE.items() if action and Role(role) not in PERMISSIONS[action]]
        for username in refused[:1]:
            headers = api.login(username)
            before = _forbidden(api)
            sent = {**json_type, **headers}
            answer = api.client.request(method, url, content=broken, headers=sent)
            assert answer.status_code == 403, f"{where} as {username}: {answer.status_code} {answer.text}"
            assert _forbidden(api) == before + 1, where
        headers = api.login(_permitted(action))
        sent = {**json_type, **headers}
        answer = api.client.request(method, url, content=broken, headers=sent)
        assert answer.status_code == 422, f"{where} permitted: {answer.status_code} {answer.text[:200]}"
