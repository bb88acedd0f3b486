"""Debt claims in the county court (HBOP, TA and sundry debt): the Pre-Action Protocol
for Debt Claims, which applies to public bodies as creditors [S45][S45b].

Every period here counts from the day the letter is served
(``recovery_shared.statute.service.served_on``): the Protocol counts from the letter's
date, and a council that waits from the later, served day never acts early.
"""

from __future__ import annotations

from datetime import date, timedelta

LETTER_OF_CLAIM_REPLY_DAYS = 30
"""The Protocol [S45]: the debtor has 30 days from the Letter of Claim to reply,
using the Reply Form, before the creditor may start proceedings."""

DOCUMENTS_REPLY_DAYS = 30
"""The Protocol [S45]: where the debtor asked for documents, the creditor waits 30 days
from supplying them before starting proceedings."""

NOTICE_BEFORE_ISSUE_DAYS = 14
"""The Protocol [S45]: where no agreement is reached, the creditor gives 14 days' notice
of its intention to start proceedings."""


def reply_by(letter_served_on: date) -> date:
    """The last day of the debtor's 30 days to reply to a letter before claim."""
    return letter_served_on + timedelta(days=LETTER_OF_CLAIM_REPLY_DAYS)


def reply_by_after_documents(documents_served_on: date) -> date:
    """The last day of the 30 days the Protocol restarts when requested documents are supplied."""
    return documents_served_on + timedelta(days=DOCUMENTS_REPLY_DAYS)


def claim_after(notice_served_on: date) -> date:
    """The last day of the 14 days' notice: a claim is issued (referred) only after it."""
    return notice_served_on + timedelta(days=NOTICE_BEFORE_ISSUE_DAYS)
