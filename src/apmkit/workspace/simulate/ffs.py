"""Fee-for-service receipts of each entity by month, for ``apmkit simulate cashflow``.

The practice's own fee-for-service income is in the canonical ``medical_claims`` table: the lines billed under
one of the entity's TINs (``billing_tin``; the entity's TINs are those of its attributed members in the run's
``attribution.parquet``), their ``paid_amount`` in the month the payer paid them (``processed_date``; the
claim's ``claim_thru_date`` when the claim has no processed date). Lines whose ``claim_thru_date`` falls in the
contract period count (the period's services, whenever paid); every version of a claim counts as paid (an
adjustment or void carries its own, possibly negative, paid amount). One aggregation over the whole table.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import pyarrow as pa

from apmkit.engines import Engine
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.money import to_cents


def ffs_receipts(
    engine: Engine,
    data: Path,
    entity_tins: pa.Table | None,
    start: date,
    end: date,
) -> dict[str, dict[int, int]]:
    """Cents paid per entity and month offset from ``start`` (0 = the period's first month), for the claim lines
    with ``claim_thru_date`` in [``start``, ``end``] billed under the entity's TINs.

    Raises
    ------
    ConfigurationError
        The run has no attribution (no entity TINs), or one TIN belongs to more than one entity.
    InputFileError
        The data folder has no ``medical_claims`` table.
    """
    if entity_tins is None:
        raise ConfigurationError(
            "cashflow: the run wrote no attribution.parquet: fee-for-service receipts need each entity's TINs"
        )
    tables = engine.canonical(data)
    if "medical_claims" not in tables.present():
        raise InputFileError(data, "no medical_claims table in the folder")
    links = engine.from_arrow(entity_tins)
    shared = links.group_by("tin").aggregate(entities=links.entity_id.nunique())
    if engine.to_arrow(shared.filter(shared.entities > 1)).num_rows:
        raise ConfigurationError(
            "cashflow: a TIN belongs to more than one entity in the run's attribution (field tin): "
            "its fee-for-service receipts cannot be assigned"
        )
    claims = tables["medical_claims"]
    thru = claims.claim_thru_date.cast("date")
    in_period = claims.filter(
        (thru >= ibis.literal(start, type="date")) & (thru <= ibis.literal(end, type="date"))
    )
    paid_on = in_period.processed_date.cast("date").fill_null(in_period.claim_thru_date.cast("date"))
    offset = (paid_on.year() - start.year) * 12 + paid_on.month() - start.month
    lines = in_period.select(
        tin=in_period.billing_tin.cast("string"),
        month=offset.cast("int64"),
        cents=to_cents(in_period.paid_amount),
    )
    joined = lines.join(links, lines.tin == links.tin)
    monthly = joined.group_by(["entity_id", "month"]).aggregate(cents=joined.cents.sum())
    result: dict[str, dict[int, int]] = {}
    for row in engine.to_arrow(monthly.order_by(["entity_id", "month"])).to_pylist():
        result.setdefault(str(row["entity_id"]), {})[int(row["month"])] = int(row["cents"])
    return result


__all__ = ["ffs_receipts"]
