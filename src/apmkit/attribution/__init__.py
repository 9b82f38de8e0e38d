"""Attribution: which entity, TIN or clinician is accountable for each member.

See ``docs/attribution.md`` for methods, inputs and outputs.
"""

from apmkit.attribution.spec import (
    AttributionSpec,
    CodeLists,
    EligibilitySpec,
    EpisodeAnchor,
    EpisodeSpec,
    MsspStepwiseSpec,
    PluralitySpec,
    RosterSpec,
    parse_attribution_spec,
    parse_attribution_specs,
)

__all__ = [
    "AttributionSpec",
    "CodeLists",
    "EligibilitySpec",
    "EpisodeAnchor",
    "EpisodeSpec",
    "MsspStepwiseSpec",
    "PluralitySpec",
    "RosterSpec",
    "parse_attribution_spec",
    "parse_attribution_specs",
]
