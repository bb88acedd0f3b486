"""Holds: what stops recovery for a person, which of their debts it reaches, and
what happens to a case already with an enforcement agent. Source numbers refer to
``../shared/domain.md``.

Breathing Space: the Debt Respite Scheme (Breathing Space Moratorium and Mental
Health Crisis Moratorium) (England and Wales) Regulations 2020 (SI 2020/1311) [S47]:
- while it lasts the creditor must stop all enforcement action, any contact asking
  for payment, and adding interest, fees or charges (reg 7) [S47b][S47e]: no
  reminder, final notice, summons, liability order application or agent referral;
- an agent must stop too, even under a controlled goods agreement [S47e]: the case
  is recalled;
- it protects the debts the person owed when it started; a debt arising after the
  start is not covered [S47e];
- the creditor must search for every other debt it holds for the person and treat
  those as in the moratorium as well (reg 14) [S47].

Death and insolvency are about the person too: recovery of each of their debts
stops (the estate or the insolvency practitioner deals with them) and agent cases
come back [S51][S54e].

A dispute or appeal does NOT by itself suspend Council Tax liability: "a pending
appeal is not a defence" to a liability order [S28b] and "an appeal does not
suspend liability" (domain §1, §11) [S54]. Whether recovery pauses while a
dispute is looked at is the council's choice (``[holds] dispute_pauses_recovery``
in its TOML, off by default); a dispute reaches only the account it is about.

Vulnerability is not a hold: the council may recall an agent case on evidence of
vulnerability [S54c] (``[holds] recall_agent_when_vulnerable``), the agent may not
recover enforcement-stage fees from a vulnerable debtor who had no fair chance to
get advice (Fees Regulations 2014 reg 12) [S31], and no new referral is made while
the flag stands.

While a hold pauses a case no time runs against the debtor: each pending date
moves on by the days the hold lasted, so a debtor never comes out of a
breathing space with a reminder's days already spent.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class HoldKind(StrEnum):
    BREATHING_SPACE = "breathing_space"
    DISPUTE = "dispute"
    DECEASED = "deceased"
    INSOLVENCY = "insolvency"


REACHES_EVERY_DEBT_OF_THE_PERSON = frozenset({HoldKind.BREATHING_SPACE, HoldKind.DECEASED, HoldKind.INSOLVENCY})
"""Reg 14 for a breathing space; death and insolvency are the person's, not one debt's."""

ALWAYS_PAUSES = frozenset({HoldKind.BREATHING_SPACE, HoldKind.DECEASED, HoldKind.INSOLVENCY})


def reaches_every_debt_of_the_person(kind: HoldKind) -> bool:
    return kind in REACHES_EVERY_DEBT_OF_THE_PERSON


def covers(kind: HoldKind, debt_arose_on: date, hold_starts_on: date) -> bool:
    """Whether a hold starting on ``hold_starts_on`` covers a debt that arose on
    ``debt_arose_on``: a breathing space does not cover debts arising after its start."""
    return not (kind == HoldKind.BREATHING_SPACE and debt_arose_on > hold_starts_on)


def pauses_recovery(kind: HoldKind, *, dispute_pauses_recovery: bool) -> bool:
    """Whether the hold stops the ladder: always for a breathing space, death or
    insolvency; for a dispute only where the council has chosen so."""
    return kind in ALWAYS_PAUSES or (kind == HoldKind.DISPUTE and dispute_pauses_recovery)


def recalls_agent(kind: HoldKind, *, dispute_pauses_recovery: bool) -> bool:
    """A hold that pauses recovery brings an agent case back: the agent must stop too."""
    return pauses_recovery(kind, dispute_pauses_recovery=dispute_pauses_recovery)
