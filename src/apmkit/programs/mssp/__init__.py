"""Medicare Shared Savings Program: settlement rules by year and track, and PUF reproduction."""

from apmkit.programs.mssp.puf import (
    OUTPUT_COLUMNS,
    PufReproduction,
    PufRowResult,
    map_puf_header,
    reproduce_puf,
)
from apmkit.programs.mssp.rules import TRACKS, mssp_terms, one_sided_msr, sequestration_rate

__all__ = [
    "OUTPUT_COLUMNS",
    "TRACKS",
    "PufReproduction",
    "PufRowResult",
    "map_puf_header",
    "mssp_terms",
    "one_sided_msr",
    "reproduce_puf",
    "sequestration_rate",
]
