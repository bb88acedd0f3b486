"""Every topic name in one place, with the partitions the project creates it with.

Names are the integration contract in design §3: outside systems build against them.
The message key is always the account reference, so one debtor's events stay in
order on one partition; partitions set how far each consumer group can scale out.
"""

from __future__ import annotations

from dataclasses import dataclass

BILLING_CHARGES = "billing.charges.v1"
PAYMENT_RECEIPTS = "payments.receipts.v1"
BANKING_DD_REPORTS = "banking.dd-reports.v1"
COURT_OUTCOMES = "courts.outcomes.v1"
AGENT_RETURNS = "agents.returns.v1"
DEBTOR_CIRCUMSTANCES = "debtors.circumstances.v1"
DEBTOR_REPLIES = "debtors.replies.v1"
CLOCK_DAYS = "clock.days.v1"
BENEFITS_HB_AWARDS = "benefits.hb-awards.v1"
BENEFITS_DEDUCTION_RESPONSES = "benefits.deduction-responses.v1"

PAYMENT_EVENTS = "payments.events.v1"
ARRANGEMENT_EVENTS = "arrangements.events.v1"
ENFORCEMENT_EVENTS = "enforcement.events.v1"
NOTICE_REQUESTS = "notices.requests.v1"
NOTICE_EVENTS = "notices.events.v1"
AGENT_REFERRALS = "agents.referrals.v1"
COUNTY_COURT_CLAIMS = "courts.county-claims.v1"
BENEFITS_DEDUCTION_REQUESTS = "benefits.deduction-requests.v1"

DLQ_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


# Six partitions where the volume is (receipts, notices, the event streams); the
# clock has one so every consumer sees business days strictly in order.
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(BILLING_CHARGES, 6),
    TopicSpec(PAYMENT_RECEIPTS, 6),
    TopicSpec(BANKING_DD_REPORTS, 3),
    TopicSpec(COURT_OUTCOMES, 3),
    TopicSpec(AGENT_RETURNS, 3),
    TopicSpec(DEBTOR_CIRCUMSTANCES, 3),
    TopicSpec(DEBTOR_REPLIES, 3),
    TopicSpec(CLOCK_DAYS, 1),
    TopicSpec(BENEFITS_HB_AWARDS, 3),
    TopicSpec(BENEFITS_DEDUCTION_RESPONSES, 3),
    TopicSpec(PAYMENT_EVENTS, 6),
    TopicSpec(ARRANGEMENT_EVENTS, 6),
    TopicSpec(ENFORCEMENT_EVENTS, 6),
    TopicSpec(NOTICE_REQUESTS, 6),
    TopicSpec(NOTICE_EVENTS, 6),
    TopicSpec(AGENT_REFERRALS, 3),
    TopicSpec(COUNTY_COURT_CLAIMS, 3),
    TopicSpec(BENEFITS_DEDUCTION_REQUESTS, 3),
)


def all_topic_specs() -> list[TopicSpec]:
    """Every topic and its dead-letter topic (same partition count)."""
    specs = list(TOPICS)
    specs += [TopicSpec(dead_letter_topic(t.name), t.partitions) for t in TOPICS]
    return specs
