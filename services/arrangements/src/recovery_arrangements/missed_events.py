"""instalment.missed, encoded in bulk for the daily sweep.

A sweep can find tens of thousands of misses; building and validating a pydantic
envelope for each costs more than finding them. The sweep's values are valid by
construction (store.Plans.report_newly_missed only returns unpaid instalments of
live plans, so every amount is positive and every count at least one), so each
event is written straight into the contract's JSON shape here; the sweep checks the
first one of each run against the contract itself (``recovery_shared.contracts.parse``),
so a drift between this and ``InstalmentMissed`` fails loudly instead of publishing
bad events.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime

from pydantic import AwareDatetime, TypeAdapter

from recovery_shared.contracts.internal import InstalmentMissed

EVENT_TYPE: str = InstalmentMissed.model_fields["type"].default
SCHEMA_VERSION: int = InstalmentMissed.model_fields["schema_version"].default
_MOMENT = TypeAdapter(AwareDatetime)
# The RFC 4122 variant bits: the first hex digit of the fourth group is 8, 9, a or b.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_event_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, from one read of the system's random
    source rather than one per id."""
    pool = os.urandom(16 * count).hex()
    ids = []
    for start in range(0, 32 * count, 32):
        h = pool[start : start + 32]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}")
    return ids


# As pydantic writes them: UTF-8 rather than \u escapes, no spaces. One encoder for the
# sweep, since json.dumps with options builds a new one on every call.
_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class PlanFields:
    """What every miss of one arrangement repeats, already in JSON."""

    __slots__ = ("prefix",)

    def __init__(self, arrangement_id: str, account_ref: str, debt_ids_json: str, financial_year: str | None) -> None:
        account = _text(account_ref)
        self.prefix = (
            f'"key":{account},"data":{{"arrangement_id":{_text(arrangement_id)},"account_ref":{account},'
            f'"debt_ids":{debt_ids_json},"financial_year":{_text(financial_year)},'
        )


class MissedEventEncoder:
    """Encodes the instalment.missed envelopes of one sweep: the same shape, field
    order and formats as ``InstalmentMissed.to_bytes()``."""

    def __init__(
        self, *, detected_on: date, occurred_at: datetime, correlation_id: str | None, causation_id: str | None
    ) -> None:
        occurred = _MOMENT.dump_json(occurred_at).decode()
        self._head = (
            f'","type":{_text(EVENT_TYPE)},"schema_version":{SCHEMA_VERSION},"occurred_at":{occurred},'
            f'"correlation_id":{_text(correlation_id)},"causation_id":{_text(causation_id)},'
        )
        self._tail = f',"detected_on":"{detected_on.isoformat()}"}}}}'

    def encode(
        self,
        event_id: str,
        plan: PlanFields,
        due_date: date,
        unpaid_pence: int,
        overdue_pence: int,
        misses_this_year: int,
    ) -> bytes:
        return (
            f'{{"event_id":"{event_id}{self._head}{plan.prefix}"due_date":"{due_date.isoformat()}",'
            f'"amount_pence":{unpaid_pence},"overdue_pence":{overdue_pence},'
            f'"misses_this_year":{misses_this_year}{self._tail}'
        ).encode()
