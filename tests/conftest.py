"""Test configuration.

``--engine duckdb`` (default) or ``--engine pyspark`` chooses the backend behind the ``engine`` fixture, so
the conformance tests run on either. Tests marked ``spark`` always run on PySpark local (the parity subset
in ``make test``) and are skipped when Java is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from apmkit.engines import Engine

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--engine", default="duckdb", choices=["duckdb", "pyspark"], help="backend for `engine`")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("spark") is not None:
            # One xdist worker owns the JVM (``--dist loadgroup``).
            item.add_marker(pytest.mark.xdist_group("spark"))


def _spark_available() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[Engine]:
    if not _spark_available():
        pytest.skip("PySpark or Java not installed")
    engine = Engine.spark(driver_memory="2g", shuffle_partitions=4)
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
