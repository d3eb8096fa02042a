"""Opening the study database: URL and home folder resolution, Alembic upgrade at startup, sessions.

``ECGDESK_DATABASE_URL`` picks any SQLAlchemy URL (SQLite by default, PostgreSQL works); ``ECGDESK_HOME``
picks the folder that holds the default SQLite file, the recording blobs and the study artifacts
(analysis outputs, reports). The schema is brought up to date by the migrations shipped in
``ecgdesk/store/migrations`` every time a store is opened, so a new release upgrades an old database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ecgdesk.errors import InputError

HOME_ENV = "ECGDESK_HOME"
URL_ENV = "ECGDESK_DATABASE_URL"
MIGRATIONS = Path(__file__).with_name("migrations")


def default_home() -> Path:
    """``$ECGDESK_HOME``, else ``~/.local/share/ecgdesk``."""
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else Path.home() / ".local" / "share" / "ecgdesk"


def default_url(home: Path) -> str:
    """``$ECGDESK_DATABASE_URL``, else a SQLite file in ``home``."""
    return os.environ.get(URL_ENV) or f"sqlite:///{home / 'ecgdesk.sqlite'}"


def _postgresql_connect(dbapi_connection: object, _record: object) -> None:
    """Every session in UTC. A time without its zone is UTC in this project (``models.UtcTime``), but
    PostgreSQL reads one bound to ``timestamptz`` in the session's zone (the server's ``TimeZone``, or
    ``PGTZ``) and hands times back in it: until 2026-12-07, on a server set to America/New_York, a
    recording start or strip time of 12:00 was stored as 17:00 UTC and read back as 12:00-05:00. Set
    outside a transaction, so the pool's rollback on return does not undo it."""
    connection: Any = dbapi_connection
    autocommit = connection.autocommit
    connection.autocommit = True
    cursor = connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    connection.autocommit = autocommit


def _sqlite_connect(dbapi_connection: object, _record: object) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE (below) instead of pysqlite's deferred BEGIN.
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Write-ahead log: readers never wait for a writer, and a commit costs one sync of the log instead of
    # the rollback journal's several (an audited read commits its audit row: 28 -> 4 ms on the 2-core
    # machine; interface intake commits once per message). synchronous stays FULL, so an acknowledged
    # commit survives a power cut.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Take SQLite's write lock when a transaction starts, so concurrent processes queue (busy_timeout)
    instead of failing on lock upgrade, and the audit chain's head is read and advanced atomically."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def serialise(session: Session, key: str) -> None:
    """Let one transaction at a time act on ``key`` (a patient id, a recorder ...) until it ends: a
    "look, then insert" by two processes at once on PostgreSQL would otherwise both insert. SQLite's write
    lock, taken when each transaction starts, serialises every transaction already."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def _shown(url: str) -> str:
    """``url`` for messages, its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


_REVISION = re.compile(r'^revision\s*=\s*"([^"]+)"', re.MULTILINE)
_DOWN = re.compile(r'^down_revision\s*=\s*(?:None|"([^"]+)")', re.MULTILINE)


def shipped_head() -> str | None:
    """The newest shipped migration, read from the scripts' text (no Alembic import); None if unclear."""
    revisions, parents = set(), set()
    for script in (MIGRATIONS / "versions").glob("rev_*.py"):
        text = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN.search(text)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine) -> bool:
    """Whether the database already carries the shipped head revision (then Alembic need not load)."""
    head = shipped_head()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            current = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    except DBAPIError:  # a new database: no version table yet
        return False
    return list(current) == [head]


def upgrade(engine: Engine) -> None:
    """Run the Alembic migrations up to ``head`` on ``engine`` (nothing to load when already there)."""
    if _at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass
class Store:
    """An open database plus the home folder of its blobs and artifacts."""

    engine: Engine
    home: Path
    sessions: sessionmaker[Session]

    @property
    def blob_root(self) -> Path:
        return self.home / "blobs"

    @property
    def studies_root(self) -> Path:
        return self.home / "studies"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    def relative(self, path: Path) -> str:
        """``path`` as stored in the database: relative to the home folder (so the folder can move)."""
        try:
            return Path(path).resolve().relative_to(self.home.resolve()).as_posix()
        except ValueError:
            return str(path)

    def resolve(self, stored: str) -> Path:
        """The file a stored path names (relative paths are under the home folder)."""
        path = Path(stored)
        return path if path.is_absolute() else self.home / path

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None, home: Path | None = None) -> Store:
    """Open (and migrate) the database at ``url`` with artifacts under ``home`` (defaults: module doc)."""
    home = Path(home) if home is not None else default_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = f"cannot create the data folder: {error.strerror or error}"
        raise InputError(HOME_ENV, reason, home) from None
    url = url or default_url(home)
    shown = _shown(url)
    try:
        engine = create_engine(url)
    except (ArgumentError, ValueError) as error:
        raise InputError(URL_ENV, f"not a usable SQLAlchemy URL ({error})", shown) from None
    except ModuleNotFoundError as error:
        raise InputError(URL_ENV, f"the database driver is not installed ({error.name})", shown) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgresql_connect)
    try:
        upgrade(engine)
    except OperationalError as error:
        engine.dispose()
        raise InputError(URL_ENV, f"cannot open the database: {error.orig}", shown) from None
    except BaseException:  # a migration's own refusal (0028's names folding alike): no connection left open
        engine.dispose()
        raise
    return Store(engine=engine, home=home, sessions=sessionmaker(engine, expire_on_commit=False))
