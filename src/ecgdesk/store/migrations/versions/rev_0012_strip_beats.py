"""event monitoring: the beat labels of a transmitted strip, computed once at its first view

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-04 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "strip_beats",
        sa.Column("transmission_id", sa.Integer(), nullable=False),
        sa.Column("lead", sa.String(length=64), nullable=False),
        sa.Column("samples_json", sa.Text(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("engine", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["transmission_id"],
            ["transmissions.id"],
            name=op.f("fk_strip_beats_transmission_id_transmissions"),
        ),
        sa.PrimaryKeyConstraint("transmission_id", name=op.f("pk_strip_beats")),
    )


def downgrade() -> None:
    op.drop_table("strip_beats")
