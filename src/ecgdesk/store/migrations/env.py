"""Alembic environment: runs on the connection handed over by :func:`ecgdesk.store.db.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ecgdesk.store.models import load_all_models

config = context.config
target_metadata = load_all_models()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # ``alembic`` command line with sqlalchemy.url set in an ini file
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run()
