"""ARCHITECTURE.md is kept true: the layering rules, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "apmkit"
ARCHITECTURE = (Path(__file__).parents[2] / "ARCHITECTURE.md").read_text()
DOMAIN_PACKAGES = [
    p.name
    for p in sorted(SRC.iterdir())
    if p.is_dir()
    and (p / "__init__.py").exists()
    and p.name not in {"cli", "ingest", "synth", "schemas", "web", "workspace"}
]
FORBIDDEN = ("duckdb", "pyspark", "apmkit.engines")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_packages_do_not_open_engines(package):
    offenders = []
    for path in sorted((SRC / package).rglob("*.py")):
        for name in imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert not offenders, (
        "domain code must take and return ibis tables; I/O belongs to engines:\n" + "\n".join(offenders)
    )


def test_every_package_is_described_in_architecture_md():
    packages = [p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    missing = [name for name in packages if f"`apmkit.{name}" not in ARCHITECTURE]
    assert not missing, f"add these packages to ARCHITECTURE.md: {missing}"


def test_cli_modules_register_commands():
    for path in sorted((SRC / "cli").glob("*.py")):
        if path.stem in {"__init__", "main", "common"} or path.stem.startswith("_"):
            continue  # shared helpers of the command modules (main.py skips `_` modules)
        tree = ast.parse(path.read_text())
        assert any(isinstance(n, ast.FunctionDef) and n.name == "register" for n in tree.body), path.name


EXECUTING_CALLS = (".to_pyarrow(", ".to_pandas(", ".execute(", ".cache(", ".to_parquet(")


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_packages_execute_no_query(package):
    # Domain code builds expressions; the caller's engine runs them (fetch / materialize hooks).
    offenders = []
    for path in sorted((SRC / package).rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            if any(call in code for call in EXECUTING_CALLS):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert not offenders, "domain code must not execute queries; take fetch/materialize:\n" + "\n".join(
        offenders
    )


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "apmkit" else None


def test_no_two_way_package_dependencies():
    # Every import counts, including those inside functions: a cycle hidden in a function is still a cycle.
    edges: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC)
        if len(relative.parts) < 2:
            continue  # top-level modules (engines.py, money.py, ...) are single-module packages
        package = relative.parts[0]
        for name in imports(path):
            other = _package_of(name)
            if other and other != package and (SRC / other).is_dir():
                edges.setdefault(package, set()).add(other)
    both_ways = sorted(
        f"{a} <-> {b}" for a, targets in edges.items() for b in targets if a < b and a in edges.get(b, set())
    )
    assert not both_ways, "packages importing each other:\n" + "\n".join(both_ways)
