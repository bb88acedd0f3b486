"""Event contracts: one discriminated union on ``type`` per topic.

``parse(topic, raw)`` is how every consumer reads a message; it raises
``ContractError`` with a reason a person can read when the bytes do not fit.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import TypeAdapter, ValidationError

from recovery_shared import topics
from recovery_shared.contracts.common import DebtType, HbopClassification, Instalment, LiableParty
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    AgentReturnEvent,
    BillingEvent,
    CircumstanceEvent,
    ClockEvent,
    CourtOutcomeEvent,
    DirectDebitReportEvent,
    ReceiptEvent,
)
from recovery_shared.contracts.internal import (
    AgentReferralEvent,
    ArrangementEvent,
    EnforcementEvent,
    NoticeEvent,
    NoticeRequestEvent,
    PaymentEvent,
)

TOPIC_CONTRACTS: dict[str, Any] = {
    topics.BILLING_CHARGES: BillingEvent,
    topics.PAYMENT_RECEIPTS: ReceiptEvent,
    topics.BANKING_DD_REPORTS: DirectDebitReportEvent,
    topics.COURT_OUTCOMES: CourtOutcomeEvent,
    topics.AGENT_RETURNS: AgentReturnEvent,
    topics.DEBTOR_CIRCUMSTANCES: CircumstanceEvent,
    topics.CLOCK_DAYS: ClockEvent,
    topics.PAYMENT_EVENTS: PaymentEvent,
    topics.ARRANGEMENT_EVENTS: ArrangementEvent,
    topics.ENFORCEMENT_EVENTS: EnforcementEvent,
    topics.NOTICE_REQUESTS: NoticeRequestEvent,
    topics.NOTICE_EVENTS: NoticeEvent,
    topics.AGENT_REFERRALS: AgentReferralEvent,
}

_ADAPTERS: dict[str, TypeAdapter[Any]] = {name: TypeAdapter(union) for name, union in TOPIC_CONTRACTS.items()}


def event_types(topic: str) -> list[type[Envelope]]:
    """The event classes ``topic``'s contract admits, in the order the union lists them."""
    union = get_args(TOPIC_CONTRACTS[topic])[0]  # Annotated[<union>, discriminator]
    if get_origin(union) in (Union, UnionType):
        return list(get_args(union))
    return [union]


_TOPIC_OF: dict[type[Envelope], str] = {
    event_type: topic for topic in TOPIC_CONTRACTS for event_type in event_types(topic)
}


def topic_of(event_type: type[Envelope]) -> str:
    """The one topic an event type travels on (each type belongs to exactly one)."""
    try:
        return _TOPIC_OF[event_type]
    except KeyError:
        raise ValueError(f"{event_type.__name__} is not on any topic's contract") from None


class ContractError(ValueError):
    """The bytes are not a valid event for this topic; the reason says why."""


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        problems.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "; ".join(problems) + suffix


def parse(topic: str, raw: bytes) -> Envelope:
    """Read one message from ``topic``; never returns an invalid event."""
    adapter = _ADAPTERS.get(topic)
    if adapter is None:
        raise ContractError(f"no contract is registered for topic {topic!r}")
    try:
        event: Envelope = adapter.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] in {"json_invalid", "json_type"}:
            raise ContractError(f"malformed message: not a JSON object ({first['msg']})") from exc
        raise ContractError(f"does not match the {topic} contract: {_describe(exc)}") from exc
    return event


__all__ = [
    "TOPIC_CONTRACTS",
    "ContractError",
    "DebtType",
    "Envelope",
    "HbopClassification",
    "Instalment",
    "LiableParty",
    "event_types",
    "parse",
    "topic_of",
]
