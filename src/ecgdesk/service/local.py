"""The service on a free loopback port in a thread of this process, for the browser tests and benches.

Not a deployment: ``ecgdesk serve`` runs uvicorn as the process; this runs one uvicorn server in a thread
so a test or a bench can drive the same application over real HTTP with a real browser.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

#: How the browser tests and benches start Debian's Chromium: headless, no sandbox (root in a container),
#: nothing fetched in the background (no component updates, no sync).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app: FastAPI, start_timeout_s: float = 60.0) -> Iterator[str]:
    """Serve ``app`` on ``http://127.0.0.1:<free port>`` until the block ends; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="ecgdesk-local-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the local ECG Desk server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
