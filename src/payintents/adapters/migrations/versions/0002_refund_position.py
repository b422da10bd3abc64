"""Refunds get their position within the intent, so listing order never depends on the clock.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=True))
    op.execute(
        """
        UPDATE refunds SET position = (
            SELECT ranked.n FROM (
                SELECT id, ROW_NUMBER() OVER (
                    PARTITION BY payment_intent_id ORDER BY created_at, id
                ) - 1 AS n
                FROM refunds
            ) AS ranked
            WHERE ranked.id = refunds.id
        )
        """
    )
    with op.batch_alter_table("refunds") as batch:
        batch.alter_column("position", existing_type=sa.Integer(), nullable=False)
        batch.create_index("ux_refunds_intent_position", ["payment_intent_id", "position"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.drop_index("ux_refunds_intent_position")
        batch.drop_column("position")
