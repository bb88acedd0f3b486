"""The council's TOML is checked when a service starts, so a bad figure stops it there."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

from recovery_shared.contracts.common import MAX_COSTS_PENCE
from recovery_shared.council import DEFAULT_PATH, CouncilConfig


@pytest.mark.parametrize("field", ["summons_costs_pence", "liability_order_costs_pence"])
def test_court_costs_beyond_what_an_event_can_carry_are_refused_at_start_up(field: str) -> None:
    """Costs go out in costs.added, whose amounts are bounded (contracts/common.py); a
    mistyped figure must stop the service when it loads its TOML, not every summons."""
    data = tomllib.loads(DEFAULT_PATH.read_text())
    data["ladders"]["CT"][field] = MAX_COSTS_PENCE + 1
    with pytest.raises(ValidationError) as refused:
        CouncilConfig.model_validate(data)
    assert field in str(refused.value) and "less than or equal to" in str(refused.value)
    data["ladders"]["CT"][field] = MAX_COSTS_PENCE
    CouncilConfig.model_validate(data)
