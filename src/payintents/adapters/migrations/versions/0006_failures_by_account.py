"""Sandbox failures found by account: authentication asks whether any is armed.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_sandbox_failures_account", "sandbox_failures", ["account_id", "environment"])


def downgrade() -> None:
    op.drop_index("ix_sandbox_failures_account", table_name="sandbox_failures")
