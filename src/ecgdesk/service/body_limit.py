"""A bound on the request bodies the service reads whole into memory before looking at them (JSON, forms,
X12 text): 413 as soon as the declared or the received size passes it. Without it, anybody could make a
worker buffer and parse gigabytes (the reverse proxy of the README lets 8 GiB through, for recordings) with
``POST /api/v1/session``. The routes that stream their body to disk or check it while reading (recordings,
strips, orders) keep their own limits.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecgdesk.service.errors import body

#: JSON bodies and forms: the largest the API takes (a claims export naming 10,000 claims) is ~200 kB.
DEFAULT_LIMIT = 2 * 1024 * 1024
#: X12 files (999, 277CA, 835) are read whole.
MAX_X12 = 64 * 1024 * 1024
STREAMED = re.compile(r"^/api/v1/(studies/[^/]+/recording|monitoring/transmissions|interop/orders)$")
X12 = re.compile(r"^/api/v1/(claims/acks|remittances)$")


def _too_large(limit: int) -> str:
    return f"the request body is over the limit of {limit} bytes"


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or STREAMED.match(path):
            await self.app(scope, receive, send)
            return
        limit = MAX_X12 if X12.match(path) else DEFAULT_LIMIT
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            answer = JSONResponse(body(["body"], _too_large(limit), "too_large"), status_code=413)
            await answer(scope, receive, send)
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:  # an HTTPException: FastAPI passes it on from its body parsing
                raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, bounded, send)
