"""claims: billing set-up, claims, X12 batches, remittances, ledger, denial queue

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 09:26:24.689311

Tables of ``ecgdesk.store.claims_models`` (issue 16). Only new tables: nothing existing changes, so the
integrator may re-chain ``down_revision`` onto whatever head main has.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_clinicians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=False),
        sa.Column("last_name", sa.String(length=60), nullable=False),
        sa.Column("first_name", sa.String(length=35), nullable=False),
        sa.Column("taxonomy", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_clinicians")),
        sa.UniqueConstraint("npi", name=op.f("uq_billing_clinicians_npi")),
    )
    op.create_table(
        "billing_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=False),
        sa.Column("tin", sa.String(length=9), nullable=False),
        sa.Column("taxonomy", sa.String(length=10), nullable=False),
        sa.Column("address1", sa.String(length=55), nullable=False),
        sa.Column("address2", sa.String(length=55), nullable=False),
        sa.Column("city", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("zip", sa.String(length=9), nullable=False),
        sa.Column("contact_name", sa.String(length=60), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=False),
        sa.Column("submitter_id", sa.String(length=15), nullable=False),
        sa.Column("claim_prefix", sa.String(length=8), nullable=False),
        sa.Column("charge_percent", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_providers")),
        sa.UniqueConstraint("npi", name=op.f("uq_billing_providers_npi")),
    )
    op.create_table(
        "payers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("payer_id", sa.String(length=80), nullable=False),
        sa.Column("filing_indicator", sa.String(length=2), nullable=False),
        sa.Column("timely_filing_days", sa.Integer(), nullable=False),
        sa.Column("rules_id", sa.String(length=40), nullable=False),
        sa.Column("receiver_id", sa.String(length=15), nullable=False),
        sa.Column("receiver_name", sa.String(length=60), nullable=False),
        sa.Column("usage", sa.String(length=1), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payers")),
        sa.UniqueConstraint("payer_id", name=op.f("uq_payers_payer_id")),
    )
    op.create_table(
        "coverages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(length=1), nullable=False),
        sa.Column("member_id", sa.String(length=80), nullable=False),
        sa.Column("group_number", sa.String(length=50), nullable=False),
        sa.Column("relationship", sa.String(length=2), nullable=False),
        sa.Column("subscriber_last", sa.String(length=60), nullable=False),
        sa.Column("subscriber_first", sa.String(length=35), nullable=False),
        sa.Column("subscriber_birth_date", sa.Date(), nullable=False),
        sa.Column("subscriber_sex", sa.String(length=1), nullable=False),
        sa.Column("address1", sa.String(length=55), nullable=False),
        sa.Column("address2", sa.String(length=55), nullable=False),
        sa.Column("city", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("zip", sa.String(length=9), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_coverages_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_coverages_payer_id_payers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverages")),
    )
    op.create_table(
        "x12_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("claims_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_x12_batches_payer_id_payers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_x12_batches")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "remittances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("payer_trace_id", sa.String(length=80), nullable=False),
        sa.Column("trace_number", sa.String(length=80), nullable=False),
        sa.Column("payer_name", sa.String(length=60), nullable=False),
        sa.Column("payment_cents", sa.Integer(), nullable=False),
        sa.Column("credit", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=3), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("posted_by", sa.String(length=64), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["x12_batches.id"], name=op.f("fk_remittances_batch_id_x12_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittances")),
        sa.UniqueConstraint("payer_trace_id", "trace_number", name=op.f("uq_remittances_payer_trace_id")),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_number", sa.String(length=38), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("coverage_id", sa.Integer(), nullable=False),
        sa.Column("billing_provider_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("frequency", sa.String(length=1), nullable=False),
        sa.Column("original_claim_id", sa.Integer(), nullable=True),
        sa.Column("payer_claim_number", sa.String(length=50), nullable=True),
        sa.Column("prior_authorization", sa.String(length=50), nullable=True),
        sa.Column("place_of_service", sa.String(length=2), nullable=False),
        sa.Column("charge_cents", sa.Integer(), nullable=False),
        sa.Column("claim_json", sa.Text(), nullable=False),
        sa.Column("scrub_json", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["x12_batches.id"], name=op.f("fk_claims_batch_id_x12_batches")
        ),
        sa.ForeignKeyConstraint(
            ["billing_provider_id"],
            ["billing_providers.id"],
            name=op.f("fk_claims_billing_provider_id_billing_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["coverage_id"], ["coverages.id"], name=op.f("fk_claims_coverage_id_coverages")
        ),
        sa.ForeignKeyConstraint(
            ["original_claim_id"], ["claims.id"], name=op.f("fk_claims_original_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_claims_patient_id_patients")),
        sa.ForeignKeyConstraint(["payer_id"], ["payers.id"], name=op.f("fk_claims_payer_id_payers")),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name=op.f("fk_claims_study_id_studies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("claim_number", name=op.f("uq_claims_claim_number")),
    )
    op.create_table(
        "provider_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remittance_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=50), nullable=False),
        sa.Column("fiscal_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=2), nullable=False),
        sa.Column("reference", sa.String(length=50), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["remittance_id"],
            ["remittances.id"],
            name=op.f("fk_provider_adjustments_remittance_id_remittances"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_adjustments")),
    )
    op.create_table(
        "unmatched_remittances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remittance_id", sa.Integer(), nullable=False),
        sa.Column("claim_number", sa.String(length=38), nullable=False),
        sa.Column("status_code", sa.String(length=2), nullable=False),
        sa.Column("charge_cents", sa.Integer(), nullable=False),
        sa.Column("paid_cents", sa.Integer(), nullable=False),
        sa.Column("payer_claim_number", sa.String(length=50), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["remittance_id"],
            ["remittances.id"],
            name=op.f("fk_unmatched_remittances_remittance_id_remittances"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched_remittances")),
    )
    op.create_table(
        "claim_acks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=4), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["x12_batches.id"], name=op.f("fk_claim_acks_batch_id_x12_batches")
        ),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_claim_acks_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_acks")),
    )
    op.create_table(
        "claim_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("control", sa.String(length=50), nullable=False),
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("modifiers", sa.String(length=11), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("charge_cents", sa.Integer(), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=True),
        sa.Column("pointers", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_claim_lines_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_lines")),
        sa.UniqueConstraint("claim_id", "line_number", name=op.f("uq_claim_lines_claim_id")),
        sa.UniqueConstraint("control", name=op.f("uq_claim_lines_control")),
    )
    op.create_table(
        "claim_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remittance_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.String(length=2), nullable=False),
        sa.Column("charge_cents", sa.Integer(), nullable=False),
        sa.Column("paid_cents", sa.Integer(), nullable=False),
        sa.Column("patient_cents", sa.Integer(), nullable=False),
        sa.Column("payer_claim_number", sa.String(length=50), nullable=False),
        sa.Column("crossover", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_claim_payments_claim_id_claims")),
        sa.ForeignKeyConstraint(
            ["remittance_id"], ["remittances.id"], name=op.f("fk_claim_payments_remittance_id_remittances")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_payments")),
    )
    op.create_table(
        "claim_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("group_code", sa.String(length=2), nullable=False),
        sa.Column("carc", sa.String(length=5), nullable=False),
        sa.Column("rarcs", sa.String(length=60), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_claim_ledger_claim_id_claims")),
        sa.ForeignKeyConstraint(
            ["line_id"], ["claim_lines.id"], name=op.f("fk_claim_ledger_line_id_claim_lines")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["claim_payments.id"], name=op.f("fk_claim_ledger_payment_id_claim_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_ledger")),
    )
    op.create_table(
        "denial_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("ledger_id", sa.Integer(), nullable=False),
        sa.Column("group_code", sa.String(length=2), nullable=False),
        sa.Column("carc", sa.String(length=5), nullable=False),
        sa.Column("rarcs", sa.String(length=60), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("next_action", sa.String(length=20), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("worked_action", sa.String(length=20), nullable=True),
        sa.Column("worked_by", sa.String(length=64), nullable=True),
        sa.Column("worked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("letter_path", sa.Text(), nullable=True),
        sa.Column("result_claim_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_denial_items_claim_id_claims")),
        sa.ForeignKeyConstraint(
            ["ledger_id"], ["claim_ledger.id"], name=op.f("fk_denial_items_ledger_id_claim_ledger")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["claim_lines.id"], name=op.f("fk_denial_items_line_id_claim_lines")
        ),
        sa.ForeignKeyConstraint(
            ["result_claim_id"], ["claims.id"], name=op.f("fk_denial_items_result_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_denial_items")),
    )


def downgrade() -> None:
    op.drop_table("denial_items")
    op.drop_table("claim_ledger")
    op.drop_table("claim_payments")
    op.drop_table("claim_lines")
    op.drop_table("claim_acks")
    op.drop_table("unmatched_remittances")
    op.drop_table("provider_adjustments")
    op.drop_table("claims")
    op.drop_table("remittances")
    op.drop_table("x12_batches")
    op.drop_table("coverages")
    op.drop_table("payers")
    op.drop_table("billing_providers")
    op.drop_table("billing_clinicians")
