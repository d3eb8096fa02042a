"""Every HTTP route under hostile input (issue 19): wrong types, missing fields, huge numbers, deep nesting,
non-UTF-8 bodies, wrong content types, oversized bodies, path traversal in file names and unknown ids give
a 4xx whose body names the field (401/403 excepted: they are about who asks), never a 5xx. The routes
come from the OpenAPI document (with the role each needs, from the route x role matrix); the HTML pages
and the uploads are listed here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_builders import PIN, STUDY, UPLOAD_LIMIT, Api, web_with_study
from test_service_permissions import ROUTES

from backends import BACKENDS
from ecgdesk.store.enums import Role
from ecgdesk.workflow.permissions import PERMISSIONS, Action

#: values put where an id, a user name or a number is expected
BAD_IDS = ("2147483647", "999", "2147483648", "99999999999999999999999", "-1", "0", "abc",
           "..%2F..%2Fetc%2Fpasswd", "%00", "1e3")
BAD_NUMBERS = ("99999999999999999999999", "-1", "nan", "inf", "1e400", "", "x")
#: bodies sent with a JSON content type
BAD_JSON: dict[str, bytes] = {
    "non-utf8": b'{"name": "\xff\xfe\xc3("}',
    "nesting-20000": b"[" * 20000 + b"]" * 20000,
    "object-nesting-5000": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "int-5000-digits": b'{"study_id": ' + b"9" * 5000 + b"}",
    "float-1e400": b'{"study_id": 1e400}',
    "nan": b'{"study_id": NaN}',
    "list": b"[]",
    "string": b'"x"',
    "null": b"null",
    "empty": b"",
    "truncated": b'{"name": "Doe',
}
OVERSIZED = b'{"x": "' + b"A" * (UPLOAD_LIMIT + 1024) + b'"}'
PAGES = ("/", "/login", "/worklist", "/upload", "/monitoring", "/monitoring/periods/{id}", "/admin/users",
         "/admin/audit",
         "/studies/{id}", "/studies/{id}/viewer", "/studies/{id}/templates", "/studies/{id}/strips",
         "/studies/{id}/report", "/studies/{id}/billing", "/static/{id}")


def _user(action: Action | None) -> str:
    if action is None:
        return "tech.t"
    role = next(iter(sorted(PERMISSIONS[action], key=lambda r: r != Role.TECHNICIAN)))
    return {"technician": "tech.t", "physician": "dr.t", "biller": "biller.t", "admin": "admin.t"}[role.value]


@pytest.fixture(params=BACKENDS)
def web(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Api]:
    # PostgreSQL too: it refuses values SQLite keeps (a NUL character was a 500 there only)
    yield from web_with_study(tmp_path, request.param)


class Sweep:
    """Sends requests as the user a route needs; collects every 5xx and every 4xx without a field."""

    def __init__(self, api: Api) -> None:
        self.api, self.user, self.failures, self.sent = api, "", list[str](), 0

    def send(self, user: str, method: str, url: str, label: str, **kwargs: Any) -> None:
        if self.user != user:
            self.api.login(user)
            self.user = user
        headers = {**self.api.csrf, **kwargs.pop("headers", {})}
        self.sent += 1
        try:
            answer = self.api.client.request(method, url, headers=headers, **kwargs)
        except Exception as error:  # the test client raises what the app did not handle (a 500)
            where = f"{method} {url[:80]} [{label}] as {user}: {type(error).__name__}: {error}"
            self.failures.append(where[:300])
            return
        where = f"{method} {url[:80]} [{label}] as {user}: {answer.status_code} {answer.text[:160]!r}"
        if answer.status_code >= 500:
            self.failures.append(where)
        # 401/403 are about who asks (a refused re-entered password included), not a field
        elif answer.status_code in range(400, 500) and answer.status_code not in (401, 403) and (
                "json" in answer.headers.get("content-type", "")):
            detail = answer.json().get("detail")
            if not (isinstance(detail, list) and detail and detail[0].get("loc")):
                self.failures.append(f"no field named: {where}")


def _url(path: str, value: str) -> str:
    return re.sub(r"\{[a-z_]+\}", value, path)


def _valid_url(path: str) -> str:
    """The path with ids that exist (a user, the first study, claim, item...): the body and query are
    then what is tested."""
    known = {"username": "biller.t", "claim_id": "ECG0000001", "name": "escalate_emergent_minutes"}
    return re.sub(r"\{([a-z_]+)\}", lambda m: known.get(m.group(1), "1"), path)


def _fields(api: Api, method: str, path: str) -> tuple[list[str], list[str]]:
    """(query parameters, JSON body properties) of an operation."""
    spec = api.app.openapi()
    operation = spec["paths"][path][method.lower()]
    query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref", "")
    properties = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]].get("properties", {}) if ref else {}
    return query, list(properties)


def test_every_route_refuses_hostile_input_with_a_4xx_naming_the_field(web: Api) -> None:
    sweep = Sweep(web)
    for (method, path), (action, body) in ROUTES.items():
        if (method, path) == ("DELETE", "/api/v1/session"):
            continue  # logs the sweep out
        user = _user(action)
        for value in BAD_IDS if "{" in path else ():
            sweep.send(user, method, _url(path, value), f"id {value}", json=body)
        query, properties = _fields(web, method, path)
        url = _valid_url(path)
        for name in query:
            for value in BAD_NUMBERS:
                sweep.send(user, method, url, f"query {name}={value}", params={name: value}, json=body)
        if method == "GET" or path.endswith(("/recording", "/transmissions")):
            continue
        json_type = {"Content-Type": "application/json"}
        for label, raw in BAD_JSON.items():
            sweep.send(user, method, url, label, content=raw, headers=json_type)
        sweep.send(user, method, url, "oversized", content=OVERSIZED, headers=json_type)
        plain = {"Content-Type": "text/plain"}
        sweep.send(user, method, url, "text/plain", content=b'{"a": 1}', headers=plain)
        sweep.send(user, method, url, "form", data={"a": "1"})
        if isinstance(body, dict):
            sweep.send(user, method, url, "missing fields", json={})
            for name in properties:
                for wrong in ({"x": [1]}, 10**30, "\u0000" * 3, ["x"] * 3):
                    sweep.send(user, method, url, f"{name}={wrong!r:.20}", json={**body, name: wrong})
    assert sweep.sent > 1200
    assert not sweep.failures, "\n".join(sweep.failures[:40])


def test_uploads_and_pages_refuse_hostile_input(web: Api) -> None:
    sweep = Sweep(web)
    upload = "/api/v1/studies/1/recording"
    names = ("../../etc/passwd", "..\\..\\x.hea", "/etc/passwd", "a\x00b.hea", "CON", "x" * 5000 + ".dat",
             ".hea", "", "\u202erec.hea", "rec.hea/../../x.dat")
    for name in names:
        sweep.send("tech.t", "POST", upload, f"name {name[:20]!r}",
                   files=[("files", (name, b"rec 1 360 10\n", "application/octet-stream"))])
    sweep.send("tech.t", "POST", upload, "no files", files=[("other", ("a", b"x", "text/plain"))])
    sweep.send("tech.t", "POST", upload, "json body", json={"files": []})
    sweep.send("tech.t", "POST", upload, "non-utf8 multipart", content=b"--b\r\n\xff\xfe\r\n--b--",
               headers={"Content-Type": "multipart/form-data; boundary=b"})
    sweep.send("tech.t", "POST", upload, "multipart without boundary", content=b"x",
               headers={"Content-Type": "multipart/form-data"})
    sweep.send("tech.t", "POST", upload, "oversized", files=[
        ("files", ("big.dat", b"\0" * (UPLOAD_LIMIT + 1), "application/octet-stream"))])
    strips = "/api/v1/monitoring/transmissions"
    devices: tuple[dict[str, str], ...] = (
        {"device": "\u0000"}, {"device": "x" * 10_000}, {"device": "D", "message_id": "9" * 400}, {})
    for params in devices:
        sweep.send("tech.t", "POST", strips, f"transmission {params!r:.30}", params=params,
                   files=[("files", ("../x.hea", b"junk", "application/octet-stream"))])
    for page in PAGES:
        for value in BAD_IDS if "{id}" in page else ("",):
            sweep.send("tech.t", "GET", _url(page, value), f"page {value}")
    sweep.send("tech.t", "POST", "/login", "login non-utf8", content=b"username=\xff&password=\xfe",
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    sweep.send("tech.t", "POST", "/login", "login json", json={"username": ["x"]})
    sweep.send("tech.t", "POST", "/api/v1/session", "session nesting",
               content=b"[" * 20000 + b"]" * 20000, headers={"Content-Type": "application/json"})
    assert not sweep.failures, "\n".join(sweep.failures[:40])


def _named(answer: Any, loc: list[str]) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == loc, answer.text
    assert "NUL character" in answer.json()["detail"][0]["msg"], answer.text


def _named_on_page(answer: Any, name: str) -> None:
    """A page's form or address: the error page names the field (the API's JSON is for scripts)."""
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html"), answer.text
    assert f"<strong>{name}</strong>" in answer.text and "NUL character" in answer.text, answer.text


def test_nul_characters_are_a_422_naming_the_field(web: Api) -> None:
    """PostgreSQL cannot store a NUL character (each of these was a 500 there, the login one for anybody):
    both stores refuse it alike, naming the field, and keep nothing."""
    web.client.cookies.clear()
    _named(web.client.post("/api/v1/session", json={"username": "tech.t\x00", "password": PIN}),
           ["body", "username"])
    _named_on_page(web.client.post("/login", data={"username": "tech.t\x00", "password": PIN}), "username")
    headers = web.login("tech.t")
    for changes, field in (({"patient_id": "P\x00"}, "patient_id"), ({"name": "Roe\x00"}, "name"),
                           ({"indications": ["R00.2", "R00.\x001"]}, "indications")):
        body = {**STUDY, "patient_id": "P2", **changes}
        _named(web.client.post("/api/v1/studies", json=body, headers=headers), ["body", field])
    search = web.client.post("/api/v1/worklist", json={"search": "Roe\x00"}, headers=headers)
    _named(search, ["body", "search"])
    assert web.client.get("/api/v1/studies").json()["total"] == 1  # the fixture's own study
    headers = web.login("admin.t")
    body = {"username": "tech2", "role": "technician", "password": PIN, "display_name": "T\x00"}
    _named(web.client.post("/api/v1/users", json=body, headers=headers), ["body", "display_name"])
    _named_on_page(web.client.get("/admin/audit", params={"user": "\x00"}), "user")
    assert "tech2" not in {u["username"] for u in web.client.get("/api/v1/users").json()}


def test_every_json_body_is_an_input_model(web: Api) -> None:
    """The NUL rule lives in InputModel: a route taking a body of another model would not have it."""
    from ecgdesk.workflow.schemas import InputModel

    def family(cls: type) -> set[str]:
        return {cls.__name__}.union(*(family(sub) for sub in cls.__subclasses__()))

    spec = web.app.openapi()
    bodies = {
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        for item in spec["paths"].values()
        for operation in item.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    assert len(bodies) > 20 and bodies <= family(InputModel), bodies - family(InputModel)


def test_a_value_the_database_refuses_is_a_422_not_a_500(web: Api) -> None:
    """The last guard for what no request model sees (a value inside an order message or an X12 file):
    the database's refusal is bad input, and its transaction was rolled back."""
    from sqlalchemy import text
    from sqlalchemy.exc import DataError

    @web.app.post("/api/v1/test-data-error")
    def refused() -> None:
        with web.store.transaction() as session:
            session.execute(text("SELECT 1"))
            raise DataError("INSERT ...", {}, ValueError("NUL"))

    web.login("tech.t")
    answer = web.client.post("/api/v1/test-data-error", headers=web.csrf)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body"], answer.text
    assert "cannot store" in answer.json()["detail"][0]["msg"]


