"""Many rows into one table in one executemany, without SQLAlchemy's per-row work.

For an executemany, SQLAlchemy builds a parameter dict for every row and runs the bind
processor of every column on it, in Python: too dear for the message log (two rows a
message) and the meter values (nine rows a MeterValues). Here SQLAlchemy still compiles
the INSERT (once per dialect) and its columns' own bind processors still convert the values
that need it (datetimes on SQLite), but only those, and each distinct value once per batch;
the rows go to the driver as tuples.

On PostgreSQL (asyncpg) many rows go by COPY instead of an INSERT each (`copy_rows`):
PostgreSQL plans and runs every INSERT of an executemany on its own, and a COPY once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.util import await_

from ocpp_core.db.adapter_errors import raise_as_dbapi_error

Processor = Callable[[Any], Any]
# The execution option that names a BulkInsert's table and columns to `copy_rows`.
COPY_INTO = "voltaro_copy_into"


class BulkInsert:
    """`INSERT INTO table (columns...)`: rows are tuples in the order of `columns`."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        # Per dialect: the SQL, the column order it binds (None: that of `columns`), the
        # processors of the positions that have one, and the execution options that let
        # `copy_rows` take the rows (their columns in the bound order).
        self._compiled: dict[str, _Compiled] = {}

    async def write(self, session: AsyncSession, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            # One trip into SQLAlchemy's synchronous side for the connection and the
            # statement: each trip costs a greenlet switch and its bookkeeping, and the
            # message log writes a few rows in nearly every transaction.
            await session.run_sync(self.write_in, rows)

    def write_in(self, session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
        """`write` from SQLAlchemy's synchronous side (inside `AsyncSession.run_sync`)."""
        if not rows:
            return
        connection = session.connection()
        sql, order, processors, options = self._compile(connection.dialect)
        if processors or order is not None:
            rows = _converted(rows, order, processors)
        connection.exec_driver_sql(sql, list(rows), execution_options=options)

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = insert(self.table).compile(dialect=dialect, column_keys=self.columns)
            # The driver's parameter order (qmark, $n) is the compiled statement's.
            names = _compiled_positions(statement, self.columns)
            positions = tuple(self.columns.index(name) for name in names)
            order = None if positions == tuple(range(len(positions))) else positions
            processors: dict[int, Processor] = {}
            for position, name in enumerate(names):
                process = self.table.c[name].type.bind_processor(dialect)
                if process is not None:
                    processors[position] = process
            options = {COPY_INTO: (self.table.name, tuple(names))}
            compiled = (str(statement), order, processors, options)
            self._compiled[dialect.name] = compiled
        return compiled


_Compiled = tuple[str, tuple[int, ...] | None, dict[int, Processor], dict[str, Any]]


class Prepared:
    """A statement SQLAlchemy cannot cache (a multi-row VALUES, for one) compiled once per
    dialect and run with its parameters by name, converted by their types' processors:
    SQLAlchemy would compile it anew at every execution."""

    def __init__(self, statement: Any) -> None:
        self._statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...], dict[int, Processor]]] = {}

    def execute_in(self, session: Session, params: dict[str, Any]) -> CursorResult[Any]:
        connection = session.connection()
        sql, names, processors = self._compile(connection.dialect)
        # Every parameter given: column defaults are not run here.
        values = [params[name] for name in names]
        for position, process in processors.items():
            values[position] = process(values[position])
        return connection.exec_driver_sql(sql, tuple(values))

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[str, ...], dict[int, Processor]]:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = self._statement.compile(dialect=dialect)
            if statement.positiontup is None:
                raise ValueError(f"{dialect.name}: positional parameters expected")
            names = tuple(statement.positiontup)
            processors = {}
            for position, name in enumerate(names):
                process = statement.binds[name].type.bind_processor(dialect)
                if process is not None:
                    processors[position] = process
            compiled = self._compiled[dialect.name] = (str(statement), names, processors)
        return compiled


def copy_rows(engine: AsyncEngine) -> None:
    """On `engine` (asyncpg), a BulkInsert of more than one row is written by COPY.

    It stays an executemany to SQLAlchemy, which only hands the execution to this hook:
    its transaction, its error handling (an error raised here is the driver's, wrapped
    as for any statement, and a dropped connection invalidates the pool, so
    `once_more_if_reconnected` runs the work again) and its events are those of any
    statement. A single row is an ordinary INSERT."""

    @event.listens_for(engine.sync_engine, "do_executemany")
    def _copy(cursor: Any, _statement: str, rows: Any, context: Any) -> bool:
        target = context.execution_options.get(COPY_INTO)
        if target is None:
            return False  # not a BulkInsert: SQLAlchemy's executemany
        table, columns = target
        driver = context.root_connection.connection.driver_connection
        if not driver.is_in_transaction():
            # SQLAlchemy's adapter opens its transaction with the first statement: a COPY
            # sent before would be committed at once, whatever became of the rest.
            cursor.execute("SELECT 1")
        try:
            await_(driver.copy_records_to_table(table, records=rows, columns=columns))
        except Exception as error:
            raise_as_dbapi_error(cursor, error)
        return True


def _compiled_positions(statement: Any, columns: Sequence[str]) -> list[str]:
    positions = statement.positiontup
    if positions is None:  # a named paramstyle: the rows must go as dicts, not supported
        raise ValueError(f"{statement.dialect.name}: positional parameters expected")
    if sorted(positions) != sorted(columns):
        raise ValueError(f"compiled INSERT binds {positions}, not {list(columns)}")
    return list(positions)


def _converted(
    rows: Sequence[tuple[Any, ...]],
    order: tuple[int, ...] | None,
    processors: dict[int, Processor],
) -> list[tuple[Any, ...]]:
    # A batch repeats few distinct datetimes (one per meter reading, one received time).
    memo: dict[tuple[int, Any], Any] = {}
    out = []
    for row in rows:
        values = list(row) if order is None else [row[i] for i in order]
        for position, process in processors.items():
            value = values[position]
            if value is not None:
                key = (position, value)
                converted = memo.get(key)
                if converted is None:
                    converted = memo[key] = process(value)
                values[position] = converted
        out.append(tuple(values))
    return out
