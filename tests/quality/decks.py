"""Test-deck helpers: unpack a CMS eCQM test deck, load it through the FHIR loader, read expectations.

The decks (cqframework/ecqm-content-qicore-2024, CC0) ship some cases twice: once in the case's own folder
and once at the measure root, content-identical but under different resource ids (the MeasureReport's
``evaluatedResource`` names the folder copy). Loading both would count those encounters twice, so the
unpacked tree keeps one copy of resources whose content (all but ``id`` and ``meta``) is identical.
"""

from __future__ import annotations

import csv
import json
import tarfile
from pathlib import Path

from apmkit.engines import CanonicalTables, Engine
from apmkit.ingest import ingest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "quality"
POPULATION_COLUMNS = (
    "initial_population",
    "denominator",
    "denominator_exclusion",
    "denominator_exception",
    "numerator",
    "numerator_exclusion",
)
DECKS = {
    "CMS122": "DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR",
    "CMS165": "ControllingHighBloodPressureFHIR",
    "CMS2": "PCSDepressionScreenAndFollowUpFHIR",
    "CMS529": "CMSFHIR529HybridHospitalWideReadmission",
}


def expected_cases() -> list[dict[str, str]]:
    with open(FIXTURES / "expected_populations_summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def case_names(deck: str, unpacked: Path) -> dict[str, str]:
    """Test case id → MADiE test case name (from the deck's README.txt)."""
    readme = unpacked / deck / "README.txt"
    names = {}
    for line in readme.read_text().splitlines():
        if " = " in line:
            case_id, name = line.split(" = ", 1)
            names[case_id.strip()] = name.strip()
    return names


def unpack(deck: str, target: Path) -> Path:
    """Extract ``<deck>.tests.tar.gz`` into ``target`` and drop content-identical duplicate resources."""
    with tarfile.open(FIXTURES / f"{deck}.tests.tar.gz") as archive:
        archive.extractall(target, filter="data")
    seen: dict[str, str] = {}
    for path in sorted((target / deck).rglob("*.json")):
        resource = json.loads(path.read_text())
        if resource.get("resourceType") in ("MeasureReport", "Patient", "Group"):
            continue
        content = json.dumps({k: v for k, v in resource.items() if k not in ("id", "meta")}, sort_keys=True)
        first_id = seen.setdefault(content, str(resource.get("id")))
        if first_id != str(resource.get("id")):
            path.unlink()
    return target / deck


def load_deck(engine: Engine, deck: str, work: Path) -> CanonicalTables:
    """Unpack ``deck`` under ``work`` and ingest it with the ``fhir`` loader into canonical tables."""
    source = unpack(deck, work / "deck")
    out = work / "canonical"
    ingest(engine, "fhir", source, out)
    return engine.canonical(out)
