"""Property-based run over ``/openapi.json`` (schemathesis): for every operation, a bounded number of
generated requests with an authenticated session; no 5xx, and every answer matches the documented status
codes, content types and schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from service_builders import Api, web_with_study

from ecgdesk.service import create_app
from ecgdesk.service.settings import ServiceSettings

EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _user_for(path: str) -> str:
    """The role that may use the operation, so most requests get past the permission check."""
    if path.startswith(("/api/v1/audit", "/api/v1/users", "/api/v1/tokens")):
        return "admin.t"
    if path.endswith(("/sign", "/interpretation", "/addendum")):
        return "dr.t"
    if path.endswith(("/coding", "/bill")) or path in ("/api/v1/remittances", "/api/v1/claims/acks"):
        return "biller.t"  # (the X12 routes: their generated bodies reach the parser, not a 403)
    return "tech.t"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Api]:
    yield from web_with_study(tmp_path)


def _part(value: object) -> object:
    if isinstance(value, tuple):
        name, content, *rest = value
        data = content if isinstance(content, bytes | str) else str(content).encode()
        return (name, data, *rest)
    return value if isinstance(value, bytes | str) else str(value).encode()


# HL7 v2 order bodies (POST /api/v1/interop/orders) and X12 files (POST /api/v1/remittances,
# /api/v1/claims/acks) are text on the wire.
schemathesis.serializer.alias("x-application/hl7-v2+er7", "text/plain")
schemathesis.serializer.alias("application/edi-x12", "text/plain")

#: The document of the app as served (the same routes and models whatever the database).
schema = schemathesis.openapi.from_dict(create_app(ServiceSettings()).openapi())


#: One test per operation, parametrized here rather than by ``schema.parametrize()``: under pytest-xdist
#: that decorator collapses into a single test that runs no operation.
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_openapi_operations(operation: schemathesis.APIOperation, web: Api) -> None:
    calls = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: schemathesis.Case) -> None:
        calls.append(case)
        _check(case, web)

    run()
    assert calls  # hypothesis ran the operation's examples


def _check(case: schemathesis.Case, web: Api) -> None:
    if case.path == "/api/v1/session" and case.method.upper() == "DELETE":
        return  # would log the session out for the examples that follow
    user = _user_for(case.path)
    if web.user != user:  # one login per operation: the examples share the session
        web.login(user)
        web.user = user
    request = case.as_transport_kwargs(base_url="http://testserver", headers=web.csrf)
    request.pop("cookies", None)  # the client's cookie jar holds the session cookie
    if isinstance(request.get("data"), bytes | str):  # raw bodies are 'content' for httpx
        request["content"] = request.pop("data")
    if request.get("files"):  # generated parts may hold numbers or None: send them as text
        request["files"] = [(name, _part(value)) for name, value in request["files"]]
    response = web.client.request(**request)
    response.request.read()  # a streamed (multipart) request body, for the checks to look at
    case.validate_response(response, checks=CHECKS)
