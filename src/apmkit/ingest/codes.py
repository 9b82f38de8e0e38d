"""Source code sets shared by several loaders."""

from __future__ import annotations

# NCH claim type code (CCW data dictionary NCH_CLM_TYPE_CD; CCLF IP v38 Table 14 element 5, CLM_TYPE_CD)
# -> canonical claim_type.
NCH_CLAIM_TYPES: dict[str, str] = {
    "10": "hha",
    "20": "snf",
    "30": "snf",
    "40": "outpatient",
    "50": "hospice",
    "60": "inpatient",
    "61": "inpatient",
    "71": "professional",
    "72": "professional",
    "81": "dme",
    "82": "dme",
}

# The Part A (institutional) subset, as CCLF1 carries it.
INSTITUTIONAL_CLAIM_TYPES: dict[str, str] = {
    code: kind for code, kind in NCH_CLAIM_TYPES.items() if code < "70"
}
