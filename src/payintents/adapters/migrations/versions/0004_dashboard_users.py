"""Merchant dashboard: users, server-side sessions, who asked for each dashboard refund, and the
indexes the payment list and the delivery list need.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ux_dashboard_users_username", "dashboard_users", ["username"], unique=True)
    op.create_index("ix_dashboard_users_account", "dashboard_users", ["account_id"])
    op.create_table(
        "dashboard_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_dashboard_sessions_expires", "dashboard_sessions", ["expires_at"])
    op.create_table(
        "dashboard_refund_log",
        sa.Column("refund_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["refund_id"], ["refunds.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("refund_id"),
    )
    op.create_index(
        "ix_intents_account_status_created",
        "payment_intents",
        ["account_id", "environment", "status", "created_at", "id"],
    )
    op.create_index(
        "ix_webhook_deliveries_scope_created",
        "webhook_deliveries",
        ["account_id", "environment", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_scope_created", table_name="webhook_deliveries")
    op.drop_index("ix_intents_account_status_created", table_name="payment_intents")
    op.drop_table("dashboard_refund_log")
    op.drop_index("ix_dashboard_sessions_expires", table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_index("ix_dashboard_users_account", table_name="dashboard_users")
    op.drop_index("ux_dashboard_users_username", table_name="dashboard_users")
    op.drop_table("dashboard_users")
