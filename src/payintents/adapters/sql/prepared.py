"""Hot-path statements run on the database driver itself, past SQLAlchemy's execution layer.

On the machines we measure, ``Connection.execute`` adds ~40 µs to every statement (events, the
execution context, result wrapping): more than SQLite takes to run all of a refund's statements.
A ``PreparedStatement`` is still built and compiled by SQLAlchemy, once per dialect and set of
parameter names, so its SQL text, parameter order, literal values and type conversions (UTC
datetimes, for one) are SQLAlchemy's own. Each run then binds the values and calls the driver's
``execute`` on the connection's current transaction, and turns a driver error into SQLAlchemy's
exception classes (invalidating a connection the database dropped), so the unit of work handles
failures exactly as it does for any other statement (ADR 0013).

Only statements that need nothing more from SQLAlchemy qualify, and that is checked when they are
compiled: no Python-side column defaults, no parameters rendered at execution time (expanding IN
lists, literal_execute), and result columns the driver already returns in their Python type (ids,
amounts, text).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import Select

Statement = Insert | Update | Select[Any]
# SQLAlchemy's bind converter of one placeholder's type (e.g. datetime to text), or None.
BindConverter = Callable[[Any], Any] | None


class UnpreparableStatementError(TypeError):
    """The statement needs work from SQLAlchemy at execution time, so it cannot run on the driver."""


@dataclass(frozen=True, slots=True)
class _Bound:
    """Where one placeholder's value comes from: the caller's parameter, or a fixed literal."""

    key: str
    fixed: Any
    from_caller: bool
    process: BindConverter


@dataclass(frozen=True, slots=True)
class CompiledForm:
    """A statement compiled for one dialect and one set of parameter names."""

    sql: str
    names: tuple[str, ...]
    bounds: tuple[_Bound, ...]
    positional: bool
    returns_rows: bool

    def arguments(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = []
        for bound in self.bounds:
            value = params[bound.key] if bound.from_caller else bound.fixed
            # As SQLAlchemy does: a type's processor sees every value, None included.
            values.append(value if bound.process is None else bound.process(value))
        return values if self.positional else dict(zip(self.names, values, strict=True))


class PreparedStatement:
    """One statement, compiled on first use per dialect, run on the raw driver connection."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._forms: dict[tuple[str, str, tuple[str, ...]], CompiledForm] = {}

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Rows:
        """Execute with ``params`` (by bind name); the rows it returned, if it returns any."""
        form = self._form(conn.dialect, params)
        return execute_on_driver(conn, form.sql, form.arguments(params), many=False, fetch=form.returns_rows)

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row in one driver call (``executemany``); rows share their names."""
        if rows:
            form = self._form(conn.dialect, rows[0])
            execute_on_driver(conn, form.sql, [form.arguments(row) for row in rows], many=True, fetch=False)

    def _form(self, dialect: Dialect, params: Mapping[str, Any]) -> CompiledForm:
        names = tuple(params)
        # By driver too: two drivers of one database may write placeholders differently.
        key = (dialect.name, dialect.driver, names)
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = compile_form(self.statement, dialect, names)
        return form


def compile_form(statement: Statement, dialect: Dialect, names: tuple[str, ...]) -> CompiledForm:
    """``statement`` compiled for ``dialect`` with parameters ``names``, checked that it needs
    nothing from SQLAlchemy when it runs."""
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    if not isinstance(compiled, SQLCompiler):
        raise UnpreparableStatementError(f"not a SQL statement: {statement}")
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise UnpreparableStatementError("the statement has parameters rendered at execution time")
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise UnpreparableStatementError("the statement needs Python-side column defaults")
    for column in statement.exported_columns:
        if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
            raise UnpreparableStatementError(f"result column {column} needs converting")
    positional = compiled.positiontup is not None
    placeholder_names = tuple(compiled.positiontup or compiled.bind_names.values())
    bounds = tuple(_bound(compiled.binds[name], dialect, names) for name in placeholder_names)
    returns_rows = bool(statement.exported_columns)
    return CompiledForm(compiled.string, placeholder_names, bounds, positional, returns_rows)


def _bound(param: BindParameter[Any], dialect: Dialect, names: tuple[str, ...]) -> _Bound:
    from_caller = param.key in names
    if not from_caller and (param.required or param.callable is not None):
        raise UnpreparableStatementError(f"no value for parameter {param.key}")
    fixed = None if from_caller else param.value
    # The dialect's own form of the type: the generic one may convert nothing (SQLite's DATETIME
    # text, for one, comes from the dialect's implementation).
    return _Bound(param.key, fixed, from_caller, param.type.dialect_impl(dialect).bind_processor(dialect))


class Rows:
    """What a statement returned, already read from the driver."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows


def run_driver_sql(conn: Connection, sql: str) -> None:
    """A statement without parameters or results (a savepoint, say), on the driver."""
    execute_on_driver(conn, sql, None, many=False, fetch=False)


def execute_on_driver(conn: Connection, sql: str, arguments: Any, *, many: bool, fetch: bool) -> Rows:
    """Run on the driver and read any rows at once, inside the error handling, then close the
    cursor: callers get plain rows and SQLAlchemy's exceptions, never a driver's."""
    cursor: Any = None
    try:
        # Inside: a connection the database dropped fails already here.
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        # Statement listeners (tests that watch what is written, statement logging) see every
        # statement. Only before execution, and with no execution context: a listener that
        # needs SQLAlchemy's context, or after_cursor_execute, sees only SQLAlchemy's own.
        if conn.dispatch.before_cursor_execute:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, arguments, None, many)
        if many:
            cursor.executemany(sql, arguments)
        elif arguments is None:  # a savepoint
            cursor.execute(sql)
        else:
            cursor.execute(sql, arguments)
        return Rows(cursor.fetchall() if fetch else [])
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, sql, arguments, exc) from exc
    finally:
        if cursor is not None:
            cursor.close()


def _wrapped(conn: Connection, sql: str, arguments: Any, exc: Any) -> StatementError:
    """The error SQLAlchemy would have raised, with a dropped connection invalidated. (SQLAlchemy
    would also mark every older pooled connection stale; the check at checkout finds those:
    liveness.py.)"""
    dbapi_connection = conn.connection.dbapi_connection
    invalidated = conn.dialect.is_disconnect(exc, dbapi_connection, None)
    if invalidated:
        conn.invalidate(exc)
    error: StatementError = DBAPIError.instance(
        sql,
        arguments,
        exc,
        conn.dialect.loaded_dbapi.Error,
        connection_invalidated=invalidated,
        dialect=conn.dialect,
    )
    return error
