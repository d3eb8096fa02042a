"""The audit chain: appended rows verify; an edited, deleted or newest-deleted row is found and named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backends import BACKENDS, make_store
from ecgdesk.store import Store, append, open_store, verify
from ecgdesk.store.models import AuditEntry


@pytest.fixture(params=BACKENDS)
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    store = make_store(tmp_path, request.param)
    with store.transaction() as session:
        for i in range(5):
            append(session, "alice", "study:edit", "study", 1, {"n": i}, {"n": i + 1})
    yield store
    store.close()


def drop_guards(session: Session) -> None:
    """What an attacker with full database rights does first: remove the append-only triggers."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
    else:
        session.execute(text("DROP TRIGGER audit_log_no_update"))
        session.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_database_refuses_update_and_delete(store: Store) -> None:
    for statement in (
        update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"),
        delete(AuditEntry).where(AuditEntry.seq == 2),
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.transaction() as session:
            session.execute(statement)
    with store.transaction() as session:
        assert verify(session).ok


def test_intact_chain_verifies(store: Store) -> None:
    with store.transaction() as session:
        report = verify(session)
    assert report.ok and report.rows == 5


def test_edited_row_is_named(store: Store) -> None:
    with store.transaction() as session:
        drop_guards(session)
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(after_json='{"n":99}'))
    with store.transaction() as session:
        report = verify(session)
    assert report.problem is not None
    assert report.problem.seq == 3 and "edited" in report.problem.reason
    assert report.rows == 2


def test_rehashed_edit_breaks_the_next_row(store: Store) -> None:
    """An attacker who also fixes the edited row's own hash is caught by the next row's prev_hash."""
    from ecgdesk.store.audit import row_hash

    with store.transaction() as session:
        drop_guards(session)
        row = session.scalar(select(AuditEntry).where(AuditEntry.seq == 2))
        assert row is not None
        row.actor = "mallory"
        row.hash = row_hash(
            row.prev_hash,
            row.seq,
            row.at,
            row.actor,
            row.action,
            row.entity,
            row.entity_id,
            row.before_json,
            row.after_json,
        )
    with store.transaction() as session:
        report = verify(session)
    assert report.problem is not None and report.problem.seq == 3
    assert "prev_hash" in report.problem.reason


def test_deleted_row_is_named(store: Store) -> None:
    with store.transaction() as session:
        drop_guards(session)
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
    with store.transaction() as session:
        report = verify(session)
    assert report.problem is not None and report.problem.seq == 4
    assert "deleted" in report.problem.reason


def test_deleted_newest_row_is_found(store: Store) -> None:
    with store.transaction() as session:
        drop_guards(session)
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
    with store.transaction() as session:
        report = verify(session)
    assert report.problem is not None and report.problem.seq == 5
    assert "head" in report.problem.reason


def test_rolled_back_change_leaves_no_audit_row(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as session:
        append(session, "bob", "study:edit", "study", 2, None, {"x": 1})
        raise RuntimeError("interrupted")
    with store.transaction() as session:
        report = verify(session)
    assert report.ok and report.rows == 5


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    """Two processes' worth of stores on one SQLite file append at the same time: one unbroken chain."""
    import threading

    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    stores = [open_store(url=url, home=tmp_path / "home") for _ in range(3)]

    def write(store: Store, who: str) -> None:
        for i in range(15):
            with store.transaction() as session:
                append(session, who, "note", "study", 1, None, {"i": i})

    threads = [threading.Thread(target=write, args=(s, f"user{k}")) for k, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with stores[0].transaction() as session:
        report = verify(session)
    assert report.ok and report.rows == 45
    for store in stores:
        store.close()


def test_long_entity_ids_fit_the_column(store: Store) -> None:
    """An id longer than the 40-character column (an HL7 control id, say) is kept as its start and a
    digest: the same for every row about it, and PostgreSQL does not refuse the row."""
    from ecgdesk.store.audit import append_many, entity_key, rows

    long_id = "unparsed:" + "ab" * 40
    with store.transaction() as session:
        append(session, "interface", "note", "message", long_id, None, {"n": 1})
        append(session, "interface", "note", "message", long_id, None, {"n": 2})
        # The bulk writer (claims posting, the job queue) stored str(id) until 2026-12-07: PostgreSQL
        # refused the row, SQLite kept it where rows() did not look.
        append_many(session, [("interface", "note", "message", long_id, None, {"n": 3})])
        found = rows(session, "message", long_id)
        assert verify(session).ok
    assert len(entity_key(long_id)) == 40 and entity_key("short") == "short"
    assert [r.after["n"] for r in found] == [1, 2, 3] and found[0].entity_id == entity_key(long_id)
