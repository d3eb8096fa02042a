"""users.username_folded: the name NFKC-normalised and case-folded, with a unique index

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 01:45:00

"Boss" and "boss" were told apart only by a check that read the other names first: two such names added at
the same instant on PostgreSQL both passed it. The folded name is filled in for every stored user and made
unique. Names that already fold to the same one are not merged (each has its own audit trail and
signatures): the upgrade stops and names them, for an administrator to rename or remove one first.
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

from ecgdesk.errors import InputError

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def _folded(username: str) -> str:
    # as ecgdesk.workflow.users.folded at this revision (a migration never imports the code it migrates)
    return unicodedata.normalize("NFKC", username).casefold()


def upgrade() -> None:
    # in place (no batch rebuild): SQLite refuses to drop the table sessions and tokens reference
    op.add_column("users", sa.Column("username_folded", sa.String(256), nullable=True))
    connection = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String),
                     sa.column("username_folded", sa.String))
    seen: dict[str, list[str]] = {}
    rows = connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    for _, name in rows:
        seen.setdefault(_folded(name), []).append(name)
    clashes = [names for names in seen.values() if len(names) > 1]
    if clashes:
        listed = "; ".join(" and ".join(repr(n) for n in names) for names in clashes)
        raise InputError(
            "users.username",
            f"upgrade 0028 stopped: these user names differ only in case or Unicode form: {listed}. They "
            "are not merged (each has its own audit trail and signatures): rename one of each in the "
            "database (users.username: no command renames a user), then open it again",
        )
    for user_id, name in rows:
        connection.execute(users.update().where(users.c.id == user_id).values(username_folded=_folded(name)))
    op.create_index("ix_users_username_folded", "users", ["username_folded"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_username_folded", table_name="users")  # SQLite drops no indexed column
    op.drop_column("users", "username_folded")
