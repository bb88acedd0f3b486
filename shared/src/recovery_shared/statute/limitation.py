"""How long a debt may be claimed in the county court: the Limitation Act 1980 [S44][S45].

- Temporary Accommodation charges and sundry debt are contract debts: "an action founded
  on simple contract shall not be brought after the expiration of six years from the date
  on which the cause of action accrued" (s.5) [S45].
- A Housing Benefit overpayment is recovered in the county court as a sum recoverable by
  statute (SSAA 1992 s.75(7)) [S44]: "an action to recover any sum recoverable by virtue
  of any enactment shall not be brought after the expiration of six years from the date on
  which the cause of action accrued" (s.9).

The cause of action accrues when the debt fell due (the invoice's due date). The period
ends on the sixth anniversary of that day; this module treats the anniversary itself as
too late, the safe side for a council that must never issue a barred claim.
"""

from __future__ import annotations

from datetime import date

from recovery_shared.contracts.common import DebtType

CONTRACT_DEBT_YEARS = 6
"""Limitation Act 1980 s.5: actions founded on simple contract [S45]."""

SUM_RECOVERABLE_BY_STATUTE_YEARS = 6
"""Limitation Act 1980 s.9: sums recoverable by virtue of an enactment (an HB overpayment
under SSAA 1992 s.75(7)) [S44]."""

_YEARS = {
    DebtType.HB_OVERPAYMENT: (SUM_RECOVERABLE_BY_STATUTE_YEARS, "Limitation Act 1980 s.9"),
    DebtType.TEMPORARY_ACCOMMODATION: (CONTRACT_DEBT_YEARS, "Limitation Act 1980 s.5"),
    DebtType.SUNDRY: (CONTRACT_DEBT_YEARS, "Limitation Act 1980 s.5"),
}


def limitation_for(debt_type: DebtType) -> tuple[int, str]:
    """The years within which a claim for the debt type must be brought, and the section."""
    try:
        return _YEARS[debt_type]
    except KeyError:
        raise ValueError(f"{debt_type.value} debts are not claimed in the county court") from None


def barred_from(fell_due_on: date, debt_type: DebtType) -> date:
    """The first day a claim for a debt that fell due on ``fell_due_on`` is out of time.
    A 29 February falls back to the 28th: earlier, never later."""
    years, _ = limitation_for(debt_type)
    try:
        return fell_due_on.replace(year=fell_due_on.year + years)
    except ValueError:
        return fell_due_on.replace(year=fell_due_on.year + years, day=28)


def is_time_barred(fell_due_on: date, debt_type: DebtType, on: date) -> bool:
    return on >= barred_from(fell_due_on, debt_type)
