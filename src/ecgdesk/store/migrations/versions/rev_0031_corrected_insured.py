"""claim_payments.corrected_insured: the insured's name and member id as the payer corrected them (835 NM1*74)

Revision ID: 0031
Revises: 0029
Create Date: 2026-12-08 02:00:00

A payer paying a claim under a corrected insured name or id (2100 NM1*74) said so in a segment the reader
dropped: the biller never learnt that the coverage on file is wrong, and the next claim went out with it
again. Empty: the payer corrected nothing (every claim payment stored before this revision).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # in place (no batch rebuild): SQLite refuses to rebuild a table the ledger rows reference
    op.add_column(
        "claim_payments",
        sa.Column("corrected_insured", sa.String(120), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("claim_payments", "corrected_insured")  # in place, as 0026's id_issuer
