"""Council Tax recovery: the periods and rules SI 1992/613 sets (the Council Tax
(Administration and Enforcement) Regulations 1992). Source numbers refer to
``../shared/domain.md``.

What the council chooses (which notices it sends, how long after the balance
falls due it lays the complaint, where the hearing is listed, its costs) lives in
``[ladders.CT]`` of the council's TOML; what the law fixes lives here, once.

Every period that runs from a notice runs from the day it is served
(``recovery_shared.statute.service.served_on``), never from the day it is issued:
reg 23(3) and reg 34(1) count from issue, so counting from the later, deemed
service day never acts early; reg 35(2A) counts from service itself.

How long after a summons can the liability order be made? ``LIABILITY_ORDER_AFTER_SERVICE_DAYS``
below: not until 14 whole days have elapsed since the day the summons was served (reg
35(2A)), so a summons served on 29 May allows an order from 13 June.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from recovery_shared.contracts.common import DebtType

REMINDER_PAY_WITHIN_DAYS = 7
"""reg 23(3) [S1]: the taxpayer has "the period of 7 days beginning with the day on
which a reminder notice is issued" to pay the instalments due or falling due in it."""

BALANCE_DUE_DAYS_AFTER_FAILURE = 7
"""reg 23(3) [S1]: if not, the unpaid balance becomes payable "at the expiry of a
further period of 7 days beginning with the day of the failure"."""

BALANCE_DUE_DAYS_AFTER_LATER_MISS = 1
"""reg 23(4) [S1][S7]: after a second reminder has been complied with, a later missed
instalment makes the balance payable "on the day following the day of the failure",
with no further reminder."""

MAX_REMINDERS_A_YEAR = 2
"""reg 23(1)(iii) and (4) [S1][S7]: at most two reminder notices in a financial year."""

FINAL_NOTICE_WAIT_DAYS = 7
"""reg 34(1) [S5]: the council may apply for a liability order once 7 days have passed
since a final notice (reg 33) was issued, where one was needed."""

LIABILITY_ORDER_AFTER_SERVICE_DAYS = 14
"""reg 35(2A) [S6]: "No liability order shall be made ... unless 14 days have elapsed
since the day on which the summons was served": the day of service does not count,
and the 14 days must have run out, so the earliest order is on the 15th day after it."""

APPLICATION_TIME_LIMIT_YEARS = 6
"""reg 34(3) [S9][S10]: no application for a liability order once six years have
passed since the day the sum became due (when the demand notice was served)."""


@dataclass(frozen=True)
class RecoveryStatute:
    """One debt type's statutory ladder: the figures above, or Business Rates' own
    (``recovery_shared.statute.business_rates``), in one shape the ladder reads."""

    debt_type: DebtType
    regulations: str
    max_reminders: int
    pay_within_days: int
    balance_due_days_after_failure: int
    balance_due_days_after_later_miss: int
    final_notice: bool
    """Whether the statute has a final notice stage (reg 33) before the complaint."""
    final_notice_wait_days: int
    liability_order_after_service_days: int
    application_time_limit_years: int

    def reminder_pay_by(self, served_on: date) -> date:
        """The last day to pay what a reminder asks: the days run beginning with the served day."""
        return served_on + timedelta(days=self.pay_within_days - 1)

    def failure_on(self, pay_by: date) -> date:
        return pay_by + timedelta(days=1)

    def balance_due_after_failure(self, failure_on: date) -> date:
        return failure_on + timedelta(days=self.balance_due_days_after_failure)

    def balance_due_after_later_miss(self, missed_due_date: date) -> date:
        return missed_due_date + timedelta(days=self.balance_due_days_after_later_miss)

    def court_application_from(self, final_notice_served_on: date) -> date:
        return final_notice_served_on + timedelta(days=self.final_notice_wait_days)

    def liability_order_earliest(self, summons_served_on: date) -> date:
        """The first day the days "have elapsed since the day" of service (reg 35(2A))."""
        return summons_served_on + timedelta(days=self.liability_order_after_service_days + 1)

    def last_application_day(self, bill_served_on: date) -> date:
        """The last day a complaint may be laid for a bill served on ``bill_served_on``."""
        years = self.application_time_limit_years
        try:
            return bill_served_on.replace(year=bill_served_on.year + years)
        except ValueError:  # 29 February
            return bill_served_on.replace(year=bill_served_on.year + years, day=28)


def final_notice_required(reminders_sent: int, charged_pence: int, charged_at_last_notice_pence: int) -> bool:
    """reg 33 [S7]: a final notice is needed only where no reminder was served (no
    reminder right existed) or the amount owed changed since the last reminder."""
    return reminders_sent == 0 or charged_pence != charged_at_last_notice_pence


COUNCIL_TAX = RecoveryStatute(
    debt_type=DebtType.COUNCIL_TAX,
    regulations="SI 1992/613",
    max_reminders=MAX_REMINDERS_A_YEAR,
    pay_within_days=REMINDER_PAY_WITHIN_DAYS,
    balance_due_days_after_failure=BALANCE_DUE_DAYS_AFTER_FAILURE,
    balance_due_days_after_later_miss=BALANCE_DUE_DAYS_AFTER_LATER_MISS,
    final_notice=True,
    final_notice_wait_days=FINAL_NOTICE_WAIT_DAYS,
    liability_order_after_service_days=LIABILITY_ORDER_AFTER_SERVICE_DAYS,
    application_time_limit_years=APPLICATION_TIME_LIMIT_YEARS,
)
