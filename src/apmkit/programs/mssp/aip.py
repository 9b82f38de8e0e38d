"""MSSP advance investment payments (AIP, 42 CFR 425.630): quarterly amounts and recoupment from shared savings.

- Quarterly payment (425.630(f)(2)): each assigned beneficiary gets a risk factors-based score (100 when enrolled in
  the Part D LIS or dually eligible; else the Area Deprivation Index national percentile rank; 50 when no rank can be
  matched), the score maps to a dollar amount (table 1 to paragraph (f)(2)(iii)), and the ACO's quarterly payment is
  the sum over at most the 10,000 beneficiaries with the highest scores. Computed as one ibis expression over the
  beneficiary table (no Python loop per beneficiary).
- Recoupment (425.630(g)(1), (3), (4)): CMS recoups the AIP balance from any shared savings the ACO earns, never more
  than the savings earned in that performance year, and carries the rest forward to later years with savings; an ACO
  that terminates during the agreement period repays the whole balance.

Text read: eCFR Markdown mirror MichalOpoka/ecfr, section-425.630.md @ 404b4577fa463658a00bec300cfa486e38aa0b36
(as amended through 89 FR 98571, Dec. 9, 2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import ibis
import ibis.expr.types as ir

from apmkit.errors import ConfigurationError
from apmkit.money import round_money

__all__ = [
    "AIP_BENEFICIARY_CAP",
    "AIP_ONE_TIME_PAYMENT",
    "AIP_PAYMENT_BANDS",
    "AipRecoupment",
    "aip_quarterly_payment",
    "aip_recoupment",
    "risk_factors_score",
]

CITATION = "42 CFR 425.630"

AIP_ONE_TIME_PAYMENT = Decimal(250_000)
"""One-time payment at the start of performance year 1 (425.630(f))."""

AIP_BENEFICIARY_CAP = 10_000
"""The quarterly payment counts at most this many beneficiaries, highest scores first (425.630(f)(2)(iv))."""

AIP_PAYMENT_BANDS: tuple[tuple[int, int, int], ...] = (
    (1, 24, 0),
    (25, 34, 20),
    (35, 44, 24),
    (45, 54, 28),
    (55, 64, 32),
    (65, 74, 36),
    (75, 84, 40),
    (85, 100, 45),
)
"""(lowest score, highest score, dollars per beneficiary per quarter): table 1 to 425.630(f)(2)(iii)."""


def risk_factors_score(lis_or_dual: ir.BooleanValue, adi_national_rank: ir.IntegerValue) -> ir.IntegerValue:
    """425.630(f)(2)(ii): 100 if LIS-enrolled or dual; else the ADI national percentile rank; 50 without a rank."""
    return ibis.cases(
        (lis_or_dual.fill_null(False), ibis.literal(100)),
        (adi_national_rank.notnull(), adi_national_rank.cast("int64")),
        else_=ibis.literal(50),
    )


def aip_quarterly_payment(beneficiaries: ir.Table) -> ir.Table:
    """The quarterly AIP amount of each ACO from its assigned beneficiaries.

    Parameters
    ----------
    beneficiaries
        One row per assigned beneficiary: ``aco_id`` (string), ``lis_or_dual`` (boolean: Part D LIS or dually
        eligible) and ``adi_national_rank`` (integer 1-100, null when no rank could be matched).

    Returns
    -------
    ir.Table
        ``aco_id``, ``beneficiaries_counted`` (at most 10,000), ``quarterly_payment`` (whole dollars, int64) and
        ``scores_out_of_range`` (rows whose rank is outside 1-100; a caller must refuse a nonzero count).
    """
    score = risk_factors_score(beneficiaries.lis_or_dual, beneficiaries.adi_national_rank)
    amount = ibis.cases(
        *[
            (score.between(low, high), ibis.literal(dollars, "int64"))
            for low, high, dollars in AIP_PAYMENT_BANDS
        ],
        else_=ibis.null("int64"),
    )
    scored = beneficiaries.select(beneficiaries.aco_id, score=score, amount=amount)
    ranked = scored.mutate(
        rank=ibis.row_number().over(
            group_by=scored.aco_id, order_by=[scored.score.desc(), scored.amount.desc()]
        )
    )
    counted = ranked.filter(ranked["rank"] < AIP_BENEFICIARY_CAP)
    return counted.group_by("aco_id").aggregate(
        beneficiaries_counted=counted.count(),
        quarterly_payment=counted.amount.sum().fill_null(0),
        scores_out_of_range=counted.amount.isnull().sum(),
    )


@dataclass(frozen=True)
class AipRecoupment:
    """One performance year's recoupment: what is recouped, what the ACO is paid, what is carried forward."""

    earned_savings: Decimal
    balance_before: Decimal
    recouped: Decimal
    savings_paid: Decimal
    repayment_due: Decimal
    balance_carried_forward: Decimal
    rule: str


def aip_recoupment(
    earned_savings: Decimal, outstanding_balance: Decimal, *, terminated: bool = False
) -> AipRecoupment:
    """Recoup the outstanding AIP balance from a year's earned shared savings (425.630(g)).

    ``recouped = min(earned, balance)`` ((g)(1), (g)(3)); the remainder carries forward to later years with savings,
    including a later agreement period. When ``terminated`` (the ACO ended its agreement during the agreement period
    in which it received AIP, (g)(4)), the whole remaining balance is due as a repayment.
    """
    if earned_savings < 0 or outstanding_balance < 0:
        raise ConfigurationError(
            "advance investment payment recoupment: earned_savings and outstanding_balance must not be negative"
        )
    recouped = min(earned_savings, outstanding_balance)
    remaining = outstanding_balance - recouped
    repayment = remaining if terminated else Decimal(0)
    return AipRecoupment(
        earned_savings=earned_savings,
        balance_before=outstanding_balance,
        recouped=round_money(recouped),
        savings_paid=round_money(earned_savings - recouped),
        repayment_due=round_money(repayment),
        balance_carried_forward=round_money(remaining - repayment),
        rule=f"{CITATION}(g)(1), (g)(3)" + (", (g)(4) termination" if terminated else ""),
    )
