"""event monitoring: enrolments, signed criteria, transmissions, attended queue, notifications, roster

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-04 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roster_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("technicians_json", sa.Text(), nullable=False),
        sa.Column("on_call_physician", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_shifts")),
    )
    op.create_index(op.f("ix_roster_shifts_start"), "roster_shifts", ["start"], unique=False)
    op.create_table(
        "enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("device_serial", sa.String(length=64), nullable=False),
        sa.Column("active_device", sa.String(length=64), nullable=True),
        sa.Column("service", sa.String(length=20), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("stopped_early_on", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name=op.f("fk_enrolments_study_id_studies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments")),
        sa.UniqueConstraint("active_device", name=op.f("uq_enrolments_active_device")),
        sa.UniqueConstraint("study_id", name=op.f("uq_enrolments_study_id")),
    )
    op.create_index(op.f("ix_enrolments_device_serial"), "enrolments", ["device_serial"], unique=False)
    op.create_table(
        "criteria_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules_json", sa.Text(), nullable=False),
        sa.Column("lowered_emergent_json", sa.Text(), nullable=False),
        sa.Column("signed_by", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"], ["enrolments.id"], name=op.f("fk_criteria_versions_enrolment_id_enrolments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criteria_versions")),
        sa.UniqueConstraint("enrolment_id", "version", name=op.f("uq_criteria_versions_enrolment_id")),
    )
    op.create_table(
        "transmissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=True),
        sa.Column("device_serial", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_dir", sa.String(length=200), nullable=False),
        sa.Column("main_file", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("flag", sa.String(length=20), nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"], ["enrolments.id"], name=op.f("fk_transmissions_enrolment_id_enrolments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transmissions")),
        sa.UniqueConstraint("device_serial", "message_id", name="uq_transmissions_device_message"),
        sa.UniqueConstraint("device_serial", "sha256", name="uq_transmissions_device_content"),
    )
    op.create_index(op.f("ix_transmissions_enrolment_id"), "transmissions", ["enrolment_id"], unique=False)
    op.create_table(
        "queue_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transmission_id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(length=12), nullable=False),
        sa.Column("label", sa.String(length=2), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("observation_json", sa.Text(), nullable=True),
        sa.Column("matched_json", sa.Text(), nullable=True),
        sa.Column("criteria_version", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=True),
        sa.Column("confirmed_rhythm", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["enrolment_id"], ["enrolments.id"], name=op.f("fk_queue_items_enrolment_id_enrolments")
        ),
        sa.ForeignKeyConstraint(
            ["transmission_id"],
            ["transmissions.id"],
            name=op.f("fk_queue_items_transmission_id_transmissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_items")),
        sa.UniqueConstraint("transmission_id", name=op.f("uq_queue_items_transmission_id")),
    )
    op.create_index(op.f("ix_queue_items_enrolment_id"), "queue_items", ["enrolment_id"], unique=False)
    op.create_index(op.f("ix_queue_items_received_at"), "queue_items", ["received_at"], unique=False)
    op.create_index(op.f("ix_queue_items_status"), "queue_items", ["status"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue_item_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=12), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_back", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("escalated_from_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["escalated_from_id"],
            ["notifications.id"],
            name=op.f("fk_notifications_escalated_from_id_notifications"),
        ),
        sa.ForeignKeyConstraint(
            ["queue_item_id"], ["queue_items.id"], name=op.f("fk_notifications_queue_item_id_queue_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_queue_item_id"), "notifications", ["queue_item_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_queue_item_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_queue_items_status"), table_name="queue_items")
    op.drop_index(op.f("ix_queue_items_received_at"), table_name="queue_items")
    op.drop_index(op.f("ix_queue_items_enrolment_id"), table_name="queue_items")
    op.drop_table("queue_items")
    op.drop_index(op.f("ix_transmissions_enrolment_id"), table_name="transmissions")
    op.drop_table("transmissions")
    op.drop_table("criteria_versions")
    op.drop_index(op.f("ix_enrolments_device_serial"), table_name="enrolments")
    op.drop_table("enrolments")
    op.drop_index(op.f("ix_roster_shifts_start"), table_name="roster_shifts")
    op.drop_table("roster_shifts")
