"""What /openapi.json says each operation may answer is what it answers: every refusal an operation can
give is declared, with the one error body (ErrorOut)."""

from __future__ import annotations

from service_builders import Api

from ecgdesk.service import create_app
from ecgdesk.service.routers.interop import MAX_ORDER_BYTES
from ecgdesk.service.settings import ServiceSettings


def test_every_operation_declares_its_refusals_with_the_error_body() -> None:
    """A body past its limit is a 413 on any route (service.body_limit, or the route's own streamed
    limit), yet only the recording upload declared it."""
    document = create_app(ServiceSettings()).openapi()
    missing = []
    for path, item in document["paths"].items():
        if path == "/healthz":
            continue
        for method, operation in item.items():
            for status in ("401", "403", "404", "409", "413", "422", "503"):
                schema = operation["responses"].get(status, {}).get("content", {})
                ref = schema.get("application/json", {}).get("schema", {}).get("$ref", "")
                if not ref.endswith("/ErrorOut"):
                    missing.append(f"{method.upper()} {path} {status}")
    assert not missing


def test_an_order_past_its_limit_is_a_413_naming_the_body(api: Api) -> None:
    """It was a 422 (invalid input), unlike every other body over its limit."""
    headers = api.login("tech.t")
    body = b"MSH|^~\\&|" + b"x" * MAX_ORDER_BYTES
    answer = api.client.post(
        "/api/v1/interop/orders",
        content=body,
        headers={**headers, "Content-Type": "x-application/hl7-v2+er7"},
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body"]
