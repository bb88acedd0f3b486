"""Taking control of goods: the Taking Control of Goods Regulations 2013 (SI 2013/1894)
Part 2 [S30]. The agents' fees are in ``fees.py`` (SI 2014/1).

The notice of enforcement is the agent's to give (reg 8(2)); the council's referral
letter tells the debtor what that notice will mean, so it states the same period.
"""

from __future__ import annotations

NOTICE_OF_ENFORCEMENT_CLEAR_DAYS = 7
"""reg 6(1) [S30]: the notice of enforcement must be given at least 7 clear days before
the agent takes control of goods; Sundays and bank holidays do not count (reg 6(3)).
The June 2025 proposal of 14 days (28 on an adviser's request) is not in force [S32]."""
