"""denial_items.closed_by_payment_id: the claim payment whose posting closed the item

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:30:00

Before this revision a later payer's reversal found the items its payment had closed (as ``later_payer``)
by their closing time equal to the posting time of that payment's remittance. Items closed by a posting
(``later_payer``, ``overturned``, ``reversed``) get that link once, by the same rule: the claim's payment in
the remittance posted at the item's closing time (a reversal's CLP02 22 for ``reversed``, the paying CLP
otherwise). Items a biller worked keep none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BACKFILL = """
UPDATE denial_items SET closed_by_payment_id = (
    SELECT claim_payments.id FROM claim_payments
    JOIN remittances ON remittances.id = claim_payments.remittance_id
    WHERE claim_payments.claim_id = denial_items.claim_id
      AND remittances.posted_at = denial_items.worked_at
      AND (claim_payments.status_code = '22') = (denial_items.worked_action = 'reversed')
    ORDER BY claim_payments.id DESC LIMIT 1
)
WHERE denial_items.status = 'closed'
  AND denial_items.worked_action IN ('later_payer', 'overturned', 'reversed')
"""


def upgrade() -> None:
    with op.batch_alter_table("denial_items") as batch:
        batch.add_column(sa.Column("closed_by_payment_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_denial_items_closed_by_payment_id_claim_payments"),
            "claim_payments",
            ["closed_by_payment_id"],
            ["id"],
        )
    op.execute(_BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("denial_items") as batch:
        batch.drop_constraint(op.f("fk_denial_items_closed_by_payment_id_claim_payments"), type_="foreignkey")
        batch.drop_column("closed_by_payment_id")
