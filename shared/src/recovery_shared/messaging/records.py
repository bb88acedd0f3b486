"""The one seam between a service's repositories and its tables: rows held by a
unit of work, changed in memory, written in bulk when it commits.

A batch of events is handled by loading what it needs in a few queries
(``remember``), running the ordinary per-event use case for each event against
those records in memory, and flushing every insert, update and delete in a
handful of bulk statements. One event on its own goes the same way with a batch
of one: there is no second, hand-tuned path.

Records are plain slotted dataclasses whose field names are the table's column
names. A record read twice is the same object, so a later event in a batch sees
what an earlier one did. Changes are found by comparing each record with the
values it was read with; "counter" columns (money paid onto a debt, say) are
written as increments, so a change another transaction made meanwhile is kept.

A "guarded" column carries a state (a receipt's status): its update is a
compare-and-set, ``WHERE status = <the value this unit read>``. If another
transaction moved the row on meanwhile the update matches nothing and the unit
raises ``StaleRecord``, which is transient: the unit is rolled back and run
again, and then sees the new state. Two officers reversing one receipt, or an
officer racing the consumer, so give one effect. On PostgreSQL the READ
COMMITTED re-check of the WHERE after waiting for the other writer's row lock
makes this race-free; on SQLite the writer lock serialises the writes.

The dialect differences live in ``recovery_shared.messaging.bulk``: inserts by COPY
on PostgreSQL and the driver's executemany on SQLite; updates by one ``UPDATE ...
FROM unnest(...)`` on PostgreSQL and executemany on SQLite.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Hashable, Iterable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from sqlalchemy import JSON, Select, Table, and_, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from recovery_shared.messaging.bulk import insert_rows, update_rows

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    R = TypeVar("R", bound=DataclassInstance)
else:
    R = TypeVar("R")

_ABSENT: Any = object()

# Keys per IN list: far under SQLite's bound-parameter limit.
IN_CHUNK = 2000


class StaleRecord(Exception):
    """A guarded row changed after this unit read it; the unit's decision was made
    on a state that no longer holds. Run the unit again: it will see the new one."""

    transient = True
    """Marks the error as worth a retry for the consumer's and commands' classifiers."""


class Flushable(Protocol):
    async def flush(self, session: AsyncSession) -> None: ...

    def reset(self) -> None: ...


def _values_of(names: Sequence[str]) -> Any:
    getter = attrgetter(*names)
    if len(names) == 1:
        return lambda record: (getter(record),)
    return getter


def _snapshot(values: tuple[Any, ...]) -> tuple[Any, ...]:
    # A list or dict column (a JSON document) may be changed in place, so the
    # values it was read with are kept as a copy.
    if any(type(v) in (list, dict) for v in values):
        return tuple(copy.deepcopy(v) if type(v) in (list, dict) else v for v in values)
    return values


def _as_read(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return values


class Records(Generic[R]):
    """One table's rows as held by one unit of work, keyed by primary key."""

    def __init__(
        self,
        table: Table,
        record: type[R],
        key: Sequence[str],
        *,
        counters: Sequence[str] = (),
        guards: Sequence[str] = (),
    ) -> None:
        self.table = table
        self.record = record
        self.fields: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(record))
        missing = [f for f in self.fields if f not in table.c]
        if missing:
            raise ValueError(f"{record.__name__}: no column {missing} in table {table.name}")
        self.key_fields = tuple(key)
        self.counters = tuple(counters)
        self.guards = tuple(guards)
        unknown = [g for g in self.guards if g not in self.fields or g in self.key_fields or g in self.counters]
        if unknown:
            raise ValueError(f"{record.__name__}: a guard must be a plain column of the record, not {unknown}")
        self._values = _values_of(self.fields)
        self._key = attrgetter(*self.key_fields)
        self._plain = [f for f in self.fields if f not in self.key_fields and f not in self.counters]
        self._bulk_insert = not any(isinstance(table.c[f].type, JSON) for f in self.fields)
        # Only a JSON column can hold a list or dict to copy; without one the values
        # tuple is its own snapshot.
        self._snapshot = _snapshot if not self._bulk_insert else _as_read
        self._held: dict[Hashable, R | None] = {}
        self._original: dict[Hashable, tuple[Any, ...]] = {}
        self._added: dict[Hashable, R] = {}
        self._removed: dict[Hashable, R] = {}

    # --- reading ------------------------------------------------------------

    def select(self) -> Select[Any]:
        """A select of the record's columns, in field order, for ``remember``."""
        return select(*(self.table.c[f] for f in self.fields))

    def key_column_in(self, values: Iterable[Hashable]) -> list[Any]:
        """``<key> IN values`` conditions (several, for many keys) on a one-column key."""
        (name,) = self.key_fields
        items = list(values)
        return [self.table.c[name].in_(items[i : i + IN_CHUNK]) for i in range(0, len(items), IN_CHUNK)]

    def keys_in(self, keys: Iterable[Hashable]) -> list[Any]:
        """Conditions selecting these primary keys, whatever the key's width."""
        if len(self.key_fields) == 1:
            return self.key_column_in(keys)
        columns = tuple_(*(self.table.c[f] for f in self.key_fields))
        items = list(keys)
        return [columns.in_(items[i : i + IN_CHUNK]) for i in range(0, len(items), IN_CHUNK)]

    def remember(self, rows: Iterable[Sequence[Any]]) -> list[R]:
        """Records for rows read from the table. A row this unit already holds gives
        back the held record (with any changes made to it); one removed in this unit
        is left out."""
        found: list[R] = []
        held, original, make, key_of = self._held, self._original, self.record, self._key
        for row in rows:
            record = make(*row)
            key = key_of(record)
            current = held.get(key, _ABSENT)
            if current is _ABSENT or (current is None and key not in self._removed):
                held[key] = record
                original[key] = self._snapshot(self._values(record))
                found.append(record)
            elif current is not None:
                found.append(current)
        return found

    def absent(self, keys: Iterable[Hashable]) -> None:
        """Note keys a query showed are not in the table, so ``knows`` answers without
        asking again."""
        for key in keys:
            self._held.setdefault(key, None)

    def knows(self, key: Hashable) -> bool:
        return key in self._held

    def held(self, key: Hashable) -> R | None:
        return self._held.get(key)

    def held_records(self) -> list[R]:
        return [r for r in self._held.values() if r is not None]

    # --- changing -----------------------------------------------------------

    def add(self, record: R) -> R:
        key = self._key(record)
        if self._held.get(key) is not None:
            raise ValueError(f"{self.table.name} {key!r} is already held; change it instead of adding it")
        self._held[key] = record
        self._added[key] = record
        return record

    def remove(self, record: R) -> None:
        key = self._key(record)
        if self._added.pop(key, None) is None:
            self._removed[key] = record
            self._original.pop(key, None)
        self._held[key] = None

    # --- writing ------------------------------------------------------------

    async def flush(self, session: AsyncSession) -> None:
        """Deletes, then inserts, then updates (a key removed and added again in one
        unit is a delete and an insert)."""
        if self._removed:
            keys = list(self._removed)
            for condition in self.keys_in(keys):
                await session.execute(delete(self.table).where(condition))
            self._removed.clear()
        if self._added:
            records = list(self._added.values())
            rows = [self._values(r) for r in records]
            if self._bulk_insert:
                await insert_rows(session, self.table, self.fields, rows)
            else:
                await session.execute(insert(self.table), [dict(zip(self.fields, row, strict=True)) for row in rows])
            for record, row in zip(records, rows, strict=True):
                self._original[self._key(record)] = self._snapshot(row)
            self._added.clear()
        await self._flush_updates(session)

    async def _flush_updates(self, session: AsyncSession) -> None:
        # Only the columns that changed are written, so a column this unit did not
        # touch keeps whatever another transaction wrote to it meanwhile (and an
        # unchanged indexed column costs no index update). Rows changed in the same
        # columns share one executemany: a batch usually needs one statement.
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        index = {name: i for i, name in enumerate(self.fields)}
        keys = [(f"k_{k}", index[k]) for k in self.key_fields]
        guards = [(f"g_{g}", index[g]) for g in self.guards]
        counters = set(self.counters)
        columns = [
            (name, f"d_{name}" if name in counters else f"v_{name}", index[name], name in counters)
            for name in (*self._plain, *self.counters)
        ]
        held, values_of, snapshot = self._held, self._values, self._snapshot
        for key, before in self._original.items():
            record = held.get(key)
            if record is None:
                continue
            now = values_of(record)
            if now == before:
                continue
            params = {param: now[i] for param, i in keys}
            for param, i in guards:
                params[param] = before[i]
            names: list[str] = []
            for name, param, i, counter in columns:
                if now[i] != before[i]:
                    names.append(name)
                    params[param] = now[i] - before[i] if counter else now[i]
            changed.setdefault(tuple(names), []).append(params)
            self._original[key] = snapshot(now)
        c = self.table.c
        where = and_(
            *(c[k] == bindparam(f"k_{k}", type_=c[k].type) for k in self.key_fields),
            *(c[g] == bindparam(f"g_{g}", type_=c[g].type) for g in self.guards),
        )
        for changed_names, rows in changed.items():
            if not changed_names:  # e.g. a key column changed in place: nothing this seam writes
                continue
            values: dict[str, Any] = {
                name: c[name] + bindparam(f"d_{name}", type_=c[name].type)
                if name in counters
                else bindparam(f"v_{name}", type_=c[name].type)
                for name in changed_names
            }
            statement = update(self.table).where(where).values(values)
            written = await update_rows(
                session,
                self.table,
                statement,
                [*((k, f"k_{k}") for k in self.key_fields), *((g, f"g_{g}") for g in self.guards)],
                [(name, f"d_{name}" if name in counters else f"v_{name}", name in counters) for name in changed_names],
                rows,
            )
            if guards:
                # Every path counts the rows it matched in total: fewer than were
                # sent means some row's guarded state moved on since it was read.
                if written != len(rows):
                    raise StaleRecord(
                        f"{self.table.name}: {len(rows) - written} of {len(rows)} rows changed "
                        f"({', '.join(self.guards)}) since this unit read them"
                    )

    def reset(self) -> None:
        self._held.clear()
        self._original.clear()
        self._added.clear()
        self._removed.clear()


class Log(Generic[R]):
    """An append-only table (allocation lines, ladder steps): rows are added and
    written in bulk, never read back through the unit of work."""

    def __init__(self, table: Table, record: type[R]) -> None:
        self.table = table
        self.fields: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(record))
        self._values = _values_of(self.fields)
        self._bulk_insert = not any(isinstance(table.c[f].type, JSON) for f in self.fields)
        self._pending: list[R] = []

    @property
    def pending(self) -> list[R]:
        return self._pending

    def append(self, record: R) -> None:
        self._pending.append(record)

    async def flush(self, session: AsyncSession) -> None:
        if not self._pending:
            return
        rows = [self._values(r) for r in self._pending]
        self._pending = []
        if self._bulk_insert:
            await insert_rows(session, self.table, self.fields, rows)
        else:
            await session.execute(insert(self.table), [dict(zip(self.fields, row, strict=True)) for row in rows])

    def reset(self) -> None:
        self._pending = []
