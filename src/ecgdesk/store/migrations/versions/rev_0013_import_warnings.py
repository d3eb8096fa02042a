"""studies: the warnings of the recording's import, carried into every analysis of the study

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 22:40:00

Studies imported before this revision keep NULL: what their import warned about was printed, not stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.add_column(sa.Column("import_warnings_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.drop_column("import_warnings_json")
