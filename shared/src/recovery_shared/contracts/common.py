"""Value types used across several topics, and every bound the contracts set.

Each bound is stated once, here, with its reason. They exist so that no message a
contract accepts can break what handles it: an amount a ledger sum or a BIGINT
column cannot hold, a string longer than its database column, or an event larger
than the broker takes (``max.message.bytes``, 1 MB by default: the largest valid
event of every type is measured against it by a test).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StrictBool, model_validator

from recovery_shared.contracts.base import Contract

# --- amounts (integer pence) --------------------------------------------------
#
# Strict: a JSON integer only. "100", true and 100.0 are refused rather than
# coerced, since an upstream system that sends them has misread the contract and
# its other figures cannot be trusted either. Every bound is at least 10^5 times
# below a BIGINT's 9.2 x 10^18 pence, so summing even millions of the largest
# values (the ledger check sums every receipt) cannot overflow a column or a sum.

MAX_RECEIPT_PENCE = 1_000_000_000
"""£10m: one payment from one channel. Far above any single Council Tax or
business rates payment a council takes; anything larger is a keying error to stop
at the door, not money to allocate."""

MAX_CHARGE_PENCE = 50_000_000_000
"""£500m: one bill, and so one instalment of it. The largest business rates bills
(airports, ports, power stations) run to tens of millions of pounds a year; ten
times the largest leaves room without admitting nonsense."""

MAX_TOTAL_PENCE = 10_000_000_000_000
"""£100bn: a figure summed over several debts or kept as a running total (a debt's
charge plus costs, what has been paid on it, an account's overdue balance, a
summons over several bills): 200 of the largest bills at once."""

MAX_COSTS_PENCE = 1_000_000
"""£10,000: costs the council or the court adds. Summons and liability order costs
are "reasonably incurred" (SI 1992/613 reg 34(7)(b)), £70 to £250 in practice, and
the agents' compliance fee is £75 (SI 2014/1 Sch)."""

MAX_AGENT_FEES_PENCE = 200_000_000
"""£2m: fees an enforcement agent reports. The enforcement and sale stages each add
7.5% of the debt above £1,500 with no cap in law (SI 2014/1 Sch), so this follows
the largest receipt: 15% of £10m plus the fixed fees fits."""

MAX_DOCUMENT_BYTES = 100_000_000
"""100 MB: a rendered notice's PDF, a few tens of kilobytes in practice."""

# --- lists --------------------------------------------------------------------

MAX_INSTALMENTS = 260
"""A schedule's instalments: a statutory one has at most 12; a negotiated
arrangement paid weekly over five years has 260."""

MAX_DEBTS = 100
"""Debts one event names where the service builds it from one bill, arrangement,
summons or notice: every year and type of debt on one account. A hold over every
debt of a person is published in as many events of this size as it takes."""

MAX_DEBTS_ON_AN_ACCOUNT = 2000
"""Debts a receipt's allocation names (payment.allocated, and payment.reversed taking
it back): the money is spread over every debt the account owes, and nothing but the
council's billing bounds those. A business with hundreds of hereditaments billed on
one account over several years stays within it. Not split into several events,
since one receipt is one allocation to its readers; the largest such event, every id
at its longest, still fits the relay's 1,000,000 bytes (measured by a test)."""

MAX_ADDRESS_LINES = 10
"""Lines of a postal address, as the Royal Mail's PAF gives them at most, with room."""

MAX_ADDRESS_BLOCK_LINES = MAX_ADDRESS_LINES + 1
"""Lines of a notice's address block: the bill's address lines and its postcode on a
line of its own, so the largest address a bill may carry can always be printed."""

MAX_NAMED_ENTRIES = 50
"""Named amounts and dates on one notice request."""

MAX_TEMPLATE_ENTRIES = 20
"""Extra values a notice template is given (the court, the agent's details ...)."""

# --- text ---------------------------------------------------------------------

MAX_ACCOUNT_REF = 64
"""An account reference (and so the message key most events carry)."""

MAX_ID = 64
"""Ids other systems assign that we key on and build our own ids from (a debt, a
party): short enough that "ST-", "SUM-", "REF-" or a notice request's suffix still
fits the 100-character columns that hold the ids we derive."""

MAX_REF = 100
"""References quoted to us or derived from an id (a receipt, a mandate, a summons,
a referral, a case, a notice request): the 100-character columns that keep them."""

MAX_CODE = 40
"""Short machine words: a stage, a hold, a kind of costs, a template version."""

MAX_NAME = 200
"""A person's, business's, council's or court's name."""

MAX_FIRM = 100
"""An enforcement agent firm's name: the column that keeps it is 100 characters."""

MAX_ADDRESS_LINE = 200
"""One line of a postal address."""

MAX_POSTCODE = 16
"""A UK postcode is at most 8 characters; room for a careless space or two."""

MAX_TEXT = 2000
"""Free text: a reason, a note."""

MAX_TEMPLATE_TEXT = 500
"""A value handed to a notice template: a name, a phone number, an address on one line."""

MAX_LOCATION = 1000
"""Where a rendered document is stored: a file URI or an object store's address."""


def _pence(low: int, high: int, description: str) -> Any:
    return Field(strict=True, ge=low, le=high, description=description)


