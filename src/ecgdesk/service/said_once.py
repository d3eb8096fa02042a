"""A request that says one thing twice is refused (422 naming it), not read: a JSON body naming a key twice
in one object, or a query parameter of the route given twice.

``json.loads`` keeps the last value of a repeated key without a word, so ``{"study_ids": [1], "study_ids":
[2, 3]}`` would sign studies 2 and 3, while a proxy, a log or another parser that keeps the first value saw
study 1 (RFC 8259 section 4: names "SHOULD be unique", and parsers differ on which one wins). What the
sender meant is unclear, so nothing is done with it. The same for ``?limit=600&limit=1`` (the last value
was taken; HTTP parameter pollution: a front end checking the first lets the second through); no query
parameter of the API is a list. The checks run as a dependency of every route, after
FastAPI has read the body (so it is the body the route reads, already bounded by ``service.body_limit``)
and before the route's own dependencies; the refusal is a ``json_invalid`` validation error, so the
caller's own refusal (401, 403) comes first as for any unreadable body (``errors.install``).
"""

from __future__ import annotations

import email.message
import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError


class _RepeatedKeyError(Exception):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _RepeatedKeyError(key)
        seen.add(key)
    return dict(pairs)


def repeated_key(raw: bytes) -> str | None:
    """The first key that an object of JSON document ``raw`` names twice, else None (also when ``raw`` is
    not JSON at all: FastAPI's own reading says so)."""
    try:
        json.loads(raw, object_pairs_hook=_unique)
    except _RepeatedKeyError as repeated:
        return str(repeated.args[0])
    except (ValueError, RecursionError):
        return None
    return None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    json_subtype = subtype == "json" or subtype.endswith("+json")
    return message.get_content_maintype() == "application" and json_subtype


def _declared(dependant: Any) -> set[str]:
    """The query parameters a route reads (its own and its dependencies'), by the name sent."""
    names = {field.alias for field in getattr(dependant, "query_params", ())}
    for sub in getattr(dependant, "dependencies", ()):
        names |= _declared(sub)
    return names


async def said_once(request: Request) -> None:
    """Refuse a query parameter of the route given twice, and a JSON body with a repeated key."""
    route = request.scope.get("route")
    declared = _declared(getattr(route, "dependant", None))
    repeated = sorted(name for name in declared if len(request.query_params.getlist(name)) > 1)
    if repeated:
        raise RequestValidationError([{
            "type": "repeated",
            "loc": ("query", repeated[0]),
            "msg": f"given {len(request.query_params.getlist(repeated[0]))} times: give it once",
            "input": {},
        }])
    if getattr(route, "body_field", None) is None or not _is_json(request.headers.get("content-type")):
        return  # no JSON body read (a streamed upload reads its own, never buffered here)
    key = repeated_key(await request.body())
    if key is not None:
        shown = key if len(key) <= 64 else key[:64] + "..."
        raise RequestValidationError([{
            "type": "json_invalid",
            "loc": ("body", shown),
            "msg": f"the key {shown!r} appears twice in one JSON object: which value is meant is unclear",
            "input": {},
        }])
