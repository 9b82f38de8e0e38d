"""User errors end in one clear line and exit status 2 — never a traceback — through the real command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apmkit", "--quiet", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_missing_input_is_a_clear_error(tmp_path):
    result = run("ingest", "csv", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    # One line, whatever the path's length: rich must not wrap it when stderr is not a terminal.
    assert f"error: {tmp_path / 'nowhere'}: no such file or folder\n" in result.stderr


def test_unknown_format_lists_the_choices(tmp_path):
    result = run("ingest", "hl7v2", str(tmp_path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown format 'hl7v2': choose one of csv, parquet" in " ".join(result.stderr.split())


def test_ingest_then_profile_through_the_command(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "members.csv").write_text("member_id,birth_date,sex\nA,1950-01-01,F\nB,1950-13-01,M\n")
    result = run("ingest", "csv", "in", "--out", "out", "--fail-on-quarantine", cwd=tmp_path)
    assert result.returncode == 1  # one record quarantined, as asked
    assert "members.csv line 3: birth_date: not a valid date (YYYY-MM-DD)" in " ".join(result.stderr.split())
    assert "1950-13-01" not in result.stderr  # values are member data: never printed
    assert (tmp_path / "out" / "members.parquet").exists()
    profile = run("profile", "--from", "out", "--json", "profile.json", cwd=tmp_path)
    assert profile.returncode == 0, profile.stderr
    assert '"members": 1' in (tmp_path / "profile.json").read_text()


# The console script the package installs (pyproject [project.scripts]) is loaded from the installed
# distribution's entry points, exactly as the `apmkit` executable does; the import resolves to the
# checkout in CI (editable install) and to the worktree when PYTHONPATH puts its src first.
_CONSOLE_SCRIPT = (
    "import sys\n"
    "from importlib.metadata import entry_points\n"
    "(script,) = entry_points(group='console_scripts', name='apmkit')\n"
    "sys.argv[0] = 'apmkit'\n"
    "sys.exit(script.load()())\n"
)


def run_console_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CONSOLE_SCRIPT, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


USAGE_ERRORS = [
    (("attribute",), "Missing option '--contract'"),
    (("users", "add"), "Missing argument 'name'"),
    (("--no-such-option",), "No such option: --no-such-option"),
    (("risk", "score", "--no-such-option"), "No such option: --no-such-option"),
    (("no-such-command",), "No such command 'no-such-command'"),
]


def test_usage_errors_exit_2_without_a_traceback(tmp_path):
    failures = []
    for args, message in USAGE_ERRORS:
        for runner in (run_console_script, run):
            result = runner(*args, cwd=tmp_path)
            if result.returncode != 2 or "Traceback" in result.stderr or message not in result.stderr:
                failures.append((runner.__name__, args, result.returncode, result.stderr[-300:]))
    if failures:
        pytest.fail(f"usage errors not reported cleanly: {failures}")


def test_usage_error_names_the_command_as_the_user_typed_it(tmp_path):
    result = run_console_script("attribute", cwd=tmp_path)
    assert result.returncode == 2
    assert "Usage: apmkit attribute [OPTIONS]" in result.stderr
    assert "Try 'apmkit attribute --help' for help." in result.stderr
