"""Every listing of the API comes in pages of at most MAX_PAGE rows, in a stable order, with the total and
the next page: none answers with every row of a table that grows."""

from __future__ import annotations

from service_builders import Api

from ecgdesk.service import create_app
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.workflow.paging import MAX_PAGE

#: Listings of one study's own rows (its claims, its result deliveries): a handful per study; and the
#: application settings, a fixed list the code defines (workflow.app_settings), not a table that grows.
NOT_GROWING = {
    "/api/v1/studies/{study_id}/claims",
    "/api/v1/studies/{study_id}/deliveries",
    "/api/v1/settings",
}


def _schema(document: dict, schema: dict) -> dict:  # type: ignore[type-arg]
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def test_every_listing_of_the_api_is_paged() -> None:
    document = create_app(ServiceSettings()).openapi()
    unpaged = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
            listing = _schema(document, content.get("schema", {})).get("type") == "array"
            if method != "get" or not listing or path in NOT_GROWING:
                continue
            query = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"}
            if "offset" not in query or query.get("limit", {}).get("maximum", MAX_PAGE + 1) > MAX_PAGE:
                unpaged.append(path)
    assert not unpaged, f"listings without offset and limit <= {MAX_PAGE}: {unpaged}"


def test_a_page_says_the_total_and_links_the_next(api: Api) -> None:
    api.login("admin.t")
    first = api.client.get("/api/v1/users", params={"limit": 3})
    assert first.status_code == 200 and len(first.json()) == 3
    assert first.headers["x-total-count"] == "4"
    assert first.headers["link"] == '</api/v1/users?limit=3&offset=3>; rel="next"'
    last = api.client.get(first.headers["link"][1:].split(">")[0])
    assert [u["username"] for u in first.json() + last.json()] == ["admin.t", "tech.t", "dr.t", "biller.t"]
    assert "link" not in last.headers and last.headers["x-total-count"] == "4"
    answer = api.client.get("/api/v1/tokens", params={"limit": MAX_PAGE + 1})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "limit"]
