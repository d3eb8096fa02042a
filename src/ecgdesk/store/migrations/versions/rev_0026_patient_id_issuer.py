"""patients.id_issuer: the assigning authority of the patient's record number, as the order gave it

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 21:40:00

An order's PID-3.4 (CX-4) or Patient.identifier.system was read and dropped: results went back with the
record number alone, and the same number from another authority was taken for the same patient. NULL: no
order named one (a study made here, a patient stored before this revision); the next order naming one fills
it in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # in place (no batch rebuild): SQLite refuses to drop the table orders, studies and claims reference
    op.add_column("patients", sa.Column("id_issuer", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("patients", "id_issuer")  # in place, as 0019's merged_at (SQLite 3.35+ drops it)
