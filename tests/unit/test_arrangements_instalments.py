"""Payments against a schedule, missed instalments and their count, and rebuilding a schedule
(arrangements.domain): pure functions, no I/O.

Sources: R v Miskin Lower Justices (1953), a payment goes to the liability it obviously
matches (domain §10 [S52]); SI 1992/613 reg 23 (a missed instalment, counted per year for
the reminder ladder) [S1]; reg 23(3)-(4) and SI 1989/1058 reg 8 (the balance falls due)
[S1][S24]; Sch 1 para 2(5)-(7) (whole-pound instalments) [S2].
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_arrangements import domain
from recovery_arrangements.domain import Instalment, MissedInstalment, Plan, PlanStatus, SpreadRules
from recovery_shared.statute.instalments import add_months

CT_SPREAD = SpreadRules(minimum_pence=500, notice_days=14)  # £5, 14 days [S2][S4]


def schedule(*amounts: int, paid: tuple[int, ...] = ()) -> list[Instalment]:
    paid_on = [*paid, *[0] * (len(amounts) - len(paid))]
    return [
        Instalment(n, add_months(date(2026, 4, 1), n - 1), a, p)
        for n, (a, p) in enumerate(zip(amounts, paid_on, strict=True), start=1)
    ]


def paid(instalments: tuple[Instalment, ...] | list[Instalment]) -> list[int]:
    return [i.paid_pence for i in sorted(instalments, key=lambda i: i.seq)]


# --- apply_payment ------------------------------------------------------------------------------


def test_a_payment_pays_the_oldest_instalment_first_and_part_payments_add_up() -> None:
    """R v Miskin [S52]: money goes to the instalment it obviously matches, the oldest due."""
    rows = schedule(15000, 15000, 15000)
    first = domain.apply_payment(rows, 10000)
    assert first.fully_paid == () and paid(first.instalments) == [10000, 0, 0]
    second = domain.apply_payment(first.instalments, 10000)
    assert [r.seq for r in second.fully_paid] == [1] and paid(second.instalments) == [15000, 5000, 0]
    third = domain.apply_payment(second.instalments, 10000)
    assert [r.seq for r in third.fully_paid] == [2] and paid(third.instalments) == [15000, 15000, 0]
    assert paid(rows) == [0, 0, 0], "the instalments given are values, never changed"


def test_a_payment_covering_several_instalments_pays_them_in_due_order() -> None:
    rows = list(reversed(schedule(15000, 15000, 15000)))  # order of the input does not matter
    applied = domain.apply_payment(rows, 31000)
    assert [r.seq for r in applied.fully_paid] == [1, 2]
    assert sorted((r.seq, r.paid_pence) for r in applied.instalments) == [(1, 15000), (2, 15000), (3, 1000)]
    assert applied.left_over_pence == 0


def test_money_beyond_the_schedule_is_left_over_for_the_ledger() -> None:
    rows = schedule(15000, 15000)
    applied = domain.apply_payment(rows, 40000)
    assert applied.left_over_pence == 10000 and domain.all_paid(applied.instalments)


def test_a_reversal_takes_money_back_from_the_latest_paid_instalment_first() -> None:
    """A reversal (e.g. ARUDD unpaid, domain §8 [S50]) undoes the latest payment first, so
    the paid instalments stay an unbroken run from the oldest."""
    rows = schedule(15000, 15000, 15000, paid=(15000, 15000, 5000))
    undone = domain.apply_payment(rows, -20000)
    assert paid(undone.instalments) == [15000, 0, 0]
    assert [r.seq for r in undone.reopened] == [2]
    assert undone.left_over_pence == 0


def test_reversing_more_than_was_paid_leaves_the_excess_over() -> None:
    rows = schedule(15000, paid=(5000,))
    undone = domain.apply_payment(rows, -8000)
    assert paid(undone.instalments) == [0] and undone.left_over_pence == -3000


@settings(max_examples=300, deadline=None)
@given(
    amounts=st.lists(st.integers(1, 50000), min_size=1, max_size=12),
    payments=st.lists(st.integers(-60000, 60000), max_size=15),
)
def test_paid_amounts_are_conserved_and_always_a_run_from_the_oldest(amounts: list[int], payments: list[int]) -> None:
    """Whatever arrives (payments and reversals), every penny is either on an instalment or
    left over, no instalment is overpaid, and only the latest paid one is part-paid."""
    rows: tuple[Instalment, ...] | list[Instalment] = schedule(*amounts)
    placed = 0
    for amount in payments:
        applied = domain.apply_payment(rows, amount)
        rows = applied.instalments
        placed += amount - applied.left_over_pence
        assert sum(r.paid_pence for r in rows) == placed
        assert all(0 <= r.paid_pence <= r.amount_pence for r in rows)
        paid_flags = [r.paid_pence > 0 for r in rows]
        assert paid_flags == sorted(paid_flags, reverse=True)  # no gap before a paid one
        assert all(r.paid_pence == r.amount_pence for r in rows[: max(sum(paid_flags) - 1, 0)])


# --- missed instalments ---------------------------------------------------------------------------


def test_an_instalment_is_missed_once_its_due_day_has_ended_unpaid() -> None:
    """reg 23 [S1]: missed = not paid by the end of its due day, so seen the next business day."""
    rows = schedule(15000, 15000)
    assert domain.missed_on(date(2026, 4, 1), rows) == []  # the due day itself
    assert [r.seq for r in domain.missed_on(date(2026, 4, 2), rows)] == [1]


def test_paid_or_already_reported_instalments_are_not_missed_again() -> None:
    rows = schedule(15000, 15000, 15000, paid=(15000, 3000))
    rows[2] = replace(rows[2], missed_reported=True)
    missed = domain.missed_on(date(2026, 7, 1), rows)
    assert [r.seq for r in missed] == [2]  # part-paid counts as missed; paid and reported do not


def test_misses_are_counted_through_the_year_and_carry_everything_overdue() -> None:
    """reg 23(2)-(4) [S1]: the 1st and 2nd misses draw reminders, a later one the balance;
    the count runs per debt per financial year."""
    misses = domain.count_misses(
        [MissedInstalment(3, date(2026, 6, 1), 15000, 0), MissedInstalment(2, date(2026, 5, 1), 15000, 5000)],
        misses_so_far=1,
        overdue_before_pence=15000,
    )
    assert [(m.seq, m.misses_this_year, m.unpaid_pence) for m in misses] == [(2, 2, 10000), (3, 3, 15000)]
    assert {m.overdue_pence for m in misses} == {15000 + 10000 + 15000}


def test_overdue_is_everything_unpaid_that_fell_due_before_the_day() -> None:
    rows = schedule(15000, 15000, 15000, paid=(15000, 4000))
    assert domain.overdue_pence(date(2026, 5, 2), rows) == 11000
    assert domain.overdue_pence(date(2026, 6, 2), rows) == 26000


# --- rebuilding a schedule --------------------------------------------------------------------------


def test_an_adjustment_spreads_the_rest_over_the_instalments_still_to_come() -> None:
    """What fell due keeps its amount; the rest is spread over the remaining instalments
    in whole pounds (Sch 1 para 2(5)-(6) [S2]); what was paid is laid on again, oldest first."""
    rows = schedule(15000, 15000, 15000, 15000, paid=(15000, 5000))
    plan = domain.rebuild_after_adjustment(rows, 40001, date(2026, 5, 20), CT_SPREAD)
    assert [(p.seq, p.due_date, p.amount_pence, p.paid_pence) for p in plan] == [
        (1, date(2026, 4, 1), 15000, 15000),
        (2, date(2026, 5, 1), 15000, 5000),
        (3, date(2026, 6, 1), 5001, 0),
        (4, date(2026, 7, 1), 5000, 0),
    ]


def test_an_adjustment_after_the_last_instalment_becomes_one_new_instalment() -> None:
    rows = schedule(15000, 15000, paid=(15000, 15000))
    plan = domain.rebuild_after_adjustment(rows, 32000, date(2026, 8, 10), CT_SPREAD)
    assert [(p.due_date, p.amount_pence, p.paid_pence) for p in plan][-1] == (date(2026, 8, 24), 2000, 0)
    assert sum(p.amount_pence for p in plan) == 32000


def test_a_reduction_below_what_fell_due_trims_the_latest_and_keeps_the_payments() -> None:
    rows = schedule(15000, 15000, 15000, paid=(15000, 2000))
    plan = domain.rebuild_after_adjustment(rows, 20000, date(2026, 6, 15), CT_SPREAD)
    assert [(p.amount_pence, p.paid_pence) for p in plan] == [(15000, 15000), (5000, 2000)]


def test_when_the_balance_falls_due_everything_unpaid_becomes_one_instalment() -> None:
    """reg 23(3)-(4) SI 1992/613 [S1]; reg 8 SI 1989/1058 [S24]: the instalments are lost and
    the unpaid balance is due on one day; what was paid stays as it is."""
    plan = Plan(PlanStatus.LIVE, None, tuple(schedule(15000, 15000, 15000, 15000, paid=(15000, 5000))))
    collapsed = domain.collapse(plan, date(2026, 5, 16))
    assert collapsed is not None
    assert [(k.seq, k.amount_pence, k.paid_pence) for k in collapsed.instalments] == [
        (1, 15000, 15000),
        (2, 5000, 5000),
        (5, 40000, 0),
    ]
    assert (collapsed.balance.seq, collapsed.balance.due_date, collapsed.balance.amount_pence) == (
        5,
        date(2026, 5, 16),
        40000,
    )
    assert all(i.missed_reported for i in collapsed.instalments)
    paid_off = Plan(PlanStatus.LIVE, None, tuple(schedule(100, paid=(100,))))
    assert domain.collapse(paid_off, date(2026, 5, 16)) is None
    assert domain.collapse(Plan(PlanStatus.BALANCE_DUE, date(2026, 5, 16), plan.instalments), date(2026, 6, 1)) is None


def test_a_collapsed_balance_takes_a_changed_charge() -> None:
    rows = [*schedule(15000, 5000, paid=(15000, 5000)), Instalment(3, date(2026, 5, 16), 130000, 1000)]
    plan = domain.rebalance_collapsed(rows, 120000, date(2026, 5, 16))
    assert [(p.seq, p.due_date, p.amount_pence, p.paid_pence) for p in plan] == [
        (1, date(2026, 4, 1), 15000, 15000),
        (2, date(2026, 5, 1), 5000, 5000),
        (3, date(2026, 5, 16), 100000, 1000),
    ]
