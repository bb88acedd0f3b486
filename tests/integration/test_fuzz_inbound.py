"""Every inbound topic, fuzzed (issue 9, part 8): whatever an outside system sends,
the service that reads it dead-letters what is bad, with a reason, and goes on to
apply the valid message behind it.

For each of the seven inbound topics a real service (its own route table, use
cases and InboxConsumer on a temporary SQLite database, migrated as at start-up)
is given, per example, one to three bad records and then one valid message, in
one batch or one after another. The bad ones: random bytes, text that is not
JSON, JSON that is not an object, an empty value, a required field missing, a
field of the wrong JSON type, an amount sent as a string, a boolean, a float or
an integer beyond every bound, a flag sent as 1 or "yes", text beyond every
bound, no event_id, a schema_version newer than the service reads, a type the
topic does not carry, JSON nested deeper than any reader follows, a lone UTF-16
surrogate (which no driver can encode) in the type, a text field or the record's
key, and a valid event on a record keyed otherwise than its envelope. Any of them
may come with headers whose names and values hold lone surrogates, NULs or more
text than a header needs. Each must end as one row in the service's ``dead_letter`` table (its
original bytes, a reason) with a reference to it on ``<topic>.dlq``; the valid
message must then be applied, not skipped or dead-lettered.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, find, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from recovery_enforcement.app import build_runtime as enforcement_runtime
from recovery_enforcement.models import LadderStep, RecoveryCase
from recovery_enforcement.settings import EnforcementSettings
from recovery_payments.app import build_runtime as payments_runtime
from recovery_payments.models import HB_AWARDS, Debt, Receipt
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.contracts import event_types
from recovery_shared.contracts.common import DebtType
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    AgentOutcome,
    CaseReturned,
    CaseReturnedData,
    CircumstanceData,
    CourtOutcomeData,
    DayStarted,
    DayStartedData,
    DeductionRefused,
    DeductionRefusedData,
    DirectDebitUnpaid,
    DirectDebitUnpaidData,
    DisputeRaised,
    HbAwardData,
    HbAwardStarted,
    HearingAdjourned,
    HearingAdjournedData,
    LetterBeforeClaimReplied,
    LetterBeforeClaimRepliedData,
    LiabilityOrderGranted,
    ReplyKind,
)
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import (
    Record,
    charge_raised,
    instalment_missed,
    overpayment_raised,
    payment_received,
    statutory_schedule,
)
from tests.unit.test_contract_strictness import SAMPLES

pytestmark = pytest.mark.integration

EXAMPLES = 20
LONGER_THAN_ANY_TEXT = 2001  # contracts.common.MAX_TEXT, the longest text any field takes, plus one

_offsets = itertools.count()


def _record(topic: str, value: bytes | None, key: str | None, headers: tuple[tuple[str, bytes], ...] = ()) -> Record:
    # Unique offsets: a message that cannot be read is known to the inbox by its position.
    # A key's lone surrogates go as the bytes a careless producer would send for them.
    encoded = None if key is None else key.encode("utf-8", "surrogatepass")
    return Record(topic=topic, value=value, key=encoded, offset=next(_offsets), headers=list(headers))


def _keyed(topic: str, event: Envelope) -> Record:
    return _record(topic, event.to_bytes(), event.key)


# --- the bad messages --------------------------------------------------------------


# Every bad message but a wrongly keyed one must be refused by the contract itself: a
# use case refusing what the contract let through (a string amount coerced, then found
# to be a duplicate) would be the defect this test is here to catch.
CONTRACT_REFUSAL = re.compile(
    r"^(malformed message|does not match the \S+ contract|event_id is missing|schema_version is missing"
    r"|\S+ schema_version \d+ is newer)"
)


@dataclass(frozen=True)
class Bad:
    kind: str
    value: bytes | None
    key: str | None
    reason: str = ""
    """A regular expression the dead letter's reason must match, where the kind has one."""
    by_contract: bool = True
    """Refused by the contract itself; a record keyed otherwise is refused by the consumer."""
    headers: tuple[tuple[str, bytes], ...] = ()


def _bodies(topic: str) -> list[dict[str, Any]]:
    return [s.to_json_dict() for s in SAMPLES if type(s) in event_types(topic)]


