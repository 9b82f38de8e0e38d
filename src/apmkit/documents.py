"""The one reader for YAML documents and small CSV files that every command shares.

YAML: safe types only, floats as exact :class:`~decimal.Decimal`, duplicate keys rejected (YAML's "last one
wins" silently drops a term), aliases rejected (a few hundred bytes of nested aliases expand to gigabytes)
and the text bounded in size. CSV: UTF-8 with or without a byte-order mark, header names stripped.
Errors name the document and the line, never a value.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from apmkit.errors import ConfigurationError, InputFileError

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
"""A contract or settings document larger than this is refused (the largest template is ~6 KB)."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases or duplicate keys; floats become exact decimals."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "aliases (*name) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_SPECIAL_FLOATS = {".nan": "NaN", ".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity"}


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    # YAML's .nan / .inf become Decimal NaN / Infinity, which the models reject naming the field
    special = _SPECIAL_FLOATS.get(text.lower())
    return Decimal(special if special is not None else text.replace("_", ""))


_StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def parse_yaml(text: str, source: str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """Parse YAML text strictly (see the module docstring).

    Raises
    ------
    ConfigurationError
        Naming ``source`` and the line of the first problem.
    """
    if len(text.encode("utf-8", errors="replace")) > max_bytes:
        raise ConfigurationError(f"{source}: larger than {max_bytes:,} bytes")
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigurationError(f"{source}{where}: not valid YAML ({problem})") from None


def read_text(path: Path, what: str = "file", *, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """A small text document (UTF-8, byte-order mark dropped); missing, oversized or undecodable is an error."""
    if not path.is_file():
        raise InputFileError(path, f"no such {what}")
    if path.stat().st_size > max_bytes:
        raise InputFileError(path, f"larger than {max_bytes:,} bytes")
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read the {what} ({exc.__class__.__name__})") from None


def read_yaml(path: Path, what: str = "YAML file") -> Any:
    """Read and strictly parse a YAML file."""
    return parse_yaml(read_text(path, what), str(path))


def read_csv_header(path: Path) -> list[str]:
    """The stripped header names of a CSV file (UTF-8, with or without a byte-order mark), for readers that
    then load the body column-wise (pyarrow)."""
    if not path.is_file():
        raise InputFileError(path, "no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        raise InputFileError(path, "not UTF-8 text") from None
    except csv.Error as exc:
        raise InputFileError(path, f"not valid CSV ({exc.__class__.__name__})") from None
    if not header or not any(name.strip() for name in header):
        raise InputFileError(path, "no header row", line=1)
    return [name.strip() for name in header]


def read_csv_rows(path: Path, *, required: tuple[str, ...] = ()) -> tuple[list[str], list[dict[str, Any]]]:
    """Header names (stripped) and the rows of a small CSV file, BOM-safe.

    Raises
    ------
    InputFileError
        The file is missing, has no header, or lacks a ``required`` column (named).
    """
    if not path.is_file():
        raise InputFileError(path, "no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            if not header or not any(name.strip() for name in header):
                raise InputFileError(path, "no header row", line=1)
            names = [name.strip() for name in header]
            reader.fieldnames = names
            lowered = {name.lower() for name in names}
            for column in required:
                if column.lower() not in lowered:
                    raise InputFileError(path, "missing required column", line=1, field=column)
            # values beyond the header land under the key None (csv.DictReader's restkey), so a reader can
            # reject such a row instead of dropping the extra values
            rows: list[dict[str, Any]] = list(reader)
    except UnicodeDecodeError:
        raise InputFileError(path, "not UTF-8 text") from None
    except csv.Error as exc:
        raise InputFileError(path, f"not valid CSV ({exc.__class__.__name__})") from None
    return names, rows


__all__ = [
    "MAX_DOCUMENT_BYTES",
    "parse_yaml",
    "read_csv_header",
    "read_csv_rows",
    "read_text",
    "read_yaml",
]
