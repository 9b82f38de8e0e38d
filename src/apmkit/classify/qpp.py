"""Quality Payment Program: the Advanced APM test, QP status by payment year and the APM incentive payment.

Parameters are data (``data/qpp.yaml``, each row with its CFR source): QP thresholds of 42 CFR 414.1430, the
APM incentive rate of 414.1450, the CEHRT and nominal-risk standards of 414.1415. Every threshold is met when
the score is **at least** the threshold ("meets or exceeds", 414.1425), so a score equal to a threshold counts.
All arithmetic is :class:`~decimal.Decimal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from apmkit.classify.lan import contract_quality_link
from apmkit.contracts import Contract
from apmkit.contracts import components as c
from apmkit.errors import ConfigurationError
from apmkit.money import round_money, to_decimal

QpStatus = Literal["QP", "Partial QP", "Not QP"]
Basis = Literal["payment", "patient"]
Option = Literal["medicare", "all-payer"]

_RANK: dict[str, int] = {"Not QP": 0, "Partial QP": 1, "QP": 2}

OUTCOME_MEASURES: dict[str, str] = {
    "CMS122": "Diabetes: HbA1c poor control (>9 %) - intermediate outcome",
    "CMS165": "Controlling high blood pressure - intermediate outcome",
    "ACR": "All-cause readmission - outcome",
    "PQI": "AHRQ PQI ambulatory-care-sensitive admissions - outcome",
}
"""Measures apmkit evaluates that are outcome (or intermediate outcome) measures in the MIPS measure list."""


@cache
def qpp_parameters() -> dict[str, Any]:
    """The QPP parameter table (``apmkit/classify/data/qpp.yaml``)."""
    text = resources.files("apmkit.classify").joinpath("data/qpp.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _row(rows: list[dict[str, Any]], year: int, what: str) -> dict[str, Any]:
    for row in rows:
        last = row.get("last_year")
        if row["first_year"] <= year and (last is None or year <= last):
            return row
    first = min(row["first_year"] for row in rows)
    raise ConfigurationError(f"{what}: no QPP parameters for year {year} (the first is {first})")


def _decimal_thresholds(raw: dict[str, Any]) -> dict[str, Decimal]:
    return {key: to_decimal(str(value)) for key, value in raw.items() if key != "medicare_minimum"}


def _check_share(name: str, value: Decimal | None) -> None:
    if value is None:
        return
    if not value.is_finite():  # NaN cannot be compared; infinity is no share
        raise ConfigurationError(f"--{name.replace('_', '-')}: a share between 0 and 1 is required")
    if not Decimal(0) <= value <= Decimal(1):
        raise ConfigurationError(
            f"--{name.replace('_', '-')}: a share between 0 and 1 is required, got {value}"
        )


AMOUNT_LIMIT = Decimal(10) ** 15
"""Dollar amounts given to the classifiers are finite, non-negative and below a quadrillion."""


def _check_amount(name: str, value: Decimal | None) -> None:
    if value is not None and (not value.is_finite() or value < 0 or value >= AMOUNT_LIMIT):
        raise ConfigurationError(
            f"--{name.replace('_', '-')}: a non-negative amount below 10^15 dollars is required"
        )


def _status(payment: Decimal | None, patient: Decimal | None, t: dict[str, Decimal]) -> dict[str, Any]:
    """Status by each method and the better of the two (payment wins a tie)."""

    def by(score: Decimal | None, qp: Decimal, partial: Decimal) -> QpStatus:
        if score is None:
            return "Not QP"
        if score >= qp:
            return "QP"
        if score >= partial:
            return "Partial QP"
        return "Not QP"

    pay = by(payment, t["qp_payment"], t["partial_payment"])
    pat = by(patient, t["qp_patient"], t["partial_patient"])
    best: QpStatus = pay if _RANK[pay] >= _RANK[pat] else pat
    basis: Basis | None = None
    if best != "Not QP":
        basis = "payment" if _RANK[pay] >= _RANK[pat] else "patient"
    return {"status": best, "basis": basis, "payment_method": pay, "patient_method": pat}


@dataclass(frozen=True)
class QpDetermination:
    """The outcome of a QP determination (see :func:`determine_qp`)."""

    data: dict[str, Any]

    @property
    def status(self) -> QpStatus:
        status: QpStatus = self.data["status"]
        return status

    @property
    def basis(self) -> Basis | None:
        basis: Basis | None = self.data["basis"]
        return basis


def incentive_rate(payment_year: int) -> tuple[Decimal, str, str | None]:
    """APM incentive rate for ``payment_year``, its source, and an unverified note if any."""
    row = _row(qpp_parameters()["incentive_rates"], payment_year, "APM incentive payment")
    return to_decimal(str(row["rate"])), row["source"], row.get("unverified")


def determine_qp(
    payment_year: int,
    payment_share: Decimal | None,
    patient_share: Decimal | None,
    *,
    option: Option = "medicare",
    medicare_payment_share: Decimal | None = None,
    medicare_patient_share: Decimal | None = None,
    part_b_payments: Decimal | None = None,
    qp_payment_threshold: Decimal | None = None,
) -> QpDetermination:
    """QP, Partial QP or Not QP for an APM entity (or clinician) in ``payment_year``.

    Parameters
    ----------
    payment_year
        The payment year (QP performance period + 2).
    payment_share, patient_share
        Threshold scores by the payment amount and patient count methods (42 CFR 414.1435): fractions. Under
        the All-Payer Combination Option these are the all-payer scores.
    option
        ``medicare`` or ``all-payer``. The all-payer option also needs the Medicare Option scores
        (``medicare_payment_share``, ``medicare_patient_share``): the clinician must meet the Medicare minimum
        of the same method; the Medicare Option is evaluated on them too and the better status is kept.
    part_b_payments
        Base-year (payment year - 1) estimated aggregate Part B covered professional services payments; gives
        the incentive amount.
    qp_payment_threshold
        Replace the QP payment-amount threshold (e.g. 0.50 for payment year 2028 under the Consolidated
        Appropriations Act, 2026, which the regulation does not yet reflect).

    Returns
    -------
    QpDetermination
        ``data`` holds ``status`` ("QP" | "Partial QP" | "Not QP"), ``basis`` ("payment" | "patient" | None),
        the option that decided, thresholds, each method's status, the incentive rate and amount.
    """
    for name, value in (
        ("payment_share", payment_share),
        ("patient_share", patient_share),
        ("medicare_payment_share", medicare_payment_share),
        ("medicare_patient_share", medicare_patient_share),
        ("qp_payment_threshold", qp_payment_threshold),
    ):
        _check_share(name, value)
    _check_amount("part_b_payments", part_b_payments)
    if payment_share is None and patient_share is None:
        raise ConfigurationError("give --payment-share, --patient-share or both")
    row = _row(qpp_parameters()["qp_thresholds"], payment_year, "QP thresholds")
    medicare_t = _decimal_thresholds(row["medicare"])
    warnings: list[str] = []
    if qp_payment_threshold is not None:
        medicare_t["qp_payment"] = qp_payment_threshold
        warnings.append(f"QP payment-amount threshold replaced by {qp_payment_threshold} (given)")
    result: dict[str, Any] = {"payment_year": payment_year, "performance_year": payment_year - 2}
    if option == "medicare":
        medicare = _status(payment_share, patient_share, medicare_t)
        result.update(status=medicare["status"], basis=medicare["basis"])
        result["option"] = "medicare" if medicare["status"] != "Not QP" else None
        result["scores"] = {"payment": _plain(payment_share), "patient": _plain(patient_share)}
        result["thresholds"] = {k: _plain(v) for k, v in medicare_t.items()}
        result["medicare_option"] = medicare
        result["all_payer_option"] = None
    elif option == "all-payer":
        if row["all_payer"] is None:
            raise ConfigurationError(
                f"--option all-payer: the All-Payer Combination Option starts with payment year 2021, "
                f"not {payment_year}"
            )
        if medicare_payment_share is None and medicare_patient_share is None:
            raise ConfigurationError(
                "--option all-payer needs --medicare-payment-share and/or --medicare-patient-share "
                "(the Medicare minimums of 42 CFR 414.1430(b))"
            )
        all_t = _decimal_thresholds(row["all_payer"])
        if qp_payment_threshold is not None:
            all_t["qp_payment"] = qp_payment_threshold
        minimum = _decimal_thresholds(row["all_payer"]["medicare_minimum"])
        medicare = _status(medicare_payment_share, medicare_patient_share, medicare_t)
        # A method counts under the all-payer option only where the Medicare score of that method reaches the
        # Medicare minimum for the same status.
        pay = _status(payment_share, None, all_t)["payment_method"]
        pay_min = _status(medicare_payment_share, None, minimum)["payment_method"]
        pat = _status(None, patient_share, all_t)["patient_method"]
        pat_min = _status(None, medicare_patient_share, minimum)["patient_method"]
        pay_eff = min(pay, pay_min, key=_RANK.__getitem__)
        pat_eff = min(pat, pat_min, key=_RANK.__getitem__)
        all_best = pay_eff if _RANK[pay_eff] >= _RANK[pat_eff] else pat_eff
        all_basis = (
            None if all_best == "Not QP" else ("payment" if _RANK[pay_eff] >= _RANK[pat_eff] else "patient")
        )
        all_payer = {
            "status": all_best,
            "basis": all_basis,
            "payment_method": pay_eff,
            "patient_method": pat_eff,
            "medicare_minimum_payment": pay_min,
            "medicare_minimum_patient": pat_min,
        }
        if _RANK[medicare["status"]] >= _RANK[all_best]:
            result.update(status=medicare["status"], basis=medicare["basis"])
            result["option"] = "medicare" if medicare["status"] != "Not QP" else None
        else:
            result.update(status=all_best, basis=all_basis, option="all-payer")
        result["scores"] = {
            "payment": _plain(payment_share),
            "patient": _plain(patient_share),
            "medicare_payment": _plain(medicare_payment_share),
            "medicare_patient": _plain(medicare_patient_share),
        }
        result["thresholds"] = {
            **{k: _plain(v) for k, v in all_t.items()},
            "medicare_minimum": {k: _plain(v) for k, v in minimum.items()},
            "medicare_option": {k: _plain(v) for k, v in medicare_t.items()},
        }
        result["medicare_option"] = medicare
        result["all_payer_option"] = all_payer
    else:
        raise ConfigurationError(f"--option: choose medicare or all-payer, not {option!r}")
    rate, source, unverified = incentive_rate(payment_year)
    if unverified:
        warnings.append(f"APM incentive rate for payment year {payment_year}: {unverified}")
    qualifies = result["status"] == "QP"
    result["incentive_rate"] = _plain(rate) if qualifies else "0"
    result["incentive_payment"] = None
    if part_b_payments is not None:
        amount = round_money(part_b_payments * rate) if qualifies else Decimal("0.00")
        result["incentive_payment"] = str(amount)
        result["incentive_base_year"] = payment_year - 1
    if result["status"] == "Partial QP":
        warnings.append("Partial QPs receive no APM incentive payment; they may elect to report to MIPS")
    result["sources"] = [row["source"], source]
    result["warnings"] = warnings
    return QpDetermination(result)


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


# ---- Advanced APM -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdvancedApmFacts:
    """What the contract document does not say but the Advanced APM criteria need.

    Parameters
    ----------
    performance_year
        QP performance period (the CEHRT share and medical-home standard depend on it).
    cehrt_share
        Share of the entity's eligible clinicians the arrangement requires to use CEHRT.
    outcome_measure
        Whether the payment-linked measures include an outcome measure; None = read the contract's
        ``quality.measures``.
    ab_revenue
        Average estimated total Medicare Parts A and B revenue of the participating providers ($).
    expected_expenditures
        Expected expenditures (benchmark or target price) of the entity ($).
    medical_home
        The arrangement is a Medical Home Model (CPC+, PCF).
    eligible_clinicians
        Eligible clinicians of the entity (the medical-home standard is limited to 50).
    medical_home_risk_share
        Potential repayment or forgone payment under a Medical Home Model as a share of A+B revenue.
    """

    performance_year: int
    cehrt_share: Decimal | None = None
    outcome_measure: bool | None = None
    ab_revenue: Decimal | None = None
    expected_expenditures: Decimal | None = None
    medical_home: bool = False
    eligible_clinicians: int | None = None
    medical_home_risk_share: Decimal | None = None


def _required_cehrt(year: int) -> Decimal:
    row = _row(qpp_parameters()["cehrt"], year, "CEHRT standard")
    return to_decimal(str(row["share"]))


def _cap_risk(
    cap: Any, facts: AdvancedApmFacts, revenue_std: Decimal, expenditure_std: Decimal
) -> tuple[bool, str]:
    """Does a loss cap (``pct_of_revenue`` and/or ``pct_of_benchmark``, the lower applies) exceed nominal risk?"""
    a, b = cap.pct_of_revenue, cap.pct_of_benchmark
    if a is None and b is None:
        return True, "losses are not capped"
    revenue, expected = facts.ab_revenue, facts.expected_expenditures
    if (a is None or revenue is not None) and (b is None or expected is not None):
        parts = []
        if a is not None and revenue is not None:
            parts.append(a * revenue)
        if b is not None and expected is not None:
            parts.append(b * expected)
        loss = min(parts)
        by_revenue = revenue is not None and loss >= revenue_std * revenue
        by_expected = expected is not None and loss >= expenditure_std * expected
        text = f"largest repayment {round_money(loss)}"
        if revenue is not None:
            text += f" vs {revenue_std} x A+B revenue = {round_money(revenue_std * revenue)}"
        if expected is not None:
            text += (
                f" vs {expenditure_std} x expected expenditures = {round_money(expenditure_std * expected)}"
            )
        return by_revenue or by_expected, text
    # Without the amounts, decide only where the answer holds for every revenue and benchmark.
    if a is not None and b is not None:
        if a >= revenue_std and b >= expenditure_std:
            return True, (
                f"loss limit min({a} x revenue, {b} x benchmark) meets the revenue standard ({revenue_std}) "
                f"when the revenue part binds and the expenditure standard ({expenditure_std}) otherwise"
            )
        if a < revenue_std and b < expenditure_std:
            return False, (
                f"loss limit min({a} x revenue, {b} x benchmark) is below both {revenue_std} of revenue "
                f"and {expenditure_std} of expected expenditures"
            )
        return False, "depends on revenue and benchmark: give --ab-revenue and --expected-expenditures"
    if a is not None:
        return a >= revenue_std, f"loss limit {a} of revenue vs the {revenue_std} revenue standard"
    assert b is not None
    return b >= expenditure_std, f"loss limit {b} of benchmark vs the {expenditure_std} expenditure standard"


def _component_risk(
    component: Any, facts: AdvancedApmFacts, revenue_std: Decimal, expenditure_std: Decimal
) -> tuple[bool, str] | None:
    """(meets, why) for a component that puts the entity at financial risk; None when it carries none."""
    if isinstance(component, c.Capitation):
        if component.scope in ("full", "global"):
            return True, f"{component.scope} capitation (42 CFR 414.1415(c)(6))"
        return False, "partial capitation is not full capitation: its potential loss is not measured here"
    if isinstance(component, c.SharedSavings):
        if component.terms.sided != "two_sided":
            return None
        return _cap_risk(component.terms.loss_cap, facts, revenue_std, expenditure_std)
    if isinstance(component, c.EpisodeReconciliation):
        if not component.downside or component.stop_loss is None:
            return None
        if not isinstance(component.stop_loss, Decimal):
            return (
                False,
                "stop_loss is a REQUIRED contract term not yet set: the financial risk cannot be assessed",
            )
        meets = component.stop_loss >= expenditure_std
        return meets, f"stop-loss {component.stop_loss} of target price vs the {expenditure_std} standard"
    if isinstance(component, c.RiskCorridor):
        bands = component.gain_bands if component.symmetric else component.loss_bands
        if not any(b.entity_share > 0 for b in bands):
            return None
        if any(b.upper is None and b.entity_share > 0 for b in bands):
            return True, "losses shared without limit beyond the last corridor band"
        worst = sum(((b.upper or b.lower) - b.lower) * b.entity_share for b in bands)
        return (
            worst >= expenditure_std,
            f"largest corridor loss {worst} of target vs the {expenditure_std} standard",
        )
    if isinstance(component, c.ProspectiveBundle):
        return True, "prospective bundle: the entity bears costs above the bundle price"
    return None


def advanced_apm(contract: Contract, facts: AdvancedApmFacts) -> dict[str, Any]:
    """The Advanced APM test of 42 CFR 414.1415 for ``contract`` in ``facts.performance_year``.

    Returns
    -------
    dict
        ``{"advanced_apm": bool, "criteria": {"cehrt": ..., "quality": ..., "financial_risk": ...}, ...}``;
        each criterion has ``met`` and the numbers behind it.
    """
    year = facts.performance_year
    _check_share("medical_home_risk_share", facts.medical_home_risk_share)
    _check_amount("ab_revenue", facts.ab_revenue)
    _check_amount("expected_expenditures", facts.expected_expenditures)
    resolved = _resolve(contract, year)
    params = qpp_parameters()
    # CEHRT
    required = _required_cehrt(year)
    if facts.cehrt_share is None:
        cehrt = {
            "met": False,
            "required_share": _plain(required),
            "share": None,
            "reason": "give --cehrt-share",
        }
    else:
        _check_share("cehrt_share", facts.cehrt_share)
        cehrt = {
            "met": facts.cehrt_share >= required,
            "required_share": _plain(required),
            "share": _plain(facts.cehrt_share),
            "reason": f"{facts.cehrt_share} of eligible clinicians use CEHRT; at least {required} required",
        }
    # Quality
    link = contract_quality_link(resolved)
    measures = _contract_measures(resolved)
    outcomes = [m for m in measures if m in OUTCOME_MEASURES]
    outcome = facts.outcome_measure if facts.outcome_measure is not None else bool(outcomes)
    quality = {
        "met": link is not None and outcome,
        "payment_linked_to_quality": link,
        "outcome_measure": outcome,
        "outcome_measures_in_contract": outcomes,
        "outcome_measure_source": "given"
        if facts.outcome_measure is not None
        else "contract quality.measures",
    }
    # Financial risk
    revenue_std = to_decimal(str(params["nominal_risk"]["revenue_share"]))
    expenditure_std = to_decimal(str(params["nominal_risk"]["expected_expenditure_share"]))
    findings = []
    for component in resolved.components:
        found = _component_risk(component, facts, revenue_std, expenditure_std)
        if found is not None:
            findings.append({"component": component.id, "met": found[0], "reason": found[1]})
    standard = "generally applicable"
    medical_home_note = None
    home = params["medical_home"]
    if facts.medical_home:
        too_big = (
            year >= home["size_limit_from"]
            and facts.eligible_clinicians is not None
            and facts.eligible_clinicians > home["max_clinicians"]
        )
        if too_big:
            medical_home_note = (
                f"{facts.eligible_clinicians} eligible clinicians exceed {home['max_clinicians']}: "
                "the generally applicable standard applies"
            )
        else:
            standard = "medical home"
            shares = home["revenue_share_by_year"]
            needed = to_decimal(str(shares[min(max(year, min(shares)), max(shares))]))
            given = facts.medical_home_risk_share
            findings.append(
                {
                    "component": "(medical home model)",
                    "met": given is not None and given >= needed,
                    "reason": (
                        f"potential loss {given} of A+B revenue vs the {needed} medical-home standard"
                        if given is not None
                        else f"give --medical-home-risk-share (standard {needed} of A+B revenue)"
                    ),
                }
            )
            if facts.eligible_clinicians is None and year >= home["size_limit_from"]:
                medical_home_note = "eligible clinicians not given: assumed at most 50"
    risk_met = any(f["met"] for f in findings)
    financial_risk = {
        "met": risk_met,
        "standard": standard,
        "revenue_share": _plain(revenue_std),
        "expected_expenditure_share": _plain(expenditure_std),
        "components": findings,
        "note": medical_home_note
        or ("no component puts the entity at financial risk" if not findings else None),
    }
    is_advanced = bool(cehrt["met"] and quality["met"] and risk_met)
    return {
        "advanced_apm": is_advanced,
        "criteria": {"cehrt": cehrt, "quality": quality, "financial_risk": financial_risk},
        "contract_id": contract.id,
        "performance_year": year,
        "apm_type": "Advanced APM" if is_advanced else ("MIPS APM" if link is not None else "not an APM"),
        "sources": ["42 CFR 414.1415"],
    }


def _resolve(contract: Contract, year: int) -> Contract:
    try:
        return contract.for_period(str(year))[0]
    except ConfigurationError:
        return contract


def _contract_measures(contract: Contract) -> list[str]:
    quality = contract.quality
    if quality is None:
        return []
    measures = quality.get("measures", []) if isinstance(quality, dict) else getattr(quality, "measures", ())
    return [str(m) for m in measures or ()]
