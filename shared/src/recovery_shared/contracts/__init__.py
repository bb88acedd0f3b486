"""Event contracts: one discriminated union on ``type`` per topic.

``parse(topic, raw)`` is how every consumer reads a message; it raises
``ContractError`` with a reason a person can read when the bytes do not fit. The
bounds every contract sets (amounts, text, lists) are in ``contracts.common``.
"""

from __future__ import annotations

import json
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json

from recovery_shared import topics
from recovery_shared.contracts.common import DebtType, HbopClassification, Instalment, LiableParty
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    AgentReturnEvent,
    BillingEvent,
    CircumstanceEvent,
    ClockEvent,
    CourtOutcomeEvent,
    DeductionResponseEvent,
    DirectDebitReportEvent,
    HbAwardEvent,
    ReceiptEvent,
    ReplyEvent,
)
from recovery_shared.contracts.internal import (
    AgentReferralEvent,
    ArrangementEvent,
    CountyClaimEvent,
    DeductionRequestEvent,
    EnforcementEvent,
    NoticeEvent,
    NoticeRequestEvent,
    PaymentEvent,
)
from recovery_shared.contracts.upcasting import NoUpcaster, upcast, upcaster

TOPIC_CONTRACTS: dict[str, Any] = {
    topics.BILLING_CHARGES: BillingEvent,
    topics.PAYMENT_RECEIPTS: ReceiptEvent,
    topics.BANKING_DD_REPORTS: DirectDebitReportEvent,
    topics.COURT_OUTCOMES: CourtOutcomeEvent,
    topics.AGENT_RETURNS: AgentReturnEvent,
    topics.DEBTOR_CIRCUMSTANCES: CircumstanceEvent,
    topics.DEBTOR_REPLIES: ReplyEvent,
    topics.CLOCK_DAYS: ClockEvent,
    topics.BENEFITS_HB_AWARDS: HbAwardEvent,
    topics.PAYMENT_EVENTS: PaymentEvent,
    topics.ARRANGEMENT_EVENTS: ArrangementEvent,
    topics.ENFORCEMENT_EVENTS: EnforcementEvent,
    topics.NOTICE_REQUESTS: NoticeRequestEvent,
    topics.NOTICE_EVENTS: NoticeEvent,
    topics.AGENT_REFERRALS: AgentReferralEvent,
    topics.COUNTY_COURT_CLAIMS: CountyClaimEvent,
    topics.BENEFITS_DEDUCTION_RESPONSES: DeductionResponseEvent,
    topics.BENEFITS_DEDUCTION_REQUESTS: DeductionRequestEvent,
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


EVENT_ID_MISSING = (
    "event_id is missing: every message must carry its own id so that a redelivery is recognised"
    " (a message without one would get a new id each time it is read, and be applied again)"
)
SCHEMA_VERSION_MISSING = (
    "schema_version is missing: every message must say which version of its type's shape it has,"
    " or a reader cannot tell how to read it"
)

# What a producer must send rather than leave to the defaults a service gets when it
# builds an event in code.
_MISSING = {"event_id": EVENT_ID_MISSING, "schema_version": SCHEMA_VERSION_MISSING}
_ON_THE_WIRE = frozenset(_MISSING)

_TYPES: dict[str, dict[str, type[Envelope]]] = {
    topic: {event_type.model_fields["type"].default: event_type for event_type in event_types(topic)}
    for topic in TOPIC_CONTRACTS
}


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        problems.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "; ".join(problems) + suffix


def _refusal(topic: str, exc: ValidationError | None) -> ContractError:
    if exc is None:
        # Only reached if the contract accepted bytes that the second reading could
        # not make out; refuse them rather than guess.
        return ContractError(f"does not match the {topic} contract: the message could not be read consistently")
    first = exc.errors(include_url=False)[0]
    if first["type"] in {"json_invalid", "json_type"}:
        return ContractError(f"malformed message: not a JSON object ({first['msg']})")
    return ContractError(f"does not match the {topic} contract: {_describe(exc)}")


def parse(topic: str, raw: bytes) -> Envelope:
    """Read one message from ``topic``; never returns an invalid event.

    Beyond the contract's fields, a message must carry its own ``event_id`` and its
    ``schema_version``; a version newer than the event type's ``SCHEMA_VERSION`` is
    refused, an older one is upcast first (``contracts.upcasting``)."""
    adapter = _ADAPTERS.get(topic)
    if adapter is None:
        raise ContractError(f"no contract is registered for topic {topic!r}")
    try:
        event: Envelope = adapter.validate_json(raw)
    except ValidationError as exc:
        return _read_closely(topic, adapter, raw, exc)
    # The common case costs two attribute reads and a set comparison: the rest of
    # the checks run only for a message that needs them.
    if event.schema_version == event.SCHEMA_VERSION and _ON_THE_WIRE <= event.model_fields_set:
        return event
    return _read_closely(topic, adapter, raw, None)


def _read_closely(topic: str, adapter: TypeAdapter[Any], raw: bytes, failure: ValidationError | None) -> Envelope:
    """A message that failed the contract, or passed it with an envelope field left
    to its default or in another schema version: the reason a person needs, or the
    message upcast to the version this code reads."""
    try:
        body = from_json(raw)
    except ValueError:
        body = None
    type_name = body.get("type") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(type_name, str) or type_name not in _TYPES[topic]:
        # Not an object, or not a type this topic carries: the contract's own words.
        raise _refusal(topic, failure)
    event_type = _TYPES[topic][type_name]
    missing = [reason for field, reason in _MISSING.items() if field not in body]
    if missing:
        if failure is not None:
            # Everything wrong at once, so the sender can fix it in one go.
            missing.append(str(_refusal(topic, failure)))
        raise ContractError("; ".join(missing))
    version, reads = body["schema_version"], event_type.SCHEMA_VERSION
    if type(version) is not int or not 1 <= version < reads:
        if type(version) is int and version > reads:
            raise ContractError(
                f"{type_name} schema_version {version} is newer than this service reads ({reads}): upgrade the service"
            )
        raise _refusal(topic, failure)
    try:
        body = upcast(body, type_name, version, reads)
    except NoUpcaster as exc:
        raise ContractError(str(exc)) from None
    except Exception as exc:
        # An old message the step cannot read is that message's fault: it must be
        # refused (and dead-lettered), never stop the consumer.
        raise ContractError(f"{type_name} schema_version {version} could not be upcast: {exc!r}") from exc
    try:
        event: Envelope = adapter.validate_json(json.dumps(body))
    except ValidationError as exc:
        raise _refusal(topic, exc) from exc
    return event


__all__ = [
    "EVENT_ID_MISSING",
    "SCHEMA_VERSION_MISSING",
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
    "upcaster",
]
