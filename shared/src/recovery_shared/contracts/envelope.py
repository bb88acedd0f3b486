"""The envelope every message travels in (design §3).

Readers ignore fields they do not know, so contracts grow by adding optional
fields; a breaking change is a new ``schema_version`` with an upcaster on the
reading side.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from recovery_shared.clock import utc_now


class Contract(BaseModel):
    """Base for event payloads: unknown fields are ignored, known ones are strict-ish."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(Contract):
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique per event; the inbox dedupes on it")
    type: str = Field(description="What happened, e.g. 'payment.allocated'")
    schema_version: int = Field(default=1, ge=1)
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    correlation_id: uuid.UUID | None = Field(default=None, description="The first event of this chain of work")
    causation_id: uuid.UUID | None = Field(default=None, description="The event that caused this one")
    key: str = Field(min_length=1, description="Partition key: the account reference")
    data: Any

    def caused_by(self, cause: Envelope) -> Self:
        """Carry the correlation chain from the event that led to this one."""
        return self.model_copy(update=causation(cause))

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

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
