"""Several payers' feeds in one canonical folder: ``apmkit ingest FORMAT PATH --payer P --into DIR``.

Layout of a multi-payer folder ``DIR``::

    DIR/payers/<P>/          each payer's own ingest output (tables, quarantine, ingest_report.json)
    DIR/<table>.parquet      the combined canonical tables every command reads
    DIR/member_persons.parquet   each payer's member matched to one person id across payers
    DIR/ingest_report.json   the combined report (format ``multi-payer``)

Loading payer ``P`` replaces ``DIR/payers/P`` only and rebuilds the combined tables from every payer's
folder. The whole of ``DIR`` is rebuilt in a staging folder beside it (the other payers' files are
hard-linked, not copied) and swapped in only when the load succeeded, so a failed load leaves ``DIR`` as it
was.

Combined tables: those with a ``payer`` column (enrollment, claims and their history, ``adt_events``) are the
union of the payers' rows, each stamped with its payer (so in a multi-payer folder a claim is identified by
``payer`` and ``claim_id``). Person-level tables (members, member_xref, providers, clinical) are the union
with one row per key: the row of the first payer in name order wins.

Person matching (``member_persons``): a payer's member is matched by ``member_xref`` (any payer's crosswalk
from an identifier to the current one), else by the member's ``mbi`` (``members.mbi``, for a payer whose own
member ids are not MBIs), else by the member id itself (the same MBI at two payers is one person); the
result is mapped once more through ``member_xref`` so an old MBI reaches the current one.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import ibis

from apmkit.engines import Engine, check_output, parquet_path, staged_output
from apmkit.errors import ConfigurationError
from apmkit.ingest.pipeline import Staged, is_ingest_output, load_database, run
from apmkit.ingest.report import IngestReport, TableCounts
from apmkit.schemas import MEMBER_PERSONS, SCHEMA_VERSION, TABLES

FORMAT = "multi-payer"
PAYERS = "payers"
PAYER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PAYER_TABLES = tuple(
    name for name, schema in TABLES.items() if "payer" in schema.names and name != MEMBER_PERSONS.name
)
"""Tables whose rows carry their payer."""
PERSON_TABLES = tuple(name for name in TABLES if name not in PAYER_TABLES and name != MEMBER_PERSONS.name)
Progress = Callable[[str], None]


def check_payer(payer: str) -> str:
    """A payer name is also a folder name: letters, digits, ``.``, ``_`` and ``-`` (at most 64)."""
    if not PAYER_NAME.match(payer) or payer in (".", ".."):
        raise ConfigurationError(
            f"--payer {payer!r}: use letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)"
        )
    return payer


def stamp_payer(staged: Staged, payer: str) -> Staged:
    """Set ``payer`` on every staged row of a table that has a payer column (the feed is that payer's)."""
    for name, parts in staged.tables.items():
        if name in PAYER_TABLES:
            staged.tables[name] = [part.mutate(payer=ibis.literal(payer, "string")) for part in parts]
    return staged


def is_multi_payer(folder: Path) -> bool:
    return (folder / PAYERS).is_dir()


def check_into(into: Path) -> None:
    """``--into`` is a new or empty folder, or a multi-payer folder written earlier."""
    into = Path(into)
    check_output(into, accept_existing=is_ingest_output)
    if into.is_dir() and any(into.iterdir()) and not is_multi_payer(into):
        raise ConfigurationError(
            f"--into {into}: not a multi-payer folder (no {PAYERS}/ inside); load payers into a new folder"
        )


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link (else copy) every file of ``source`` under ``target``."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)


def load_into(
    engine: Engine,
    staged: Staged,
    payer: str,
    into: Path,
    *,
    database: Path | None = None,
    on_step: Progress | None = None,
    memory_limit: str | None = None,
) -> IngestReport:
    """Replace ``payer``'s rows in the multi-payer folder ``into`` with ``staged``; return the payer's report."""
    into = Path(into)
    check_payer(payer)
    check_into(into)
    step = on_step or (lambda _msg: None)
    stamp_payer(staged, payer)
    with staged_output(into, accept_existing=is_ingest_output) as staging:
        payers_dir = staging / PAYERS
        payers_dir.mkdir()
        if is_multi_payer(into):
            for folder in sorted((into / PAYERS).iterdir()):
                if folder.is_dir() and folder.name != payer:
                    step(f"keep payer {folder.name}")
                    _link_tree(folder, payers_dir / folder.name)
        report = run(engine, staged, payers_dir / payer, on_step=on_step, memory_limit=memory_limit)
        step("combine payers")
        written = combine(engine, payers_dir, staging)
        if database is not None:
            step("load database")
            load_database(database, written)
    return report


def _payers(payers_dir: Path) -> list[str]:
    return sorted(p.name for p in payers_dir.iterdir() if p.is_dir())


def combine(engine: Engine, payers_dir: Path, out: Path) -> dict[str, Path]:
    """Write the combined tables, ``member_persons`` and the combined report under ``out``."""
    payers = _payers(payers_dir)
    written: dict[str, Path] = {}
    warnings: list[str] = []
    for name in PAYER_TABLES + PERSON_TABLES:
        schema = TABLES[name]
        parts = []
        for rank, payer in enumerate(payers):
            path = parquet_path(payers_dir / payer, name)
            if path is not None:
                table = engine.read_table(path, schema)
                parts.append(table.mutate(_rank=ibis.literal(rank, "int32")))
        if not parts:
            continue
        union = ibis.union(*parts) if len(parts) > 1 else parts[0]
        if name == "members" and len(parts) > 1:
            conflicts = engine.count(_conflicting_members(union))
            if conflicts:
                warnings.append(
                    f"{conflicts} member ids are loaded by more than one payer with a different birth date or sex: "
                    "the row of the first payer in name order is kept (give the other payer's members their MBI "
                    "in members.mbi or a member_xref crosswalk if they are different people)"
                )
        if name in PERSON_TABLES and schema.primary_key and len(parts) > 1:
            window = ibis.window(group_by=[union[k] for k in schema.primary_key], order_by=[union._rank])
            union = union.mutate(_n=ibis.row_number().over(window))
            union = union.filter(union._n == 0)
        written[name] = engine.write_parquet(schema.select_from(union), out / f"{name}.parquet")
    persons = member_persons(engine, payers_dir, payers, written)
    if persons is not None:
        written[MEMBER_PERSONS.name] = engine.write_parquet(persons, out / f"{MEMBER_PERSONS.name}.parquet")
    report = combined_report(payers_dir, payers, out)
    report.warnings.extend(warnings)
    report.write(out / "ingest_report.json")
    return written


def _conflicting_members(members: ibis.Table) -> ibis.Table:
    """Member ids that several payers load with different birth dates or sexes (each payer is a ``_rank``)."""
    per_id = members.group_by("member_id").aggregate(
        payers=members._rank.nunique(),
        births=members.birth_date.nunique(),
        sexes=members.sex.nunique(),
    )
    return per_id.filter((per_id.payers > 1) & ((per_id.births > 1) | (per_id.sexes > 1)))


def member_persons(
    engine: Engine, payers_dir: Path, payers: list[str], written: dict[str, Path]
) -> ibis.Table | None:
    """One row per payer and member id with the person id matched across payers (module docstring)."""
    ids: list[ibis.Table] = []
    mbis: list[ibis.Table] = []
    for payer in payers:
        members_path = parquet_path(payers_dir / payer, "members")
        if members_path is not None:
            members = engine.read_table(members_path, TABLES["members"])
            keyed = members.select(payer=ibis.literal(payer, "string"), member_id=members.member_id)
            ids.append(keyed)
            mbis.append(
                members.filter(members.mbi.notnull()).select(
                    payer=ibis.literal(payer, "string"), member_id=members.member_id, mbi=members.mbi
                )
            )
    for name in PAYER_TABLES:
        if name in written and not name.endswith("_history"):
            table = engine.read_table(written[name], TABLES[name])
            ids.append(table.select(payer=table.payer, member_id=table.member_id))
    if not ids:
        return None
    keys = ibis.union(*ids, distinct=True) if len(ids) > 1 else ids[0].distinct()
    keys = keys.filter(keys.payer.notnull() & keys.member_id.notnull())
    if "member_xref" in written:
        xref = engine.read_table(written["member_xref"], TABLES["member_xref"]).select(
            "previous_id", "member_id"
        )
    else:
        xref = engine.empty(TABLES["member_xref"]).select("previous_id", "member_id")
    first = xref.rename(_xref1="member_id")
    second = xref.rename(_xref2="member_id")
    joined = keys.left_join(first, keys.member_id == first.previous_id).drop("previous_id")
    if mbis:
        mbi = ibis.union(*mbis) if len(mbis) > 1 else mbis[0]
        mbi = mbi.group_by(["payer", "member_id"]).agg(_mbi=mbi.mbi.min())
        joined = joined.left_join(
            mbi, (joined.payer == mbi.payer) & (joined.member_id == mbi.member_id)
        ).drop("payer_right", "member_id_right")
    else:
        joined = joined.mutate(_mbi=ibis.null("string"))
    joined = joined.mutate(_key=ibis.coalesce(joined._xref1, joined._mbi, joined.member_id))
    joined = joined.left_join(second, joined._key == second.previous_id).drop("previous_id")
    matched_by = ibis.cases(
        (joined._xref1.notnull(), "member_xref"),
        (joined._mbi.notnull(), "mbi"),
        (joined._xref2.notnull(), "member_xref"),
        else_="member_id",
    )
    persons = joined.select(
        payer=joined.payer,
        member_id=joined.member_id,
        person_id=ibis.coalesce(joined._xref2, joined._key),
        matched_by=matched_by,
        source_format=ibis.literal(FORMAT),
        source_file=ibis.null("string"),
        source_line=ibis.null("int64"),
    )
    return MEMBER_PERSONS.select_from(persons)


def combined_report(payers_dir: Path, payers: list[str], out: Path) -> IngestReport:
    """The payers' reports summed per table (quarantine entries keep their payer)."""
    report = IngestReport(format=FORMAT, source=str(out), schema_version=SCHEMA_VERSION, files=list(payers))
    for payer in payers:
        path = payers_dir / payer / "ingest_report.json"
        if not path.is_file():
            raise ConfigurationError(f"{path}: missing; the payer folder {payer} is incomplete")
        own = IngestReport.read(path)
        for name, counts in own.tables.items():
            total = report.tables.setdefault(name, TableCounts())
            total.read += counts.read
            total.loaded += counts.loaded
            total.quarantined += counts.quarantined
            if counts.final_action is not None:
                total.final_action = (total.final_action or 0) + counts.final_action
                total.superseded = (total.superseded or 0) + (counts.superseded or 0)
        report.checks.extend(own.checks)
        report.warnings.extend(f"{payer}: {warning}" for warning in own.warnings)
        report.quarantine.extend({"payer": payer, **entry} for entry in own.quarantine)
    return report


__all__ = [
    "FORMAT",
    "PAYER_TABLES",
    "check_into",
    "check_payer",
    "combine",
    "is_multi_payer",
    "load_into",
    "member_persons",
    "stamp_payer",
]
