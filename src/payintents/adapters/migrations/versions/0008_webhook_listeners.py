"""Listener subscriptions (extension, ``webhooks listen``): an expiry on the subscription, and
their event rows kept out of the one-subscription-per-event unique index.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_COLUMNS = ["account_id", "environment", "event_name"]
_NOT_LISTENER = sa.text("NOT listener")


def upgrade() -> None:
    op.add_column("webhook_subscriptions", sa.Column("listener_expires_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_webhook_subscriptions_listener_expiry", "webhook_subscriptions", ["listener_expires_at"]
    )
    op.add_column(
        "webhook_subscription_events",
        sa.Column("listener", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # The fan-out's lookup keeps a plain index; the rule's unique index now skips listeners.
    op.create_index("ix_webhook_subscription_events_lookup", "webhook_subscription_events", _EVENT_COLUMNS)
    op.drop_index("ux_webhook_event_per_account", table_name="webhook_subscription_events")
    op.create_index(
        "ux_webhook_event_per_account",
        "webhook_subscription_events",
        _EVENT_COLUMNS,
        unique=True,
        sqlite_where=_NOT_LISTENER,
        postgresql_where=_NOT_LISTENER,
    )


def downgrade() -> None:
    # Listeners are throwaway: drop them rather than let them break the restored unique index.
    listeners = "SELECT id FROM webhook_subscriptions WHERE listener_expires_at IS NOT NULL"
    for child in ("webhook_subscription_events", "webhook_secrets"):
        op.execute(f"DELETE FROM {child} WHERE subscription_id IN ({listeners})")  # noqa: S608 (constants)
    op.execute("DELETE FROM webhook_subscriptions WHERE listener_expires_at IS NOT NULL")
    op.drop_index("ux_webhook_event_per_account", table_name="webhook_subscription_events")
    op.create_index("ux_webhook_event_per_account", "webhook_subscription_events", _EVENT_COLUMNS, unique=True)
    op.drop_index("ix_webhook_subscription_events_lookup", table_name="webhook_subscription_events")
    op.drop_column("webhook_subscription_events", "listener")
    op.drop_index("ix_webhook_subscriptions_listener_expiry", table_name="webhook_subscriptions")
    op.drop_column("webhook_subscriptions", "listener_expires_at")
