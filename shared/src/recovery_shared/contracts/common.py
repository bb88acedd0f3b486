"""Value types used across several topics."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from recovery_shared.contracts.envelope import Contract

PenceAmount = Annotated[int, Field(description="Integer pence")]
PositivePence = Annotated[int, Field(gt=0, description="Integer pence, more than zero")]
NonNegativePence = Annotated[int, Field(ge=0, description="Integer pence, zero or more")]
AccountRef = Annotated[str, Field(min_length=1, max_length=64, description="The council's account reference")]
FinancialYear = Annotated[str, Field(pattern=r"^\d{4}/\d{2}$", description="e.g. '2026/27'")]


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


class Instalment(Contract):
    due_date: date
    amount_pence: PositivePence


class LiableParty(Contract):
    """Who owes the debt. Personal data: never logged."""

    party_id: str = Field(min_length=1, description="The council's stable id for this person or business")
    name: str = Field(default="", description="Personal data")
    address_lines: list[str] = Field(default_factory=list, description="Personal data")
    postcode: str = Field(default="", description="Personal data")
    is_individual: bool = True
