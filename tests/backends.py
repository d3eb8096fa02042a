"""The two database backends every store, workflow and service test runs on.

SQLite always; PostgreSQL where ``ECGDESK_TEST_POSTGRES_URL`` names a scratch database (``.ci/run`` starts
a throwaway server and sets it; each test gets it anew, see :func:`make_store` and :func:`scratch_url`),
else those cases skip saying so.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import shutil
import tempfile
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
    """A store at the newest schema on ``backend``, with nothing in it but the rows the migrations seed.

    The migrations run once per test process, into a template that each call copies (the SQLite file; a
    PostgreSQL database created from a template database): running all of them for each of the suite's
    stores took minutes of its time. ``tests/store`` runs the migrations themselves on empty databases
    (:func:`scratch_url`)."""
    if backend == "sqlite":
        target = tmp_path / "db.sqlite"
        if not target.exists():  # a second store on the same folder opens the first one's database
            tmp_path.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_sqlite_template(), target)
        return open_store(url=f"sqlite:///{target}", home=tmp_path / "home")
    return open_store(url=fresh_postgres_url(), home=tmp_path / "home")


@functools.cache
def _sqlite_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="ecgdesk-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    database = folder / "db.sqlite"
    open_store(url=f"sqlite:///{database}", home=folder / "home").close()
    # closing the last connection checkpoints the write-ahead log into the file, so the file is the database
    assert not Path(f"{database}-wal").exists(), "the template's write-ahead log was not checkpointed"
    return database


def fresh_postgres_url() -> str:
    """This process's scratch PostgreSQL database (:func:`postgres_url`) made anew from a template database
    at the newest schema (skips the test when PostgreSQL is not set up)."""
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL case: set {PG_ENV} to a scratch database (.ci/run does)")
    own = make_url(url)
    template = _postgres_template(url)
    # FORCE: a connection a failed test left open must not keep the next test from its fresh database
    _maintenance(url, f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)',
                 f'CREATE DATABASE "{own.database}" TEMPLATE "{template}"')
    return url


@functools.cache
def _postgres_template(url: str) -> str:
    name = f"{make_url(url).database}_schema"
    _maintenance(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    folder = Path(tempfile.mkdtemp(prefix="ecgdesk-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    target = make_url(url).set(database=name).render_as_string(hide_password=False)
    open_store(url=target, home=folder).close()  # no connection may stay open on a template
    return name


def _maintenance(url: str, *statements: str) -> None:
    """Run ``statements`` connected to the server's ``postgres`` database (a database cannot be dropped or
    copied by its own connections)."""
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


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
