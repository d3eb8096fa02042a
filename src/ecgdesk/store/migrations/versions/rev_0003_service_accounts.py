"""service accounts: login sessions, API tokens, uploads, user lockout, report inputs digest

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00

Also seeds the audit chain's head row (seq 0, the genesis hash) so that the first append locks an existing
row (``SELECT ... FOR UPDATE``) like every later one: two processes writing the first audit rows at once on
PostgreSQL no longer both start the chain. Recording sizes become 64-bit on PostgreSQL (several GB uploads).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled", sa.Boolean(), server_default="0", nullable=False))
        batch.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("locked_until", UTC, nullable=True))
    with op.batch_alter_table("report_versions") as batch:
        batch.add_column(sa.Column("inputs_sha256", sa.String(length=64), nullable=True))
    op.create_index("ix_studies_status", "studies", ["status"])
    op.create_index("ix_audit_log_entity_id", "audit_log", ["entity_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("recordings", "size_bytes", type_=sa.BigInteger())
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_login_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_login_sessions_token_sha256")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("files_json", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name=op.f("fk_uploads_study_id_studies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM audit_head")).scalar() == 0:
        rows = bind.execute(sa.text("SELECT count(*) FROM audit_log")).scalar()
        if rows == 0:
            op.execute(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')")


def downgrade() -> None:
    op.drop_table("uploads")
    op.drop_table("api_tokens")
    op.drop_table("login_sessions")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("recordings", "size_bytes", type_=sa.Integer())
    op.drop_index("ix_audit_log_entity_id", "audit_log")
    op.drop_index("ix_studies_status", "studies")
    with op.batch_alter_table("report_versions") as batch:
        batch.drop_column("inputs_sha256")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")
        batch.drop_column("disabled")
