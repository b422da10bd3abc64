"""Table definitions. Rows carry their account and the per-account indexes lead with it, the shape
sharding by account expects; child rows (captures, events) hang off their intent's id, and the
housekeeping indexes (expiry, key reaping) are global by design.

Alembic migrations under ``adapters/migrations`` create these tables; this module is what the
queries use, and a test checks that a migrated database matches it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import false, text


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on SQLite (naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    # The key's public name (``key_…``), shown by ``payintents keys list`` and accepted by revoke.
    Column("id", String(64), nullable=False),
    # The key's first characters (``sk_sandbox_AbCd``): enough to recognise it, never to use it.
    Column("prefix", String(24), nullable=False),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Written at most once a minute per key, off the request path (service/keys.py).
    Column("last_used_at", UtcDateTime),
    # A revoked key opens nothing; the row stays so that ``keys list`` can show it.
    Column("revoked_at", UtcDateTime),
    Index("ix_api_keys_account", "account_id"),
    Index("ux_api_keys_id", "id", unique=True),
)

payment_intents = Table(
    "payment_intents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("capture_mode", String(10), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("tips_amount", BigInteger),
    Column("total_amount", BigInteger, nullable=False),
    Column("requested_amount", BigInteger),
    Column("refundable_amount", BigInteger, nullable=False),
    Column("refunded_amount", BigInteger, nullable=False),
    Column("reference", String(60), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("expire_at", UtcDateTime, nullable=False),
    Column("auto_expire_in", String(40)),
    Column("auto_expire_action", String(10)),
    Column("auto_expire_at", UtcDateTime),
    Column("authorized_at", UtcDateTime),
    Column("captured_at", UtcDateTime),
    Column("client_session_secret", String(200)),
    Column("client_session_secret_expires_at", UtcDateTime),
    Column("pending_challenge", Boolean, nullable=False),
    Column("reversal_id", String(64)),
    Column("payment_details", Text),
    Column("document", Text, nullable=False),
    Column("version", Integer, nullable=False),
    # Refunds reserved and not yet confirmed by the processor (money_operations, ADR 0026).
    Column("pending_refund_amount", BigInteger, nullable=False, server_default=text("0")),
    # The capture or reversal in flight, if any: nothing else may change the intent meanwhile.
    Column("pending_operation_id", String(64)),
    # REFUND_CAP, enforced by the store itself as the backstop behind the guarded UPDATE.
    CheckConstraint("refunded_amount >= 0 AND refunded_amount <= refundable_amount", name="ck_refund_cap"),
    CheckConstraint(
        "pending_refund_amount >= 0 AND refunded_amount + pending_refund_amount <= refundable_amount",
        name="ck_refund_reserve_cap",
    ),
    CheckConstraint("amount > 0 AND total_amount >= amount", name="ck_amounts_positive"),
    CheckConstraint("refundable_amount <= total_amount", name="ck_capture_cap"),
    Index("ix_intents_account_created", "account_id", "environment", "created_at", "id"),
    Index("ix_intents_expire", "status", "expire_at"),
    Index("ix_intents_auto_expire", "status", "auto_expire_at"),
)

captures = Table(
    "captures",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("payment_intent_id", String(64), ForeignKey("payment_intents.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("tips_amount", BigInteger),
    Column("status", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="ck_capture_positive"),
    Index("ux_captures_intent_position", "payment_intent_id", "position", unique=True),
)

payment_events = Table(
    "payment_events",
    metadata,
    Column("payment_intent_id", String(64), ForeignKey("payment_intents.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("event_type", String(30), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("transaction_id", String(64)),
    Column("card", Text),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("payment_intent_id", String(64), ForeignKey("payment_intents.id"), nullable=False),
    # Order of the refund among its intent's refunds (0, 1, …): listing never relies on the clock.
    Column("position", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("refund_reason", String(1024)),
    Column("notes", String(4096)),
    Column("previous_transaction_id", String(100)),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="ck_refund_positive"),
    Index("ix_refunds_intent", "account_id", "environment", "payment_intent_id", "created_at"),
    Index("ux_refunds_intent_position", "payment_intent_id", "position", unique=True),
)

# The sandbox's receipt outbox: receipts recorded instead of mailed (service/receipts.py).
receipts = Table(
    "receipts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("payment_intent_id", String(64), ForeignKey("payment_intents.id"), nullable=False),
    # JSON list of addresses, as the caller gave them (without repeats).
    Column("recipients", Text, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_receipts_scope", "account_id", "environment", "created_at"),
    Index("ix_receipts_intent", "account_id", "environment", "payment_intent_id", "created_at"),
)

# A refund, capture or reversal from its reservation to its outcome (ADR 0026).
money_operations = Table(
    "money_operations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("payment_intent_id", String(64), ForeignKey("payment_intents.id"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("tips_amount", BigInteger),
    Column("status", String(10), nullable=False),
    # The caller's idempotency key, whose claim the outcome spends (success) or releases.
    Column("key_target", String(64)),
    Column("idempotency_key", String(100)),
    # What the processor is told: derived from the id, so a repeated call is harmless.
    Column("processor_key", String(100), nullable=False),
    # A sandbox failure taken with the reservation, for the processor to obey.
    Column("failure_outcome", String(20)),
    Column("failure_delay_ms", Integer),
    # The refund, capture or reversal id a success creates, and the answer it gives.
    Column("object_id", String(64), nullable=False),
    Column("details", Text),
    Column("answer_status", Integer, nullable=False),
    Column("answer_body", LargeBinary, nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("deadline_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="ck_operation_status"),
    CheckConstraint("amount >= 0", name="ck_operation_amount"),
    Index("ux_money_operations_processor_key", "processor_key", unique=True),
    Index("ix_money_operations_due", "status", "deadline_at"),
    Index("ix_money_operations_intent", "payment_intent_id", "status"),
    Index("ix_money_operations_key", "account_id", "environment", "key_target", "idempotency_key"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("environment", String(10), primary_key=True),
    Column("target", String(64), primary_key=True),
    Column("idempotency_key", String(100), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response_body", LargeBinary),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_idempotency_created", "created_at"),
)

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("name", String(60), nullable=False),
    Column("payment_intent_id", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_outbox_intent", "account_id", "environment", "payment_intent_id"),
    Index("ix_outbox_created", "created_at"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("description", String(1024)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime),
    # Extension: set on listener subscriptions only (``webhooks listen``), in real time.
    Column("listener_expires_at", UtcDateTime),
    Index("ix_webhook_subscriptions_account", "account_id", "environment", "created_at"),
    Index("ix_webhook_subscriptions_listener_expiry", "listener_expires_at"),
)

# One row per (subscription, event). The unique index makes "one subscription per event and
# environment" (Dojo refuses a second one) a rule of the store, safe against racing subscribe calls; a
# listener's rows (extension) are outside it, and the fan-out finds every row by the lookup index.
_NOT_LISTENER = text("NOT listener")
webhook_subscription_events = Table(
    "webhook_subscription_events",
    metadata,
    Column(
        "subscription_id",
        String(64),
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("event_name", String(60), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("listener", Boolean, nullable=False, server_default=false()),
    Index(
        "ux_webhook_event_per_account",
        "account_id",
        "environment",
        "event_name",
        unique=True,
        sqlite_where=_NOT_LISTENER,
        postgresql_where=_NOT_LISTENER,
    ),
    Index("ix_webhook_subscription_events_lookup", "account_id", "environment", "event_name"),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "subscription_id",
        String(64),
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Column("value", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("last_used_at", UtcDateTime),
    Index("ux_webhook_secrets_position", "subscription_id", "position", unique=True),
)

# One row per (event, subscription) to deliver; written in the transaction that wrote the event.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("event_id", String(64), ForeignKey("outbox_events.id"), primary_key=True),
    Column("subscription_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("leased_until", UtcDateTime),
    Column("lease_owner", String(64)),
    Column("last_status_code", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    CheckConstraint("status IN ('pending', 'delivered', 'failed', 'disabled')", name="ck_delivery_status"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_subscription", "account_id", "environment", "subscription_id", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("subscription_id", String(64), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("status_code", Integer),
    Column("duration_ms", Integer, nullable=False),
    Column("error", String(500)),
    Column("next_attempt_at", UtcDateTime),
)

# --- the sandbox's own state (never used for production objects) ---

sandbox_clocks = Table(
    "sandbox_clocks",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("offset_us", BigInteger, nullable=False),
    CheckConstraint("offset_us >= 0", name="ck_clock_forward_only"),
)

sandbox_failures = Table(
    "sandbox_failures",
    metadata,
    Column("payment_intent_id", String(64), primary_key=True),
    Column("operation", String(20), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("delay_ms", Integer, nullable=False),
    # Authentication asks whether an account has any failure armed (service/fault_injection.py).
    Index("ix_sandbox_failures_account", "account_id", "environment"),
)

# The sandbox processor's own ledger: what it did under each processor key. Conceptually in
# another system; it shares the database only because the sandbox runs in this server.
sandbox_processor_ledger = Table(
    "sandbox_processor_ledger",
    metadata,
    Column("processor_key", String(100), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("payment_intent_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_sandbox_processor_ledger_intent", "payment_intent_id"),
)

sandbox_requests = Table(
    "sandbox_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("trace_id", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", String(2048), nullable=False),
    Column("status", Integer, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("idempotency_key", String(200)),
    Column("replayed", Boolean, nullable=False),
    Column("payment_intent_id", String(64)),
    Column("request_body", Text, nullable=False),
    Column("response_body", Text, nullable=False),
    Index("ix_sandbox_requests_account", "account_id", "environment", "at"),
    Index("ix_sandbox_requests_at", "at"),
)

# --- the merchant dashboard: users, sessions, and who made a refund there ---

dashboard_users = Table(
    "dashboard_users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("username", String(64), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ux_dashboard_users_username", "username", unique=True),
    Index("ix_dashboard_users_account", "account_id"),
)

dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    # SHA-256 of the cookie's 32 random bytes: a stolen table opens no browser session.
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("username", String(64)),
    # The key a session signed in with (None for a user's): revoking the key ends the session.
    Column("api_key_id", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # The session's last page, to the minute: past the idle timeout it is over.
    Column("last_seen_at", UtcDateTime, nullable=False),
    Index("ix_dashboard_sessions_expires", "expires_at"),
    Index("ix_dashboard_sessions_username", "username"),
    Index("ix_dashboard_sessions_key", "api_key_id"),
)

dashboard_refund_log = Table(
    "dashboard_refund_log",
    metadata,
    # CASCADE: deleting a refund (a sandbox reset) takes its log row with it.
    Column("refund_id", String(64), ForeignKey("refunds.id", ondelete="CASCADE"), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    # The merchant's details as sent (name, emailAddress, addresses, ...), JSON.
    Column("details", Text, nullable=False),
    Column("document_version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_customers_account_created", "account_id", "environment", "created_at", "id"),
)

customer_secrets = Table(
    "customer_secrets",
    metadata,
    # SHA-256 of the secret: the secret itself is shown once.
    Column("secret_hash", String(64), primary_key=True),
    Column("customer_id", String(64), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expire_at", UtcDateTime, nullable=False),
    Index("ix_customer_secrets_customer", "customer_id"),
)

payment_methods = Table(
    "payment_methods",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    # None for a card a setup intent without a customer saved.
    Column("customer_id", String(64)),
    Column("setup_intent_id", String(64)),
    Column("pan", String(30), nullable=False),
    Column("expiry_date", String(10), nullable=False),
    Column("scheme", String(20), nullable=False),
    # What the processor charges the card by; never shown.
    Column("processor_token", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_payment_methods_customer", "account_id", "environment", "customer_id"),
)

setup_intents = Table(
    "setup_intents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    # The rest of the setup intent's state (request document, secret, events...), JSON.
    Column("state", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_setup_intents_account_created", "account_id", "environment", "created_at"),
)

# The list filtered by status, newest first, reads this index in order.
Index(
    "ix_intents_account_status_created",
    payment_intents.c.account_id,
    payment_intents.c.environment,
    payment_intents.c.status,
    payment_intents.c.created_at,
    payment_intents.c.id,
)
# The developer view lists a scope's newest deliveries.
Index(
    "ix_webhook_deliveries_scope_created",
    webhook_deliveries.c.account_id,
    webhook_deliveries.c.environment,
    webhook_deliveries.c.created_at,
)

# Virtual card terminals (docs/terminals.md): one holds at most one open session at a time.
terminals = Table(
    "terminals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("tid", String(16), nullable=False),
    Column("offline", Boolean, nullable=False, server_default=false()),
    Column("open_session_id", String(64)),
    Column("auto_outcome", String(20)),
    Column("auto_delay_ms", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_terminals_scope", "account_id", "environment", "created_at"),
)

# Terminal sessions; ``history`` holds the status events, screen notifications and masked card as
# JSON. ``held_amount`` is a matched refund's reservation on its intent until a money operation
# takes it over (counted by the audit's reservation check).
terminal_sessions = Table(
    "terminal_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("environment", String(10), nullable=False),
    Column("terminal_id", String(64), ForeignKey("terminals.id"), nullable=False),
    Column("session_type", String(20), nullable=False),
    Column("payment_intent_id", String(64)),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(40), nullable=False),
    Column("held_amount", BigInteger, nullable=False, server_default=text("0")),
    Column("operation_id", String(64)),
    Column("software_house_id", String(100), nullable=False),
    Column("reseller_id", String(100)),
    Column("cardholder_not_present", Boolean),
    Column("history", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("expire_at", UtcDateTime, nullable=False),
    Column("signature_due_at", UtcDateTime),
    Column("finished", Boolean, nullable=False, server_default=false()),
    CheckConstraint("held_amount >= 0", name="ck_terminal_session_held"),
    CheckConstraint("amount > 0", name="ck_terminal_session_amount"),
    Index("ix_terminal_sessions_intent", "account_id", "environment", "payment_intent_id", "created_at"),
    Index("ix_terminal_sessions_open", "finished", "updated_at"),
)

# An account's upstream (ADR 0031): its production key's payments go to Dojo at ``base_url``, with
# the account's Dojo key sealed by a key derived from PAYINTENTS_SECRET_KEY (``key_id`` names it).
account_upstreams = Table(
    "account_upstreams",
    metadata,
    Column("account_id", String(64), ForeignKey("accounts.id"), primary_key=True),
    Column("provider", String(20), nullable=False),
    Column("base_url", String(500), nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("sealed_key", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("provider IN ('dojo')", name="ck_account_upstreams_provider"),
)

# The gateway's webhook subscription at an upstream account's Dojo (ADR 0033): Dojo's id for it,
# the URL it posts to, and its signing secret sealed like the Dojo key (context ``ACCOUNT/webhook``).
upstream_webhooks = Table(
    "upstream_webhooks",
    metadata,
    Column("account_id", String(64), ForeignKey("accounts.id"), primary_key=True),
    Column("subscription_id", String(100), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("sealed_secret", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# When each mirrored intent was last compared with Dojo (ADR 0033): reads refresh a mirror older
# than PAYINTENTS_UPSTREAM_MAX_AGE_S, and the housekeeping polls the open ones least recently seen.
mirror_checks = Table(
    "mirror_checks",
    metadata,
    # No foreign key: a row outliving its intent (a sandbox reset) is harmless.
    Column("intent_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("checked_at", UtcDateTime, nullable=False),
    Index("ix_mirror_checks_account_checked", "account_id", "checked_at"),
)
