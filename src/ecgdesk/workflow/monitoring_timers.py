"""The clocks of attended monitoring, run by the service rather than by a person.

An emergent notification nobody acknowledges must reach the on-call physician after the policy's minutes
whether or not a technician thinks of running ``monitor escalate``: :class:`MonitoringTimers` runs
:func:`~ecgdesk.workflow.monitoring_escalation.escalate_unacknowledged` every ``every_s`` seconds in a thread
of the service (``ecgdesk serve``: ``ECGDESK_MONITORING_TIMER_S``, 30 s by default, 0 to turn it off).
Several service processes may each run one: the escalation locks the late notifications it escalates
(``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so each is escalated once.
A failed pass (database restarting) is logged and tried again at the next tick.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from ecgdesk.store import Store
from ecgdesk.workflow.monitoring_escalation import escalate_unacknowledged

log = logging.getLogger(__name__)

#: Seconds between two passes when the environment does not say.
DEFAULT_EVERY_S = 30.0


class MonitoringTimers:
    """A daemon thread escalating late emergent notifications every ``every_s`` seconds until stopped."""

    def __init__(self, store: Store, every_s: float = DEFAULT_EVERY_S, actor: str = "escalation") -> None:
        if not every_s > 0:
            raise ValueError(f"every_s must be greater than 0, got {every_s}")
        self.store, self.every_s, self.actor = store, every_s, actor
        self.escalated: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[int]:
        """One pass: the ids of the escalation notifications it created."""
        try:
            created = escalate_unacknowledged(self.store, self.actor)
        except SQLAlchemyError as error:  # database busy or restarting: the next tick tries again
            log.warning("monitoring timers: escalation pass failed: %s", error)
            return []
        if created:
            log.warning("monitoring timers: escalated %d unacknowledged emergent notice(s)", len(created))
        self.escalated.extend(created)
        return created

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):  # the first pass after one period, then every period
            self.tick()

    def start(self) -> MonitoringTimers:
        self._thread = threading.Thread(target=self._run, name="monitoring-timers", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
