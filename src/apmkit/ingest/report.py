"""The ingest report: what was read, loaded and quarantined, per table, and the checks that ran."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TableCounts:
    """Row counts for one canonical table. ``read == loaded + quarantined`` always holds."""

    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    final_action: int | None = None
    superseded: int | None = None

    @property
    def reconciles(self) -> bool:
        return self.read == self.loaded + self.quarantined


@dataclass
class Check:
    """A file-level check (e.g. CCLF0 record counts) and its outcome."""

    name: str
    passed: bool
    detail: str


@dataclass
class IngestReport:
    format: str
    source: str
    schema_version: str
    files: list[str] = field(default_factory=list)
    tables: dict[str, TableCounts] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    written: list[str] = field(default_factory=list, repr=False, compare=False)
    """Tables written to the output folder, in order (not part of the saved report)."""

    @property
    def reconciles(self) -> bool:
        return all(counts.reconciles for counts in self.tables.values())

    @property
    def totals(self) -> TableCounts:
        total = TableCounts()
        for counts in self.tables.values():
            total.read += counts.read
            total.loaded += counts.loaded
            total.quarantined += counts.quarantined
        return total

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("written")
        data["reconciles"] = self.reconciles
        totals = self.totals
        data["totals"] = {"read": totals.read, "loaded": totals.loaded, "quarantined": totals.quarantined}
        return data

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> IngestReport:
        data = json.loads(path.read_text())
        return cls(
            format=data["format"],
            source=data["source"],
            schema_version=data["schema_version"],
            files=data.get("files", []),
            tables={name: TableCounts(**counts) for name, counts in data.get("tables", {}).items()},
            checks=[Check(**c) for c in data.get("checks", [])],
            warnings=data.get("warnings", []),
            quarantine=data.get("quarantine", []),
        )
