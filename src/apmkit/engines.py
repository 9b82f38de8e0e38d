"""Engines: the only module that opens connections and reads or writes tables.

Domain code receives ibis tables and returns ibis tables. An :class:`Engine` wraps one ibis backend
(DuckDB, embedded and the default; or PySpark local/cluster for data that outgrows one machine) and
provides the few I/O operations the rest of apmkit needs: Arrow in, Parquet in and out, materialize.

The same ibis expression runs unchanged on both backends; ARCHITECTURE.md lists the conventions that
keep results identical (integer-cent money, guarded divisors, explicit casts after reading).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import expressions as exp

from apmkit.errors import ConfigurationError, InputFileError
from apmkit.schemas import TABLES, TableSchema

EngineName = Literal["duckdb", "pyspark"]
_SPARK_LOCAL_ROWS = 100_000
"""Arrow tables up to this size become Spark DataFrames in memory; larger ones go through Parquet."""
ENGINE_NAMES: tuple[str, ...] = ("duckdb", "pyspark")


def spark_submitted_conf() -> dict[str, str]:
    """The Spark settings this process was launched with by ``spark-submit`` (empty when it was not).

    Under ``spark-submit`` the JVM starts first and hands its settings to Python through the gateway;
    a plain ``python`` process has none until apmkit builds its own session.
    """
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return {}
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # connects to spark-submit's JVM; starts nothing of its own
    return dict(SparkConf(loadDefaults=True).getAll())


class Engine:
    """A connection to one execution engine.

    Parameters
    ----------
    backend
        A connected ibis backend.
    name
        ``"duckdb"`` or ``"pyspark"``.

    Examples
    --------
    >>> engine = Engine.duckdb()
    >>> t = engine.from_arrow(pa.table({"x": [1, 2, 3]}))
    >>> engine.to_arrow(t.x.sum().name("total")).to_pylist()
    [{'total': 6}]
    """

    def __init__(
        self,
        backend: Any,
        name: EngineName,
        *,
        spark_session: Any = None,
        workdir: Path | None = None,
        spill_dir: Path | None = None,
    ):
        self.backend = backend
        self.name: EngineName = name
        self._spark = spark_session
        self._workdir = workdir
        self._spill_dir = spill_dir
        self._scratch: str | None = None
        self.memory_limit: str | None = None
        """The memory limit chosen when the engine was created (None: the engine's default)."""
        self.configured_memory_limit: str | None = None
        """The limit the engine was opened with, chosen or :func:`default_memory_limit` (DuckDB only)."""

    # ---- construction -------------------------------------------------------------------------------
    @classmethod
    def duckdb(
        cls,
        database: str | Path = ":memory:",
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_directory: str | Path | None = None,
    ) -> Engine:
        """Embedded DuckDB, in memory by default or backed by a database file.

        ``memory_limit`` (e.g. ``"4GB"``; ``APMKIT_MEMORY_LIMIT`` when None, else
        :func:`default_memory_limit`: the smaller of 6 GB and half the machine's memory, where DuckDB's own default
        of 80 % of RAM took a 1M-member run past 12 GB) bounds the engine's buffers; what does not fit spills to
        ``temp_directory``
        (``APMKIT_TEMP_DIR`` when None). Without either, the engine spills to a private folder of its own
        under the system temp folder, removed when the engine closes (DuckDB's own default is ``.tmp`` in
        the current folder).
        """
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        chosen = memory_limit or os.environ.get("APMKIT_MEMORY_LIMIT")
        config["memory_limit"] = _check_memory_limit(chosen) if chosen else default_memory_limit()
        parent = temp_directory or os.environ.get("APMKIT_TEMP_DIR")
        if parent:
            Path(parent).mkdir(parents=True, exist_ok=True)
        spill_dir = Path(tempfile.mkdtemp(prefix="apmkit-duckdb-", dir=parent or None))
        config["temp_directory"] = str(spill_dir)
        try:
            backend = ibis.duckdb.connect(str(database), **config)
        except Exception:
            shutil.rmtree(spill_dir, ignore_errors=True)
            raise
        engine = cls(backend, "duckdb", spill_dir=spill_dir)
        # Only a limit somebody chose: ingest applies its own (smaller) default when none was.
        engine.memory_limit = config["memory_limit"] if chosen else None
        engine.configured_memory_limit = config["memory_limit"]
        # An engine that is never closed still leaves no spill folder behind.
        weakref.finalize(engine, shutil.rmtree, spill_dir, True)
        return engine

    @classmethod
    def spark(
        cls,
        master: str | None = None,
        *,
        driver_memory: str | None = None,
        shuffle_partitions: int | None = None,
    ) -> Engine:
        """A PySpark session configured for parity with DuckDB: local by default, or the cluster of
        ``spark-submit``.

        Settings come, first to last: an argument given here, ``APMKIT_SPARK_MASTER`` for the master, what
        ``spark-submit`` was given (``--master``, ``--conf``, ``spark-defaults.conf``), then apmkit's local
        defaults (``local[2]``, 4g driver memory, 8 shuffle partitions). The parity settings (UTC session
        time zone, Arrow transfer) are always applied.
        """
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise ConfigurationError(
                "the Spark engine needs the optional extra: pip install 'apmkit[spark]'"
            ) from exc
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise ConfigurationError(
                "the Spark engine needs Java 17 or later (apt-get install openjdk-17-jre-headless)"
            )
        # Spark workers must run this interpreter, where apmkit's dependencies are installed.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        workdir = Path(tempfile.mkdtemp(prefix="apmkit-spark-"))
        submitted = spark_submitted_conf()
        chosen = {
            "spark.master": master or os.environ.get("APMKIT_SPARK_MASTER"),
            "spark.driver.memory": driver_memory,
            "spark.sql.shuffle.partitions": None if shuffle_partitions is None else str(shuffle_partitions),
        }
        local_defaults = {
            "spark.master": "local[2]",
            "spark.driver.memory": "4g",
            "spark.sql.shuffle.partitions": "8",
            "spark.sql.warehouse.dir": str(workdir / "warehouse"),
            "spark.ui.enabled": "false",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={workdir}",
        }
        builder = SparkSession.builder.appName("apmkit")
        for key, default in local_defaults.items():
            value = chosen.get(key) or (None if key in submitted else default)
            if value is not None:
                builder = builder.config(key, value)
        builder = (
            builder.config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        )
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        _complete_pyspark_compiler()
        engine = cls(None, "pyspark", spark_session=session, workdir=workdir)
        engine.backend = _spark_backend(engine).connect(session)
        return engine

    @classmethod
    def connect(
        cls,
        name: str | None = None,
        *,
        database: str | Path | None = None,
        memory_limit: str | None = None,
        temp_directory: str | Path | None = None,
    ) -> Engine:
        """Connect by name; ``APMKIT_ENGINE`` chooses when ``name`` is None (DuckDB by default).

        ``memory_limit`` and ``temp_directory`` apply to DuckDB (see :meth:`duckdb`); Spark sizes itself
        from its own configuration.
        """
        chosen = (name or os.environ.get("APMKIT_ENGINE") or "duckdb").lower()
        if chosen == "duckdb":
            return cls.duckdb(
                database or os.environ.get("APMKIT_DUCKDB") or ":memory:",
                memory_limit=memory_limit,
                temp_directory=temp_directory,
            )
        if chosen in ("pyspark", "spark"):
            return cls.spark()
        raise ConfigurationError(f"unknown engine {chosen!r}: choose one of {', '.join(ENGINE_NAMES)}")

    def close(self) -> None:
        if self._spark is not None:
            self._remove_shared_scratch()
            self._spark.stop()
            self._spark = None
        else:
            self._release_cached_tables()
            self.backend.disconnect()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)
            self._spill_dir = None

    def _remove_shared_scratch(self) -> None:
        """Delete the tables materialized under ``spark.checkpoint.dir`` (the local work folder goes with
        the engine)."""
        if not self._scratch or self._workdir is None or self._scratch.startswith(str(self._workdir)):
            return
        jvm = self._spark.sparkContext._jvm
        path = jvm.org.apache.hadoop.fs.Path(self._scratch)
        path.getFileSystem(self._spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)

    @contextmanager
    def settings(
        self, *, memory_limit: str | None = None, preserve_insertion_order: bool | None = None
    ) -> Iterator[None]:
        """Apply DuckDB settings for the duration of a block, then restore the previous values.

        ``memory_limit`` sets the buffer-manager limit; ``preserve_insertion_order=False`` lets DuckDB stream results whose row order does not
        matter without buffering them. On Spark this is a no-op.
        """
        if self.name != "duckdb":
            yield
            return
        con = self.backend.con
        changes: dict[str, str] = {}
        if memory_limit is not None:
            changes["memory_limit"] = _check_memory_limit(memory_limit)
        if preserve_insertion_order is not None:
            changes["preserve_insertion_order"] = "true" if preserve_insertion_order else "false"
        previous: dict[str, str] = {}
        for key, value in changes.items():
            row = con.execute("SELECT value FROM duckdb_settings() WHERE name = ?", [key]).fetchone()
            previous[key] = row[0]
            con.execute(f"SET {key} = '{value}'")
        try:
            yield
        finally:
            for key, value in previous.items():
                if key == "memory_limit":
                    # The displayed value is rounded ("18.8 GiB"): go back to the chosen limit or the default.
                    opened_with = self.memory_limit or self.configured_memory_limit
                    if opened_with:
                        con.execute(f"SET memory_limit = '{opened_with}'")
                    else:
                        con.execute("RESET memory_limit")
                else:
                    con.execute(f"SET {key} = '{value}'")

    def _release_cached_tables(self) -> None:
        """Forget the tables ibis's ``.cache()`` made on this connection before it closes.

        Each cached table is dropped by a finalizer when its expression is collected; collected after
        the connection closed, the finalizer fails ("Connection already closed"). Temporary tables
        end with the connection anyway, so the finalizers are detached instead.
        """
        entries = getattr(self.backend, "_cache_name_to_entry", {})
        for entry in entries.values():
            entry.finalizer.detach()
        entries.clear()
        getattr(self.backend, "_cache_op_to_entry", {}).clear()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Engine({self.name})"

    # ---- data in ------------------------------------------------------------------------------------
    def from_arrow(self, data: pa.Table, name: str | None = None) -> ibis.Table:
        """Register an Arrow table with the engine and return it as an ibis table."""
        table_name = name or f"apmkit_{uuid.uuid4().hex[:12]}"
        if self.name == "pyspark":
            if data.num_rows > _SPARK_LOCAL_ROWS and self._workdir is not None:
                # A DataFrame made from Arrow is a local relation held in the query plan itself; every
                # plan rewrite copies it, and at 1.6M rows Spark's analyzer ran out of a 4 GB heap.
                # Larger tables go through a Parquet file in the engine's work folder instead.
                path = self._workdir / "arrow" / f"{table_name}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(data, path)
                self._spark.read.parquet(str(path)).createOrReplaceTempView(table_name)
                return self.backend.table(table_name)
            # Spark 4 builds a typed DataFrame straight from Arrow (decimals and dates intact). Columns
            # must share one chunk layout: with differing chunk boundaries rows came out misaligned.
            self._spark.createDataFrame(data.combine_chunks()).createOrReplaceTempView(table_name)
            return self.backend.table(table_name)
        return self.backend.create_table(table_name, data, temp=True)

    def from_rows(self, rows: Iterable[Mapping[str, Any]], schema: TableSchema) -> ibis.Table:
        """Build a table of ``schema`` from Python rows (tests and small reference data)."""
        arrow = pa.Table.from_pylist(list(rows), schema=schema.arrow_schema())
        return self.from_arrow(arrow)

    def read_parquet(self, path: str | Path) -> ibis.Table:
        """Read a Parquet file or a folder of Parquet parts."""
        p = Path(path)
        if not p.exists():
            raise InputFileError(p, "no such file or folder")
        source = str(p / "*.parquet") if p.is_dir() and self.name == "duckdb" else str(p)
        return self.backend.read_parquet(source)

    def read_parquet_numbered(self, path: str | Path) -> ibis.Table:
        """Read one Parquet file with ``source_line``: the 1-based row number within the file."""
        p = Path(path)
        if not p.is_file():
            raise InputFileError(p, "no such file")
        if self.name == "duckdb":
            table = self.backend.read_parquet(str(p), file_row_number=True)
            return table.mutate(source_line=table.file_row_number + 1).drop("file_row_number")

        data = pq.read_table(p)
        return self.from_arrow(
            data.append_column("source_line", pa.array(range(1, data.num_rows + 1), pa.int64()))
        )

    def read_table(self, path: str | Path, schema: TableSchema) -> ibis.Table:
        """Read a Parquet table and cast it to ``schema`` (inferred types differ between engines)."""
        return schema.select_from(self.read_parquet(path))

    def empty(self, schema: TableSchema) -> ibis.Table:
        return self.from_arrow(schema.empty_arrow())

    def canonical(self, directory: str | Path) -> CanonicalTables:
        """Open the canonical tables written by ``apmkit ingest`` or ``apmkit synth`` in ``directory``."""
        return CanonicalTables(self, Path(directory))

    # ---- data out -----------------------------------------------------------------------------------
    def to_arrow(self, expr: ibis.Expr) -> pa.Table:
        return self.backend.to_pyarrow(expr)

    def rows(self, expr: ibis.Table) -> list[dict[str, Any]]:
        """The rows of a (small) table as dicts: the ``fetch`` hook domain code takes (apmkit.portable.Fetch)."""
        return self.to_arrow(expr).to_pylist()

    def execute(self, expr: ibis.Expr) -> Any:
        return self.backend.execute(expr)

    def materialize(self, expr: ibis.Table, name: str | None = None) -> ibis.Table:
        """Compute ``expr`` once and keep the result (a temp table), so later steps do not recompute it."""
        table_name = name or f"apmkit_{uuid.uuid4().hex[:12]}"
        if self.name == "pyspark":
            return self._spark_materialize(expr, table_name)
        return self.backend.create_table(table_name, expr, temp=True)

    def stage(self, expr: ibis.Table, name: str | None = None) -> ibis.Table:
        """Compute ``expr`` once into a Parquet file of the engine's private scratch folder and read it from there.

        For tables too large to keep as :meth:`materialize` keeps them. A DuckDB temp table holds its rows
        uncompressed, in memory and then in the spill folder: the open-gaps inputs of a 1M-member run (own
        clinical records and the claims read as clinical evidence) filled 70 GB of disk that way, where the
        same 12.2 million rows of 100,000 members take 0.15 GB of Parquet (against 1.7 GB of temp table and
        6.1 GB spilled) and were computed in 41 s instead of 64 s. The file is removed when the engine closes.
        On Spark this is :meth:`materialize`, which already keeps its tables as Parquet.
        """
        if self.name == "pyspark":
            return self.materialize(expr, name)
        if self._spill_dir is None:  # every open DuckDB engine has its own; a closed one has none
            raise RuntimeError("stage() on a closed engine")
        path = self._spill_dir / f"{name or 'apmkit_' + uuid.uuid4().hex[:12]}.parquet"
        staged = self.read_parquet(self.write_parquet(expr, path))
        # Parquet round-trips some types with a different ibis spelling (timestamp as timestamp(6)): the staged
        # table keeps the expression's own schema, so it unions and joins as the expression did.
        return staged if staged.schema() == expr.schema() else staged.cast(expr.schema())

    def _spark_materialize(self, expr: ibis.Table, table_name: str) -> ibis.Table:
        """Compute ``expr`` now and keep it as Parquet (or checkpointed blocks), cutting its lineage.

        A cached DataFrame (ibis's ``.cache()``) keeps the whole query that made it: every later query's
        plan embeds the plans of all the cached tables it reads, so plans grew to megabytes and Spark spent
        most of a run analysing and optimizing them. A table read back from Parquet is a plain file scan
        with a known size, so Spark broadcasts the small ones instead of shuffling both sides of a join.
        """
        # ibis registers in-memory tables (ibis.memtable) only when it executes; register them first.
        self.backend._run_pre_execute_hooks(expr)
        return self._spark_keep(self._spark.sql(self.backend.compile(expr)), table_name)

    def _spark_keep(self, frame: Any, table_name: str) -> ibis.Table:
        scratch = self._spark_scratch()
        if scratch is None:  # a cluster with no shared folder: keep the rows on the executors
            frame = frame.localCheckpoint(eager=True)
        else:
            path = f"{scratch}/{table_name}"
            frame.write.parquet(path)
            frame = self._spark.read.parquet(path)
        frame.createOrReplaceTempView(table_name)
        return self.backend.table(table_name)

    def _spark_scratch(self) -> str | None:
        """Where Spark materializes intermediate tables: ``spark.checkpoint.dir`` when set (a folder every
        executor reaches, e.g. HDFS or object storage), else the engine's local work folder on a local
        master; None on a cluster with neither."""
        if self._scratch is None:
            conf = self._spark.sparkContext.getConf()
            shared = conf.get("spark.checkpoint.dir", None)
            if shared:
                self._scratch = f"{shared.rstrip('/')}/apmkit-{uuid.uuid4().hex[:12]}"
            elif conf.get("spark.master", "local").startswith("local") and self._workdir is not None:
                self._scratch = str(self._workdir / "materialized")
            else:
                self._scratch = ""
        return self._scratch or None

    def write_parquet(self, expr: ibis.Table, path: str | Path) -> Path:
        """Write a table to Parquet: one file on DuckDB, a folder of parts on Spark."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
        self.backend.to_parquet(expr, str(p))
        return p

    def save_table(self, expr: ibis.Table, name: str) -> None:
        """Store a table in the engine's own database (a DuckDB file, or Spark's catalog)."""
        self.backend.create_table(name, expr, overwrite=True)

    def count(self, expr: ibis.Table) -> int:
        return int(self.backend.execute(expr.count()))


_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def _parse_size(text: str) -> int | None:
    """Bytes in a DuckDB size such as ``4GB``, ``3.7 GiB`` or ``512MB``; None when it is not one."""
    import re

    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not match:
        return None
    unit = (match.group(2) or "b").lower()
    if unit in ("k", "m", "g", "t"):
        unit += "b"
    factor = _SIZE_UNITS.get(unit)
    return None if factor is None else int(float(match.group(1)) * factor)


def default_memory_limit() -> str:
    """DuckDB's buffer limit when nobody chose one: the smaller of 6 GB and half the machine's memory.

    Measured on the demo contract at 1M members: with DuckDB's default (80 % of RAM) the run grew past 12 GB;
    under a 6 GB limit it peaked at 6.4 GB and gave the same marts (docs/run.md, Performance)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: no way to ask, keep the cap
        physical = 0
    cap = 6 * 1000**3
    limit = min(cap, physical // 2) if physical > 0 else cap
    return f"{max(limit, 64 * 1000**2) // 1000**2}MB"


def _check_memory_limit(limit: str) -> str:
    size = _parse_size(limit)
    if size is None or size < 64 * 1000**2:
        raise ConfigurationError(f"memory limit {limit!r}: expected a size of at least 64MB, such as 4GB")
    return limit.replace(" ", "")


# ---- output folders written whole or not at all ---------------------------------------------------------
OUTPUT_MARKER = ".apmkit-output"
"""File in every folder written through :func:`staged_output`: only such folders (or empty ones) are replaced."""

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def restrict_permissions(path: Path) -> None:
    """Make ``path`` (a file or a folder tree) owner-only: 0600 files and 0700 folders."""
    path = Path(path)
    if path.is_dir():
        os.chmod(path, PRIVATE_DIR_MODE)
        for root, dirs, files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), PRIVATE_DIR_MODE)
            for name in files:
                os.chmod(os.path.join(root, name), PRIVATE_FILE_MODE)
    elif path.exists():
        os.chmod(path, PRIVATE_FILE_MODE)