def _nodes(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, (*path, index))


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    return schema


def _required(schema: dict[str, Any], defs: dict[str, Any], body: Any, path: tuple[Any, ...]) -> Iterator[Any]:
    """Paths to the fields of ``body`` that its schema requires."""
    schema = _resolve(schema, defs)
    for option in schema.get("anyOf", []):
        yield from _required(option, defs, body, path)
    if isinstance(body, dict) and "properties" in schema:
        for key in schema.get("required", []):
            yield (*path, key)
        for key, value in body.items():
            if key in schema["properties"]:
                yield from _required(schema["properties"][key], defs, value, (*path, key))
    elif isinstance(body, list) and schema.get("type") == "array":
        for index, value in enumerate(body):
            yield from _required(schema["items"], defs, value, (*path, index))


_SCHEMAS: dict[str, dict[str, Any]] = {}


def _schema(event_type: type[Envelope]) -> dict[str, Any]:
    name = event_type.__name__
    if name not in _SCHEMAS:
        _SCHEMAS[name] = event_type.model_json_schema()
    return _SCHEMAS[name]


def _texts(schema: dict[str, Any], defs: dict[str, Any], body: Any, path: tuple[Any, ...]) -> Iterator[Any]:
    """Paths to the free text and references in ``body``: strings bounded only by length."""
    schema = _resolve(schema, defs)
    for option in schema.get("anyOf", []):
        yield from _texts(option, defs, body, path)
    if isinstance(body, str) and schema.get("type") == "string" and "maxLength" in schema:
        if not {"format", "pattern", "enum", "const"} & set(schema):
            yield path
    elif isinstance(body, dict) and "properties" in schema:
        for key, value in body.items():
            if key in schema["properties"]:
                yield from _texts(schema["properties"][key], defs, value, (*path, key))
    elif isinstance(body, list) and schema.get("type") == "array":
        for index, value in enumerate(body):
            yield from _texts(schema["items"], defs, value, (*path, index))


def text_paths(body: dict[str, Any], topic: str) -> list[tuple[Any, ...]]:
    schema = _schema(_type_of(body, topic))
    return sorted(set(_texts(schema, schema.get("$defs", {}), body, ())), key=repr)


def _type_of(body: dict[str, Any], topic: str) -> type[Envelope]:
    [event_type] = [t for t in event_types(topic) if t.model_fields["type"].default == body["type"]]
    found: type[Envelope] = event_type
    return found


def required_paths(body: dict[str, Any], topic: str) -> list[tuple[Any, ...]]:
    schema = _schema(_type_of(body, topic))
    found = set(_required(schema, schema.get("$defs", {}), body, ()))
    # Defaults for a service building events in code, but required of a message.
    found |= {("type",), ("event_id",), ("schema_version",), ("data",)}
    return sorted(found, key=repr)


def _changed(body: dict[str, Any], path: tuple[Any, ...], value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(body))
    node = copy
    for step in path[:-1]:
        node = node[step]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return copy


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


LONE_SURROGATES = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
ODD_TEXT = st.text(max_size=10) | LONE_SURROGATES | st.just("\x00") | st.just("h" * 300)
ODD_HEADERS = st.lists(
    st.tuples(
        st.builds(lambda a, b: a + b, ODD_TEXT, ODD_TEXT),
        st.binary(max_size=20) | st.builds(lambda t: t.encode("utf-8", "surrogatepass"), ODD_TEXT),
    ),
    max_size=3,
).map(tuple)


def _with_lone_surrogate(text: str, surrogate: str, at: int) -> str:
    at %= len(text) + 1
    return text[:at] + surrogate + text[at:]


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


KINDS = (
    "random bytes",
    "not JSON",
    "JSON, not an object",
    "empty value",
    "a required field missing",
    "a field of the wrong type",
    "an amount that is not a bounded JSON integer",
    "a flag that is not a JSON boolean",
    "text beyond every bound",
    "no event_id",
    "a newer schema_version",
    "a type this topic does not carry",
    "nested deeper than any reader follows",
    "a lone surrogate in the type",
    "a lone surrogate in a text field",
    "a lone surrogate in the key",
    "keyed otherwise than its envelope",
)


