"""CMS risk adjustment (CMS-HCC V24, V28; CMS-HCC ESRD V24; RxHCC V08) as ibis expressions over whole populations."""

from apmkit.risk.scoring import RiskScores, cms_payment_spec, payment_scores, score
from apmkit.risk.spec import BlendComponent, HccModel, RiskAdjustmentSpec

__all__ = [
    "BlendComponent",
    "HccModel",
    "RiskAdjustmentSpec",
    "RiskScores",
    "cms_payment_spec",
    "payment_scores",
    "score",
]
