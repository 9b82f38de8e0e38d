"""Quality: eCQMs and claims measures evaluated set-based over the canonical tables, gaps in care and
quality scoring (MSSP quality performance standard, generic points scorecards).

Entry points: :func:`evaluate` / :func:`evaluate_measures` (populations per patient),
:func:`care_gaps` (open gaps), :func:`score_mssp` / :func:`score_points` (entity scores); the measures are
in :data:`ECQM_DEFINITIONS`, the contract section is :class:`QualitySpec`. See docs/quality.md.
"""

from apmkit.quality.ecqm import ECQM_DEFINITIONS, MeasureDefinition
from apmkit.quality.evaluate import POPULATIONS, evaluate, evaluate_definition, evaluate_measures
from apmkit.quality.gaps import care_gaps
from apmkit.quality.scoring import final_sharing_rate, measure_rates, score_mssp, score_points
from apmkit.quality.spec import MeasurementPeriod, QualitySpec

__all__ = [
    "ECQM_DEFINITIONS",
    "POPULATIONS",
    "MeasureDefinition",
    "MeasurementPeriod",
    "QualitySpec",
    "care_gaps",
    "evaluate",
    "evaluate_definition",
    "evaluate_measures",
    "final_sharing_rate",
    "measure_rates",
    "score_mssp",
    "score_points",
]
