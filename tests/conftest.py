"""Test configuration.

``--engine duckdb`` (default) or ``--engine pyspark`` chooses the backend behind the ``engine`` fixture, so
the conformance tests run on either. Tests marked ``spark`` always run on PySpark local (the parity subset
in ``make test``) and are skipped when Java is missing.
"""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from apmkit.engines import Engine

FIXTURES = Path(__file__).parent / "fixtures"

# One OpenMP thread per test process (set before anything loads the OpenMP runtime, which reads it once).
# ``make test`` runs two xdist workers on two cores: scikit-learn's gradient boosting (the prediction report)
# with a team of threads per worker spin-waited for cores the other worker held, and a fit of 200 trees on
# a few hundred members took 50 s instead of half a second (same predictions: the threads split the work of
# each tree, not the trees).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Compiling an ibis expression deep-copies large sqlglot trees, and each copy of thousands of objects set off
# the cyclic collector's first generation again and again: a quarter of a small ingest test's samples were in
# gc_collect (py-spy). Collecting less often cut the user CPU of tests/finance/test_loaders.py and
# tests/reports/test_performance_reports.py by about 13 % (25.1 -> 21.9 s); memory held by cycles is freed later,
# not leaked.
gc.set_threshold(100_000, 50, 1_000)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--engine", default="duckdb", choices=["duckdb", "pyspark"], help="backend for `engine`")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    for item in items:
        if item.get_closest_marker("spark") is not None and "spark_engine" in getattr(
            item, "fixturenames", ()
        ):
            # One xdist worker owns the JVM (``--dist loadgroup``); a test that starts its own (spark-submit)
            # runs on any worker.
            item.add_marker(pytest.mark.xdist_group("spark"))
        elif _uses_a_module_fixture(item):
            # A module's tests that share a module fixture (a population, a run) run on one worker, which
            # builds it once; spread over both workers, each built it.
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    result = yield  # the other plugins' hooks, xdist's among them
    if getattr(config.option, "loadgroup", False):
        _name_groups(items)
    return result


def _uses_a_module_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture built once for its module (module scope, or written in the module)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    module = item.nodeid.split("::")[0]
    for name in getattr(item, "fixturenames", ()):
        definitions = info.name2fixturedefs.get(name)
        if not definitions:
            continue
        fixture = definitions[-1]
        # a session fixture written in the test module serves that module only
        if fixture.scope in ("class", "module") or fixture.baseid == module:
            return True
    return False


def _name_groups(items: list[pytest.Item]) -> None:
    """Suffix each grouped test's id with ``@group``, which is how ``--dist loadgroup`` sends a group to one
    worker. pytest-xdist 3.8 writes the suffix to ``item._nodeid``, which pytest 9.2 no longer reads (the id is
    ``item._id``): no group ever formed and every worker started its own JVM. Done here only when the suffix
    is missing, so a fixed xdist takes over."""
    from _pytest.nodeid import NodeId

    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if names and item.nodeid.rfind("@") <= item.nodeid.rfind("]"):  # xdist's own test for a suffix
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(names))}")


def _spark_available() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None


# Settings of the parity subset's session in ``make test`` (tiny tables): Spark's per-query costs, not the
# data, set these tests' time, and most of it is compiling generated Java for each query (whole-stage code
# generation) and planning more shuffle partitions than a few rows fill. Spark computes the same results
# interpreted, on fewer partitions; ``--engine pyspark`` (``make test-spark``) keeps apmkit's own settings.
PARITY_SUBSET_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    # the same for the expressions that whole-stage generation no longer covers (projections, predicates,
    # orderings): Spark's interpreted implementations instead of generated and compiled Java
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}
# The JVM's own compiler: a session of a few minutes that runs each query once never earns back the C2
# compiler's optimizing compilations, which took cores from the other worker; nor does a small heap need
# parallel garbage collection threads. Measured on tests/attribution/test_spark_parity.py: 81 s of JVM CPU
# time with the defaults, 42 s with these and the factory mode above.
PARITY_SUBSET_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@contextmanager
def _driver_java_options(options: str) -> Iterator[None]:
    """Launch the driver JVM with ``options`` (``spark.driver.defaultJavaOptions``, which apmkit does not set;
    its own ``extraJavaOptions`` come after), through the arguments PySpark gives ``spark-submit``; the
    environment is restored once the JVM runs, so other tests' ``spark-submit`` processes start unchanged."""
    previous = os.environ.get("PYSPARK_SUBMIT_ARGS")
    os.environ["PYSPARK_SUBMIT_ARGS"] = f"--conf 'spark.driver.defaultJavaOptions={options}' pyspark-shell"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["PYSPARK_SUBMIT_ARGS"]
        else:
            os.environ["PYSPARK_SUBMIT_ARGS"] = previous


@pytest.fixture(scope="session")
def spark_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if not _spark_available():
        pytest.skip("PySpark or Java not installed")
    full = request.config.getoption("--engine") == "pyspark"
    if full:
        engine = Engine.spark(driver_memory="2g", shuffle_partitions=4)
    else:
        with _driver_java_options(PARITY_SUBSET_JAVA_OPTIONS):
            engine = Engine.spark(driver_memory="2g", shuffle_partitions=2)
        for key, value in PARITY_SUBSET_CONF.items():
            engine._spark.conf.set(key, value)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def duckdb_engine() -> Iterator[Engine]:
    engine = Engine.duckdb()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The engine chosen with --engine (DuckDB by default)."""
    if request.config.getoption("--engine") == "pyspark":
        yield request.getfixturevalue("spark_engine")
    else:
        yield request.getfixturevalue("duckdb_engine")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
