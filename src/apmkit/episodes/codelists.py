"""Build the bundled episode code lists from the CMS Innovation Center Shadow Bundles workbooks.

Run once when the workbooks change (not at import time)::

    python -m apmkit.episodes.codelists SOURCE_DIR

``SOURCE_DIR`` holds ``2025_01_21_trigger_list.xlsx`` and ``2025_01_21_medical_code_lists.xlsx``
(CMSgov/CMMI-shadow-bundles @ 8ffc8c9c, CC0 1.0). The output is compact CSV under
``apmkit/episodes/data/`` with a PROVENANCE.md; apmkit reads only the CSV.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
TRIGGER_BOOK = "2025_01_21_trigger_list.xlsx"
CODE_BOOK = "2025_01_21_medical_code_lists.xlsx"


def _rows(path: Path, sheet: str) -> Iterator[tuple[Any, ...]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    yield from book[sheet].iter_rows(values_only=True)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _code(value: Any, width: int) -> str:
    text = _text(value)
    return text.zfill(width) if text.isdigit() else text


def build(source: Path, out: Path = DATA) -> dict[str, int]:
    """Write the CSV code lists; returns row counts per file."""
    triggers = source / TRIGGER_BOOK
    codes = source / CODE_BOOK
    service_line: dict[str, str] = {}
    for row in _rows(triggers, "Service_Line"):
        if isinstance(row[1], int) and row[4]:
            service_line[_text(row[4])] = _text(row[2])
    trigger_rows: list[list[str]] = []
    for row in _rows(triggers, "IP_Anchor_Episode_List"):
        if isinstance(row[1], int) and row[4] is not None:
            trigger_rows.append(
                [
                    _text(row[3]),
                    _text(row[2]),
                    "inpatient",
                    "ms_drg",
                    _code(row[4], 3),
                    _text(row[6]),
                    _text(row[7]),
                    service_line.get(_text(row[3]), ""),
                ]
            )
    for row in _rows(triggers, "OP_Anchor_Episode_List"):
        if isinstance(row[1], int) and row[6] is not None:
            trigger_rows.append(
                [
                    _text(row[3]),
                    _text(row[2]),
                    "outpatient",
                    "hcpcs",
                    _text(row[6]),
                    _text(row[8]),
                    _text(row[9]),
                    service_line.get(_text(row[3]), ""),
                ]
            )
    readmissions = [
        [_code(row[3], 3), _text(row[4])]
        for row in _rows(codes, "Excluded_Readmissions")
        if _text(row[2]) == "MS-DRG" and row[3] is not None
    ]
    part_b = [
        [_text(row[2]), _text(row[4])]
        for row in _rows(codes, "Excluded_Part_B_Drugs")
        if str(row[1]).strip().isdigit() and row[2] is not None
    ]
    divisions = [
        [_text(row[2]), _text(row[3]), _text(row[4])]
        for row in _rows(codes, "State_to_Census_Reg")
        if str(row[1]).strip().isdigit() and row[2] is not None
    ]
    ccn_states = [
        [_code(row[3], 2), _text(row[5])]
        for row in _rows(codes, "CCN_State_Codes")
        if str(row[1]).strip().isdigit() and row[3] is not None
    ]
    tavr = [
        [_text(row[2]), _text(row[4])]
        for row in _rows(triggers, "TAVR Procedure Codes")
        if isinstance(row[1], int) and _text(row[3]) == "ICD-10"
    ]
    outputs = {
        "tavr_px.csv": (["px", "description"], tavr),
        "bpcia_triggers.csv": (
            [
                "episode_id",
                "episode_name",
                "setting",
                "code_type",
                "code",
                "multisetting",
                "medical_surgical",
                "service_line",
            ],
            trigger_rows,
        ),
        "excluded_readmission_drgs.csv": (["ms_drg", "description"], readmissions),
        "excluded_part_b_hcpcs.csv": (["hcpcs", "reason"], part_b),
        "state_census_division.csv": (["state", "census_division", "description"], divisions),
        "ccn_state.csv": (["ccn_prefix", "state"], ccn_states),
    }
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, (header, rows) in outputs.items():
        with (out / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(sorted(rows))
        counts[name] = len(rows)
    return counts


if __name__ == "__main__":  # pragma: no cover - maintenance tool
    print(build(Path(sys.argv[1])))
