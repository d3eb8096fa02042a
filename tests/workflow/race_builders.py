"""Two requests at the same moment on PostgreSQL, without timing: the first to pass its checks (its first
audit row) waits until the other has passed its checks too (the fault: both act) or waits for a lock the
first holds (the mend: one after the other). SQLite runs writing transactions one at a time (BEGIN
IMMEDIATE), so these races are PostgreSQL's."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import text

from ecgdesk.store import Store


def _lock_waiters(store: Store) -> int:
    with store.engine.connect() as con:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return int(con.execute(text(query)).scalar() or 0)


def race_in(
    store: Store, monkeypatch: pytest.MonkeyPatch, modules: Sequence[str], call: Callable[[int], Any]
) -> list[Any]:
    """``call(0)`` and ``call(1)`` in two threads; the first to write an audit row (``append`` of one of
    ``modules``, names under ``ecgdesk.workflow``) waits there until the other has reached its own or waits
    for a lock. Each outcome: the value or the error."""
    arrived: set[int] = set()
    guard = threading.Lock()

    def held(real: Callable[..., Any]) -> Callable[..., Any]:
        def append(*args: Any, **kwargs: Any) -> Any:
            me = threading.get_ident()
            with guard:
                first_call = me not in arrived
                arrived.add(me)
            deadline = time.monotonic() + 30
            while first_call and len(arrived) < 2 and not _lock_waiters(store):
                assert time.monotonic() < deadline, "the other request neither came nor waited"
                time.sleep(0.02)
            return real(*args, **kwargs)

        return append

    with monkeypatch.context() as patch:
        for name in modules:
            module = importlib.import_module(f"ecgdesk.workflow.{name}")
            patch.setattr(module, "append", held(module.append))
        out: list[Any] = [None, None]

        def run(i: int) -> None:
            try:
                out[i] = call(i)
            except Exception as error:  # the loser's refusal is the outcome looked at
                out[i] = error

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    return out
