"""Virtual card terminals and their sessions (docs/terminals.md).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "terminals",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("tid", sa.String(length=16), nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("open_session_id", sa.String(length=64), nullable=True),
        sa.Column("auto_outcome", sa.String(length=20), nullable=True),
        sa.Column("auto_delay_ms", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_terminals_scope", "terminals", ["account_id", "environment", "created_at"])
    op.create_table(
        "terminal_sessions",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), sa.ForeignKey("terminals.id"), nullable=False),
        sa.Column("session_type", sa.String(length=20), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("held_amount", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("operation_id", sa.String(length=64), nullable=True),
        sa.Column("software_house_id", sa.String(length=100), nullable=False),
        sa.Column("reseller_id", sa.String(length=100), nullable=True),
        sa.Column("cardholder_not_present", sa.Boolean(), nullable=True),
        sa.Column("history", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.CheckConstraint("held_amount >= 0", name="ck_terminal_session_held"),
        sa.CheckConstraint("amount > 0", name="ck_terminal_session_amount"),
    )
    op.create_index(
        "ix_terminal_sessions_intent",
        "terminal_sessions",
        ["account_id", "environment", "payment_intent_id", "created_at"],
    )
    op.create_index("ix_terminal_sessions_open", "terminal_sessions", ["finished", "updated_at"])


def downgrade() -> None:
    op.drop_table("terminal_sessions")
    op.drop_table("terminals")
