"""Risk adjustment specification: which CMS-HCC model, payment year and payment-score adjustments apply.

:class:`RiskAdjustmentSpec` is the ``risk_adjustment:`` section of a contract (composed by
``apmkit.contracts``) and the parameter object of :func:`apmkit.risk.score`.

Payment score for one model (CMS Rate Announcements; docs/reference/methodology.md §7)::

    payment = round(round(raw / normalization_factor, 3) * (1 - coding_intensity_adjustment), 3)

Blended years (e.g. PY2024 67% V24 + 33% V28) normalize each model's raw score with its own factor,
weight the normalized scores, then apply the MA coding-intensity adjustment once to the blend.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class HccModel(StrEnum):
    """CMS risk-adjustment models apmkit scores.

    ``ESRD-V24`` is CMS's CMS-HCC ESRD model on V24 HCCs (the "2023 CMS-HCC ESRD model": dialysis,
    kidney transplant and functioning graft scores for ESRD beneficiaries). ``RxHCC-V08-T`` and
    ``RxHCC-V08-X`` are the two coefficient segments CMS publishes for the PY2026 Part D RxHCC V08 model.
    """

    V24 = "V24"
    V28 = "V28"
    ESRD_V24 = "ESRD-V24"
    RXHCC_V08_T = "RxHCC-V08-T"
    RXHCC_V08_X = "RxHCC-V08-X"


class BlendComponent(BaseModel):
    """One model's share of a blended payment-year score.

    Parameters
    ----------
    model
        CMS-HCC model version.
    weight
        Share of the blended score, between 0 and 1; the components of a blend sum to 1.
    normalization_factor
        Factor the model's raw score is divided by before blending; ``None`` = no normalization (1).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: HccModel
    weight: Decimal = Field(ge=0, le=1)
    normalization_factor: Decimal | None = Field(default=None, gt=0)


class RiskAdjustmentSpec(BaseModel):
    """How members are risk adjusted.

    Parameters
    ----------
    model
        CMS-HCC model version used for raw scores when ``blend`` is empty.
    payment_year
        Payment year: selects the ICD-10 mapping, the coefficients, and age as of February 1.
    blend
        Models and weights for a blended payment year (empty = ``model`` alone, weight 1).
    normalization_factor
        Divisor applied to ``model``'s raw score when ``blend`` is empty; ``None`` = 1 (no normalization).
        CMS publishes a factor per model and payment year (e.g. V28 PY2024 1.015).
    coding_intensity_adjustment
        MA coding-pattern adjustment as a fraction (0.059 = the statutory minimum 5.9%); 0 for FFS/MSSP.

    Examples
    --------
    >>> RiskAdjustmentSpec(model="V28", payment_year=2026).model
    <HccModel.V28: 'V28'>
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: HccModel = HccModel.V28
    payment_year: int = Field(ge=2024, le=2027)
    blend: tuple[BlendComponent, ...] = ()
    normalization_factor: Decimal | None = Field(default=None, gt=0)
    coding_intensity_adjustment: Decimal = Field(default=Decimal("0"), ge=0, lt=1)

    @field_validator("blend")
    @classmethod
    def _blend_models_distinct(cls, blend: tuple[BlendComponent, ...]) -> tuple[BlendComponent, ...]:
        models = [component.model for component in blend]
        if len(models) != len(set(models)):
            raise ValueError("each model may appear only once in blend")
        return blend

    @model_validator(mode="after")
    def _blend_weights_sum_to_one(self) -> RiskAdjustmentSpec:
        if self.blend and sum(component.weight for component in self.blend) != 1:
            raise ValueError("blend weights must sum to 1")
        return self

    @property
    def components(self) -> tuple[BlendComponent, ...]:
        """The blend, or ``model`` alone with weight 1 and ``normalization_factor``."""
        if self.blend:
            return self.blend
        factor = self.normalization_factor
        alone = BlendComponent(model=self.model, weight=Decimal(1), normalization_factor=factor)
        return (alone,)

    @property
    def models(self) -> tuple[HccModel, ...]:
        """Every model whose raw score the spec needs."""
        return tuple(component.model for component in self.components)
