"""outbox: application acknowledgements (HL7 v2 enhanced mode); inbound_messages: what became of them

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 11:30:00

An order sent in enhanced acknowledgement mode (MSH-15/MSH-16) is answered at the application level by a
message of its own, sent back through the outbox as signed results are: such an item has no study or report
version (``study_id``, ``report_version_id`` become nullable), carries the ACK as built when the order was
stored (``payload``) and names the inbound message it answers. ``inbound_messages.app_ack`` says whether it
was queued or could not be (no HL7 v2 delivery target). Every existing row keeps its values.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_FK = "fk_outbox_inbound_message_id_inbound_messages"


def upgrade() -> None:
    # nothing references the outbox, so SQLite's batch rebuild of it (to relax NOT NULL) is safe
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("study_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("report_version_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch.add_column(sa.Column("inbound_message_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(_FK, "inbound_messages", ["inbound_message_id"], ["id"])
    op.add_column("inbound_messages", sa.Column("app_ack", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("inbound_messages", "app_ack")
    op.execute("DELETE FROM outbox WHERE study_id IS NULL OR report_version_id IS NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(_FK, type_="foreignkey")
        batch.drop_column("inbound_message_id")
        batch.drop_column("payload")
        batch.alter_column("report_version_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("study_id", existing_type=sa.Integer(), nullable=False)
