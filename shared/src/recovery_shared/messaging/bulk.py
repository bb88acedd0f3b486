"""Many rows into one table in one round trip, for a use case that writes a whole
batch at once.

SQLAlchemy's executemany builds and converts a parameter dictionary per row in
Python, which costs more than the database's own work for a batch of receipts.
Here each driver's bulk path is used instead, inside the session's transaction:
COPY on PostgreSQL, the sqlite3 module's executemany (with the column types' own
conversions, so values are stored exactly as the Core table would store them) on
SQLite, and plain executemany elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Dialect, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession


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
