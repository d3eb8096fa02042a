"""One voice for HTTP errors: every 4xx body is ``{"detail": [{"loc", "msg", "type"}]}`` naming the field.

401 without a valid identity, 403 for a role that may not (or a wrong CSRF token), 404 for an unknown id,
409 for a move the lifecycle refuses (or a row a concurrent request made first), 413 for an upload over
the limit, 422 for invalid input (a value the database refuses to store included), 429 (with Retry-After)
for a login from an address at its limit of refused logins, 503 when the database is busy or down. Input
is never echoed back (it may be a password). Who asks comes before what was sent: a body that does not
parse is refused 401/403 first where its sender is due that (``deps.refuse_unparsed_caller``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecgdesk.errors import (
    AuthenticationError,
    ConflictError,
    EcgDeskError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from ecgdesk.workflow.schemas import ErrorOut


class ServiceError(Exception):
    """An HTTP refusal of the service itself (CSRF, upload size, content type)."""

    def __init__(self, status: int, field: str, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.status, self.field, self.reason, self.kind = status, field, reason, kind


def body(loc: Sequence[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"detail": [{"loc": list(loc), "msg": msg, "type": kind}]}


def _response(status: int, loc: Sequence[str | int], msg: str, kind: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="ecgdesk"'} if status == 401 else None
    return JSONResponse(body(loc, msg, kind), status_code=status, headers=headers)


def status_of(error: EcgDeskError) -> int:
    if isinstance(error, AuthenticationError):
        return 401
    if isinstance(error, PermissionDeniedError):
        return 403
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, InputError):
        return 422
    if isinstance(error, TooManyAttemptsError):
        return 429
    return 503  # a part of ECG Desk this needs is not available (EngineUnavailableError and the like)


def _shown(source: str) -> str:
    """The file an error names, as a user over HTTP may see it: a file the server saved (an X12 body kept
    under its home folder, an upload's working copy) by its name only, not the server's folders."""
    return PurePath(source).name if PurePath(source).is_absolute() else source


def _said(item: dict[str, Any]) -> str:
    """The message of a validation error; a body that is not JSON also says why and where (FastAPI's
    "JSON decode error" alone left the sender guessing). The parser's reason never quotes the input."""
    message = str(item.get("msg", ""))
    reason = (item.get("ctx") or {}).get("error")
    if item.get("type") == "json_invalid" and isinstance(reason, str) and reason:
        where = item.get("loc", ())[-1:]
        at = f" at character {where[0]}" if where and isinstance(where[0], int) else ""
        return f"the body is not valid JSON: {reason}{at}"
    return message


def _allowed(request: Request) -> list[str]:
    """Every method some route takes at the request's path (Starlette's 405 named only the first route's:
    ``DELETE /login`` was told GET alone, though the form posts there), HEAD with GET (``service.head``)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for context in contexts:
            regex = getattr(context, "path_regex", None)
            if regex is not None and regex.match(request.url.path):
                methods |= set(getattr(context, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install(app: FastAPI) -> None:
    async def ecgdesk_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, EcgDeskError)
        status = status_of(error)
        if isinstance(error, InputError):
            where = [_shown(error.source), error.field] if error.source else [error.field]
            return _response(status, where, error.reason, type(error).__name__)
        answer = _response(status, [], str(error), type(error).__name__)
        if isinstance(error, TooManyAttemptsError):
            answer.headers["Retry-After"] = str(error.retry_after_s)
        return answer

    async def service_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ServiceError)
        return _response(error.status, [error.field], error.reason, error.kind)

    async def refused_first(request: Request) -> JSONResponse | None:
        """The caller's refusal (401, 403) where one is due, before telling them their body is wrong."""
        from ecgdesk.service.deps import refuse_unparsed_caller

        try:
            await run_in_threadpool(refuse_unparsed_caller, request)
        except EcgDeskError as refusal:
            return await ecgdesk_error(request, refusal)
        except ServiceError as refusal:
            return await service_error(request, refusal)
        return None

    async def validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        if any(e.get("type") in ("json_invalid", "repeated") for e in error.errors()):
            refusal = await refused_first(request)
            if refusal is not None:
                return refusal
        items = [
            {
                "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                "msg": _said(e),
                "type": e.get("type", "value_error"),
            }
            for e in error.errors()
        ]
        return JSONResponse({"detail": items}, status_code=422)

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 400:  # a body that cannot be parsed at all is invalid input too
            refusal = await refused_first(request)
            if refusal is not None:
                return refusal
            return _response(422, ["body"], f"{error.detail} (send JSON in UTF-8)", "body_not_parsed")
        # no route for this path (a mistyped or traversing URL) or method: name what was wrong
        where = {404: ["path"], 405: ["method"], 413: ["body"]}.get(error.status_code, [])
        if error.status_code != 405:
            return _response(error.status_code, where, str(error.detail), "http")
        allowed = ", ".join(_allowed(request))  # RFC 9110 15.5.6: a 405 says which methods the path takes
        answer = _response(405, where, f"{request.method[:20]} is not taken here; use {allowed}", "http")
        answer.headers["Allow"] = allowed
        return answer

    async def database_error(request: Request, error: Exception) -> JSONResponse:
        if isinstance(error, IntegrityError):  # a concurrent request made the same row first
            return _response(409, [], "conflicts with a change made at the same moment; retry", "conflict")
        answer = _response(503, [], "the database is busy or unavailable; try again", "unavailable")
        answer.headers["Retry-After"] = "1"
        return answer

    async def data_error(request: Request, error: Exception) -> JSONResponse:
        # The last guard: what the request models let through and the database refuses to hold (on
        # PostgreSQL, a NUL inside an HL7 order or an X12 file, an integer past its column) is bad input,
        # and the transaction it came in was rolled back, so nothing changed.
        where = "query" if request.method in ("GET", "HEAD") else "body"
        reason = "holds a value the database cannot store (a NUL character, or a number out of range)"
        return _response(422, [where], reason, "data")

    app.add_exception_handler(EcgDeskError, ecgdesk_error)
    app.add_exception_handler(DataError, data_error)
    app.add_exception_handler(IntegrityError, database_error)
    app.add_exception_handler(OperationalError, database_error)
    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


#: The error responses every API route may give, documented once for the OpenAPI document.
ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "the database is busy or unavailable; retry"},
    401: {"model": ErrorOut, "description": "no valid session or token"},
    403: {
        "model": ErrorOut,
        "description": "the role may not do this, or the CSRF token is missing or wrong",
    },
    404: {"model": ErrorOut, "description": "no such id"},
    409: {
        "model": ErrorOut,
        "description": "refused in the current state (the lifecycle, a text changed meanwhile), or a "
        "change made at the same moment came first; reload and retry",
    },
    # Any request body past its limit, on any route: service.body_limit (JSON, forms, X12), the streamed
    # recordings, strips and orders their own.
    413: {"model": ErrorOut, "description": "the request body is over its limit"},
    422: {"model": ErrorOut, "description": "invalid input; the field and the reason are named"},
}
#: Of the logins only (the API's and the form's): the client address is at its limit of refused logins.
LOGIN_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorOut,
        "description": "too many refused logins from this address; try again after Retry-After seconds",
    }
}
