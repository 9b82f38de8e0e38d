"""Quality: eCQMs and claims measures evaluated set-based over the canonical tables, gaps in care and
quality scoring (MSSP quality performance standard, generic points scorecards)."""

from apmkit.quality.spec import MeasurementPeriod, QualitySpec

__all__ = ["MeasurementPeriod", "QualitySpec"]
