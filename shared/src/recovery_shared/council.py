"""Per-council configuration: what the law leaves to each council, and the figures
the law sets but which change (fees, thresholds), kept out of code.

The defaults ship as ``council_default.toml`` beside this module, each figure with
its source (../shared/domain.md numbering). A council points ``<SERVICE>_COUNCIL_CONFIG``
at its own file; any key it leaves out keeps the default.
"""

from __future__ import annotations

import tomllib
from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from recovery_shared.contracts.common import MAX_COSTS_PENCE, MAX_FIRM, MAX_NAME, DebtType
from recovery_shared.contracts.internal import NoticeType
from recovery_shared.statute.fees import FeeScale, fee_scale_on
from recovery_shared.statute.instalments import scheme_for

DEFAULT_PATH = Path(__file__).with_name("council_default.toml")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Names the council's events carry (a notice's council, a summons's court, a referral's
# agent) are bounded as those events bound them, so a mistyped name stops the service
# at start-up, naming the field, rather than every event that would carry it.
CouncilName = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
CourtName = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
AgentFirm = Annotated[str, Field(min_length=1, max_length=MAX_FIRM)]


class InstalmentChoices(Strict):
    """What the law leaves to the council about paying a bill; the statutory schedule
    itself (counts, minimums, notice) is ``recovery_shared.statute.instalments``."""

    day_of_month: int = Field(
        ge=1, le=28, description="The day instalments fall due each month (SI 1992/613 Sch 1 para 2(4))"
    )
    invoice_terms_days: dict[DebtType, Annotated[int, Field(ge=0)]] = Field(
        description="Days from the invoice to its one payment, for each debt type with no statutory schedule"
    )

    @field_validator("invoice_terms_days")
    @classmethod
    def _every_invoiced_debt_has_terms(cls, terms: dict[DebtType, int]) -> dict[DebtType, int]:
        scheduled = {t for t in DebtType if scheme_for(t) is not None}
        if scheduled & set(terms):
            raise ValueError(f"{sorted(scheduled & set(terms))} are paid by the statutory schedule, not an invoice")
        if missing := set(DebtType) - scheduled - set(terms):
            raise ValueError(f"no invoice terms for {sorted(missing)}")
        return terms

    def invoice_terms(self, debt_type: DebtType | str) -> int:
        return self.invoice_terms_days[DebtType(debt_type)]


class AllocationOrder(StrEnum):
    OLDEST_FIRST = "oldest_first"
    PRIORITY = "priority"


class AllocationPolicy(Strict):
    order: AllocationOrder
    priority: list[DebtType] = Field(description="Debt types in priority order, used when order = priority")
    exact_instalment_match: bool = True


class FinalNoticePolicy(StrEnum):
    WHEN_REQUIRED = "when_required"  # reg 33: amount changed since the last reminder, or no reminder right
    ALWAYS = "always"
    NEVER = "never"


class Remedy(StrEnum):
    ENFORCEMENT_AGENT = "enforcement_agent"
    ATTACHMENT_OF_EARNINGS = "attachment_of_earnings"
    DEDUCTION_FROM_BENEFITS = "deduction_from_benefits"
    ATTACHMENT_OF_ALLOWANCES = "attachment_of_allowances"
    CHARGING_ORDER = "charging_order"
    BANKRUPTCY = "bankruptcy"
    COMMITTAL = "committal"


class Ladder(Strict):
    """One debt type's recovery ladder as the council runs it (domain §1-3).

    Only the council's choices live here; the periods the law fixes (7 days to pay a
    reminder, 14 days between serving a summons and the order, ...) are in
    ``recovery_shared.statute.council_tax`` / ``business_rates``."""

    reminder_notices: list[NoticeType] = Field(
        description="Notices for the 1st, 2nd ... missed instalment of a year (no more than the statute allows)"
    )
    final_notice: FinalNoticePolicy
    summons_wait_days: int = Field(
        ge=0, description="Local practice: days after the balance falls due before a summons"
    )
    # Bounded like the costs the contracts carry, so a mistyped figure stops the
    # service at start-up rather than every event that would carry it.
    summons_costs_pence: int = Field(ge=0, le=MAX_COSTS_PENCE)
    liability_order_costs_pence: int = Field(ge=0, le=MAX_COSTS_PENCE)
    hearing_after_days: int = Field(
        ge=0,
        description="Local listing: days after the summons is issued the hearing is listed; never earlier than"
        " the statute allows after service",
    )
    remedies: list[Remedy]
    agent_referral_after_days: int = Field(ge=0, description="Days after the liability order before agent referral")


