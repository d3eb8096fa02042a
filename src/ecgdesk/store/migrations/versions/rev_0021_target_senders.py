"""delivery_targets: the HL7 v2 senders (MSH-3^MSH-4) each target belongs to

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 15:00:00

An application ACK (HL7 v2 enhanced mode) went to every enabled HL7 target, so a site with two EHRs sent each
one the other's acknowledgements. A target now names the senders whose EHR it is (``APP^FACILITY``,
comma-separated) and takes their application ACKs only. Existing targets name none (''): until a sender is
given to one (``ecgdesk interop target senders``), application ACKs are recorded as not sendable, naming
the sender, rather than sent to a target that may belong to another EHR.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_targets") as batch:
        batch.add_column(sa.Column("senders", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): batch mode would copy and drop the table, which the
    # outbox's foreign key refuses on SQLite once there are items
    op.drop_column("delivery_targets", "senders")
