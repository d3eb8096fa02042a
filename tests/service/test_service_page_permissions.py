"""The workstation's pages against the one permission table, walked from ``app.routes``: the route x role
matrix of ``test_service_permissions`` takes its routes from the OpenAPI document, which holds no page
(``include_in_schema=False``), so a page added without a role check passed every test. Each page is
listed here with the actions it checks; a route of the app that is neither in the OpenAPI document nor
here fails the walk. A role the table refuses gets 403 and an ``auth:forbidden`` row; one it allows is
never refused; a page showing patient data audits the read; without a session the browser goes to the
login form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from service_builders import PEOPLE, STUDY, Api, add_people, make_api
from sqlalchemy import case, func, select
from starlette.routing import BaseRoute

from backends import make_store
from ecgdesk.store.enums import Role
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.permissions import PERMISSIONS, Action

#: page -> the actions it checks (all of them must be allowed; empty: any signed-in user)
PAGES: dict[str, tuple[Action, ...]] = {
    "/": (),
    "/worklist": (Action.STUDY_LIST,),
    "/signing": (Action.STUDY_SIGN,),
    "/upload": (Action.STUDY_CREATE,),
    "/account/password": (Action.PASSWORD_CHANGE,),
    "/studies/{study_id}": (Action.STUDY_READ,),
    "/studies/{study_id}/viewer": (Action.SIGNAL_READ,),
    "/studies/{study_id}/templates": (Action.SIGNAL_READ,),
    "/studies/{study_id}/strips": (Action.STUDY_READ,),
    "/studies/{study_id}/report": (Action.REPORT_READ,),
    "/studies/{study_id}/billing": (Action.STUDY_BILLING, Action.CLAIM_READ),
    "/claims": (Action.CLAIM_READ, Action.AR_READ),
    "/admin/settings": (Action.SETTINGS_MANAGE,),
    "/admin/users": (Action.USER_MANAGE,),
    "/admin/audit": (Action.AUDIT_READ,),
    "/admin/audit.csv": (Action.AUDIT_READ,),
    "/monitoring": (Action.MONITOR_QUEUE_READ,),
    "/monitoring/periods/{enrolment_id}": (Action.MONITOR_PERIOD_READ,),
}
#: pages for anybody: the login form, our own scripts and styles
OPEN_PAGES = {("GET", "/login"), ("POST", "/login"), ("GET", "/static/{name}")}
#: FastAPI's own: the OpenAPI document and its two viewers
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
#: pages that show no patient's data themselves (their scripts read it through the audited API)
NO_PATIENT_DATA = {"/", "/worklist", "/upload", "/account/password", "/admin/settings", "/admin/users",
                   "/monitoring"}


def _routes(routes: list[BaseRoute]) -> list[BaseRoute]:
    """Every route, those of included routers too (FastAPI keeps those behind their router)."""
    found: list[BaseRoute] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found.extend(_routes(inner.routes) if inner is not None else [route])
    return found


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Api]:
    """SQLite only: the role checks and the audit rows are the workflow's, the same on both backends (the
    API's route x role matrix runs on both)."""
    store = make_store(tmp_path, "sqlite")
    add_people(store)
    yield from make_api(store)
    store.close()


def unlisted_routes(app: FastAPI, api_routes: set[tuple[str, str]]) -> list[str]:
    """The routes of ``app`` (walked from ``app.routes``) that are neither in ``api_routes`` (the OpenAPI
    document's) nor listed here as pages; called by ``test_service_permissions``, which has the document."""
    pages = {("GET", page) for page in PAGES} | OPEN_PAGES
    unlisted, walked = [], set()
    for route in _routes(app.routes):
        path = getattr(route, "path", "")
        if path in FRAMEWORK:
            continue
        assert isinstance(route, APIRoute), route
        for method in route.methods - {"HEAD"}:
            walked.add((method, path))
            if (method, path) not in api_routes | pages:
                unlisted.append(f"{method} {path}")
    assert walked >= api_routes | pages  # the walk reached every router
    return unlisted


def _counts(api: Api, actor: str) -> tuple[int, int]:
    """(``auth:forbidden`` rows, rows of ``actor``)."""
    query = select(
        func.count(case((AuditEntry.action == "auth:forbidden", 1))),
        func.count(case((AuditEntry.actor == actor, 1))),
    )
    with api.store.transaction() as session:
        forbidden, own = session.execute(query).one()
        return int(forbidden), int(own)


def test_each_page_checks_its_role_and_audits_what_it_shows(web: Api) -> None:
    """Every role the table refuses, and one it allows (the first of PEOPLE), on each page."""
    api = web
    headers = api.login("tech.t")
    assert api.client.post("/api/v1/studies", json=STUDY, headers=headers).status_code == 201
    roles = {name: Role(role) for name, role in PEOPLE.items()}
    may = {page: [n for n, r in roles.items() if all(r in PERMISSIONS[a] for a in actions)]
           for page, actions in PAGES.items()}
    wrong: list[str] = []
    shown = 0
    for username, role in roles.items():
        api.login(username)
        for page in PAGES:
            allowed = username in may[page]
            if allowed and username != may[page][0]:
                continue
            url = page.format(study_id=1, enrolment_id=1)
            forbidden, read = _counts(api, username)
            answer: Any = api.client.get(url, follow_redirects=False)
            forbidden_after, read_after = _counts(api, username)
            where = f"{url} as {role.value}: {answer.status_code}"
            if allowed:
                if answer.status_code in (401, 403) or forbidden_after != forbidden:
                    wrong.append(f"refused: {where}")
                elif answer.status_code == 200 and page not in NO_PATIENT_DATA:
                    shown += 1
                    if read_after == read:
                        wrong.append(f"not audited: {where}")
            elif answer.status_code != 403 or forbidden_after != forbidden + 1:
                wrong.append(f"not refused (403 and one auth:forbidden row): {where}")
    assert not wrong, "\n".join(wrong)
    assert all(may.values()) and shown >= 9  # the period page needs an enrolment for a 200
    api.client.cookies.clear()
    for page in PAGES:
        answer = api.client.get(page.format(study_id=1, enrolment_id=1), follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), page
