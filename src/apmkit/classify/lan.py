"""HCP-LAN APM Framework (2017 refresh) category of a contract.

Each payment component of a :class:`~apmkit.contracts.Contract` qualifies for one category by its mechanism
(how money moves and who bears risk); the contract takes the most advanced category any component qualifies
for, the LAN measurement convention for arrangements with several payment types. A contract whose payments do
not depend on quality at all is not an APM in the framework: risk-bearing arrangements then fall in 3N and
capitation in 4N, and fee-for-service extras in category 1.

Decision rules (docs/reference/methodology.md §6, definitions from the HL7 Da Vinci VBPR code system
``hcp-lan-apm-framework``; the LAN white paper's principle that payment models not taking quality into account
are not APMs):

=============================  ==========================================================================
component                      category
=============================  ==========================================================================
infrastructure_payment,        2A foundational payments for infrastructure and operations
care_management_fee,
episode_services_payment
pay_for_reporting              2B pay for reporting
pay_for_performance, withhold  2C pay for performance
(quality score),
performance_incentive,
performance_adjustment
shared_savings, risk_corridor  3A upside only, 3B when the entity can owe losses (3N without quality)
episode_reconciliation         3A without downside, 3B with downside (3N without quality)
prospective_bundle             3B: the provider keeps or loses the difference to the bundle price
population_based_payment       4A condition- or service-specific population-based payment (4N)
capitation                     4B comprehensive population-based payment, carve-outs included (4N); 4C
                               when the entity is an integrated health system
sequestration, interim         not payment models: not considered
payments, extreme_uncontrol.
=============================  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from apmkit.contracts import Contract
from apmkit.contracts import components as c

LanCategory = Literal["1", "2A", "2B", "2C", "3N", "3A", "3B", "4N", "4A", "4B", "4C"]

# Most advanced last. 3N/4N rank below the linked categories of their own level: an unlinked arrangement
# is not progress toward value, yet still carries the risk that distinguishes it from category 2.
CATEGORY_ORDER: tuple[LanCategory, ...] = ("1", "2A", "2B", "2C", "3N", "3A", "3B", "4N", "4A", "4B", "4C")

CATEGORY_NAMES: dict[str, str] = {
    "1": "Fee for service - no link to quality and value",
    "2A": "Foundational payments for infrastructure and operations",
    "2B": "Pay for reporting",
    "2C": "Pay for performance",
    "3A": "APM with shared savings (upside only)",
    "3B": "APM with shared savings and downside risk",
    "3N": "Risk-based payment not linked to quality",
    "4A": "Condition-specific population-based payment",
    "4B": "Comprehensive population-based payment",
    "4C": "Integrated finance and delivery system",
    "4N": "Capitated payment not linked to quality",
}

NOT_PAYMENT_MODELS = frozenset({"sequestration", "interim_payments", "extreme_uncontrollable"})


@dataclass(frozen=True)
class ComponentCategory:
    """The category one component qualifies for, and why."""

    component_id: str
    component_type: str
    category: LanCategory | None
    reason: str
    quality_linked: bool


@dataclass(frozen=True)
class LanClassification:
    """A contract's HCP-LAN category with the rule that decided it and every component considered."""

    contract_id: str
    category: LanCategory
    name: str
    rule: str
    deciding_component: str | None
    quality_link: str | None
    components: tuple[ComponentCategory, ...]
    declared: str | None
    period: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def agrees_with_declared(self) -> bool | None:
        return None if self.declared is None else self.declared == self.category

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "period": self.period,
            "category": self.category,
            "name": self.name,
            "rule": self.rule,
            "deciding_component": self.deciding_component,
            "quality_link": self.quality_link,
            "declared": self.declared,
            "agrees_with_declared": self.agrees_with_declared,
            "components": [
                {
                    "id": item.component_id,
                    "type": item.component_type,
                    "category": item.category,
                    "quality_linked": item.quality_linked,
                    "reason": item.reason,
                }
                for item in self.components
            ],
            "notes": list(self.notes),
        }


def own_quality_link(component: Any) -> str | None:
    """Why ``component``'s own terms make payment depend on quality, or None."""
    if isinstance(component, c.SharedSavings):
        method = component.terms.quality.method
        return None if method == "none" else f"sharing rate depends on quality (quality.method {method})"
    if isinstance(component, c.EpisodeReconciliation):
        if component.quality_bands:
            return "discount or eligibility depends on the quality score (quality_bands)"
        if component.quality_adjustment_of_gain != 0 or component.quality_adjustment_of_loss != 0:
            # a REQUIRED (not yet stated) adjustment is a quality term of the model all the same
            return "reconciliation amount adjusted by quality (quality_adjustment_of_gain/_of_loss)"
        return None
    if isinstance(component, c.Withhold):
        return f"withhold returned by {component.score_input}"
    if isinstance(component, c.PayForPerformance):
        return "bonus or penalty by quality score"
    if isinstance(component, c.PerformanceIncentive):
        return f"incentive kept by {component.score_input}"
    if isinstance(component, c.PerformanceAdjustment):
        return "payments adjusted by performance"
    if isinstance(component, c.PayForReporting):
        return "bonus or penalty for reporting quality"
    return None


def contract_quality_link(contract: Contract) -> str | None:
    """Why payment under ``contract`` depends on quality (first component found), or None."""
    for component in contract.components:
        reason = own_quality_link(component)
        if reason is not None:
            return f"component {component.id!r}: {reason}"
    quality = contract.quality
    scoring = getattr(quality, "scoring", None) if quality is not None else None
    if scoring is None and isinstance(quality, dict):
        scoring = quality.get("scoring")
    if scoring is not None:
        return "the contract's quality section scores performance"
    return None


