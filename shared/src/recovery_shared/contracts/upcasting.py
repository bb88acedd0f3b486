"""Upcasters: how a message in an older schema version is read by newer code.

When an event type's ``SCHEMA_VERSION`` goes from N to N+1, the change registers
one function for (type, N) that turns a version-N envelope (the whole message as
JSON data, so it may move fields between the envelope and ``data``) into a
version N+1 one. ``parse`` applies them in order before validating, so a use case
only ever sees the version it was written for. A message older than the oldest
registered step is refused with a reason rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register the decorated function as the step from ``from_version`` to the next."""

    def register(step: Upcaster) -> Upcaster:
        if (event_type, from_version) in _UPCASTERS:
            # Two steps for one version would make the reading depend on import order.
            raise ValueError(f"an upcaster for {event_type} version {from_version} is already registered")
        _UPCASTERS[(event_type, from_version)] = step
        return step

    return register


def remove_upcaster(event_type: str, from_version: int) -> None:
    """Forget a registration (for tests that register one of their own)."""
    _UPCASTERS.pop((event_type, from_version), None)


class NoUpcaster(LookupError):
    """An older message that no registered step can bring up to date."""


def upcast(body: dict[str, Any], event_type: str, from_version: int, to_version: int) -> dict[str, Any]:
    """``body`` (a version ``from_version`` message) as version ``to_version``."""
    for version in range(from_version, to_version):
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise NoUpcaster(
                f"{event_type} schema_version {from_version} is older than this service reads ({to_version}) "
                f"and no upcaster from version {version} is registered"
            )
        body = step(body)
        body["schema_version"] = version + 1
    return body
