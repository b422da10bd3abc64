"""A PostgreSQL write transaction's result-less writes, held back and sent as one statement.

Each statement costs a PostgreSQL client a round trip and about 90 µs of driver work, however it
is carried (performance.md, round 5). A refund's last writes (the refund row, its outbox event,
the event's deliveries, the stored answer) return nothing and nothing in the transaction reads
them, so they wait here and go as one prepared statement of data-modifying CTEs:

    WITH held_0 AS (INSERT INTO refunds ...), held_1 AS (INSERT INTO outbox_events ...),
         held_2 AS (INSERT INTO webhook_deliveries ... SELECT ...) UPDATE idempotency_keys ...

Every statement in a ``WITH`` sees the same snapshot and none sees another's rows. That is safe
because of what may be held: only statements marked ``may_be_held`` (prepared.py), none of which
reads a table another one writes, and no statement twice (a second one sends the first batch). A
foreign key between two held rows holds, since PostgreSQL checks it at the end of the statement.

What is held goes out before anything else the transaction runs, so everything reads its own
writes: a prepared statement sends it first (prepared.py), a statement through SQLAlchemy sends
it from the ``before_execute`` listener set on every PostgreSQL engine
(``send_held_writes_first``), and the unit of work sends it before COMMIT. A held write that
fails therefore fails at the latest at COMMIT, inside the same transaction: the unit of work
rolls everything back and answers as it would have for the single statement.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, event

from payintents.adapters.sql.prepared import (
    HELD_WRITES,
    CompiledForm,
    PreparedStatement,
    compile_form,
    execute_on_driver,
    send_held_writes,
)

_Held = list[tuple[PreparedStatement, Mapping[str, Any]]]
_Shape = tuple[tuple[PreparedStatement, tuple[str, ...]], ...]


class HeldWrites:
    """The writes one transaction has held so far, in order."""

    def __init__(self) -> None:
        self._held: _Held = []
        self._open = True

    def hold(self, conn: Connection, statement: PreparedStatement, params: Mapping[str, Any]) -> bool:
        """Keep ``statement`` for later (sending the batch first if it already holds one like it);
        False once the transaction is over: run it now."""
        if not self._open:
            return False
        if any(held is statement for held, _ in self._held):
            # Twice in one WITH, the second would not see the first's row (a refund's position).
            self.send(conn)
        # A copy: the caller may reuse its mapping before the batch goes out.
        self._held.append((statement, dict(params)))
        return True

    def send(self, conn: Connection) -> None:
        """Run what is held, as one statement."""
        held, self._held = self._held, []
        if len(held) == 1:
            statement, params = held[0]
            statement.run_now(conn, params)
        elif held:
            sql, arguments = _combined(conn.dialect, held)
            execute_on_driver(conn, sql, arguments, many=False, fetch=False)

    def close(self) -> None:
        """The transaction is over: what is still held is dropped, and nothing more is held."""
        self._held = []
        self._open = False


def hold_writes(conn: Connection) -> HeldWrites | None:
    """From now until ``release_writes``, hold the result-less writes made on ``conn``; None
    (nothing is held) on an engine whose SQLAlchemy statements would not send them first."""
    if conn.engine not in _SENDING_FIRST:
        return None
    holder = HeldWrites()
    conn.info[HELD_WRITES] = holder
    return holder


def release_writes(conn: Connection, holder: HeldWrites) -> None:
    """The transaction is over. The holder is closed first: if the connection cannot even be
    reached any more, a later user of it still runs its writes at once."""
    holder.close()
    if not conn.invalidated and not conn.closed:
        conn.info.pop(HELD_WRITES, None)


def send_held_writes_first(engine: Engine) -> None:
    """Statements run through SQLAlchemy (``Connection.execute``) send what is held first; only
    then may the engine's transactions hold writes."""
    event.listen(engine, "before_execute", _before_execute)
    _SENDING_FIRST.add(engine)


_SENDING_FIRST: weakref.WeakSet[Engine] = weakref.WeakSet()


def _before_execute(conn: Connection, *_statement: Any) -> None:
    send_held_writes(conn)


_COMBINED: dict[tuple[type[Dialect], _Shape], tuple[str, tuple[CompiledForm, ...]]] = {}


def _combined(dialect: Dialect, held: _Held) -> tuple[str, list[Any]]:
    """The held writes as one statement with positional parameters, and its arguments."""
    shape: _Shape = tuple((statement, tuple(params)) for statement, params in held)
    key = (type(dialect), shape)
    entry = _COMBINED.get(key)
    if entry is None:
        entry = _COMBINED[key] = _combine(dialect, shape)
    sql, forms = entry
    arguments: list[Any] = []
    for form, (_, params) in zip(forms, held, strict=True):
        arguments.extend(form.arguments(params))
    return sql, arguments


def _positional(dialect: Dialect) -> Dialect:
    """The connection's own dialect (initialised, with the engine's settings), placeholders ``%s``."""
    if dialect.paramstyle not in ("pyformat", "format"):
        raise TypeError(f"held writes need psycopg's placeholders, not {dialect.paramstyle}")
    positional = copy.copy(dialect)
    positional.paramstyle, positional.positional = "format", True
    return positional


def _combine(dialect: Dialect, shape: _Shape) -> tuple[str, tuple[CompiledForm, ...]]:
    # Positional placeholders, so the parts' parameters need no renaming: the arguments are the
    # parts' arguments one after another. (A shape is a sequence of distinct statements, so there
    # are only as many shapes as orders the few holdable statements can come in.)
    positional = _positional(dialect)
    forms = tuple(compile_form(statement.statement, positional, names) for statement, names in shape)
    ctes = ", ".join(f"held_{n} AS ({form.sql})" for n, form in enumerate(forms[:-1]))
    return f"WITH {ctes} {forms[-1].sql}", forms
