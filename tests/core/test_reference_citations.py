"""The repository stands alone: citations point into docs/reference/, and every cited section exists.

Code, tests and docs cite the methodology as ``docs/reference/methodology.md §1.3`` (also ``§1.4-1.5``,
``§5/§8``, ``§1.3 and §1.7 B``). This test fails when a file under src/, tests/, bench/ or docs/ (or a top-level
Markdown file) cites a path into the workspace's shared folder outside the repository, cites a reference file by
its bare name (the old out-of-repo citation form; ``recite.sh`` in the issue 13 report rewrites them), or cites a
``docs/reference/X.md §N`` whose file or section heading does not exist.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).parents[2]
REFERENCE = ROOT / "docs" / "reference"
SCANNED_DIRS = ("src", "tests", "bench", "docs")
TOP_LEVEL = ("README.md", "ARCHITECTURE.md", "CONTRIBUTING.md")
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".yaml",
    ".yml",
    ".txt",
    ".toml",
    ".cfg",
    ".ini",
    ".rst",
    ".html",
    ".j2",
    ".sql",
}
THIS_FILE = Path(__file__).resolve()

# Built from parts so that this file does not match its own patterns.
SHARED_PATH = re.compile(re.escape("..") + r"/shared\b")
NAMES = r"methodology|mssp-settlement-rules|analytics-definitions|engineering-conventions"
BARE_NAME = re.compile(r"(?<![\w/.-])(" + NAMES + r")\.md")
NUMBER = r"\d+(?:\.\d+)*"
CITATION = re.compile(
    r"docs/reference/([\w-]+\.md)`?"
    r"(?:\s*§\s?(" + NUMBER + r"(?:\s*(?:[-–,/]|and)\s*§?\s?" + NUMBER + r")*))?"
)
HEADING = re.compile(r"^#{1,6}\s+(" + NUMBER + r")\.?\s", re.MULTILINE)
# CONTRIBUTING.md states the rule itself ("Tests never read ../shared"), which is not a citation.
SHARED_PATH_ALLOWED = {"CONTRIBUTING.md"}


def sections(markdown: str) -> list[str]:
    """Section numbers of a reference file's headings ("## 1. MSSP" -> "1", "### 1.3 Quality" -> "1.3")."""
    return HEADING.findall(markdown)


def problems(files: dict[str, str], references: dict[str, str]) -> tuple[list[str], int]:
    """Citation problems in ``files`` (path -> text) against ``references`` (file name -> Markdown text).

    Returns the problems (``path:line: reason``) and the number of section citations checked.
    """
    known = {name: set(sections(text)) for name, text in references.items()}
    found: list[str] = []
    checked = 0
    for path, text in files.items():

        def where(offset: int, path: str = path, text: str = text) -> str:
            return f"{path}:{text.count(chr(10), 0, offset) + 1}"

        if path not in SHARED_PATH_ALLOWED:
            found += [
                f"{where(m.start())}: cites the shared folder outside the repository"
                for m in SHARED_PATH.finditer(text)
            ]
        found += [
            f"{where(m.start())}: cites {m.group(0)} by bare name; cite docs/reference/{m.group(0)}"
            for m in BARE_NAME.finditer(text)
        ]
        for m in CITATION.finditer(text):
            name, cited = m.group(1), m.group(2)
            if name not in known:
                found.append(f"{where(m.start())}: docs/reference/{name} does not exist")
                continue
            for number in re.findall(NUMBER, cited or ""):
                checked += 1
                if number not in known[name]:
                    found.append(
                        f"{where(m.start())}: docs/reference/{name} has no section heading §{number}"
                    )
    return found, checked


def repository_files() -> dict[str, str]:
    paths = [ROOT / name for name in TOP_LEVEL if (ROOT / name).exists()]
    for directory in SCANNED_DIRS:
        if (ROOT / directory).is_dir():
            paths += [p for p in (ROOT / directory).rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]
    return {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(paths)
        if p.resolve() != THIS_FILE and "__pycache__" not in p.parts
    }


def reference_files() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(REFERENCE.glob("*.md"))}


def test_every_citation_points_to_an_existing_section_in_the_repository() -> None:
    found, checked = problems(repository_files(), reference_files())
    assert found == []
    # The code, tests and docs cite these sections about 80 times; far fewer means the scan itself broke.
    assert checked >= 60


def test_reference_files_have_unique_section_numbers() -> None:
    for name, text in reference_files().items():
        repeated = [number for number, count in Counter(sections(text)).items() if count > 1]
        assert repeated == [], f"{name} repeats section headings {repeated}"


def test_the_checker_reports_each_kind_of_bad_citation() -> None:
    references = {"methodology.md": "# Title\n## 1. MSSP\n### 1.3 Quality\n### 1.5 Benchmark\n## 7. HCC\n"}
    shared = ".." + "/shared/reference/x.md"
    files = {
        "src/ok.py": "# docs/reference/methodology.md §1.3 and §1.5 step 4; `docs/reference/methodology.md` §7\n",
        "src/range.py": "# docs/reference/methodology.md §1.3-1.5, §7 figures\n",
        "src/missing_section.py": "\n# docs/reference/methodology.md §1.4\n",
        "src/missing_second.py": "# docs/reference/methodology.md §1.3/§1.7 B\n",
        "src/missing_file.py": "# docs/reference/other.md §1\n",
        "tests/bare.py": "# methodology.md §1.3\n",
        "docs/shared.md": f"see {shared}\n",
        "CONTRIBUTING.md": f"Tests never read `{shared[:9]}`.\n",
    }
    found, checked = problems(files, references)
    assert found == [
        "src/missing_section.py:2: docs/reference/methodology.md has no section heading §1.4",
        "src/missing_second.py:1: docs/reference/methodology.md has no section heading §1.7",
        "src/missing_file.py:1: docs/reference/other.md does not exist",
        "tests/bare.py:1: cites methodology.md by bare name; cite docs/reference/methodology.md",
        "docs/shared.md:1: cites the shared folder outside the repository",
    ]
    # ok.py 1.3, 1.5, 7; range.py 1.3, 1.5, 7; missing_section 1.4; missing_second 1.3, 1.7
    assert checked == 9
