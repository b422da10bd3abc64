"""Migrated PostgreSQL schemas, emptied and handed to the next test instead of built again.

About a thousand tests want a migrated, empty PostgreSQL database. Building one is some 85 DDL
statements (a quarter of a second, most of it PostgreSQL's own CPU, and under a lock every
migrating process of the database shares); emptying one takes a few milliseconds. So each test
process keeps the schemas its tests gave back: a schema is reused only if its structure (every
relation, column, index, constraint, trigger, function and type in it, and Alembic's version row)
is exactly what it was right after the migration; then its tables that hold rows are emptied and
its sequences set back to their start. A schema whose structure a test changed, or that cannot
be emptied within a few seconds (a connection left open holds a lock), is dropped, as every schema
was before. What a test sees is the same as with a new schema: the newest structure, no rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from payintents.adapters.sql.engine import normalise_url
from payintents.adapters.sql.schema import metadata
from payintents.testbed.databases import postgres_scratch_schema
from tests.support import migrate_database

# Everything in the schema a test could add, drop or alter, as one comparable text. The schema's
# own objects (tables, sequences, types, functions) are found through pg_depend's index, and what
# hangs off each table through the catalogs' indexes: no scan of a whole catalog, which thousands
# of schemas made and dropped leave large.
STRUCTURE = text(
    """
    WITH objects AS (
      SELECT d.classid, d.objid FROM pg_depend d
      WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjsubid = 0
        AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = :schema)),
    relations AS (
      SELECT c.oid, c.relname FROM objects o JOIN pg_class c ON c.oid = o.objid
      WHERE o.classid = 'pg_class'::regclass)
    SELECT concat_ws(E'\\n',
      (SELECT string_agg(pg_describe_object(classid, objid, 0), ',' ORDER BY 1) FROM objects),
      (SELECT string_agg(r.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                         || ' ' || a.attnotnull::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
                         ',' ORDER BY r.relname, a.attnum)
         FROM relations r JOIN pg_attribute a ON a.attrelid = r.oid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attnum > 0 AND NOT a.attisdropped),
      (SELECT string_agg(pg_get_indexdef(i.indexrelid), ',' ORDER BY 1)
         FROM relations r JOIN pg_index i ON i.indrelid = r.oid),
      (SELECT string_agg(o.conname || ' ' || pg_get_constraintdef(o.oid), ',' ORDER BY 1)
         FROM relations r JOIN pg_constraint o ON o.conrelid = r.oid),
      (SELECT string_agg(t.tgname || ' ' || t.tgenabled::text, ',' ORDER BY 1)
         FROM relations r JOIN pg_trigger t ON t.tgrelid = r.oid))
    """
)
# Tables are emptied children first (the reverse of the order they are created in), and only
# those with rows: a DELETE of a few rows costs far less than a TRUNCATE, which gives every table
# and index a new file.
TABLES_CHILDREN_FIRST = [table.name for table in reversed(metadata.sorted_tables)]
SEQUENCES = text(
    "SELECT schemaname || '.' || sequencename, start_value FROM pg_sequences WHERE schemaname = :schema"
)
# A connection a test left open would make the DELETE wait for its lock; then the schema is dropped.
EMPTYING_LOCK_TIMEOUT = "3s"


@dataclass
class _Schema:
    url: str
    name: str
    structure: str
    versions: list[str]
    closing: ExitStack


class MigratedSchemas:
    """Migrated, empty schemas of one PostgreSQL database, reused from test to test."""

    def __init__(self, admin_url: str) -> None:
        self._admin_url = admin_url
        self._admin: Engine = create_engine(
            normalise_url(admin_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        self._free: list[_Schema] = []

    @contextmanager
    def schema_url(self) -> Iterator[str]:
        """The URL of a migrated schema with no rows, for one test; emptied or dropped after."""
        schema = self._free.pop() if self._free else self._new_schema()
        try:
            yield schema.url
        finally:
            self._give_back(schema)

    def close(self) -> None:
        while self._free:
            self._free.pop().closing.close()
        self._admin.dispose()

    def _new_schema(self) -> _Schema:
        closing = ExitStack()
        url = closing.enter_context(postgres_scratch_schema(self._admin_url, "t"))
        name = url.rpartition("search_path%3D")[2]
        try:
            migrate_database(url)
            with self._admin.connect() as conn:
                structure, versions = _structure(conn, name), _versions(conn, name)
        except BaseException:
            closing.close()
            raise
        return _Schema(url, name, structure, versions, closing)

    def _give_back(self, schema: _Schema) -> None:
        try:
            emptied = self._empty(schema)
        except Exception:  # a lock held by a connection left open, a schema gone: start afresh
            emptied = False
        if emptied:
            self._free.append(schema)
        else:
            schema.closing.close()

    def _empty(self, schema: _Schema) -> bool:
        """Empty the schema if its structure is the migrated one; whether it was."""
        with self._admin.connect() as conn:
            if _structure(conn, schema.name) != schema.structure:
                return False
            if _versions(conn, schema.name) != schema.versions:
                return False
            # The connection is not pooled: the setting ends with it.
            conn.execute(text(f"SET lock_timeout = '{EMPTYING_LOCK_TIMEOUT}'"))
            for table in _tables_with_rows(conn, schema.name):
                conn.execute(text(f'DELETE FROM {schema.name}."{table}"'))
            for sequence, start in conn.execute(SEQUENCES, {"schema": schema.name}).all():
                conn.execute(
                    text("SELECT setval(:sequence, :start, false)"), {"sequence": sequence, "start": start}
                )
        return True


def _structure(conn: Connection, schema: str) -> str:
    return str(conn.execute(STRUCTURE, {"schema": schema}).scalar_one())


def _versions(conn: Connection, schema: str) -> list[str]:
    return list(conn.execute(text(f"SELECT version_num FROM {schema}.alembic_version ORDER BY 1")).scalars())


def _tables_with_rows(conn: Connection, schema: str) -> list[str]:
    """The schema's tables that hold a row, children first."""
    probes = " UNION ALL ".join(
        f'SELECT {index} WHERE EXISTS (SELECT FROM {schema}."{table}")'
        for index, table in enumerate(TABLES_CHILDREN_FIRST)
    )
    filled = sorted(conn.execute(text(probes)).scalars())
    return [TABLES_CHILDREN_FIRST[index] for index in filled]
