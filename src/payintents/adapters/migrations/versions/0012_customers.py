"""Customers, their secrets, saved cards (payment methods) and setup intents (ADR 0028).

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _scoped(name: str, *columns: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        *columns,
    )


def upgrade() -> None:
    _scoped(
        "customers",
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("document_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_customers_account_created", "customers", ["account_id", "environment", "created_at", "id"]
    )
    op.create_table(
        "customer_secrets",
        sa.Column("secret_hash", sa.String(length=64), primary_key=True),
        sa.Column(
            "customer_id",
            sa.String(length=64),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expire_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_customer_secrets_customer", "customer_secrets", ["customer_id"])
    _scoped(
        "payment_methods",
        sa.Column("customer_id", sa.String(length=64)),
        sa.Column("setup_intent_id", sa.String(length=64)),
        sa.Column("pan", sa.String(length=30), nullable=False),
        sa.Column("expiry_date", sa.String(length=10), nullable=False),
        sa.Column("scheme", sa.String(length=20), nullable=False),
        sa.Column("processor_token", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_payment_methods_customer", "payment_methods", ["account_id", "environment", "customer_id"]
    )
    _scoped(
        "setup_intents",
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_setup_intents_account_created", "setup_intents", ["account_id", "environment", "created_at"]
    )


def downgrade() -> None:
    for table in ("setup_intents", "payment_methods", "customer_secrets", "customers"):
        op.drop_table(table)
