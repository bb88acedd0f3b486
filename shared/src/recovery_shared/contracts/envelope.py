"""The envelope every message travels in (design §3).

Readers ignore fields they do not know, so contracts grow by adding optional
fields; a breaking change is a new ``schema_version`` with an upcaster on the
reading side (``contracts.upcasting``): each event class states, as
``SCHEMA_VERSION``, the version this code reads, and ``parse`` refuses a newer
one and upcasts an older one before validating it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, Field

from recovery_shared.clock import utc_now
from recovery_shared.contracts.base import Contract
from recovery_shared.contracts.common import MAX_REF

_POOL_IDS = 512
_pool: Iterator[uuid.UUID] = iter(())
_VERSION_4 = 4 << 76
_VARIANT_RFC_4122 = 0x8000 << 48
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))


def _fresh_ids() -> Iterator[uuid.UUID]:
    random = os.urandom(16 * _POOL_IDS)
    for start in range(0, 16 * _POOL_IDS, 16):
        value = (int.from_bytes(random[start : start + 16]) & _CLEAR) | _VERSION_4 | _VARIANT_RFC_4122
        event_id = object.__new__(uuid.UUID)
        object.__setattr__(event_id, "int", value)
        object.__setattr__(event_id, "is_safe", uuid.SafeUUID.unknown)
        yield event_id


def new_event_id() -> uuid.UUID:
    """A random (version 4) UUID, as ``uuid.uuid4()`` makes, drawn from a pool filled by
    one read of the system's random source: busy use cases publish thousands of
    events a batch, and ``uuid4()`` costs a system call and a validated constructor each."""
    global _pool
    event_id = next(_pool, None)
    if event_id is None:
        _pool = _fresh_ids()
        event_id = next(_pool)
    return event_id


class Envelope(Contract):
    """An event. Built in code it gets a fresh ``event_id``; read from a topic
    (``contracts.parse``) it must carry its own, and its ``schema_version``."""

    SCHEMA_VERSION: ClassVar[int] = 1
    """The schema version of this event type that this code reads and writes. A class
    that raises it also gives ``schema_version`` the same default (a test checks),
    and registers an upcaster from the version before."""

    event_id: uuid.UUID = Field(default_factory=new_event_id, description="Unique per event; the inbox dedupes on it")
    type: str = Field(description="What happened, e.g. 'payment.allocated'")
    schema_version: int = Field(default=1, ge=1, strict=True, description="The shape of this event type's data")
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    correlation_id: uuid.UUID | None = Field(default=None, description="The first event of this chain of work")
    causation_id: uuid.UUID | None = Field(default=None, description="The event that caused this one")
    # The account reference, or where a receipt names no account, its receipt reference.
    key: str = Field(min_length=1, max_length=MAX_REF, description="Partition key: the account reference")
    data: Any

    def caused_by(self, cause: Envelope) -> Self:
        """Carry the correlation chain from the event that led to this one."""
        return self.model_copy(update=causation(cause))

    def to_bytes(self) -> bytes:
        """The event as JSON, straight from pydantic-core (what ``model_dump_json`` gives,
        without its text round trip)."""
        encoded: bytes = self.__pydantic_serializer__.to_json(self)
        return encoded

    def to_json_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.model_dump_json())
        return result


def causation(cause: Envelope) -> dict[str, uuid.UUID]:
    """The correlation chain for an event that ``cause`` led to, as constructor
    arguments: where a batch builds many events, passing these when the event is
    made is cheaper than ``caused_by``'s copy afterwards."""
    return {"correlation_id": cause.correlation_id or cause.event_id, "causation_id": cause.event_id}


def occurred(moment: datetime | None = None) -> datetime:
    return moment or utc_now()
