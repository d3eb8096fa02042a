"""Opening a store: migrations at startup, idempotent re-open, bad URL, models match the migrated schema."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, inspect

from backends import BACKENDS, scratch_url
from ecgdesk.errors import InputError
from ecgdesk.store import open_store
from ecgdesk.store.db import default_url
from ecgdesk.store.models import load_all_models

if TYPE_CHECKING:
    from alembic.config import Config


def test_migrated_schema_matches_models(tmp_path: Path) -> None:
    store = open_store(url=f"sqlite:///{tmp_path / 'a.sqlite'}", home=tmp_path)
    inspector = inspect(store.engine)
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    assert tables == set(load_all_models().tables)
    for name, table in load_all_models().tables.items():
        assert {c["name"] for c in inspector.get_columns(name)} == {c.name for c in table.columns}, name
    store.close()
    again = open_store(url=f"sqlite:///{tmp_path / 'a.sqlite'}", home=tmp_path)  # already at head
    again.close()


def test_default_url_follows_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECGDESK_DATABASE_URL", raising=False)
    assert default_url(tmp_path) == f"sqlite:///{tmp_path / 'ecgdesk.sqlite'}"
    monkeypatch.setenv("ECGDESK_DATABASE_URL", "postgresql://x@y/z")
    assert default_url(tmp_path) == "postgresql://x@y/z"


def test_bad_url_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        open_store(url="nosuchdialect://x", home=tmp_path)
    assert info.value.field == "ECGDESK_DATABASE_URL"


def test_migrations_and_models_agree(tmp_path: Path) -> None:
    """Alembic's autogenerate finds nothing to add: the shipped migrations build exactly the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = open_store(url=f"sqlite:///{tmp_path / 'b.sqlite'}", home=tmp_path)
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), load_all_models())
    store.close()
    assert diff == []


