"""device_swaps: a recorder replaced within its enrolment (one period, one bill)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:20:00

A new table only: enrolments made before this revision have had one recorder each.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_swaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("old_serial", sa.String(length=64), nullable=False),
        sa.Column("new_serial", sa.String(length=64), nullable=False),
        sa.Column("swapped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"], ["enrolments.id"], name=op.f("fk_device_swaps_enrolment_id_enrolments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_swaps")),
    )
    op.create_index(op.f("ix_device_swaps_enrolment_id"), "device_swaps", ["enrolment_id"], unique=False)
    op.create_index(op.f("ix_device_swaps_old_serial"), "device_swaps", ["old_serial"], unique=False)
    op.create_index(op.f("ix_device_swaps_new_serial"), "device_swaps", ["new_serial"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_device_swaps_new_serial"), table_name="device_swaps")
    op.drop_index(op.f("ix_device_swaps_old_serial"), table_name="device_swaps")
    op.drop_index(op.f("ix_device_swaps_enrolment_id"), table_name="device_swaps")
    op.drop_table("device_swaps")
