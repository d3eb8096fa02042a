"""Store: SQLAlchemy models, migrations, content-addressed recordings, the hash-chained audit log."""