def test_bodies_read_whole_are_bounded_before_they_are_buffered(web: Api) -> None:
    """An unauthenticated POST /api/v1/session of 100 MiB was read and parsed whole (the README's proxy lets
    8 GiB through); now the service stops reading past its limit: 413 naming the body. Called as ASGI (the
    test client reads a whole body before the app sees any of it)."""
    import anyio

    pulled, sent = [0], list[dict[str, Any]]()

    async def receive() -> dict[str, Any]:
        pulled[0] += 1
        if pulled[0] > 100:
            await anyio.sleep_forever()  # the client waits for the answer
        return {"type": "http.request", "body": b" " * 2**20, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/v1/session", "raw_path": b"/api/v1/session", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}

    async def call() -> None:
        with anyio.fail_after(10):
            await web.app(scope, receive, send)

    anyio.run(call)
    assert sent[0]["status"] == 413 and b'"loc":["body"]' in sent[1]["body"], sent
    assert pulled[0] <= 3, pulled  # 2 MiB, then the chunk that passed it
    answer = web.client.post("/api/v1/session", content=b"{}", headers={"Content-Length": str(2**33)})
    assert answer.status_code == 413 and answer.json()["detail"][0]["loc"] == ["body"]


def test_a_json_body_naming_a_key_twice_is_refused_naming_the_key(api: Api) -> None:
    """``{"study_ids": [1], "study_ids": [2]}`` was taken as its last value without a word (a proxy or a
    log keeping the first saw another request); a body that is not JSON did not say why."""
    headers = {**api.login("tech.t"), "Content-Type": "application/json"}
    twice = b'{"patient_id": "P1", "patient_id": "P2", ' + json.dumps(STUDY).encode()[1:]
    answer = api.client.post("/api/v1/studies", content=twice, headers=headers)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "patient_id"]
    assert "twice" in answer.json()["detail"][0]["msg"]
    nested = json.dumps(STUDY).encode()[:-1] + b', "x": [{"a": 1, "a": 2}]}'
    answer = api.client.post("/api/v1/studies", content=nested, headers=headers)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "a"]
    assert api.client.get("/api/v1/studies").json()["total"] == 0  # nothing was made
    api.client.cookies.clear()  # who asks first: a caller without a session learns nothing of the body
    assert api.client.post("/api/v1/studies", content=twice, headers=headers).status_code == 401
    login = b'{"username": "tech.t", "password": "0000", "password": "' + PIN.encode() + b'"}'
    answer = api.client.post("/api/v1/session", content=login, headers=headers)
    assert answer.status_code == 422 and "set-cookie" not in answer.headers
    answer = api.client.post("/api/v1/session", content=b'{"username": ', headers=headers)
    assert answer.json()["detail"][0]["msg"] == "the body is not valid JSON: Expecting value at character 13"


