"""APM classification: HCP-LAN category, the QPP Advanced APM test, QP status and a payer's portfolio."""

from apmkit.classify.lan import (
    CATEGORY_NAMES,
    CATEGORY_ORDER,
    LanClassification,
    classify_lan,
    glide_path_stages,
)
from apmkit.classify.portfolio import PortfolioEntry, portfolio_shares
from apmkit.classify.qpp import AdvancedApmFacts, QpDetermination, advanced_apm, determine_qp, incentive_rate

__all__ = [
    "CATEGORY_NAMES",
    "CATEGORY_ORDER",
    "AdvancedApmFacts",
    "LanClassification",
    "PortfolioEntry",
    "QpDetermination",
    "advanced_apm",
    "classify_lan",
    "determine_qp",
    "glide_path_stages",
    "incentive_rate",
    "portfolio_shares",
]
