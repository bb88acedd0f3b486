from __future__ import annotations

import json
import uuid
from datetime import date

import pytest

from recovery_shared import topics
from recovery_shared.contracts import TOPIC_CONTRACTS, ContractError, parse
from recovery_shared.contracts.common import DebtType, Instalment, LiableParty
from recovery_shared.contracts.envelope import new_event_id
from recovery_shared.contracts.inbound import ChargeRaised, ChargeRaisedData, DayStarted, DayStartedData
from tests.factories import charge_raised


def charge(**overrides: object) -> ChargeRaised:
    data = {
        "debt_id": "CT-1001-2026",
        "account_ref": "1001",
        "debt_type": DebtType.COUNCIL_TAX,
        "financial_year": "2026/27",
        "amount_pence": 150000,
        "bill_issued_on": date(2026, 3, 10),
        "liable_party": LiableParty(party_id="P-1", name="A Person"),
    }
    data.update(overrides)
    return ChargeRaised(key="1001", data=ChargeRaisedData(**data))  # type: ignore[arg-type]


def test_every_topic_has_a_contract() -> None:
    assert set(TOPIC_CONTRACTS) == {t.name for t in topics.TOPICS}


def test_round_trip_through_bytes() -> None:
    event = charge()
    parsed = parse(topics.BILLING_CHARGES, event.to_bytes())
    assert parsed == event
    assert isinstance(parsed, ChargeRaised)


def test_old_payloads_with_unknown_fields_still_parse() -> None:
    body = json.loads(charge().to_bytes())
    body["data"]["a_field_from_the_future"] = 1
    body["another"] = "x"
    assert parse(topics.BILLING_CHARGES, json.dumps(body).encode()).type == "charge.raised"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "malformed message"),
        (b'{"type": "charge.raised", "key": "1"}', "data: Field required"),
        (
            b'{"type": "payment.teleported", "key": "1", "data": {}}',
            "does not match any of the expected tags",
        ),
    ],
)
def test_bad_bytes_get_a_readable_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        parse(topics.BILLING_CHARGES, raw)


def test_money_must_be_whole_pence() -> None:
    body = json.loads(charge().to_bytes())
    body["data"]["amount_pence"] = 1500.5
    with pytest.raises(ContractError, match="amount_pence"):
        parse(topics.BILLING_CHARGES, json.dumps(body).encode())


def test_a_schedule_must_add_up_to_the_charge() -> None:
    with pytest.raises(ValueError, match="add up"):
        charge(instalments=[Instalment(due_date=date(2026, 4, 1), amount_pence=100)])


def test_clock_events_are_keyed_to_one_partition() -> None:
    assert DayStarted(data=DayStartedData(business_date=date(2026, 4, 1))).key == "business-clock"


def test_event_ids_are_distinct_random_version_4_uuids() -> None:
    ids = [new_event_id() for _ in range(5000)]
    assert len(set(ids)) == 5000
    for event_id in ids:
        assert event_id.version == 4 and event_id.variant == uuid.RFC_4122
        # Equal to, and hashed like, the same UUID made the ordinary way.
        assert uuid.UUID(str(event_id)) == event_id and hash(uuid.UUID(str(event_id))) == hash(event_id)
    assert charge_raised("1").event_id != charge_raised("1").event_id
