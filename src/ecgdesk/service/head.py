"""HEAD answered as GET without the body (RFC 9110 section 9.3.2: every general-purpose server supports GET
and HEAD). FastAPI routes a HEAD only to routes that list it, and none did, so ``HEAD /healthz`` (an
uptime check, a load balancer's probe) and a HEAD of any page or listing was a 405. The request runs as
the GET would (the same checks, the same audit of a read); only the body is left out, its headers
(Content-Length included) kept."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
