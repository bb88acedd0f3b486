"""Recovery ladder rules: pure functions over plain values, no I/O."""

from __future__ import annotations

OPENING_STAGE = "billed"


def case_id_for(debt_id: str) -> str:
    """One recovery case per debt."""
    return debt_id