def _two_sided_corridor(component: c.RiskCorridor) -> bool:
    bands = component.gain_bands if component.symmetric else component.loss_bands
    return any(band.entity_share > 0 for band in bands)


def _component_category(component: Any, contract: Contract, linked: bool) -> tuple[LanCategory | None, str]:
    kind = component.type
    if kind in NOT_PAYMENT_MODELS:
        return None, "administrative adjustment of other components, not a payment model"
    if kind in ("infrastructure_payment", "care_management_fee", "episode_services_payment"):
        return "2A", "foundational payment for infrastructure, care management or enhanced services"
    if kind == "pay_for_reporting":
        return "2B", "bonus or penalty for reporting"
    if kind == "withhold":
        return "2C", "withhold returned by performance on a fee-for-service base"
    if kind in ("pay_for_performance", "performance_incentive", "performance_adjustment"):
        return "2C", "payment adjusted by performance score"
    if kind in ("shared_savings", "risk_corridor", "episode_reconciliation"):
        if isinstance(component, c.SharedSavings):
            downside = component.terms.sided == "two_sided"
            how = "two-sided: the entity owes shared losses" if downside else "one-sided: savings only"
        elif isinstance(component, c.RiskCorridor):
            downside = _two_sided_corridor(component)
            how = "the entity shares losses in the corridor" if downside else "gains only"
        else:
            downside = bool(component.downside)
            how = "repayment when spending exceeds the target" if downside else "no repayment (upside only)"
        if not linked:
            return "3N", f"FFS reconciled against a cost target ({how}) with no link to quality"
        category: LanCategory = "3B" if downside else "3A"
        return category, f"FFS reconciled against a cost target, {how}, linked to quality"
    if kind == "prospective_bundle":
        if not linked:
            return "3N", "prospective episode price (provider bears the cost risk) with no link to quality"
        return "3B", "prospective episode price: provider keeps or loses the difference (downside risk)"
    if kind == "population_based_payment":
        if not linked:
            return "4N", "prospective PBPM for a service line with no link to quality"
        return "4A", "prospective per-beneficiary payment for a defined scope (primary care) replacing FFS"
    if isinstance(component, c.Capitation):
        if not linked:
            return "4N", f"{component.scope} capitation with no link to quality"
        if contract.entity_type == "health_system":
            return "4C", f"{component.scope} capitation of an integrated finance and delivery system"
        return "4B", f"{component.scope} capitation: comprehensive population-based payment"
    return None, f"component type {kind!r} has no HCP-LAN rule"


def classify_lan(contract: Contract, period: str | None = None) -> LanClassification:
    """Classify ``contract`` (as resolved for ``period`` when given) in the HCP-LAN APM Framework.

    Parameters
    ----------
    contract
        A validated contract.
    period
        Apply the contract's glide path up to this period first (e.g. CJR's downside from 2017).

    Returns
    -------
    LanClassification
        The most advanced category any component qualifies for, the component that decided it, and each
        component's own category and reason.
    """
    notes: list[str] = []
    resolved = contract.for_period(period)[0] if period else contract
    link = contract_quality_link(resolved)
    considered = []
    for component in resolved.components:
        category, reason = _component_category(component, resolved, link is not None)
        considered.append(
            ComponentCategory(
                component_id=component.id,
                component_type=component.type,
                category=category,
                reason=reason,
                quality_linked=link is not None,
            )
        )
    ranked = [item for item in considered if item.category is not None]
    if not ranked:
        rule = "no component links payment to quality or value: fee for service (category 1)"
        return LanClassification(
            contract_id=resolved.id,
            category="1",
            name=CATEGORY_NAMES["1"],
            rule=rule,
            deciding_component=None,
            quality_link=link,
            components=tuple(considered),
            declared=contract.hcp_lan_category,
            period=period,
            notes=tuple(notes),
        )
    best = max(ranked, key=lambda item: CATEGORY_ORDER.index(item.category))
    assert best.category is not None
    others = sorted({item.category for item in ranked if item.category != best.category})  # type: ignore[type-var]
    rule = (
        f"{best.category} ({CATEGORY_NAMES[best.category]}): component {best.component_id!r} - {best.reason}"
    )
    if others:
        rule += f"; most advanced category wins over {', '.join(others)}"  # type: ignore[arg-type]
    if best.category in ("3N", "4N"):
        notes.append("no component links payment to quality: not an APM in the LAN framework")
    if contract.hcp_lan_category and contract.hcp_lan_category != best.category:
        notes.append(
            f"the contract declares {contract.hcp_lan_category}; its terms classify as {best.category}"
        )
    return LanClassification(
        contract_id=resolved.id,
        category=best.category,
        name=CATEGORY_NAMES[best.category],
        rule=rule,
        deciding_component=best.component_id,
        quality_link=link,
        components=tuple(considered),
        declared=contract.hcp_lan_category,
        period=period,
        notes=tuple(notes),
    )


def glide_path_stages(contract: Contract) -> list[tuple[str | None, LanCategory]]:
    """The category at the start and after each glide-path step (e.g. CJR: 3A in 2016, 3B from 2017)."""
    stages: list[tuple[str | None, LanCategory]] = [(None, classify_lan(contract).category)]
    for step in sorted({s.period for s in contract.glide_path}):
        stages.append((step, classify_lan(contract, step).category))
    return stages
