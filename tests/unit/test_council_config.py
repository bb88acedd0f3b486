"""The council's TOML is checked when a service starts, so a bad figure stops it there."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from recovery_shared.contracts.common import MAX_COSTS_PENCE, MAX_FIRM, MAX_NAME
from recovery_shared.council import DEFAULT_PATH, CouncilConfig, load_council_config


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


def _set(data: Any, path: tuple[str | int, ...], value: str) -> None:
    *parents, last = path
    for step in parents:
        data = data[step]
    data[last] = value


NAMES = [
    # council_name goes out on every notice.requested (NoticeRequestedData.council_name: Name).
    (("council_name",), MAX_NAME),
    # The court goes out on summons.listed (SummonsListedData.court: Name) and the summons notice.
    (("court", "name"), MAX_NAME),
    # An agent firm goes out on case.referred (CaseReferredData.agent: FirmName).
    (("enforcement_agents", 1), MAX_FIRM),
]


@pytest.mark.parametrize(("path", "bound"), NAMES, ids=["council_name", "court", "agent"])
def test_names_longer_than_the_events_carry_are_refused_at_start_up_naming_the_field(
    path: tuple[str | int, ...], bound: int
) -> None:
    """A council's name, court or agent firm longer than the events that carry it allow
    would make every notice, summons or referral fail: the service stops instead."""
    data = tomllib.loads(DEFAULT_PATH.read_text())
    _set(data, path, "N" * bound)
    CouncilConfig.model_validate(data)
    for mistyped in ("N" * (bound + 1), ""):
        _set(data, path, mistyped)
        with pytest.raises(ValidationError) as refused:
            CouncilConfig.model_validate(data)
        assert ".".join(map(str, path)) in str(refused.value)


def test_a_councils_own_toml_with_an_over_long_court_name_stops_loading_naming_the_field(tmp_path: Path) -> None:
    own = tmp_path / "council.toml"
    own.write_text(f'[court]\nname = "{"Example Magistrates Court " * 10}"\n')
    with pytest.raises(ValidationError, match=rf"court\.name\n  String should have at most {MAX_NAME} characters"):
        load_council_config(own)
