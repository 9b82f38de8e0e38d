"""Declarative table schemas: columns, types, keys and value rules in one place.

A :class:`TableSchema` is the contract a canonical table honours. Loaders conform raw records to it
(``apmkit.ingest.conform``), rejecting the rows that break a rule; domain code relies on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Parameters
    ----------
    name
        Column name (snake_case, stable: part of the user contract).
    dtype
        ibis type string: ``string``, ``date``, ``timestamp``, ``int32``, ``int64``, ``float64``,
        ``boolean`` or ``decimal(p, s)``.
    required
        A NULL or empty value rejects the row.
    allowed
        The closed set of permitted values (codes); anything else rejects the row.
    min_value
        Lowest permitted numeric value (e.g. 0 for units).
    pattern
        Regular expression a string value must match (e.g. ``^[0-9]{10}$`` for an NPI).
    description
        What the column means, shown in the generated data dictionary.
    """

    name: str
    dtype: str
    required: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    pattern: str | None = None
    description: str = ""

    @property
    def ibis_type(self) -> dt.DataType:
        return ibis.dtype(self.dtype)

    @property
    def arrow_type(self) -> pa.DataType:
        return self.ibis_type.to_pyarrow()


@dataclass(frozen=True)
class TableSchema:
    """A canonical table: name, version, ordered columns and primary key."""

    name: str
    version: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    description: str = ""
    provenance_columns: tuple[str, ...] = field(default=("source_format", "source_file", "source_line"))

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate column in schema {self.name}")
        missing = set(self.primary_key) - set(names)
        if missing:
            raise ValueError(f"primary key columns {sorted(missing)} not in schema {self.name}")

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __getitem__(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ibis_schema(self) -> ibis.Schema:
        return ibis.schema({c.name: c.ibis_type for c in self.columns})

    def arrow_schema(self) -> pa.Schema:
        metadata = {b"apmkit.table": self.name.encode(), b"apmkit.schema_version": self.version.encode()}
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns], metadata=metadata)

    def empty_arrow(self) -> pa.Table:
        return self.arrow_schema().empty_table()

    def select_from(self, table: ibis.Table) -> ibis.Table:
        """Project ``table`` onto this schema: declared order, declared types, absent columns as NULL."""
        exprs = []
        for column in self.columns:
            if column.name in table.columns:
                exprs.append(table[column.name].cast(column.ibis_type).name(column.name))
            else:
                exprs.append(ibis.null(column.ibis_type).name(column.name))
        return table.select(exprs)


def columns(*cols: Column | Sequence[Column]) -> tuple[Column, ...]:
    """Flatten columns and column groups (e.g. the 25 diagnosis columns) into one tuple."""
    flat: list[Column] = []
    for item in cols:
        if isinstance(item, Column):
            flat.append(item)
        else:
            flat.extend(item)
    return tuple(flat)
