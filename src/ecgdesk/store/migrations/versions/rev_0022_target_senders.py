"""delivery_targets: the HL7 v2 senders (MSH-3^MSH-4) each target belongs to; orders: the sender of each

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:00:00

An application ACK (HL7 v2 enhanced mode) went to every enabled HL7 target, so a site with two EHRs sent each
one the other's acknowledgements. A target now names the senders whose EHR it is (``APP^FACILITY``,
comma-separated) and takes their application ACKs only. Existing targets name none (''): until a sender is
given to one (``ecgdesk interop target senders``), application ACKs are recorded as not sendable, naming
the sender, rather than sent to a target that may belong to another EHR. Signed results went to every
enabled target as well, so one EHR received the results of the other's orders: ``orders.sender`` keeps the
MSH-3^MSH-4 of the order that created it (nullable: orders recorded before, made here or by FHIR have none,
and their results go where they went) and a target that names senders takes the results of their orders only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_targets") as batch:
        batch.add_column(sa.Column("senders", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("sender", sa.String(200), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): batch mode would copy and drop the table, which the
    # outbox's (and the studies') foreign keys refuse on SQLite once there are rows
    op.drop_column("orders", "sender")
    op.drop_column("delivery_targets", "senders")
