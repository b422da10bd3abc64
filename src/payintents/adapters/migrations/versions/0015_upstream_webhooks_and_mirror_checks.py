"""The gateway's webhook subscription at each upstream account's Dojo (its signing secret sealed
like the Dojo key), and when each mirrored intent was last compared with Dojo (ADR 0033).

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upstream_webhooks",
        sa.Column("account_id", sa.String(length=64), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("subscription_id", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "mirror_checks",
        sa.Column("intent_id", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mirror_checks_account_checked", "mirror_checks", ["account_id", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_mirror_checks_account_checked", table_name="mirror_checks")
    op.drop_table("mirror_checks")
    op.drop_table("upstream_webhooks")
