"""SQL pieces several repositories share, including the ones whose spelling differs per database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Connection, Table, and_, bindparam, literal, tuple_
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payintents.adapters.sql.schema import payment_intents
from payintents.domain.intent import Scope


def insert_ignore(
    connection: Connection, table: Table, values: Mapping[str, object]
) -> PostgresInsert | SqliteInsert:
    """INSERT … ON CONFLICT DO NOTHING, in the dialect of ``connection``."""
    return prepared_insert_ignore(connection.dialect.name, table).values(values)


@cache
def prepared_insert_ignore(dialect_name: str, table: Table) -> PostgresInsert | SqliteInsert:
    """INSERT … ON CONFLICT DO NOTHING without values, built once per dialect and table; the
    values come with each execution."""
    if dialect_name == "postgresql":
        return postgres_insert(table).on_conflict_do_nothing()
    return sqlite_insert(table).on_conflict_do_nothing()


def intent_position(at: tuple[datetime, str]) -> Any:
    """A (createdAt, id) keyset position to compare against payment intents' columns.

    Bound with the columns' own types: a bare datetime in tuple_() skips UtcDateTime, and SQLite
    would then compare a non-UTC offset's wall-clock text against stored UTC text.
    """
    pi = payment_intents
    return tuple_(literal(at[0], pi.c.created_at.type), literal(at[1], pi.c.id.type))


def in_scope(table: Table, scope: Scope) -> ColumnElement[bool]:
    """Rows of ``table`` that belong to one (account, environment)."""
    return and_(table.c.account_id == scope.account_id, table.c.environment == scope.environment.value)


# Hot-path statements are built once, at import, with named parameters (SQLAlchemy then skips
# building and hashing the expression on every call); these two name a scope in them.
SCOPE_ACCOUNT: BindParameter[str] = bindparam("scope_account")
SCOPE_ENVIRONMENT: BindParameter[str] = bindparam("scope_environment")


def in_bound_scope(table: Table) -> ColumnElement[bool]:
    """``in_scope`` for a prepared statement: bind ``scope_params(scope)`` when executing it."""
    return and_(table.c.account_id == SCOPE_ACCOUNT, table.c.environment == SCOPE_ENVIRONMENT)


def scope_params(scope: Scope) -> dict[str, str]:
    return {"scope_account": scope.account_id, "scope_environment": scope.environment.value}
