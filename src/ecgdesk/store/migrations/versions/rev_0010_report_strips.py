"""review workstation: the strip selection of a study's report

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-04 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_strips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("included", sa.Boolean(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("caption", sa.String(length=200), nullable=True),
        sa.Column("lead", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name="fk_report_strips_study_id_studies"),
        sa.PrimaryKeyConstraint("id", name="pk_report_strips"),
        sa.UniqueConstraint("study_id", "key", name="uq_report_strips_study_key"),
    )
    op.create_index("ix_report_strips_study_id", "report_strips", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_report_strips_study_id", table_name="report_strips")
    op.drop_table("report_strips")