CIVIL_NOTICES = (NoticeType.INVOICE_REMINDER, NoticeType.LETTER_BEFORE_CLAIM, NoticeType.NOTICE_OF_INTENTION)
PROTOCOL_NOTICES = (NoticeType.LETTER_BEFORE_CLAIM, NoticeType.NOTICE_OF_INTENTION)


class CivilLadder(Strict):
    """One debt type's civil recovery as the council runs it (HBOP, TA, sundry debt;
    domain §4-5): after the unpaid invoice, its reminder, then the Pre-Action Protocol's
    letter before claim and notice of intention, then a county court claim.

    Only the council's choices live here; the Protocol's 30 and 14 days are in
    ``recovery_shared.statute.pre_action`` and the six years in ``statute.limitation``."""

    notices: list[NoticeType] = Field(
        description="The notices before a claim, in order: an optional invoice_reminder, then the Protocol's"
        " letter_before_claim and notice_of_intention"
    )
    reminder_pay_days: int = Field(
        ge=1, le=60, description="Days from the reminder's served date to pay it (typically 7 [S43b])"
    )

    @field_validator("notices")
    @classmethod
    def _protocol_notices(cls, notices: list[NoticeType]) -> list[NoticeType]:
        if notices not in (list(CIVIL_NOTICES), list(PROTOCOL_NOTICES)):
            raise ValueError(
                f"notices must be {[n.value for n in CIVIL_NOTICES]}, or without the invoice_reminder: the"
                " Pre-Action Protocol for Debt Claims requires the letter before claim and the 14 days' notice"
                " of intention before a claim [S45]"
            )
        return notices

    @property
    def sends_reminder(self) -> bool:
        return NoticeType.INVOICE_REMINDER in self.notices


class HoldsPolicy(Strict):
    """What the council chooses about holds (``recovery_shared.statute.holds`` has the law)."""

    dispute_pauses_recovery: bool = Field(
        default=False,
        description="A dispute or appeal does not suspend Council Tax liability [S28b][S54]; pause anyway?",
    )
    recall_agent_when_vulnerable: bool = Field(
        default=True, description="Recall an agent case on evidence of vulnerability [S54c]"
    )
    hbop_appeal_pauses_recovery: bool = Field(
        default=True,
        description="Pause recovery of an HB overpayment while the person's appeal against it is decided"
        " (SI 2001/1002 reg 11(2)(c) allows it; accepted good practice) [S39]",
    )


class Court(Strict):
    name: CourtName
    sitting_weekdays: list[int] = Field(description="0 = Monday; hearings are listed on these days")


class ServiceMethod(StrEnum):
    SECOND_CLASS_POST = "second_class_post"
    FIRST_CLASS_POST = "first_class_post"
    HAND_DELIVERY = "hand_delivery"


class ServiceRule(Strict):
    """When a notice the council issues is deemed served: the issue date plus this
    many business days (``recovery_shared.statute.service.served_on``).

    The law sets no number of days for post (Interpretation Act 1978 s.7: "the time
    at which the letter would be delivered in the ordinary course of post"), so the
    council states the one its evidence of service supports."""

    method: ServiceMethod = ServiceMethod.SECOND_CLASS_POST
    business_days: int = Field(default=2, ge=0, le=10, description="Business days after the issue date")
    extra_closed_days: tuple[date, ...] = Field(
        default=(),
        description="One-off bank holidays proclaimed after the installed holidays release knew of them",
    )


class ClockRule(Strict):
    """How far one ``day.started`` may move a service's business date
    (``recovery_shared.clock.dates_to_run``): far enough to cross the longest run of
    days the council's scheduler legitimately leaves out, and no further, so a mistyped
    date is refused instead of running months of daily jobs at once."""

    # Strict: a quoted "5" or a true in the TOML is a slip to report, not a number.
    # At most a month: a longer silence is an incident for an officer to look into,
    # not a gap to fill unattended.
    max_days_forward: int = Field(
        strict=True,
        ge=1,
        le=31,
        description="Days one day.started may move the business date forward; a gap is filled day by day",
    )


