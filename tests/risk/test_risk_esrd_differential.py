"""ESRD V24 against hccinfhir 0.4.0's ``calculate_raf`` on generated populations, plus the invariant that
every member's explanation terms add up to its score.

hypothesis chooses the seed and size of each batch; a seeded generator draws the members (dialysis
continuing enrollees, dialysis new enrollees, community and institutional functioning graft), apmkit
scores a batch in one ibis run, hccinfhir scores each member alone. Segment score and payment HCCs
must agree exactly, except for these investigated differences (docs/risk.md, "ESRD: differences"),
where apmkit follows CMS's software as an independent CMS-cross-validated implementation describes it:

* hccinfhir adds the graft-only factor ``LTI_GE65``/``LTI_LT65`` to dialysis members who are
  institutional (its factor lookup without prefix applies to every segment); CMS's dialysis model has
  ``LTI_Aged``/``LTI_NonAged`` only. The comparison removes that term from hccinfhir's sum.
* hccinfhir keeps the renal HCCs 134-138 (factor 0 in every ESRD segment); CMS removes them. HCC lists
  are compared without them.
* dialysis new enrollees: hccinfhir takes "originally disabled" as OREC 1 and 65+, bands ages 85+ as
  85-89/90-94/95+ and a 64-year-old with OREC 0 as 60-64; CMS's dialysis new-enrollee cells are OREC 1
  at any age, 85+ and 65-69. Those members are not compared (hand cases cover them).
* functioning-graft new enrollees and transplant months are not compared: hccinfhir finds no new-enrollee
  graft cell (it looks up grouped 65-69 bands the table does not have), applies no actuarial adjustment,
  and scores transplant months with graft cells; CMS-checked values cover them in test_risk_esrd.py.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from risk_cases import birth_date_for_age
from test_risk_esrd import CMS_MAPPING, ESRD_PERSON_FIELDS

from apmkit.risk import score

hccinfhir = pytest.importorskip("hccinfhir")
from hccinfhir.model_calculate import calculate_raf  # noqa: E402

PAYMENT_YEAR = 2026
RENAL = {"134", "135", "136", "137", "138"}
CODES = sorted(CMS_MAPPING)
NO_HCC_CODES = ("I10", "R05", "Z0000", "E785", "M545")
DUAL_CODES = ("00", "01", "02", "03", "04", "05", "06", "08", "")
FULL_DUAL = ("02", "04", "08")
KINDS = ("dialysis", "dialysis", "dialysis_ne", "graft_community", "graft_institutional")


def members(rng: random.Random, size: int) -> list[dict[str, object]]:
    population = []
    for i in range(size):
        kind = rng.choice(KINDS)
        population.append(
            {
                "member_id": f"m{i}",
                "kind": kind,
                "age": rng.randint(60, 100) if rng.random() < 0.5 else rng.randint(0, 105),
                "sex": rng.choice(("M", "F")),
                "orec": rng.choice(("0", "1", "2", "2", "3")),
                "dual": rng.choice(DUAL_CODES),
                "institutional": kind == "graft_institutional" or (kind == "dialysis" and rng.random() < 0.2),
                "months": rng.randint(4, 40) if kind.startswith("graft") else None,
                "diagnoses": [
                    rng.choice(CODES) if rng.random() < 0.85 else rng.choice(NO_HCC_CODES)
                    for _ in range(rng.randint(0, 10))
                ],
            }
        )
    return population


def _comparable(member: dict[str, object]) -> bool:
    if member["kind"] != "dialysis_ne":
        return True
    age, orec = member["age"], member["orec"]
    return not ((orec == "1" and age < 65) or (age == 64 and orec == "0") or age >= 85)


def _reference(member: dict[str, object]) -> tuple[Decimal, set[str]]:
    result = calculate_raf(
        list(member["diagnoses"]),
        "CMS-HCC ESRD Model V24",
        age=member["age"],
        sex=member["sex"],
        dual_elgbl_cd=member["dual"] or "NA",
        orec=member["orec"],
        crec="2",  # hccinfhir selects the ESRD segments only for ESRD entitlement
        new_enrollee=member["kind"] == "dialysis_ne",
        lti=bool(member["institutional"]),
        graft_months=member["months"],
    )
    terms = dict(result.coefficients)
    if member["kind"].startswith("dialysis"):
        terms.pop("LTI_GE65", None)
        terms.pop("LTI_LT65", None)
    total = sum((Decimal(str(v)).quantize(Decimal("0.001")) for v in terms.values()), Decimal(0))
    return total, {f"HCC{h}" for h in result.hcc_list if h not in RENAL}


def _tables(engine, batch):
    rows = []
    for m in batch:
        rows.append(
            {
                "member_id": m["member_id"],
                "birth_date": birth_date_for_age(m["age"], PAYMENT_YEAR),
                "sex": m["sex"],
                "orec": m["orec"],
                "ltimcaid": "0",
                "nemcaid": "0",
                "dual_status_code": m["dual"],
                "esrd": "1",
                "institutional": "1" if m["institutional"] else "0",
                "new_enrollee": "1" if m["kind"] == "dialysis_ne" else "0",
                "months_since_transplant": "" if m["months"] is None else str(m["months"]),
            }
        )
    persons = pa.table({f: pa.array([r.get(f, "") for r in rows], pa.string()) for f in ESRD_PERSON_FIELDS})
    pairs = [(m["member_id"], dx) for m in batch for dx in m["diagnoses"]]
    diagnoses = pa.table({"member_id": [p[0] for p in pairs], "dx_code": [p[1] for p in pairs]})
    return engine.from_arrow(persons), engine.from_arrow(diagnoses)


PROPERTY_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "phases": (Phase.explicit, Phase.reuse, Phase.generate),
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@settings(max_examples=6, **PROPERTY_SETTINGS)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), size=st.integers(min_value=300, max_value=600))
def test_esrd_matches_hccinfhir_and_explanations_add_up(engine, seed, size):
    batch = members(random.Random(seed), size)
    persons, diagnoses = _tables(engine, batch)
    result = score(persons, diagnoses, model="ESRD-V24", payment_year=PAYMENT_YEAR)
    rows = {r["member_id"]: r for r in engine.to_arrow(result.scores).to_pylist()}
    assert len(rows) == size
    totals: dict[str, Decimal] = {}
    for term in engine.to_arrow(result.explanations).to_pylist():
        totals[term["member_id"]] = totals.get(term["member_id"], Decimal(0)) + term["coefficient"]
    differences = []
    compared = 0
    for member in batch:
        ours = rows[member["member_id"]]
        assert totals[member["member_id"]] == ours["score"], member
        if not _comparable(member):
            continue
        compared += 1
        expected_score, expected_hccs = _reference(member)
        our_hccs = {h for h in ours["hccs"].split(";") if h}
        if ours["score"] != expected_score or our_hccs != expected_hccs:
            differences.append(
                (member, ours["segment"], ours["score"], expected_score, our_hccs ^ expected_hccs)
            )
    assert compared > size // 2
    assert differences == []
