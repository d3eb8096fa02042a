"""``Cache-Control: no-store`` on every answer that does not say otherwise (the static files do).

The pages sent it, the JSON API did not: patient data, the session's CSRF token (``GET /api/v1/session``)
and signed reports (``report.pdf``) went out with no caching rule, so a browser could keep them in its disk
cache, readable on a shared workstation after the user logged off (OWASP ASVS 8.2.1, the Session Management
cheat sheet). ``nosniff`` too, so a JSON or X12 answer is never run as a script or a page.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class NoStore:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Cache-Control", "no-store")
                headers.setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        await self.app(scope, receive, marked)
