"""Stores for the job tests: SQLite always, PostgreSQL where ``ECGDESK_TEST_POSTGRES_URL`` names a scratch
database (its tables are dropped), skipped with the reason elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ecgdesk.store import Store, open_store

PG_URL = os.environ.get("ECGDESK_TEST_POSTGRES_URL")
NO_PG = "set ECGDESK_TEST_POSTGRES_URL to a scratch PostgreSQL database"
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not PG_URL, reason=NO_PG),
    ),
]


def make_store(tmp_path: Path, backend: str) -> Store:
    if backend == "postgresql":
        assert PG_URL is not None
        engine = create_engine(PG_URL)
        with engine.begin() as con:
            con.execute(text("DROP SCHEMA public CASCADE"))
            con.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return open_store(url=PG_URL, home=tmp_path / "home")
    return open_store(url=f"sqlite:///{tmp_path / 'db.sqlite'}", home=tmp_path / "home")


@pytest.fixture(params=BACKENDS)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = make_store(tmp_path, request.param)
    yield store
    store.close()


def worker_env(store: Store) -> dict[str, str]:
    """The environment of an ``ecgdesk worker`` subprocess on ``store`` that can import the test kinds."""
    env = dict(os.environ)
    env["ECGDESK_DATABASE_URL"] = store.engine.url.render_as_string(hide_password=False)
    env["ECGDESK_HOME"] = str(store.home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")]))
    return env
