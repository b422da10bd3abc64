"""An account's upstream (Dojo itself): where its production key's payments really go, and the
upstream's secret key, encrypted with a key derived from PAYINTENTS_SECRET_KEY (ADR 0031).

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_upstreams",
        sa.Column("account_id", sa.String(length=64), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("sealed_key", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("provider IN ('dojo')", name="ck_account_upstreams_provider"),
    )


def downgrade() -> None:
    op.drop_table("account_upstreams")