def _replaceable(out: Path, accept: Callable[[Path], bool] | None) -> bool:
    if not out.is_dir():
        return False
    if (out / OUTPUT_MARKER).exists() or not any(out.iterdir()):
        return True
    return accept is not None and accept(out)


def check_output(out: Path, *, accept_existing: Callable[[Path], bool] | None = None) -> None:
    """Raise :class:`ConfigurationError` unless :func:`staged_output` may write (or replace) ``out``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"output {out}: exists and is not a folder")
    if out.exists() and not _replaceable(out, accept_existing):
        raise ConfigurationError(
            f"output {out}: folder exists and holds files apmkit did not write; choose a new or empty folder"
        )


@contextmanager
def staged_output(
    out: str | Path, *, private: bool = True, accept_existing: Callable[[Path], bool] | None = None
) -> Iterator[Path]:
    """Write an output folder whole or not at all.

    Yields a new, empty staging folder beside ``out`` (same file system). When the block ends normally,
    the staging folder replaces ``out``: ``out`` is renamed aside, the staging folder renamed to ``out``,
    and the old folder removed, so ``out`` never holds a mix of two runs. When the block raises (or the
    process is interrupted), the staging folder is removed and ``out`` is left exactly as it was.

    An existing ``out`` is replaced only when it is empty, was written through this function (it holds
    :data:`OUTPUT_MARKER`), or ``accept_existing(out)`` says so; anything else (say ``--out .``) is a
    :class:`ConfigurationError` raised before anything is written. With ``private`` (the default),
    the folder is 0700 and every file in it 0600 (outputs hold member data).
    """
    out = Path(out)
    check_output(out, accept_existing=accept_existing)
    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=parent))
    try:
        yield staging
        (staging / OUTPUT_MARKER).write_text("written by apmkit; replaced whole by the next run\n")
        if private:
            restrict_permissions(staging)
        else:
            os.chmod(staging, 0o777 & ~_umask())
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename ``staging`` to ``out``, replacing an existing ``out`` folder."""
    if not out.exists():
        os.rename(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(old, out)  # put the previous output back
        raise
    shutil.rmtree(old, ignore_errors=True)


class ParquetSink:
    """Stream a canonical table to one Parquet file, a row group per write, in bounded memory.

    Columns not supplied are written as NULLs of the declared type, so each part matches the schema.
    """

    def __init__(self, path: Path, schema: TableSchema):

        self.path = Path(path)
        self.schema = schema
        self.rows = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self.path, schema.arrow_schema(), compression="zstd")

    def write(self, columns: Mapping[str, pa.Array], *, source_format: str | None = None) -> None:
        if not columns:
            return
        n = len(next(iter(columns.values())))
        arrays = []
        for column in self.schema.columns:
            if column.name in columns:
                arrays.append(columns[column.name].cast(column.arrow_type))
            elif column.name == "source_format" and source_format is not None:
                arrays.append(pa.array([source_format] * n, pa.string()))
            else:
                arrays.append(pa.nulls(n, column.arrow_type))
        self.write_table(pa.Table.from_arrays(arrays, schema=self.schema.arrow_schema()))

    def write_table(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parquet_path(directory: Path, table: str) -> Path | None:
    """Where ``table`` lives under ``directory``: ``table.parquet`` file or folder, else None."""
    candidate = directory / f"{table}.parquet"
    if candidate.exists():
        return candidate
    folder = directory / table
    if folder.is_dir() and any(folder.glob("*.parquet")):
        return folder
    return None


class CanonicalTables(Mapping[str, ibis.Table]):
    """The canonical tables of one data folder, opened lazily and cast to their schemas.

    Tables missing from the folder are returned empty (with the right columns), so a domain step that
    needs, say, ``pharmacy_claims`` works on data that has none.
    """

    def __init__(self, engine: Engine, directory: Path):
        if not directory.is_dir():
            raise InputFileError(
                directory, "not a folder of canonical tables (run `apmkit ingest` or `apmkit synth`)"
            )
        self.engine = engine
        self.directory = directory
        self._cache: dict[str, ibis.Table] = {}

    def __getitem__(self, name: str) -> ibis.Table:
        if name not in TABLES:
            raise KeyError(name)
        if name not in self._cache:
            path = parquet_path(self.directory, name)
            schema = TABLES[name]
            self._cache[name] = self.engine.read_table(path, schema) if path else self.engine.empty(schema)
        return self._cache[name]

    def __getattr__(self, name: str) -> ibis.Table:
        if name.startswith("_") or name not in TABLES:
            raise AttributeError(name)
        return self[name]

    def __iter__(self) -> Iterator[str]:
        return iter(TABLES)

    def __len__(self) -> int:
        return len(TABLES)

    def present(self) -> list[str]:
        """Names of the tables that exist in the folder."""
        return [name for name in TABLES if parquet_path(self.directory, name) is not None]


def _complete_pyspark_compiler() -> None:
    """Teach ibis's PySpark compiler the aggregates Spark SQL has but ibis 12 does not map.

    ``bit_or`` (an integer column's ``bit_or()``): Spark SQL has had the aggregate since 3.0; ibis maps
    it for DuckDB only. Risk scoring ORs each member's interaction-group bits with it.
    """
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    def visit_bit_or(self: Any, op: Any, *, arg: Any, where: Any = None, **_: Any) -> Any:
        return self.agg.bit_or(arg, where=where)

    PySparkCompiler.visit_BitOr = visit_bit_or


_SHARED_WORK = (exp.Join, exp.Group, exp.Distinct, exp.Union, exp.Window, exp.AggFunc, exp.Explode)
"""A subquery read more than once is computed once on Spark when it does any of this work; a plain scan,
filter or projection is cheaper to read again than to write."""


_WITH = "with_" if "with_" in exp.Select.arg_types else "with"  # sqlglot 28 renamed the argument


def _spark_backend(engine: Engine) -> Any:
    """ibis's PySpark backend, computing the subqueries a query reads more than once only once.

    ibis writes a subquery that a query reads in several places as a common table expression. DuckDB
    materializes such CTEs; Spark inlines every deterministic CTE at each reference, so a query that reads
    the risk-eligible diagnoses eight times scanned and exploded the claims eight times (plans of
    megabytes, dozens of broadcast jobs). Here each CTE that joins, groups, deduplicates, unions, explodes
    or windows is computed first, kept as Parquet (:meth:`Engine.materialize`), and read from there.
    """
    from ibis.backends.pyspark import Backend

    _ = ibis.pyspark  # loading the backend through ibis registers its options (ibis.options.pyspark)

    class SharingBackend(Backend):
        def compile(
            self, expr: Any, /, *, limit: Any = None, params: Any = None, pretty: bool = False
        ) -> str:
            query = self.compiler.to_sqlglot(expr, limit=limit, params=params)
            ctes = query.args.get(_WITH)
            if ctes is not None:
                query = _compute_shared(engine, query, ctes)
            sql: str = query.sql(dialect=self.dialect, pretty=pretty, copy=False)
            self._log(sql)
            return sql

    return SharingBackend()


def _compute_shared(engine: Engine, query: exp.Expression, ctes: exp.With) -> exp.Expression:
    """``query`` without its costly CTEs: each is computed once, in order, and read back as a table."""
    renamed: dict[str, str] = {}
    kept: list[exp.CTE] = []
    for cte in ctes.expressions:
        body = _rename_tables(cte.this, renamed)
        if body.find(*_SHARED_WORK) is None:
            kept.append(exp.CTE(this=body, alias=cte.args["alias"]))
            continue
        if kept:
            body = body.copy()
            body.set(_WITH, exp.With(expressions=[k.copy() for k in kept]))
        name = f"apmkit_{uuid.uuid4().hex[:12]}"
        frame = engine._spark.sql(body.sql(dialect=engine.backend.dialect))
        engine._spark_keep(frame, name)
        renamed[cte.alias] = name
    query = _rename_tables(query, renamed)
    query.set(_WITH, exp.With(expressions=kept) if kept else None)
    return query


def _rename_tables(tree: exp.Expression, renamed: Mapping[str, str]) -> exp.Expression:
    """``tree`` with its references to the tables in ``renamed`` pointed at their new names (aliased to
    the old name, so qualified columns still resolve)."""
    if not renamed:
        return tree
    for table in tree.find_all(exp.Table):
        new = renamed.get(table.name)
        if new is None or table.args.get("db") or table.args.get("catalog"):
            continue
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name, quoted=True)))
        table.set("this", exp.to_identifier(new, quoted=True))
    return tree