PenceAmount = Annotated[int, _pence(-MAX_TOTAL_PENCE, MAX_TOTAL_PENCE, "Integer pence, either sign: a running total")]
PositivePence = Annotated[int, _pence(1, MAX_CHARGE_PENCE, "Integer pence, more than zero: at most one bill")]
NonNegativePence = Annotated[int, _pence(0, MAX_CHARGE_PENCE, "Integer pence, zero or more: at most one bill")]
ReceiptPence = Annotated[int, _pence(1, MAX_RECEIPT_PENCE, "Integer pence, more than zero: at most one receipt")]
ReceiptPartPence = Annotated[int, _pence(0, MAX_RECEIPT_PENCE, "Integer pence, zero or more: part of one receipt")]
TotalPence = Annotated[int, _pence(1, MAX_TOTAL_PENCE, "Integer pence, more than zero: a sum over several debts")]
NonNegativeTotalPence = Annotated[int, _pence(0, MAX_TOTAL_PENCE, "Integer pence, zero or more: a running total")]
PositiveCostsPence = Annotated[int, _pence(1, MAX_COSTS_PENCE, "Integer pence, more than zero: costs")]
CostsPence = Annotated[int, _pence(0, MAX_COSTS_PENCE, "Integer pence, zero or more: costs")]
AgentFeesPence = Annotated[int, _pence(0, MAX_AGENT_FEES_PENCE, "Integer pence, zero or more: agent's fees")]

AccountRef = Annotated[
    str, Field(min_length=1, max_length=MAX_ACCOUNT_REF, description="The council's account reference")
]
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
Ref = Annotated[str, Field(min_length=1, max_length=MAX_REF)]
OptionalRef = Annotated[str, Field(max_length=MAX_REF)]
Code = Annotated[str, Field(max_length=MAX_CODE)]
Name = Annotated[str, Field(max_length=MAX_NAME)]
FirmName = Annotated[str, Field(max_length=MAX_FIRM)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Location = Annotated[str, Field(min_length=1, max_length=MAX_LOCATION)]
FinancialYear = Annotated[str, Field(pattern=r"^\d{4}/\d{2}$", description="e.g. '2026/27'")]
DebtIds = Annotated[list[Id], Field(max_length=MAX_DEBTS)]
AddressLine = Annotated[str, Field(max_length=MAX_ADDRESS_LINE)]
AddressLines = Annotated[list[AddressLine], Field(max_length=MAX_ADDRESS_LINES)]
AddressBlock = Annotated[list[AddressLine], Field(max_length=MAX_ADDRESS_BLOCK_LINES)]
Flag = StrictBool
"""A boolean that is a JSON true or false: never "yes", never 1."""


class DebtType(StrEnum):
    COUNCIL_TAX = "CT"
    BUSINESS_RATES = "NNDR"
    HB_OVERPAYMENT = "HBOP"
    TEMPORARY_ACCOMMODATION = "TA"
    SUNDRY = "SUNDRY"


class HbopClassification(StrEnum):
    CLAIMANT_ERROR = "claimant_error"
    COUNCIL_OFFICIAL_ERROR = "council_official_error"
    DWP_ERROR = "dwp_error"
    FRAUD = "fraud"
    LANDLORD = "landlord"


class EarningsDisregard(StrEnum):
    """The earnings disregard a Housing Benefit claimant with earnings has; up to half of
    it may be added to the most that may be deducted from their HB each week (SI 2006/213
    reg 102(2)) [S36][S37]."""

    NONE = "none"
    SINGLE = "single"
    COUPLE = "couple"
    DISABLED = "disabled"
    LONE_PARENT = "lone_parent"


class PayFrequency(StrEnum):
    """How often a person's earnings are paid, which decides the Direct Earnings Attachment
    table their employer reads (SI 2013/384 reg 20, Sch 2) [S42]."""

    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    FOUR_WEEKLY = "four_weekly"
    MONTHLY = "monthly"


class LiableRole(StrEnum):
    """Whom an overpayment is recovered from (SI 2006/213 reg 101) [S35][S39]."""

    CLAIMANT = "claimant"
    PARTNER = "partner"
    PAYEE = "payee"  # a landlord or appointee the benefit was paid to


class OverpaymentDecision(Contract):
    """The council's Housing Benefit overpayment decision, as its benefits system made
    it: what the overpayment is, how it arose and whom it is recovered from."""

    classification: HbopClassification
    period_start: date = Field(description="First day of the overpaid period")
    period_end: date = Field(description="Last day of the overpaid period")
    liable_role: LiableRole = LiableRole.CLAIMANT
    # Bounded as a notice's template text is: both are printed on the decision notice.
    reason: str = Field(
        min_length=1, max_length=MAX_TEMPLATE_TEXT, description="Why it was overpaid, in words the notice can print"
    )
    calculation: str = Field(
        default="", max_length=MAX_TEMPLATE_TEXT, description="How the amount was worked out, for the notice"
    )
    decided_on: date
    could_reasonably_have_realised: Flag = Field(
        default=True,
        description="Official error only: could the claimant, their representative or the payee reasonably "
        "have realised they were being overpaid? If not, the overpayment is not recoverable (reg 100(2))",
    )

    @model_validator(mode="after")
    def _period_in_order(self) -> OverpaymentDecision:
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


class Instalment(Contract):
    due_date: date
    amount_pence: PositivePence


Instalments = Annotated[list[Instalment], Field(max_length=MAX_INSTALMENTS)]


class LiableParty(Contract):
    """Who owes the debt. Personal data: never logged."""

    party_id: Id = Field(description="The council's stable id for this person or business")
    name: Name = Field(default="", description="Personal data")
    address_lines: AddressLines = Field(default_factory=list, description="Personal data")
    postcode: str = Field(default="", max_length=MAX_POSTCODE, description="Personal data")
    is_individual: Flag = True
