"""Synthetic Medicare-like population: ``apmkit synth --members N --years Y --seed S --out DIR``.

Writes the canonical tables (``members``, ``enrollment``, ``medical_claims``, ``pharmacy_claims``,
``providers``, ``clinical``) to ``DIR/<table>.parquet`` in the layout ``apmkit ingest`` produces, so every
command's ``--from DIR`` reads it. Members are generated in chunks and each chunk is appended to the
Parquet files as a row group, so memory stays bounded at any population size. See docs/synth.md for what
the population looks like and the published magnitudes it follows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from apmkit.engines import ParquetSink
from apmkit.errors import ConfigurationError
from apmkit.schemas import PROVIDERS, TABLES
from apmkit.synth.generator import ChunkGenerator, Practices, build_practices

OUTPUT_TABLES = ("members", "enrollment", "medical_claims", "pharmacy_claims", "clinical")


@dataclass
class SynthReport:
    members: int
    years: list[int]
    seed: int
    chunk_size: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return sum(self.rows.values()) / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["rows_per_second"] = round(self.rows_per_second)
        return data


def providers_table(practices: Practices) -> pa.Table:
    """The provider directory: clinicians with TIN and specialty, facilities with CCN."""
    p = practices
    n_pcp, n_spec = len(p.pcp_npi), len(p.specialist_npi)
    facility_npi = np.concatenate(
        [p.hospital_npi, p.snf_npi, p.hha_npi, p.hospice_npi, p.dme_npi, p.pharmacy_npi]
    )
    facility_ccn = np.concatenate([p.hospital_ccn, p.snf_ccn, p.hha_ccn, p.hospice_ccn])
    n_fac = facility_npi.size
    npi = np.concatenate([p.pcp_npi, p.specialist_npi, facility_npi])
    tin = np.concatenate(
        [
            p.pcp_tin,
            p.specialist_tin,
            np.concatenate([p.hospital_tin, np.full(n_fac - len(p.hospital_tin), "")]),
        ]
    )
    specialty = np.concatenate([p.pcp_specialty, p.specialist_specialty, np.full(n_fac, "")])
    kinds = (
        ["hospital"] * len(p.hospital_npi)
        + ["skilled nursing facility"] * len(p.snf_npi)
        + ["home health agency"] * len(p.hha_npi)
        + ["hospice"] * len(p.hospice_npi)
        + ["DME supplier"] * len(p.dme_npi)
        + ["pharmacy"] * len(p.pharmacy_npi)
    )
    names = [f"Clinician {i + 1:05d}" for i in range(n_pcp + n_spec)] + [
        f"{k.title()} {i + 1:04d}" for i, k in enumerate(kinds)
    ]
    organization = [p.tin_names.get(t, "") for t in tin[: n_pcp + n_spec]] + kinds
    ccn = [""] * (n_pcp + n_spec) + list(facility_ccn) + [""] * (n_fac - facility_ccn.size)
    blank = lambda values: [v or None for v in values]  # noqa: E731
    n = npi.size
    data = {
        "npi": list(npi),
        "name": names,
        "entity_type": ["individual"] * (n_pcp + n_spec) + ["organization"] * n_fac,
        "tin": blank(list(tin)),
        "specialty_code": blank(list(specialty)),
        "is_primary_care": [True] * n_pcp + [False] * (n - n_pcp),
        "organization": blank(organization),
        "ccn": blank(ccn),
        "source_format": ["synth"] * n,
        "source_file": [None] * n,
        "source_line": [None] * n,
    }
    return pa.Table.from_pydict(
        {c.name: data.get(c.name, [None] * n) for c in PROVIDERS.columns}, schema=PROVIDERS.arrow_schema()
    )


def generate(
    members: int,
    out: str | Path,
    *,
    years: int = 1,
    end_year: int = 2025,
    seed: int = 42,
    chunk_size: int = 25_000,
    on_progress: Callable[[int], None] | None = None,
) -> SynthReport:
    """Generate ``members`` members over ``years`` calendar years ending with ``end_year`` into ``out``."""
    if members < 1:
        raise ConfigurationError("--members must be at least 1")
    if not 1 <= years <= 10:
        raise ConfigurationError("--years must be between 1 and 10")
    if chunk_size < 1:
        raise ConfigurationError("--chunk-size must be at least 1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    year_list = list(range(end_year - years + 1, end_year + 1))
    report = SynthReport(members=members, years=year_list, seed=seed, chunk_size=chunk_size)
    started = time.perf_counter()
    practices = build_practices(seed, members)
    generator = ChunkGenerator(seed, practices, year_list)
    sinks = {name: ParquetSink(out / f"{name}.parquet", TABLES[name]) for name in OUTPUT_TABLES}
    try:
        for chunk, first in enumerate(range(0, members, chunk_size)):
            count = min(chunk_size, members - first)
            result = generator.generate(chunk, first, count)
            for name, sink in sinks.items():
                sink.write(result.tables[name], source_format="synth")
            if on_progress:
                on_progress(count)
    finally:
        for sink in sinks.values():
            sink.close()
    providers = providers_table(practices)
    with ParquetSink(out / "providers.parquet", PROVIDERS) as sink:
        sink.write_table(providers)
    report.rows = {name: sink.rows for name, sink in sinks.items()}
    report.rows["providers"] = providers.num_rows
    report.seconds = time.perf_counter() - started
    (out / "synth_report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report


__all__ = ["SynthReport", "generate"]
