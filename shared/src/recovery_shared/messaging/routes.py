"""One route table per service: which use case each event type goes to, and what
the service publishes.

The table is the single source for three things: the consumer's dispatch (the
kernel looks each event's class up here), the service's AsyncAPI document (one
channel per consumed topic with exactly the routed types, one per publication),
and the process map the main job and the end-to-end tests start services from.
Adding an event type means: its contract, one ``Route``, its use case, a test.

Use cases are referenced unbound (``Payments.record_receipt``) so the table is a
module-level constant that can be read without settings, a database or a broker;
the runtime calls them on the service's use-case object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from recovery_shared.contracts import topic_of
from recovery_shared.contracts.envelope import Envelope

# (use-case object, unit of work, event) -> None
UseCase = Callable[[Any, Any, Any], Awaitable[None]]
# (use-case object, unit of work, the batch's routed events in offset order) -> None
Prefetch = Callable[[Any, Any, list[Any]], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    event: type[Envelope]
    use_case: UseCase

    @property
    def topic(self) -> str:
        return topic_of(self.event)

    @property
    def summary(self) -> str:
        """The use case's docstring, first paragraph: what it does with this event."""
        doc = (self.use_case.__doc__ or "").strip()
        return " ".join(doc.split("\n\n", 1)[0].split())


@dataclass(frozen=True)
class Publication:
    events: tuple[type[Envelope], ...]
    description: str

    @property
    def topic(self) -> str:
        topics = {topic_of(e) for e in self.events}
        if len(topics) != 1:
            raise ValueError(f"a publication is one topic's events; got {sorted(topics)}")
        return topics.pop()


@dataclass(frozen=True)
class RouteTable:
    service: str
    routes: tuple[Route, ...]
    publishes: tuple[Publication, ...]
    prefetch: Prefetch | None = None
    """Loads what a batch's events need in a few queries before the use cases run;
    the use cases then read from the unit of work instead of the database."""
    _by_type: dict[type[Envelope], Route] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_type: dict[type[Envelope], Route] = {}
        for route in self.routes:
            if route.event in by_type:
                raise ValueError(f"{self.service}: {route.event.__name__} is routed twice")
            by_type[route.event] = route
        object.__setattr__(self, "_by_type", by_type)

    def route_for(self, event_type: type[Envelope]) -> Route | None:
        return self._by_type.get(event_type)

    def topics(self) -> list[str]:
        """Consumed topics, in the order first routed."""
        return list(dict.fromkeys(route.topic for route in self.routes))

    def routed(self, topic: str) -> list[Route]:
        return [route for route in self.routes if route.topic == topic]

    def published_topics(self) -> list[str]:
        return [p.topic for p in self.publishes]

    def published_types(self) -> frozenset[type[Envelope]]:
        return frozenset(e for p in self.publishes for e in p.events)


def describe(routes: Sequence[Route]) -> str:
    """A channel's description for the AsyncAPI document: each routed type and its use."""
    return " ".join(f"{r.event.model_fields['type'].default}: {r.summary}" for r in routes)