def kinds_for(topic: str) -> list[str]:
    """Every kind, less those the topic's events give no field for (the clock and the
    circumstances carry no amount; only a bill has flags)."""
    scalars = [value for body in _bodies(topic) for path, value in _nodes(body) if path != ("schema_version",)]
    absent = set()
    if not any(type(v) is int for v in scalars):
        absent.add("an amount that is not a bounded JSON integer")
    if not any(type(v) is bool for v in scalars):
        absent.add("a flag that is not a JSON boolean")
    return [kind for kind in KINDS if kind not in absent]


@st.composite
def bad_message(draw: st.DrawFn, topic: str, kinds: tuple[str, ...] | None = None) -> Bad:
    bad = draw(_bad_body(topic, kinds))
    headers = draw(ODD_HEADERS)
    return Bad(bad.kind, bad.value, bad.key, bad.reason, bad.by_contract, headers)


@st.composite
def _bad_body(draw: st.DrawFn, topic: str, kinds: tuple[str, ...] | None = None) -> Bad:
    body = draw(st.sampled_from(_bodies(topic)))
    body["event_id"] = str(uuid.uuid4())
    key = body["key"]
    kind = draw(st.sampled_from(kinds or kinds_for(topic)))
    leaves = [(path, value) for path, value in _nodes(body) if not isinstance(value, dict | list)]
    if kind == "random bytes":
        raw = draw(st.binary(max_size=300))
        assume(not _is_json_object(raw))
        return Bad(kind, raw, key)
    if kind == "not JSON":
        text = draw(st.text(max_size=100))
        try:
            json.loads(text)
            assume(False)
        except ValueError:
            pass
        return Bad(kind, text.encode("utf-8", errors="surrogatepass"), key, "malformed message")
    if kind == "JSON, not an object":
        value = draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))
        return Bad(kind, json.dumps(value).encode(), key)
    if kind == "empty value":
        return Bad(kind, None, key, "empty value")
    if kind == "a required field missing":
        path = draw(st.sampled_from(required_paths(body, topic)))
        return Bad(kind, json.dumps(_changed(body, path, delete=True)).encode(), key)
    if kind == "a field of the wrong type":
        path, value = draw(st.sampled_from([(p, v) for p, v in _nodes(body) if p]))
        # A container where the contract has a single value, or a single value where it has a container.
        wrong = draw(st.sampled_from([{"unexpected": [1]}, [1, 2]])) if not isinstance(value, dict | list) else "x"
        return Bad(kind, json.dumps(_changed(body, path, wrong)).encode(), key)
    if kind == "an amount that is not a bounded JSON integer":
        amounts = [(p, v) for p, v in leaves if type(v) is int and p != ("schema_version",)]
        assume(amounts)
        path, amount = draw(st.sampled_from(amounts))
        wrong = draw(st.sampled_from([str(amount), True, False, float(amount), amount + 0.5, 2**63, 10**30, -1]))
        return Bad(kind, json.dumps(_changed(body, path, wrong)).encode(), key)
    if kind == "a flag that is not a JSON boolean":
        flags = [p for p, v in leaves if type(v) is bool]
        assume(flags)
        wrong = draw(st.sampled_from([1, 0, "yes", "no", "true", None]))
        return Bad(kind, json.dumps(_changed(body, draw(st.sampled_from(flags)), wrong)).encode(), key)
    if kind == "text beyond every bound":
        path = draw(st.sampled_from(text_paths(body, topic)))
        text = draw(st.sampled_from(["x", "é", "\x00"])) * draw(st.integers(LONGER_THAN_ANY_TEXT, 5000))
        return Bad(kind, json.dumps(_changed(body, path, text)).encode(), key)
    if kind == "no event_id":
        return Bad(kind, json.dumps(_changed(body, ("event_id",), delete=True)).encode(), key, "event_id is missing")
    if kind == "a newer schema_version":
        version = body["schema_version"] + draw(st.integers(1, 2**70))
        raw = json.dumps(_changed(body, ("schema_version",), version)).encode()
        return Bad(kind, raw, key, "is newer than this service reads .*: upgrade the service")
    if kind == "a type this topic does not carry":
        carried = {t.model_fields["type"].default for t in event_types(topic)}
        name = draw(st.text(max_size=40).filter(lambda n: n not in carried))
        return Bad(kind, json.dumps(_changed(body, ("type",), name)).encode(), key)
    if kind == "nested deeper than any reader follows":
        # Well past pydantic's limit (200) and Python's own recursion limit (1,000).
        depth = draw(st.integers(201, 3000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"type":', "}"), ('{"data":[', "]}")]))
        closed = draw(st.booleans())
        raw = opener * depth + "1" + (closer * depth if closed else "")
        return Bad(kind, raw.encode(), key, "malformed message")
    # One alone: a high one followed by a low one would be a valid pair once escaped.
    surrogate = draw(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
    at = draw(st.integers(0, 100))
    if kind == "a lone surrogate in the type":
        name = _with_lone_surrogate(body["type"], surrogate, at)
        return Bad(kind, json.dumps(_changed(body, ("type",), name)).encode(), key, "malformed message")
    if kind == "a lone surrogate in a text field":
        path, text = draw(st.sampled_from([(p, v) for p, v in leaves if isinstance(v, str)]))
        odd = _with_lone_surrogate(text, surrogate, at)
        return Bad(kind, json.dumps(_changed(body, path, odd)).encode(), key, "malformed message")
    if kind == "a lone surrogate in the key":
        return Bad(kind, json.dumps(body).encode(), _with_lone_surrogate(key, surrogate, at), "envelope's key", False)
    other = draw(st.none() | st.text(max_size=20).filter(lambda k: k != key))
    return Bad(kind, json.dumps(body).encode(), other, "envelope's key", False)


# --- the services, and the valid message that follows ------------------------------------


@dataclass
class Target:
    """A service that reads ``topic``, how to bring it to where the valid follower
    applies, the follower itself (with any records it needs first), and how to see
    that it was applied."""

    topic: str
    build: Callable[[str], ServiceRuntime]
    prepare: Callable[[ServiceRuntime], Coroutine[Any, Any, dict[str, Any]]]
    follower: Callable[[int, dict[str, Any]], tuple[list[Record], Envelope]]
    applied: Callable[[ServiceRuntime, Envelope], Awaitable[bool]]
    state: dict[str, Any] = field(default_factory=dict)


def _payments(url: str) -> ServiceRuntime:
    return payments_runtime(PaymentsSettings(database_url=url))


def _enforcement(url: str) -> ServiceRuntime:
    return enforcement_runtime(EnforcementSettings(database_url=url))


async def _handle_cleanly(runtime: ServiceRuntime, records: list[Record]) -> None:
    before = {t: (c.handled, c.dead_lettered) for t, c in runtime.consumer.counts.items()}
    await runtime.handle_records(records)
    for r in records:
        counts = runtime.consumer.counts[r.topic]
        assert counts.dead_lettered == before[r.topic][1], f"setting up, a {r.topic} message was dead-lettered"
    assert sum(c.handled for c in runtime.consumer.counts.values()) == sum(h for h, _ in before.values()) + len(records)


async def _nothing(runtime: ServiceRuntime) -> dict[str, Any]:
    return {}


async def _a_bill(runtime: ServiceRuntime, account: str) -> None:
    await _handle_cleanly(runtime, [_keyed(topics.BILLING_CHARGES, charge_raised(account))])


async def _prepare_bill(runtime: ServiceRuntime) -> dict[str, Any]:
    await _a_bill(runtime, "9001")
    return {"account": "9001"}


async def _debt_opened(runtime: ServiceRuntime, event: Envelope) -> bool:
    async with runtime.db.session() as session:
        return await session.get(Debt, event.data.debt_id) is not None


async def _receipt_status(runtime: ServiceRuntime, receipt_ref: str) -> str | None:
    async with runtime.db.session() as session:
        status = (await session.execute(select(Receipt.status).where(Receipt.receipt_ref == receipt_ref))).scalar()
    return None if status is None else str(status)


async def _receipt_recorded(runtime: ServiceRuntime, event: Envelope) -> bool:
    return await _receipt_status(runtime, event.data.receipt_ref) == "allocated"


async def _collection_reversed(runtime: ServiceRuntime, event: Envelope) -> bool:
    return await _receipt_status(runtime, event.data.receipt_ref) == "reversed"


def _unpaid_collection(n: int, state: dict[str, Any]) -> tuple[list[Record], Envelope]:
    collected = date(2026, 5, 1) + timedelta(days=n % 28)
    collection = payment_received(
        f"DD-F{n}", 1500, reference=state["account"], channel="direct_debit", received_on=collected
    )
    unpaid = DirectDebitUnpaid(
        key=state["account"],
        data=DirectDebitUnpaidData(
            mandate_ref=f"DDI-{state['account']}",
            account_ref=state["account"],
            receipt_ref=f"DD-F{n}",
            amount_pence=1500,
            collection_date=collected,
            reason_code="0",
        ),
    )
    return [_keyed(topics.PAYMENT_RECEIPTS, collection)], unpaid


async def _days(runtime: ServiceRuntime, first: date, last: date) -> None:
    day = first
    while day <= last:
        await _handle_cleanly(runtime, [_keyed(topics.CLOCK_DAYS, DayStarted(data=DayStartedData(business_date=day)))])
        day += timedelta(days=1)


async def _outbox_data(runtime: ServiceRuntime, event_type: str) -> list[dict[str, Any]]:
    async with runtime.db.session() as session:
        rows = (await session.execute(select(runtime.kernel.outbox).order_by(runtime.kernel.outbox.c.id))).all()
    return [json.loads(r.payload)["data"] for r in rows if r.headers.get("type") == event_type]


async def _case_before_the_court(runtime: ServiceRuntime) -> dict[str, Any]:
    """A Council Tax case taken from a missed instalment to a summons, as the ladder does."""
    account, debt = "9201", "CT-9201-2026"
    await _a_bill(runtime, account)
    schedule = statutory_schedule(account, debt_id=debt)
    missed = instalment_missed(account, debt_id=debt, detected_on=date(2026, 5, 2))
    await _handle_cleanly(
        runtime, [_keyed(topics.ARRANGEMENT_EVENTS, schedule), _keyed(topics.ARRANGEMENT_EVENTS, missed)]
    )
    await _days(runtime, date(2026, 5, 2), date(2026, 6, 1))
    [summons] = await _outbox_data(runtime, "summons.listed")
    return {"account": account, "debt": debt, "summons": summons["summons_id"], "hearing": summons["hearing_date"]}


async def _case_with_an_agent(runtime: ServiceRuntime) -> dict[str, Any]:
    state = await _case_before_the_court(runtime)
    hearing = date.fromisoformat(state["hearing"])
    await _days(runtime, date(2026, 6, 2), hearing)
    granted = LiabilityOrderGranted(
        key=state["account"],
        data=CourtOutcomeData(summons_id=state["summons"], account_ref=state["account"], hearing_date=hearing),
    )
    await _handle_cleanly(runtime, [_keyed(topics.COURT_OUTCOMES, granted)])
    await _days(runtime, hearing + timedelta(days=1), hearing + timedelta(days=20))
    [referral] = await _outbox_data(runtime, "case.referred")
    return state | {"referral": referral["referral_id"], "agent": referral["agent"]}


async def _case_of(runtime: ServiceRuntime, debt_id: str) -> RecoveryCase:
    async with runtime.db.session() as session:
        case: RecoveryCase = (
            (await session.exec(select(RecoveryCase).where(RecoveryCase.debt_id == debt_id))).scalars().one()
        )
    return case


def _adjourned(n: int, state: dict[str, Any]) -> tuple[list[Record], Envelope]:
    hearing = date.fromisoformat(state["hearing"]) + timedelta(days=7 * n)
    return [], HearingAdjourned(
        key=state["account"],
        data=HearingAdjournedData(
            summons_id=state["summons"],
            account_ref=state["account"],
            hearing_date=hearing,
            adjourned_to=hearing + timedelta(days=7),
        ),
    )


async def _hearing_moved(runtime: ServiceRuntime, event: Envelope) -> bool:
    moved: bool = (await _case_of(runtime, "CT-9201-2026")).hearing_date == event.data.adjourned_to
    return moved


def _agent_return(n: int, state: dict[str, Any]) -> tuple[list[Record], Envelope]:
    return [], CaseReturned(
        key=state["account"],
        data=CaseReturnedData(
            referral_id=state["referral"],
            account_ref=state["account"],
            agent=state["agent"],
            outcome=AgentOutcome.GONE_AWAY if n % 2 else AgentOutcome.PART_PAID,
            amount_collected_pence=0 if n % 2 else 1000,
            returned_on=date(2026, 9, 1),
        ),
    )


async def _returned(runtime: ServiceRuntime, event: Envelope) -> bool:
    returned: bool = (await _case_of(runtime, "CT-9201-2026")).stage == f"returned_{event.data.outcome.value}"
    return returned


def _dispute(n: int, state: dict[str, Any]) -> tuple[list[Record], Envelope]:
    return [], DisputeRaised(
        key=state["account"],
        data=CircumstanceData(
            party_id=f"P-{state['account']}",
            account_ref=state["account"],
            effective_on=date(2026, 5, 4),
            reference=f"DISPUTE-{n}",
        ),
    )


async def _handled(runtime: ServiceRuntime, event: Envelope) -> bool:
    # Whether a use case did its work is each target's own check; the inbox mark says
    # the consumer committed it (and the counts, checked for every target, that it
    # was neither skipped nor dead-lettered).
    inbox = runtime.kernel.inbox
    async with runtime.db.session() as session:
        marks = (
            await session.execute(select(inbox.c.message_id).where(inbox.c.message_id == str(event.event_id)))
        ).all()
    return len(marks) == 1


async def _case_awaiting_a_reply(runtime: ServiceRuntime) -> dict[str, Any]:
    """A Temporary Accommodation invoice unpaid after its reminder: a letter before claim is out."""
    account, debt = "9301", "TA-9301-2026"
    bill = charge_raised(account, debt_type=DebtType.TEMPORARY_ACCOMMODATION, amount_pence=42000)
    missed = instalment_missed(account, debt_id=debt, due_date=date(2026, 3, 24), detected_on=date(2026, 3, 25))
    await _handle_cleanly(runtime, [_keyed(topics.BILLING_CHARGES, bill), _keyed(topics.ARRANGEMENT_EVENTS, missed)])
    await _days(runtime, date(2026, 3, 25), date(2026, 4, 10))
    [letter] = [n for n in await _outbox_data(runtime, "notice.requested") if n["notice_type"] == "letter_before_claim"]
    return {"account": account, "debt": debt, "letter_on": letter["issued_on"]}


def _reply(n: int, state: dict[str, Any]) -> tuple[list[Record], Envelope]:
    replies = list(ReplyKind)
    return [], LetterBeforeClaimReplied(
        key=state["account"],
        data=LetterBeforeClaimRepliedData(
            account_ref=state["account"],
            debt_id=state["debt"],
            replied_on=date.fromisoformat(state["letter_on"]) + timedelta(days=3),
            reply=replies[n % len(replies)],
        ),
    )


async def _reply_held_the_case(runtime: ServiceRuntime, event: Envelope) -> bool:
    case = await _case_of(runtime, "TA-9301-2026")
    held: bool = (case.stage, case.reply) == ("reply_received", event.data.reply.value)
    return held


def _next_day(n: int, state: dict[str, Any]) -> tuple[list[Record], Envelope]:
    return [], DayStarted(data=DayStartedData(business_date=date(2026, 4, 1) + timedelta(days=n)))


async def _business_date_moved(runtime: ServiceRuntime, event: Envelope) -> bool:
    async with runtime.unit() as uow:
        today = await uow.today()
    moved: bool = today == event.data.business_date
    return moved


def _award(n: int, state: dict[str, Any]) -> tuple[list[Record], Envelope]:
    account = f"HBF{n}"
    return [], HbAwardStarted(
        key=account,
        data=HbAwardData(
            claim_ref=f"CLAIM-{account}",
            account_ref=account,
            weekly_award_pence=10000,
            fraud=n % 2 == 1,
            effective_on=date(2026, 4, 6),
        ),
    )


async def _award_kept(runtime: ServiceRuntime, event: Envelope) -> bool:
    awards = HB_AWARDS
    async with runtime.db.session() as session:
        rows = (await session.execute(select(awards.c.live).where(awards.c.claim_ref == event.data.claim_ref))).all()
    return [tuple(r) for r in rows] == [(True,)]


async def _case_waiting_on_the_dwp(runtime: ServiceRuntime) -> dict[str, Any]:
    """An HB overpayment's invoice and reminder unpaid, no employer known: the DWP is asked."""
    account, debt = "9401", "HBOP-9401"
    bill = overpayment_raised(account, debt_id=debt, bill_issued_on=date(2026, 3, 10))
    missed = instalment_missed(account, debt_id=debt, due_date=date(2026, 3, 24), detected_on=date(2026, 3, 25))
    await _handle_cleanly(runtime, [_keyed(topics.BILLING_CHARGES, bill), _keyed(topics.ARRANGEMENT_EVENTS, missed)])
    await _days(runtime, date(2026, 3, 25), date(2026, 4, 10))
    [request] = await _outbox_data(runtime, "deduction.requested")
    return {"account": account, "debt": debt, "request_id": request["request_id"]}


def _dwp_answer(n: int, state: dict[str, Any]) -> tuple[list[Record], Envelope]:
    return [], DeductionRefused(
        key=state["account"],
        data=DeductionRefusedData(
            request_id=state["request_id"],
            account_ref=state["account"],
            debt_id=state["debt"],
            reason=f"No benefit in payment ({n})",
            answered_on=date(2026, 4, 12),
        ),
    )


async def _dwp_answer_noted(runtime: ServiceRuntime, event: Envelope) -> bool:
    async with runtime.db.session() as session:
        details = (
            (await session.execute(select(LadderStep.detail).where(LadderStep.step == "dwp_refused"))).scalars().all()
        )
    return any(event.data.reason in detail for detail in details)


TARGETS = {
    topics.BILLING_CHARGES: Target(
        topics.BILLING_CHARGES,
        _payments,
        _nothing,
        lambda n, _: ([], charge_raised(f"F{n}")),
        _debt_opened,
    ),
    topics.PAYMENT_RECEIPTS: Target(
        topics.PAYMENT_RECEIPTS,
        _payments,
        _prepare_bill,
        lambda n, state: ([], payment_received(f"CARD-F{n}", 100, reference=state["account"])),
        _receipt_recorded,
    ),
    topics.BANKING_DD_REPORTS: Target(
        topics.BANKING_DD_REPORTS, _payments, _prepare_bill, _unpaid_collection, _collection_reversed
    ),
    topics.COURT_OUTCOMES: Target(
        topics.COURT_OUTCOMES, _enforcement, _case_before_the_court, _adjourned, _hearing_moved
    ),
    topics.AGENT_RETURNS: Target(topics.AGENT_RETURNS, _enforcement, _case_with_an_agent, _agent_return, _returned),
    topics.DEBTOR_CIRCUMSTANCES: Target(
        topics.DEBTOR_CIRCUMSTANCES,
        _enforcement,
        lambda runtime: _prepare_bill(runtime),
        _dispute,
        _handled,
    ),
    topics.DEBTOR_REPLIES: Target(
        topics.DEBTOR_REPLIES, _enforcement, _case_awaiting_a_reply, _reply, _reply_held_the_case
    ),
    topics.CLOCK_DAYS: Target(topics.CLOCK_DAYS, _enforcement, _nothing, _next_day, _business_date_moved),
    topics.BENEFITS_HB_AWARDS: Target(topics.BENEFITS_HB_AWARDS, _payments, _nothing, _award, _award_kept),
    topics.BENEFITS_DEDUCTION_RESPONSES: Target(
        topics.BENEFITS_DEDUCTION_RESPONSES, _enforcement, _case_waiting_on_the_dwp, _dwp_answer, _dwp_answer_noted
    ),
}


def test_every_inbound_topic_is_fuzzed() -> None:
    """Inbound: the topics no service of ours publishes, which outside systems write."""
    published = {
        publication.topic
        for service in ("payments", "arrangements", "enforcement", "notices")
        for publication in importlib.import_module(f"recovery_{service}.app").ROUTES.publishes
    }
    assert set(TARGETS) == {t.name for t in topics.TOPICS} - published


# --- the test ----------------------------------------------------------------------------


async def _dead_letters(runtime: ServiceRuntime, records: list[Record]) -> dict[int, Any]:
    table = runtime.kernel.dead_letters
    offsets = [r.offset for r in records]
    async with runtime.db.session() as session:
        rows = (await session.execute(select(table).where(table.c.source_offset.in_(offsets)))).all()
        references = (
            await session.execute(
                select(runtime.kernel.outbox).where(
                    runtime.kernel.outbox.c.topic == topics.dead_letter_topic(records[0].topic)
                )
            )
        ).all()
    referenced = {r.headers.get("dlq.dead_letter_id") for r in references}
    kept: dict[int, Any] = {}
    for row in rows:
        assert row.topic == records[0].topic and row.direction == "inbound"
        assert str(row.id) in referenced, "the dead-letter topic carries a reference to each kept dead letter"
        kept[row.source_offset] = row
    return kept


async def _one_example(runtime: ServiceRuntime, target: Target, n: int, bad: list[Bad], together: bool) -> None:
    needed, valid = target.follower(n, target.state)
    if needed:
        await _handle_cleanly(runtime, needed)
    bad_records = [_record(target.topic, b.value, b.key, b.headers) for b in bad]
    follower = _keyed(target.topic, valid)
    counts = runtime.consumer.counts[target.topic]
    before = (counts.handled, counts.dead_lettered, counts.skipped, counts.duplicates)

    if together:
        await runtime.handle_records([*bad_records, follower])
    else:
        for one in [*bad_records, follower]:
            await runtime.handle_records([one])

    after = (counts.handled, counts.dead_lettered, counts.skipped, counts.duplicates)
    kinds = [b.kind for b in bad]
    assert after[1] - before[1] == len(bad), f"dead-lettered {after[1] - before[1]} of {kinds}"
    assert (after[0] - before[0], after[2] - before[2], after[3] - before[3]) == (1, 0, 0), kinds

    kept = await _dead_letters(runtime, bad_records)
    assert sorted(kept) == sorted(r.offset for r in bad_records), kinds
    for b, r in zip(bad, bad_records, strict=True):
        row = kept[r.offset]
        assert row.reason.strip(), f"{b.kind}: a dead letter needs its reason"
        assert row.payload == (r.value or b""), f"{b.kind}: the original bytes are kept"
        if b.reason:
            assert re.search(b.reason, row.reason), f"{b.kind}: {row.reason!r}"
        if b.by_contract:
            assert CONTRACT_REFUSAL.match(row.reason), f"{b.kind}: {row.reason!r}"
    assert await _handled(runtime, valid), "the valid message after the bad ones is committed"
    assert await target.applied(runtime, valid), "... and its use case has done its work"


@pytest.mark.parametrize("topic", list(TARGETS))
def test_bad_messages_are_dead_lettered_with_a_reason_and_the_next_valid_one_is_applied(
    topic: str, tmp_path: Any
) -> None:
    target = TARGETS[topic]
    runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)  # leaves pytest-asyncio's loop alone
    runtime = target.build(f"sqlite:///{tmp_path / 'fuzz.sqlite'}")
    runtime.migrate()
    target.state = runner.run(target.prepare(runtime))
    examples = itertools.count()
    # Every kind at least once, whatever the random examples below happen to draw: the
    # first message of each kind generated, alone.
    quietly = settings(database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    sweep = [find(bad_message(topic, (kind,)), lambda _: True, settings=quietly) for kind in kinds_for(topic)]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(bad=st.lists(bad_message(topic), min_size=1, max_size=3), together=st.booleans())
    def feed(bad: list[Bad], together: bool) -> None:
        runner.run(_one_example(runtime, target, next(examples), bad, together))

    try:
        for bad in sweep:
            runner.run(_one_example(runtime, target, next(examples), [bad], together=False))
        feed()
    finally:
        runner.run(runtime.db.dispose())
        runner.close()
