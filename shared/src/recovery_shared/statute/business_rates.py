"""Business Rates recovery: the periods SI 1989/1058 sets (the Non-Domestic Rating
(Collection and Enforcement) (Local Lists) Regulations 1989). Source numbers refer
to ``../shared/domain.md``.

Business Rates differ from Council Tax (``council_tax.py``) in three ways: one
"further notice" rather than two reminders, a later missed instalment still gives
7 days rather than one, and no final notice stage. The summons and its hearing
(reg 12) follow the same 14 days and six years.
"""

from __future__ import annotations

from recovery_shared.contracts.common import DebtType
from recovery_shared.statute.council_tax import RecoveryStatute

FURTHER_NOTICES = 1
"""reg 8 [S24]: one further notice after a missed instalment."""

PAY_WITHIN_DAYS = 7
"""reg 8 [S24]: the ratepayer has 7 days from the further notice to pay."""

BALANCE_DUE_DAYS_AFTER_FAILURE = 7
"""reg 8 [S24]: if not paid, or if any later instalment is missed, the whole
balance is payable 7 days after the failure: no second-reminder stage."""

HEARING_NOTICE_DAYS = 14
"""reg 12 [S28]: the summons gives at least 14 days' notice of the hearing."""

APPLICATION_TIME_LIMIT_YEARS = 6
"""reg 12(3) [S9]: the same six years as Council Tax."""

BUSINESS_RATES = RecoveryStatute(
    debt_type=DebtType.BUSINESS_RATES,
    regulations="SI 1989/1058",
    max_reminders=FURTHER_NOTICES,
    pay_within_days=PAY_WITHIN_DAYS,
    balance_due_days_after_failure=BALANCE_DUE_DAYS_AFTER_FAILURE,
    balance_due_days_after_later_miss=BALANCE_DUE_DAYS_AFTER_FAILURE,
    final_notice=False,
    final_notice_wait_days=0,
    liability_order_after_service_days=HEARING_NOTICE_DAYS,
    application_time_limit_years=APPLICATION_TIME_LIMIT_YEARS,
)
