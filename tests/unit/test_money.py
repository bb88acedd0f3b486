from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recovery_shared.money import MoneyError, apportion, pounds, split_evenly


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40).filter(lambda w: sum(w) > 0),
)
def test_parts_always_add_back_to_the_whole(total: int, weights: list[int]) -> None:
    parts = apportion(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)


@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40).filter(lambda w: sum(w) > 0),
)
def test_each_part_is_within_a_penny_of_its_exact_share(total: int, weights: list[int]) -> None:
    parts = apportion(total, weights)
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        # |part - total*w/W| < 1  <=>  |part*W - total*w| < W
        assert abs(part * weight_sum - total * weight) < weight_sum
        if weight == 0:
            assert part == 0


@given(
    total=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.integers(1, 1000), min_size=1, max_size=12),
)
def test_apportion_is_deterministic_and_a_reversal_mirrors_it(total: int, weights: list[int]) -> None:
    assert apportion(total, weights) == apportion(total, list(weights))
    assert apportion(-total, weights) == [-p for p in apportion(total, weights)]


def test_remainder_goes_to_largest_fraction_then_earliest_part() -> None:
    assert apportion(100, [1, 1, 1]) == [34, 33, 33]
    assert apportion(10, [1, 2]) == [3, 7]  # 3.33 / 6.67: the 0.67 fraction takes the penny
    assert split_evenly(123456, 10) == [12346] * 6 + [12345] * 4


def test_bad_splits_are_refused() -> None:
    with pytest.raises(MoneyError):
        apportion(100, [])
    with pytest.raises(MoneyError):
        apportion(100, [0, 0])
    with pytest.raises(MoneyError):
        apportion(100, [1, -1])
    with pytest.raises(MoneyError):
        split_evenly(100, 0)
    assert apportion(0, [0, 0]) == [0, 0]


def test_pounds_for_people() -> None:
    assert pounds(123456) == "£1,234.56"
    assert pounds(5) == "£0.05"
    assert pounds(-2500) == "-£25.00"
