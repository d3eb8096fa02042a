"""enrolments.time_zone: the zone a recorder's clock keeps, for strips whose format carries none

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 21:00:00

WFDB and EDF write the recorder's local clock time without a zone. Ingest read it as UTC, so a recorder
east of UTC sent strips "from the future" (flagged, never billed) and one west of UTC strips dated hours
early. The enrolment now keeps the IANA zone of the patient's recorder (NULL: UTC, as before).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # in place (no batch rebuild): SQLite refuses to drop a table others reference (transmissions, items)
    op.add_column("enrolments", sa.Column("time_zone", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("enrolments", "time_zone")  # in place, as 0019's merged_at (SQLite 3.35+)
