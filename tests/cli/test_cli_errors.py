"""User errors end in one clear line and exit status 2 — never a traceback — through the real command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


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
