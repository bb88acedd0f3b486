"""Debt claims in the county court (HBOP, TA and sundry debt): the Pre-Action Protocol
for Debt Claims, which applies to public bodies as creditors [S45][S45b].
"""

from __future__ import annotations

LETTER_OF_CLAIM_REPLY_DAYS = 30
"""The Protocol [S45]: the debtor has 30 days from the Letter of Claim to reply,
using the Reply Form, before the creditor may start proceedings."""
