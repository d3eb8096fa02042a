"""Where background work starts: jobs in the database (issue 14), and threads of this process.

Routes queue jobs (``ecgdesk.workflow.jobs``); :meth:`BackgroundWork.run_job` then runs the job in a
daemon thread of this process when the service runs its jobs inline (settings ``jobs = "inline"``), or
leaves it to the ``ecgdesk worker`` processes (``"queue"``: ``ecgdesk serve`` starts one). The state and
progress live in the database, so any process answers ``GET /api/v1/studies/{id}`` alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from ecgdesk.store import Store


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

    def run_job(self, store: Store, job_id: int, inline: bool) -> None:
        """Run job ``job_id`` (and the jobs it leads to) in a thread here if ``inline``, else leave it to
        the workers."""
        if inline:
            from ecgdesk.workflow.jobs import run_chain

            self.submit(f"job-{job_id}", partial(run_chain, store, job_id))

    def resume(self, store: Store, inline: bool) -> None:
        """When the service starts: if it runs its jobs ``inline``, run in a thread the jobs left queued or
        running by its previous run (restarted, or killed, mid-way), which no worker process would run."""
        if inline:
            from ecgdesk.workflow.jobs import run_left

            self.submit("jobs-left", partial(run_left, store))

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the work started so far; whether all of it finished."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in threads)
