"""Two technicians record the same physician's call-back at once (the queue screen's Acknowledge, on two
workstations), on PostgreSQL: SQLite runs writing transactions one at a time."""

from __future__ import annotations

import json

import pytest
from monitoring_builders import Strips, make_strips, notified_emergent
from race_builders import race_in
from sqlalchemy import select

from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.monitoring_models import Notification
from ecgdesk.workflow.monitoring_queue import acknowledge


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("ack-race"))


def test_two_acknowledgements_at_once_record_one(
    store: Store, strips: Strips, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read the notice unacknowledged and both wrote: two `monitor:acknowledge` rows, each answer
    "acknowledged" (neither "already"), and the second's outcome and time replaced the first's in the
    notification log the signed report prints. Until 2026-12-08; now the acknowledgement locks the notice:
    the second finds it acknowledged and changes nothing."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs writing transactions one at a time")
    item_id = notified_emergent(store, strips, minutes_ago=30)
    with store.transaction() as session:
        notice = session.scalars(select(Notification.id).where(Notification.queue_item_id == item_id)).one()
    out = race_in(
        store, monkeypatch, ("monitoring_queue",),
        lambda i: acknowledge(store, notice, f"tech.{i}", f"call-back taken by tech.{i}"),
    )
    assert sorted(o.already for o in out) == [False, True], out
    first = next(o for o in out if not o.already)
    with store.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "monitor:acknowledge")).all()
        assert [json.loads(r.after_json)["outcome"] for r in rows] == [first.outcome]
        row = session.get(Notification, notice)
        assert row is not None and row.outcome == first.outcome
    assert all(o.outcome == first.outcome and o.acknowledged_at == first.acknowledged_at for o in out)
    # the second is told who got there first
    assert {o.acknowledged_by for o in out} == {first.outcome.removeprefix("call-back taken by ")}