BenefitYear = Annotated[str, Field(pattern=r"^\d{4}/\d{2}$", description="e.g. '2026/27'")]


HbopRoute = Literal["direct_earnings_attachment", "dwp_deduction", "county_court"]
_HBOP_ROUTES: tuple[HbopRoute, ...] = ("direct_earnings_attachment", "dwp_deduction", "county_court")


class HbopPolicy(Strict):
    """How the council recovers Housing Benefit overpayments from ongoing HB. The most it
    may deduct each week is the statute's (``statute.housing_benefit``, SI 2006/213
    reg 102); these are the council's choices beneath it."""

    weekly_deduction_pence: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        description="What the council deducts each benefit week; unset means reg 102's maximum,"
        " and a higher figure is held down to it",
    )
    personal_allowance_pence: dict[BenefitYear, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="The 25+ weekly personal allowance for a benefit year the statute table has no figure"
        " for yet (from that year's uprating order), e.g. '2026/27' = 9445",
    )
    after_invoice: list[HbopRoute] = Field(
        default_factory=lambda: list(_HBOP_ROUTES),
        min_length=1,
        description="The routes an overpayment takes, in order, once its invoice and reminder go unpaid:"
        " a Direct Earnings Attachment where the person's employer is known, a request to the DWP to"
        " deduct from their other benefits, and the Pre-Action Protocol's letters and a county court claim",
    )
    dwp_answer_days: int = Field(
        default=28,
        ge=1,
        le=183,
        strict=True,
        description="How long to wait for the DWP's answer to a deduction request before the next route",
    )
    dwp_paid_every_days: int = Field(
        default=28,
        ge=7,
        le=92,
        strict=True,
        description="How often the DWP pays over what it deducted; each payment is checked a week after it is due",
    )

    @model_validator(mode="after")
    def _ends_at_court(self) -> HbopPolicy:
        if len(set(self.after_invoice)) != len(self.after_invoice) or self.after_invoice[-1] != "county_court":
            raise ValueError(
                "after_invoice lists each route once and ends with 'county_court', the route every"
                f" unpaid overpayment can take: got {self.after_invoice}"
            )
        return self


class CouncilConfig(Strict):
    council_name: CouncilName
    instalments: InstalmentChoices
    allocation: AllocationPolicy
    ladders: dict[DebtType, Ladder]
    civil_ladders: dict[DebtType, CivilLadder] = Field(
        default_factory=dict,
        description="HBOP, TA and sundry debt: the invoice's reminder, the Protocol's letters, the county court",
    )
    court: Court
    enforcement_agents: list[AgentFirm]
    holds: HoldsPolicy = Field(default_factory=HoldsPolicy)
    hbop: HbopPolicy = Field(default_factory=HbopPolicy)
    # A default so a council file written before service rules existed still loads.
    service: ServiceRule = Field(default_factory=ServiceRule)
    clock: ClockRule

    @model_validator(mode="after")
    def _one_ladder_per_debt_type(self) -> CouncilConfig:
        scheduled = {t for t in DebtType if scheme_for(t) is not None}
        if both := sorted(set(self.ladders) & set(self.civil_ladders)):
            raise ValueError(f"{both} have both a statutory ladder and a civil ladder: give each debt type one")
        if statutory := sorted(scheduled & set(self.civil_ladders)):
            raise ValueError(f"{statutory} are recovered through the magistrates' court, not a civil ladder")
        return self

    def ladder(self, debt_type: DebtType | str) -> Ladder:
        try:
            return self.ladders[DebtType(debt_type)]
        except (KeyError, ValueError) as exc:
            raise KeyError(f"no recovery ladder is configured for debt type {debt_type}") from exc

    def agent_fees_on(self, day: date) -> FeeScale:
        """The statutory fee scale in force on ``day`` (``recovery_shared.statute.fees``)."""
        return fee_scale_on(day)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@lru_cache(maxsize=8)
def load_council_config(path: Path | None = None) -> CouncilConfig:
    data = tomllib.loads(DEFAULT_PATH.read_text())
    if path is not None:
        try:
            data = _merge(data, tomllib.loads(Path(path).read_text()))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"council configuration {path} is not valid TOML: {exc}") from exc
    return CouncilConfig.model_validate(data)
