"""Enforcement agents' fees: the Taking Control of Goods (Fees) Regulations 2014
(SI 2014/1), Schedule [S29], as a table by the date each scale came into force.

The scale is kept by date because a rise was announced in June 2025 (fees +5%,
the percentage threshold to £1,900) with no statutory instrument found yet
[S32][S32c]: when one is made, add a row with its commencement date here, and
cases referred from that day take the new scale while older ones keep theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class FeeScale:
    effective_from: date
    compliance_fee_pence: int
    """Compliance stage: the case received and the notice of enforcement sent."""
    enforcement_fee_pence: int
    """Enforcement stage: the first visit."""
    sale_fee_pence: int
    """Sale or disposal stage: the first attendance to remove or sell."""
    percentage_threshold_pence: int
    """The enforcement and sale stages add a percentage of the debt above this."""
    percentage_basis_points: int

    def percentage_fee_pence(self, debt_pence: int) -> int:
        """The percentage added at the enforcement and sale stages, rounded down."""
        return max(debt_pence - self.percentage_threshold_pence, 0) * self.percentage_basis_points // 10000


SCALES: tuple[FeeScale, ...] = (
    # SI 2014/1 Schedule, in force 6 April 2014: compliance £75; enforcement £235 and
    # sale £110, each plus 7.5% of the sum to be recovered above £1,500 [S29].
    FeeScale(
        effective_from=date(2014, 4, 6),
        compliance_fee_pence=7500,
        enforcement_fee_pence=23500,
        sale_fee_pence=11000,
        percentage_threshold_pence=150000,
        percentage_basis_points=750,
    ),
)


def fee_scale_on(day: date) -> FeeScale:
    """The scale in force on ``day``."""
    in_force = [scale for scale in SCALES if scale.effective_from <= day]
    if not in_force:
        raise LookupError(f"no enforcement agent fee scale was in force on {day}")
    return max(in_force, key=lambda scale: scale.effective_from)
