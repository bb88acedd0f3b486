"""The base every contract model shares (its own module so that the envelope and
the value types can both build on it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Base for event payloads: unknown fields are ignored, so contracts grow by adding
    optional fields; the known ones are bounded and, for amounts and flags, strict."""

    model_config = ConfigDict(extra="ignore", frozen=True)
