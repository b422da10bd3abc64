"""Money operations in two phases (ADR 0026): each refund, capture or reversal is a row, pending
from its reservation until the processor's outcome is recorded; the intent holds the refunds
reserved and the capture or reversal in flight; the sandbox processor keeps its own ledger.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_RESERVE_CAP = "pending_refund_amount >= 0 AND refunded_amount + pending_refund_amount <= refundable_amount"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot add a table constraint without rebuilding the table, which the foreign
        # keys onto payment_intents forbid; a column's CHECK may name other columns there.
        op.execute(
            "ALTER TABLE payment_intents ADD COLUMN pending_refund_amount BIGINT DEFAULT 0 NOT NULL"
            f" CONSTRAINT ck_refund_reserve_cap CHECK ({_RESERVE_CAP})"
        )
    else:
        op.add_column(
            "payment_intents",
            sa.Column("pending_refund_amount", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        )
        op.create_check_constraint("ck_refund_reserve_cap", "payment_intents", _RESERVE_CAP)
    op.add_column("payment_intents", sa.Column("pending_operation_id", sa.String(length=64), nullable=True))
    _create_money_operations()
    op.create_table(
        "sandbox_processor_ledger",
        sa.Column("processor_key", sa.String(length=100), primary_key=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sandbox_processor_ledger_intent", "sandbox_processor_ledger", ["payment_intent_id"])


def _create_money_operations() -> None:
    op.create_table(
        "money_operations",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column(
            "payment_intent_id", sa.String(length=64), sa.ForeignKey("payment_intents.id"), nullable=False
        ),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tips_amount", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("key_target", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("processor_key", sa.String(length=100), nullable=False),
        sa.Column("failure_outcome", sa.String(length=20), nullable=True),
        sa.Column("failure_delay_ms", sa.Integer(), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("answer_status", sa.Integer(), nullable=False),
        sa.Column("answer_body", sa.LargeBinary(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="ck_operation_status"),
        sa.CheckConstraint("amount >= 0", name="ck_operation_amount"),
    )
    op.create_index("ux_money_operations_processor_key", "money_operations", ["processor_key"], unique=True)
    op.create_index("ix_money_operations_due", "money_operations", ["status", "deadline_at"])
    op.create_index("ix_money_operations_intent", "money_operations", ["payment_intent_id", "status"])
    op.create_index(
        "ix_money_operations_key",
        "money_operations",
        ["account_id", "environment", "key_target", "idempotency_key"],
    )


def downgrade() -> None:
    op.drop_table("sandbox_processor_ledger")
    op.drop_table("money_operations")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("ck_refund_reserve_cap", "payment_intents", type_="check")
    # SQLite drops the column's own CHECK with it.
    op.drop_column("payment_intents", "pending_operation_id")
    op.drop_column("payment_intents", "pending_refund_amount")
