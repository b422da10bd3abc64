"""The sandbox's receipt outbox: receipts of ``POST /payment-intents/{id}/receipt`` recorded
instead of mailed, for ``GET /sandbox/receipts`` and the dashboard.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=64), sa.ForeignKey("payment_intents.id"), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_receipts_scope", "receipts", ["account_id", "environment", "created_at"])
    op.create_index(
        "ix_receipts_intent", "receipts", ["account_id", "environment", "payment_intent_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_receipts_intent", table_name="receipts")
    op.drop_index("ix_receipts_scope", table_name="receipts")
    op.drop_table("receipts")
