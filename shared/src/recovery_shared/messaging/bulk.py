"""Many rows into one table in one round trip, for a use case that writes a whole
batch at once.

SQLAlchemy's executemany builds and converts a parameter dictionary per row in
Python, which costs more than the database's own work for a batch of receipts.
Here each driver's bulk path is used instead, inside the session's transaction:
COPY on PostgreSQL, the sqlite3 module's executemany (with the column types' own
conversions, so values are stored exactly as the Core table would store them) on
SQLite, and plain executemany elsewhere.

``update_rows`` is the same seam for updates: on PostgreSQL one ``UPDATE ... FROM
unnest(<one array per column>)`` for the whole batch (the server plans and runs
one statement instead of one per row, and the driver sends a handful of arrays
instead of a parameter set per row); elsewhere the driver's executemany.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import JSON, CursorResult, Dialect, Executable, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import ARRAY


def _stored_form(table: Table, column: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's own conversion to what the driver stores, if it has one."""
    convert: Callable[[Any], Any] | None = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return convert


async def insert_rows(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values in the order of ``columns``) into ``table``."""
    if not rows:
        return
    conn = await session.connection()
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    if dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.cursor() as cursor, cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
            for row in rows:
                await copy.write_row(row)
        return
    if dialect.name == "sqlite":
        converters: list[tuple[int, Callable[[Any], Any], dict[Any, Any]]] = [
            (i, convert, {})
            for i, name in enumerate(columns)
            if (convert := _stored_form(table, name, dialect)) is not None
        ]
        stored: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(row)
            for i, to_stored, done in converters:
                # A batch repeats a few dates and one timestamp; each is converted once.
                value = values[i]
                try:
                    values[i] = done[value]
                except KeyError:
                    values[i] = done[value] = to_stored(value)
                except TypeError:  # unhashable, e.g. a JSON document
                    values[i] = to_stored(value)
            stored.append(tuple(values))
        placeholders = ", ".join("?" for _ in columns)
        await conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({placeholders})", stored)
        return
    await conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


_ABSENT: Any = object()


def _array_type(table: Table, column: str, dialect: Dialect) -> str | None:
    """The PostgreSQL array type ``unnest`` needs for a column, or None where a
    column's values do not travel as a plain array (JSON documents, arrays)."""
    column_type = table.c[column].type
    if isinstance(column_type, JSON | ARRAY):
        return None
    return f"{column_type.compile(dialect=dialect)}[]"


async def update_rows(
    session: AsyncSession,
    table: Table,
    executemany_statement: Executable,
    matches: Sequence[tuple[str, str]],
    sets: Sequence[tuple[str, str, bool]],
    rows: Sequence[dict[str, Any]],
) -> int:
    """Update many rows of ``table`` and return how many matched.

    ``matches`` are (column, parameter) pairs that must all be equal for a row to
    change (its key, and any compare-and-set guard); ``sets`` are (column,
    parameter, is_increment) for the columns written. ``rows`` hold the parameters
    by name. ``executemany_statement`` is the same update written with bind
    parameters, for databases without the one-statement form."""
    conn = await session.connection()
    dialect = conn.dialect
    if dialect.name == "postgresql":
        columns = [column for column, _ in matches] + [column for column, _, _ in sets]
        found = {column: _array_type(table, column, dialect) for column in columns}
        arrays = {column: array for column, array in found.items() if array is not None}
        if len(arrays) == len(found):
            quote = dialect.identifier_preparer.quote
            name = quote(table.name)

            def stored(column: str, param: str) -> list[Any]:
                convert = _stored_form(table, column, dialect)
                items = [row[param] for row in rows]
                return [convert(v) for v in items] if convert is not None else items

            # A value every row shares (the unit's audit stamp, a new status) goes as
            # one parameter rather than an array the driver converts item by item.
            assignments, assigned, unnest, labels, arrays_sent = [], [], [], [], []
            for column, param, increment in sets:
                values = stored(column, param)
                shared = values[0] if all(v == values[0] for v in values) else _ABSENT
                source = f"%s::{arrays[column][:-2]}" if shared is not _ABSENT else f"batch.{quote(param)}"
                if shared is not _ABSENT:
                    assigned.append(shared)
                else:
                    unnest.append(f"%s::{arrays[column]}")
                    labels.append(quote(param))
                    arrays_sent.append(values)
                current = f"{name}.{quote(column)} + " if increment else ""
                assignments.append(f"{quote(column)} = {current}{source}")
            for column, param in matches:
                unnest.append(f"%s::{arrays[column]}")
                labels.append(quote(param))
                arrays_sent.append(stored(column, param))
            where = " AND ".join(f"{name}.{quote(column)} = batch.{quote(param)}" for column, param in matches)
            sql = (
                f"UPDATE {name} SET {', '.join(assignments)} "
                f"FROM unnest({', '.join(unnest)}) AS batch({', '.join(labels)}) WHERE {where}"
            )
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            async with driver.cursor() as cursor:
                await cursor.execute(sql, [*assigned, *arrays_sent])
                updated: int = cursor.rowcount
            return updated
    result = await session.execute(executemany_statement, rows, execution_options={"synchronize_session": False})
    return cast(CursorResult[Any], result).rowcount
