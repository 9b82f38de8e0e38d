"""Provider capability assessment and the glide path it recommends.

The HCP-LAN roadmap pictures providers moving stepwise from upside-only shared savings (3A) to two-sided risk
(3B) and then to population-based payment (category 4) as their capabilities mature. The assessment rates five
domains from 1 (absent) to 4 (mature) with the rubric below, and recommends the most advanced step every
domain it needs supports. The thresholds are apmkit's reading of that progression, not a published score: they
are stated here and in docs/design.md so a user can disagree with them.

==================  =====================================================================================
domain              levels (1 -> 4)
==================  =====================================================================================
data                claims only on paper / own EHR reports / payer claims feeds analysed monthly /
                    integrated claims + clinical data with risk and cost dashboards
care_management     none / ad hoc for some patients / dedicated care managers for high-risk patients /
                    population-wide programme with risk stratification and transitions of care
quality             no measurement / reports measures / meets benchmarks on most measures /
                    top-decile performance with improvement cycles
financial_reserves  reserves below 50 % of the 95th-percentile downside / 50-100 % / 100-200 % / 200 %+
experience          fee for service only / pay for performance (cat. 2) / upside shared savings (3A) /
                    two-sided risk (3B) or capitation
==================  =====================================================================================

Recommendation: **population-based** (4A/4B) when every domain is at least 3 and experience is 4;
**two-sided** (3B) when every domain is at least 2 and financial reserves and experience are at least 3;
otherwise **upside-only** (3A). Domains below the next step's requirement are listed as gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apmkit.errors import ConfigurationError

DOMAINS: tuple[str, ...] = ("data", "care_management", "quality", "financial_reserves", "experience")

RUBRIC: dict[str, tuple[str, str, str, str]] = {
    "data": (
        "no usable cost or utilisation data",
        "EHR reports only",
        "payer claims feeds analysed at least monthly",
        "integrated claims and clinical data with risk and cost dashboards",
    ),
    "care_management": (
        "no care management",
        "ad hoc care management for some patients",
        "dedicated care managers for high-risk patients",
        "population-wide programme: risk stratification, transitions of care, after-hours access",
    ),
    "quality": (
        "no quality measurement",
        "reports quality measures",
        "meets benchmarks on most measures",
        "top-decile performance with improvement cycles",
    ),
    "financial_reserves": (
        "reserves below 50 % of the 95th-percentile downside",
        "reserves 50-100 % of the downside",
        "reserves 100-200 % of the downside",
        "reserves at least twice the downside",
    ),
    "experience": (
        "fee for service only",
        "pay for performance (category 2)",
        "upside-only shared savings (3A)",
        "two-sided risk (3B) or capitation",
    ),
}

STEPS: tuple[str, ...] = ("upside-only", "two-sided", "population-based")
STEP_CATEGORY = {"upside-only": "3A", "two-sided": "3B", "population-based": "4B"}
STEP_REQUIREMENTS: dict[str, dict[str, int]] = {
    "upside-only": {},
    "two-sided": {
        "data": 2,
        "care_management": 2,
        "quality": 2,
        "financial_reserves": 3,
        "experience": 3,
    },
    "population-based": {
        "data": 3,
        "care_management": 3,
        "quality": 3,
        "financial_reserves": 3,
        "experience": 4,
    },
}


def reserve_level(reserves: Decimal, downside: Decimal) -> int:
    """Financial-reserves level from reserves and the contract's 95th-percentile downside (both $)."""
    if downside <= 0:
        return 4
    cover = reserves / downside
    if cover >= 2:
        return 4
    if cover >= 1:
        return 3
    if cover >= Decimal("0.5"):
        return 2
    return 1


@dataclass(frozen=True)
class CapabilityAssessment:
    """Levels by domain, the recommended glide-path step and the gaps to the next step."""

    levels: dict[str, int]
    recommended_step: str
    recommended_category: str
    glide_path: tuple[str, ...]
    gaps: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "levels": {d: {"level": lvl, "meaning": RUBRIC[d][lvl - 1]} for d, lvl in self.levels.items()},
            "recommended_step": self.recommended_step,
            "recommended_category": self.recommended_category,
            "glide_path": list(self.glide_path),
            "gaps_to_next_step": self.gaps,
        }


def assess(levels: dict[str, Any]) -> CapabilityAssessment:
    """Assess capability from a level (1-4) per domain.

    Raises
    ------
    ConfigurationError
        A domain is missing or its level is not 1-4.
    """
    checked: dict[str, int] = {}
    for domain in DOMAINS:
        if domain not in levels:
            raise ConfigurationError(f"capability: {domain}: a level from 1 to 4 is required")
        value = levels[domain]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4:
            raise ConfigurationError(f"capability: {domain}: level must be 1, 2, 3 or 4")
        checked[domain] = value
    unknown = set(levels) - set(DOMAINS)
    if unknown:
        raise ConfigurationError(f"capability: unknown domain(s) {', '.join(sorted(unknown))}")
    reached = "upside-only"
    for step in STEPS:
        if all(checked[d] >= need for d, need in STEP_REQUIREMENTS[step].items()):
            reached = step
    index = STEPS.index(reached)
    gaps: dict[str, str] = {}
    if index + 1 < len(STEPS):
        following = STEPS[index + 1]
        for domain, need in STEP_REQUIREMENTS[following].items():
            if checked[domain] < need:
                gaps[domain] = (
                    f"level {checked[domain]} -> {need} for {following}: {RUBRIC[domain][need - 1]}"
                )
    return CapabilityAssessment(
        levels=checked,
        recommended_step=reached,
        recommended_category=STEP_CATEGORY[reached],
        glide_path=STEPS[index:],
        gaps=gaps,
    )
