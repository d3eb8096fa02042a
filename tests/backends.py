"""The two database backends every store, workflow and service test runs on.

SQLite always; PostgreSQL where ``ECGDESK_TEST_POSTGRES_URL`` names a scratch database (``.ci/run`` starts
a throwaway server and sets it; its tables are dropped before each test), else those cases skip saying so.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from ecgdesk.store import Store, open_store

PG_ENV = "ECGDESK_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


def postgres_url() -> str | None:
    """The scratch database of this test process: with pytest-xdist each worker (``gw0``, ``gw1`` ...) has a
    database of its own beside the one named, created on first use, so workers never drop each other's
    tables."""
    url = os.environ.get(PG_ENV) or None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url is None or not worker:
        return url
    return _worker_database(url, worker)


@functools.cache
def _worker_database(url: str, worker: str) -> str:
    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        exists = con.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                             {"name": own.database}).first()
        if not exists:
            con.execute(text(f'CREATE DATABASE "{own.database}"'))
    engine.dispose()
    return own.render_as_string(hide_password=False)


def scratch_url(tmp_path: Path, backend: str) -> str:
    """A fresh, empty database of ``backend`` (skips the test when PostgreSQL is not set up)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL case: set {PG_ENV} to a scratch database (.ci/run does)")
    engine = create_engine(url)
    with engine.begin() as con:
        con.execute(text("DROP SCHEMA public CASCADE"))
        con.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def make_store(tmp_path: Path, backend: str = "sqlite") -> Store:
    return open_store(url=scratch_url(tmp_path, backend), home=tmp_path / "home")


def root_conftest() -> dict[str, Any]:
    """The public names of ``tests/conftest.py``, for a sub-folder's conftest to re-export.

    Under pytest's default ("prepend") import mode every ``conftest.py`` is the module ``conftest``, and
    test modules elsewhere do ``from conftest import shared_path``: a sub-folder's conftest re-exports the
    root's names so that works whichever conftest was imported last.
    """
    spec = importlib.util.spec_from_file_location(
        "ecgdesk_tests_root_conftest", Path(__file__).with_name("conftest.py")
    )
    assert spec is not None and spec.loader is not None
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    return {name: value for name, value in vars(root).items() if not name.startswith("__")}
