"""Where background work starts: one small function, so the job queue of issue 14 can replace it.

Today a daemon thread of this process runs the work; the state and progress it writes live in the
database (the ``uploads`` table), so any worker process answers ``GET /api/v1/studies/{id}`` alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundWork:
    """Threads started by this application, joined at shutdown (and by tests)."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, name: str, work: Callable[[], object]) -> None:
        thread = threading.Thread(target=work, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the work started so far; whether all of it finished."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in threads)
