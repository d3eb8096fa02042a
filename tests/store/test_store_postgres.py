"""The same store on PostgreSQL: migrations, the audit chain and a study flow.

Runs only where ``ECGDESK_TEST_POSTGRES_URL`` names an empty scratch database (its tables are dropped),
e.g. ``postgresql+psycopg://postgres@/ecgdesk_test?host=/tmp/pg&port=54329``; skipped elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import DBAPIError

from backends import postgres_url
from ecgdesk.coding import Service
from ecgdesk.store import Store, append, open_store, verify
from ecgdesk.store.models import AuditEntry, RecordingBlob
from ecgdesk.workflow.studies import StudyRequest, create_study
from ecgdesk.workflow.views import show_study

URL = postgres_url()
pytestmark = pytest.mark.skipif(
    not URL, reason="set ECGDESK_TEST_POSTGRES_URL to a scratch PostgreSQL database"
)


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[Store]:
    assert URL is not None
    engine = create_engine(URL)
    with engine.begin() as con:
        con.execute(text("DROP SCHEMA public CASCADE"))
        con.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    store = open_store(url=URL, home=tmp_path)
    yield store
    store.close()


def test_postgres_study_and_audit_chain(pg_store: Store) -> None:
    request = StudyRequest(
        "P1", "Doe, Jane", date(1950, 1, 2), "F", Service.AMBULATORY_ECG, "1245319599", ("R00.2",), 8.0
    )
    study_id = create_study(pg_store, request, "tech")
    assert show_study(pg_store, study_id).status == "ordered"
    with pg_store.transaction() as session:
        append(session, "tech", "note", "study", study_id, None, {"text": "ünïcode ✓"})
    with pytest.raises(DBAPIError, match="append-only"), pg_store.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
    with pg_store.transaction() as session:
        assert verify(session).ok
        session.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))  # full rights
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
    with pg_store.transaction() as session:
        report = verify(session)
    assert report.problem is not None and report.problem.seq == 2


def test_a_recording_of_more_than_2_to_the_31_samples_is_stored(pg_store: Store) -> None:
    """15 days at 2 kHz: int4 refused the row (NumericValueOutOfRange) when the import attached it, after
    the file was copied and its pyramid built (migration 0023)."""
    n_samples = 15 * 86400 * 2000
    with pg_store.transaction() as session:
        row = RecordingBlob(sha256="a" * 64, blob_dir="aa/a", main_file="r.hea", original_path="/r.hea",
                            format="wfdb", fs=2000.0, n_samples=n_samples, n_leads=1,
                            duration_s=n_samples / 2000, start_time=None, size_bytes=2 * n_samples,
                            imported_at=datetime(2026, 12, 7, tzinfo=UTC))
        session.add(row)
    with pg_store.transaction() as session:
        assert session.scalar(select(RecordingBlob.n_samples)) == n_samples


def test_a_time_without_its_zone_is_stored_as_utc_whatever_the_session_zone(
    pg_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A naive time is UTC here (a recording's start, a strip's time); PostgreSQL read it in the session's
    zone (the server's TimeZone, or PGTZ): on a server set to New York 12:00 was stored as 17:00 UTC and
    came back as 12:00-05:00. Every session is in UTC now."""
    monkeypatch.setenv("PGTZ", "America/New_York")
    store = open_store(url=URL, home=tmp_path)
    try:
        with store.transaction() as session:
            session.add(RecordingBlob(sha256="b" * 64, blob_dir="bb/b", main_file="r.hea", original_path="/r",
                                      format="wfdb", fs=250.0, n_samples=1, n_leads=1, duration_s=0.004,
                                      start_time=datetime(2026, 1, 1, 12, 0), size_bytes=2,
                                      imported_at=datetime(2026, 12, 7, tzinfo=UTC)))
        with store.transaction() as session:
            stored = session.scalar(select(RecordingBlob.start_time))
            assert session.scalar(text("SELECT extract(hour FROM start_time AT TIME ZONE 'UTC') "
                                       "FROM recordings")) == 12
    finally:
        store.close()
    assert stored == datetime(2026, 1, 1, 12, 0, tzinfo=UTC) and stored.utcoffset() == UTC.utcoffset(None)
