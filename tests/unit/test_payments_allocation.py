"""Allocation policy (domain §10): directed debt first (R v Miskin Lower Justices
(1953) [S52]), then an exact current-year instalment match [S52b], then the
council's configured order; anything left is account credit."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recovery_payments.domain import DebtPosition, allocate
from recovery_shared.contracts.common import DebtType
from recovery_shared.contracts.internal import AllocationRule
from recovery_shared.council import AllocationOrder, AllocationPolicy, load_council_config
from recovery_shared.refusal import Refused

OLDEST = load_council_config().allocation
PRIORITY = AllocationPolicy(
    order=AllocationOrder.PRIORITY,
    priority=[
        DebtType.COUNCIL_TAX,
        DebtType.BUSINESS_RATES,
        DebtType.TEMPORARY_ACCOMMODATION,
        DebtType.HB_OVERPAYMENT,
        DebtType.SUNDRY,
    ],
)
CT, SUNDRY = DebtType.COUNCIL_TAX, DebtType.SUNDRY

ARREARS_2024 = DebtPosition("CT-1-2024", CT, "2024/25", date(2024, 3, 1), 30000)
ARREARS_2025 = DebtPosition("CT-1-2025", CT, "2025/26", date(2025, 3, 1), 20000)
CURRENT_2026 = DebtPosition("CT-1-2026", CT, "2026/27", date(2026, 3, 1), 150000, frozenset({15000}))
SUNDRY_OLD = DebtPosition("SUN-1", SUNDRY, "2023/24", date(2023, 6, 1), 5000)
PAID_IN = date(2026, 6, 3)


def test_a_directed_payment_goes_to_the_debt_the_payer_named() -> None:
    result = allocate(20000, [ARREARS_2024, CURRENT_2026], OLDEST, received_on=PAID_IN, directed_debt_id="CT-1-2026")
    assert result.rule == AllocationRule.DIRECTED
    assert result.parts == [("CT-1-2026", 20000)]


def test_an_exact_instalment_goes_to_the_current_year_not_the_arrears() -> None:
    result = allocate(15000, [ARREARS_2024, ARREARS_2025, CURRENT_2026], OLDEST, received_on=PAID_IN)
    assert result.rule == AllocationRule.INSTALMENT_MATCH
    assert result.parts == [("CT-1-2026", 15000)]


def test_anything_else_goes_oldest_debt_first() -> None:
    result = allocate(40000, [CURRENT_2026, ARREARS_2025, ARREARS_2024], OLDEST, received_on=PAID_IN)
    assert result.rule == AllocationRule.POLICY_ORDER
    assert result.parts == [("CT-1-2024", 30000), ("CT-1-2025", 10000)]


def test_priority_order_puts_council_tax_before_sundry_debt() -> None:
    result = allocate(6000, [SUNDRY_OLD, ARREARS_2025], PRIORITY, received_on=PAID_IN)
    assert result.parts == [("CT-1-2025", 6000)]
    oldest = allocate(6000, [SUNDRY_OLD, ARREARS_2025], OLDEST, received_on=PAID_IN)
    assert oldest.parts == [("SUN-1", 5000), ("CT-1-2025", 1000)]


def test_money_left_when_everything_is_paid_is_account_credit() -> None:
    result = allocate(60000, [ARREARS_2024, ARREARS_2025], OLDEST, received_on=PAID_IN)
    assert result.parts == [("CT-1-2024", 30000), ("CT-1-2025", 20000)]
    assert result.credit_pence == 10000
    assert allocate(500, [], OLDEST, received_on=PAID_IN).credit_pence == 500


def test_a_payment_of_nothing_is_refused() -> None:
    with pytest.raises(Refused):
        allocate(0, [ARREARS_2024], OLDEST, received_on=PAID_IN)


@given(
    amount=st.integers(1, 10**8),
    balances=st.lists(st.integers(0, 10**7), min_size=0, max_size=8),
    directed=st.one_of(st.none(), st.integers(0, 7)),
)
def test_parts_and_credit_always_add_up_to_the_payment(amount: int, balances: list[int], directed: int | None) -> None:
    debts = [DebtPosition(f"D{i}", CT, f"{2020 + i}/{21 + i}", date(2020 + i, 3, 1), b) for i, b in enumerate(balances)]
    result = allocate(amount, debts, OLDEST, received_on=PAID_IN, directed_debt_id=f"D{directed}")
    assert result.allocated_pence + result.credit_pence == amount
    owed = {d.debt_id: d.balance_pence for d in debts}
    for debt_id, part in result.parts:
        assert 0 < part <= owed[debt_id]