def test_head_is_a_get_without_body_and_a_405_names_the_methods_and_a_repeat_is_refused(api: Api) -> None:
    """HEAD of every GET route was a 405 (FastAPI routes HEAD only where listed); a 405 had no Allow, or
    only the first route's methods; ``?limit=600&limit=1`` was read as its last value."""
    api.login("tech.t")
    for url in ("/healthz", "/api/v1/studies", "/worklist"):
        got, head = api.client.get(url), api.client.head(url)
        assert head.status_code == 200 and head.content == b"", url
        assert head.headers["content-length"] == got.headers["content-length"], url
    for method, url, allow in (("DELETE", "/login", "GET, HEAD, POST"), ("OPTIONS", "/api/v1/studies",
                               "GET, HEAD, POST"), ("BREW", "/api/v1/studies/1", "GET, HEAD"),
                               ("HEAD", "/api/v1/session/password", "PUT")):
        answer = api.client.request(method, url)
        assert answer.status_code == 405 and answer.headers["allow"] == allow, (method, url)
        assert answer.headers["content-type"] == "application/json", (method, url)
        if method != "HEAD":
            assert answer.json()["detail"] == [
                {"loc": ["method"], "msg": f"{method} is not taken here; use {allow}", "type": "http"}]
    for url in ("/api/v1/studies?limit=600&limit=1", "/api/v1/studies?offset=0&limit=5&offset=9"):
        answer = api.client.get(url)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][0] == "query", url
        assert answer.json()["detail"][0]["msg"] == "given 2 times: give it once"
    assert api.client.get("/api/v1/studies?limit=5&other=1&other=2").status_code == 200  # not the route's
    api.client.cookies.clear()  # who asks first
    assert api.client.get("/api/v1/studies?limit=6&limit=1").status_code == 401
