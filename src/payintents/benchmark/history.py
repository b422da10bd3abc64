"""Bulk history for the growth mode: many copies of one real intent and everything it wrote.

The template is an intent paid and refunded through the API, so its rows are exactly what the
server writes. Copy ``n`` suffixes every identifier with ``h<n>``: in the id columns, and inside
the JSON that mentions them (the intent's document, the events' payloads), which keeps the copies
consistent with each other and with ``payintents audit``. It is one INSERT … SELECT per table,
so the database does the work: a million refunds take seconds, not hours.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Engine, Table, select, text

from payintents.adapters.sql import schema

# Each table holding the template's rows, with the column that ties a row to the intent; in
# foreign-key order.
TEMPLATE_ROWS: tuple[tuple[Table, str], ...] = (
    (schema.payment_intents, "id"),
    (schema.captures, "payment_intent_id"),
    (schema.payment_events, "payment_intent_id"),
    (schema.refunds, "payment_intent_id"),
    (schema.outbox_events, "payment_intent_id"),
    (schema.idempotency_keys, "target"),
)
ID_COLUMNS = frozenset({"id", "payment_intent_id", "target"})
JSON_COLUMNS = frozenset({"document", "payload"})
COPY_SUFFIX = "'h' || CAST(n AS TEXT)"


def _template_ids(conn: Connection, template_intent_id: str) -> list[str]:
    found: set[str] = set()
    for table, link in TEMPLATE_ROWS:
        for column in table.columns:
            if column.name in ID_COLUMNS:
                found.update(
                    conn.execute(select(column).where(table.c[link] == template_intent_id)).scalars()
                )
    return sorted(found)


def _copy_expression(column: Column[object], ids: list[str]) -> str:
    if column.name in ID_COLUMNS:
        return f"{column.name} || {COPY_SUFFIX}"
    if column.name in JSON_COLUMNS:
        # Ids are random base64: none is part of another, so the order of replacements is free.
        expression = column.name
        for known in ids:
            expression = f"replace({expression}, '{known}', '{known}' || {COPY_SUFFIX})"
        return expression
    return column.name


def copy_template(engine: Engine, template_intent_id: str, copies: int) -> dict[str, int]:
    """Insert ``copies`` renamed copies of the template intent's rows; rows added per table."""
    is_sqlite = engine.dialect.name == "sqlite"
    series = (
        "WITH RECURSIVE series(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < :copies)"
        if is_sqlite
        else "WITH series(n) AS (SELECT generate_series(1, :copies))"
    )
    added: dict[str, int] = {}
    with engine.begin() as conn:
        ids = _template_ids(conn, template_intent_id)
        for table, link in TEMPLATE_ROWS:
            names = ", ".join(column.name for column in table.columns)
            copies_of = ", ".join(_copy_expression(column, ids) for column in table.columns)
            statement = (
                f"INSERT INTO {table.name} ({names}) {series} "  # noqa: S608 - names from our schema
                f"SELECT {copies_of} FROM {table.name} CROSS JOIN series WHERE {link} = :template"
            )
            result = conn.execute(text(statement), {"copies": copies, "template": template_intent_id})
            added[table.name] = int(result.rowcount)
    return added


def refresh_statistics(engine: Engine) -> None:
    """What an operator runs after a bulk load, so the planner knows the tables' new sizes."""
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
