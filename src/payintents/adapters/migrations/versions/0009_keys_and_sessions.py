"""API keys get a public id, a recognisable prefix, a last-used time and a revocation time;
dashboard sessions remember the key they signed in with and when they were last seen (idle timeout).

Keys made before this revision get an id from their hash (``key_[sandbox_]`` and its first 22
hex digits) and a prefix that is just their kind (``sk_sandbox_`` / ``sk_prod_``): the key itself
was never stored. Existing dashboard sessions are ended: they have no last-seen time, so everyone
signs in to the dashboard again once after the upgrade.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IS_SANDBOX = "environment = 'sandbox'"


def upgrade() -> None:
    # Nullable first, filled, then NOT NULL: batch mode rebuilds the table on SQLite, which cannot
    # alter a column in place.
    op.add_column("api_keys", sa.Column("id", sa.String(length=64), nullable=True))
    op.add_column("api_keys", sa.Column("prefix", sa.String(length=24), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        f"UPDATE api_keys SET"
        f" id = CASE WHEN {_IS_SANDBOX} THEN 'key_sandbox_' ELSE 'key_' END || substr(key_hash, 1, 22),"
        f" prefix = CASE WHEN {_IS_SANDBOX} THEN 'sk_sandbox_' ELSE 'sk_prod_' END"
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("id", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("prefix", existing_type=sa.String(length=24), nullable=False)
    op.create_index("ux_api_keys_id", "api_keys", ["id"], unique=True)

    op.execute("DELETE FROM dashboard_sessions")
    op.add_column("dashboard_sessions", sa.Column("api_key_id", sa.String(length=64), nullable=True))
    op.add_column(
        "dashboard_sessions", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True)
    )
    with op.batch_alter_table("dashboard_sessions") as batch:
        batch.alter_column("last_seen_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index("ix_dashboard_sessions_username", "dashboard_sessions", ["username"])
    op.create_index("ix_dashboard_sessions_key", "dashboard_sessions", ["api_key_id"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_sessions_key", table_name="dashboard_sessions")
    op.drop_index("ix_dashboard_sessions_username", table_name="dashboard_sessions")
    with op.batch_alter_table("dashboard_sessions") as batch:
        batch.drop_column("last_seen_at")
        batch.drop_column("api_key_id")
    op.drop_index("ux_api_keys_id", table_name="api_keys")
    # A revoked key must stay unusable after a downgrade, which has no column to say so.
    op.execute("DELETE FROM api_keys WHERE revoked_at IS NOT NULL")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("last_used_at")
        batch.drop_column("prefix")
        batch.drop_column("id")
