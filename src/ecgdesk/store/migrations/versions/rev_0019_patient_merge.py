"""patients: merged into another (HL7 v2 ADT^A40): the prior record is kept, pointing at the surviving one

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 09:10:00

Two nullable columns: no patient was merged before this revision (ADT was not taken). On SQLite a
downgrade leaves ``merged_into_id`` in place (SQLite cannot drop a column that references a table), so the
upgrade adds it only where it is missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


_FK = "fk_patients_merged_into_id_patients"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.add_column("patients", sa.Column("merged_into_id", sa.Integer(), nullable=True))
        op.create_foreign_key(_FK, "patients", "patients", ["merged_into_id"], ["id"])
    elif "merged_into_id" not in {c["name"] for c in sa.inspect(bind).get_columns("patients")}:
        # in place, the reference inline: the batch rebuild a separate constraint needs on SQLite drops the
        # table that orders, studies and claims reference, which SQLite refuses (present already: left by
        # a downgrade, see above)
        op.execute(f"ALTER TABLE patients ADD COLUMN merged_into_id INTEGER CONSTRAINT {_FK} "
                   "REFERENCES patients (id)")
    op.add_column("patients", sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("patients", "merged_at")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(_FK, "patients", type_="foreignkey")
        op.drop_column("patients", "merged_into_id")
    # SQLite cannot drop a column that references a table in place; the NULL column stays (unused)