def test_error_masks_the_database_password(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        open_store(url="mysql://clinic:s3cret@db.example/ecg", home=tmp_path)
    assert "s3cret" not in str(info.value) and "clinic:***@db.example" in str(info.value)


def _alembic_config() -> Config:
    from alembic.config import Config

    from ecgdesk.store.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade_to(url: str, revision: str) -> Engine:
    """A new database at ``url`` migrated up to ``revision`` only (an older ECG Desk's), and its engine."""
    from alembic import command
    from sqlalchemy import create_engine

    engine = create_engine(url)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


def test_an_older_database_is_upgraded_at_open(tmp_path: Path) -> None:
    """A database left at revision 0001 by an older release is brought to the head (0002: the triggers)."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from ecgdesk.store import append, verify

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    _upgrade_to(url, "0001").dispose()
    store = open_store(url=url, home=tmp_path)
    with store.transaction() as session:
        append(session, "old", "note", "study", 1, None, {"x": 1})
    with store.engine.connect() as connection:
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    with pytest.raises(DBAPIError, match="append-only"), store.transaction() as session:
        session.execute(text("DELETE FROM audit_log"))
    with store.transaction() as session:
        assert verify(session).rows == 1
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_at_0012_gains_the_import_warnings_of_its_studies(tmp_path: Path, backend: str) -> None:
    """Revision 0013 adds ``studies.import_warnings_json`` to a database holding a study and its recording:
    the study is kept, its import warnings unknown (NULL, shown as none)."""
    from datetime import UTC, date, datetime

    from sqlalchemy import MetaData, select

    from ecgdesk.store.models import Study
    from ecgdesk.workflow.views import show_study

    url = scratch_url(tmp_path, backend)
    engine = _upgrade_to(url, "0012")
    stamp = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    old = MetaData()
    with engine.begin() as connection:
        old.reflect(connection, only=["patients", "orders", "recordings", "studies"])
        assert "import_warnings_json" not in old.tables["studies"].c
        rows = {
            "patients": dict(external_id="P1", name="Doe, Jane", birth_date=date(1950, 1, 2), sex="F",
                             created_at=stamp),
            "orders": dict(patient_id=1, ordering_npi="1245319599", indications_json='["R00.2"]',
                           service="ambulatory_ecg", setting="practitioner", place_of_service="11",
                           created_at=stamp),
            "recordings": dict(sha256="a" * 64, blob_dir=f"aa/{'a' * 64}", main_file="r.hea", format="wfdb",
                               original_path="/x/r.hea", fs=250.0, n_samples=2500, n_leads=2,
                               duration_s=10.0, size_bytes=10_000, imported_at=stamp),
            "studies": dict(patient_id=1, order_id=1, recording_id=1, status="recorded",
                            technician_comments="", created_at=stamp, updated_at=stamp),
        }
        for name, values in rows.items():
            connection.execute(old.tables[name].insert().values(id=1, **values))
    engine.dispose()
    store = open_store(url=url, home=tmp_path / "home")
    with store.transaction() as session:
        assert session.scalar(select(Study.import_warnings_json).where(Study.id == 1)) is None
    view = show_study(store, 1)
    assert view.status == "recorded" and view.recording is not None and view.recording.import_warnings == []
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_at_0013_gains_order_priorities_as_routine(tmp_path: Path, backend: str) -> None:
    """Revision 0014 adds ``orders.priority``: an order recorded before it is kept, as routine (none was
    read with a priority before), and the worklist lists it."""
    from datetime import UTC, date, datetime

    from sqlalchemy import MetaData, select

    from ecgdesk.store.models import Order
    from ecgdesk.workflow.worklist import list_studies

    url = scratch_url(tmp_path, backend)
    engine = _upgrade_to(url, "0013")
    stamp = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    old = MetaData()
    with engine.begin() as connection:
        old.reflect(connection, only=["patients", "orders", "studies"])
        assert "priority" not in old.tables["orders"].c
        rows = {
            "patients": dict(external_id="P1", name="Doe, Jane", birth_date=date(1950, 1, 2), sex="F",
                             created_at=stamp),
            "orders": dict(patient_id=1, ordering_npi="1245319599", indications_json='["R00.2"]',
                           service="ambulatory_ecg", setting="practitioner", place_of_service="11",
                           created_at=stamp),
            "studies": dict(patient_id=1, order_id=1, status="ordered", technician_comments="",
                            created_at=stamp, updated_at=stamp),
        }
        for name, values in rows.items():
            connection.execute(old.tables[name].insert().values(id=1, **values))
    engine.dispose()
    store = open_store(url=url, home=tmp_path / "home")
    with store.transaction() as session:
        assert session.scalar(select(Order.priority).where(Order.id == 1)) == "routine"
    assert [(row.id, row.priority.value) for row in list_studies(store)] == [(1, "routine")]
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_at_0014_keeps_its_queued_jobs_with_no_retry_wait(tmp_path: Path, backend: str) -> None:
    """Revision 0015 adds ``jobs.not_before`` (the backoff of a job queued again after a transient error):
    a job queued before it is kept, with no wait (NULL), and a worker leases it at once."""
    from datetime import UTC, datetime

    from sqlalchemy import MetaData

    from ecgdesk.jobs import queue
    from ecgdesk.jobs.settings import Backoff

    url = scratch_url(tmp_path, backend)
    engine = _upgrade_to(url, "0014")
    stamp = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    old = MetaData()
    with engine.begin() as connection:
        old.reflect(connection, only=["jobs"])
        assert "not_before" not in old.tables["jobs"].c
        connection.execute(old.tables["jobs"].insert().values(
            id=1, kind="analysis.file", payload_json='{"path": "/data/a.hea"}', input_hash="a" * 64,
            algorithm_version="v1", priority=10, status="queued", attempts=1, max_attempts=3, progress=0.0,
            error="OSError: No space left on device", created_by="tech", created_at=stamp, updated_at=stamp,
        ))
    engine.dispose()
    store = open_store(url=url, home=tmp_path / "home")
    with store.transaction() as session:
        info = queue.info(session, queue.get_job(session, 1))
        assert (info.status, info.attempts, info.error) == ("queued", 1, "OSError: No space left on device")
        assert (info.not_before, info.retry_wait) == (None, None)
        (claim,) = queue.claim(session, "w", ["analysis.file"], 1, backoff=Backoff(30, 600, 0))
        assert (claim.job_id, claim.attempts) == (1, 2)
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_with_studies_goes_down_to_0013_and_up_again(tmp_path: Path, backend: str) -> None:
    """Downgrades that drop a column of ``orders`` (0018 held_at, 0014 priority) must work with studies
    pointing at the orders: SQLite's batch mode copied and dropped the table, which its foreign keys
    refuse."""
    from datetime import UTC, date, datetime

    from alembic import command
    from sqlalchemy import MetaData, select

    from ecgdesk.store.models import Study

    url = scratch_url(tmp_path, backend)
    # the store's own engine: its SQLite connections enforce foreign keys
    engine = open_store(url=url, home=tmp_path / "home").engine
    stamp = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    tables = MetaData()
    with engine.begin() as connection:
        tables.reflect(connection, only=["patients", "orders", "studies"])
        connection.execute(tables.tables["patients"].insert().values(
            id=1, external_id="P1", name="Doe, Jane", birth_date=date(1950, 1, 2), sex="F", created_at=stamp))
        connection.execute(tables.tables["orders"].insert().values(
            id=1, patient_id=1, ordering_npi="1245319599", indications_json='["R00.2"]',
            service="ambulatory_ecg", setting="practitioner", place_of_service="11", created_at=stamp))
        connection.execute(tables.tables["studies"].insert().values(
            id=1, patient_id=1, order_id=1, status="ordered", technician_comments="", created_at=stamp,
            updated_at=stamp))
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
    engine.dispose()
    store = open_store(url=url, home=tmp_path / "home")
    with store.transaction() as session:
        assert session.scalar(select(Study.order_id).where(Study.id == 1)) == 1
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_0028_fills_the_folded_names_and_stops_at_names_folding_alike(tmp_path: Path, backend: str) -> None:
    """The folded name of each stored user is filled in and made unique; two stored names that differ
    only in case or form stop the upgrade with an error naming both (never merged, nothing changed)."""
    from datetime import UTC, datetime

    from sqlalchemy import MetaData, select

    from ecgdesk.store.models import User

    url = scratch_url(tmp_path, backend)
    engine = _upgrade_to(url, "0027")
    stamp = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    tables = MetaData()
    with engine.begin() as connection:
        tables.reflect(connection, only=["users"])
        for name in ("Boss", "dr.a", "boss"):
            connection.execute(tables.tables["users"].insert().values(
                username=name, display_name=name, role="admin", password_hash="x", created_at=stamp))
    with pytest.raises(InputError, match=r"'Boss' and 'boss'") as info:
        open_store(url=url, home=tmp_path / "home")
    assert info.value.field == "users.username" and "not merged" in info.value.reason
    with engine.begin() as connection:
        connection.execute(tables.tables["users"].delete().where(tables.tables["users"].c.username == "boss"))
    engine.dispose()
    store = open_store(url=url, home=tmp_path / "home")
    with store.transaction() as session:
        assert dict(session.execute(select(User.username, User.username_folded)).all()) == {
            "Boss": "boss", "dr.a": "dr.a"}
    store.close()
