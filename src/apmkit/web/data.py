"""Ingestion and data-quality status of the server's ``--data`` folder, for the data page and its API.

What the ingest wrote (``ingest_report.json``: rows read, loaded and quarantined per table, the file checks) -
never the quarantined rows themselves - and the data-quality profile of :func:`apmkit.reports.data_quality.profile`
(the one ``apmkit profile`` prints), computed on request in a worker thread and kept until the next request to
compute it again.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apmkit.errors import ApmkitError, ConfigurationError


class DataStatus:
    """The data folder's ingest report and (once computed) its data-quality profile.

    Parameters
    ----------
    data_dir
        The canonical tables; None = the server has no data.
    engine_name
        ``duckdb`` or ``pyspark``.
    """

    def __init__(self, data_dir: Path | None, engine_name: str = "duckdb"):
        self.data_dir = data_dir
        self.engine_name = engine_name
        self._lock = threading.Lock()
        self._profile: dict[str, Any] | None = None
        self._profiled_at: str | None = None

    def ingest(self) -> dict[str, Any] | None:
        """The ingest report's counts and checks (no quarantined rows), or None when the folder has none."""
        if self.data_dir is None:
            return None
        path = self.data_dir / "ingest_report.json"
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            "format": data.get("format"),
            "source_files": len(data.get("files", [])),
            "schema_version": data.get("schema_version"),
            "tables": data.get("tables", {}),
            "checks": data.get("checks", []),
            "reconciles": data.get("reconciles"),
            "totals": data.get("totals"),
            "warnings": len(data.get("warnings", [])),
        }

    def tables(self) -> list[str]:
        """The canonical tables present in the folder."""
        if self.data_dir is None:
            return []
        return sorted(p.stem for p in self.data_dir.glob("*.parquet"))

    def profile(self) -> tuple[dict[str, Any] | None, str | None]:
        """The last computed profile and when it was computed (UTC), or (None, None)."""
        return self._profile, self._profiled_at

    def compute(self) -> dict[str, Any]:
        """Profile the data folder now (blocking: run it off the event loop); one at a time."""
        from apmkit.engines import Engine
        from apmkit.reports.data_quality import profile

        if self.data_dir is None:
            raise ConfigurationError("no data folder: start the server with --data")
        with self._lock:
            try:
                with Engine.connect(self.engine_name) as engine:
                    result = profile(engine.canonical(self.data_dir), engine.rows).to_dict()
            except ApmkitError:
                raise
            self._profile = result
            self._profiled_at = datetime.now(UTC).isoformat(timespec="seconds")
            return result


__all__ = ["DataStatus"]
