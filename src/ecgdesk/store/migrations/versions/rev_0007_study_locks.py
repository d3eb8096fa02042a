"""study locks: one process at a time changes a study's analysis and reports

Revision ID: 0007
Revises: 0008
Create Date: 2026-12-04 12:00:00

Two ``study analyze`` of one study at once used to collide: the second failed on the unique run and, on
its way out, deleted the first one's run folder. Each such step now holds a row here while it works.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "study_locks",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name=op.f("fk_study_locks_study_id_studies")),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_study_locks")),
    )


def downgrade() -> None:
    op.drop_table("study_locks")
