"""Under ``spark-submit`` the engine runs on the cluster it was submitted to: the master and settings given to
``spark-submit`` win over apmkit's local defaults, and ``APMKIT_SPARK_MASTER`` over both."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark

PROBE = """
from pyspark.sql import SparkSession
from apmkit.engines import Engine

engine = Engine.spark()
session = SparkSession.getActiveSession()
print("SETTINGS", session.sparkContext.master, session.conf.get("spark.sql.shuffle.partitions"),
      session.conf.get("spark.sql.session.timeZone"))
engine.close()
"""


def _settings(tmp_path: Path, command: list[str], **env: str) -> list[str]:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    bin_dir = str(Path(sys.executable).parent)
    inherited = {k: v for k, v in os.environ.items() if k != "APMKIT_SPARK_MASTER"}
    environment = {**inherited, "PATH": bin_dir + os.pathsep + os.environ["PATH"], **env}
    done = subprocess.run(
        [*command, str(script)], capture_output=True, text=True, env=environment, timeout=300, cwd=tmp_path
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("SETTINGS")]
    assert done.returncode == 0 and lines, done.stderr[-2000:]
    return lines[0].split()[1:]


def _spark_submit() -> str:
    found = Path(sys.executable).parent / "spark-submit"
    if not found.exists() or shutil.which("java") is None:
        pytest.skip("spark-submit or Java not available")
    return str(found)


def test_spark_submit_master_and_conf_win_over_local_defaults(tmp_path: Path) -> None:
    submit = _spark_submit()
    settings = _settings(
        tmp_path, [submit, "--master", "local[1]", "--conf", "spark.sql.shuffle.partitions=3"]
    )
    assert settings == ["local[1]", "3", "UTC"]


def test_apmkit_spark_master_wins_over_spark_submit(tmp_path: Path) -> None:
    submit = _spark_submit()
    settings = _settings(tmp_path, [submit, "--master", "local[2]"], APMKIT_SPARK_MASTER="local[1]")
    assert settings == ["local[1]", "8", "UTC"]


def test_plain_python_gets_the_local_defaults(tmp_path: Path) -> None:
    _spark_submit()
    assert _settings(tmp_path, [sys.executable]) == ["local[2]", "8", "UTC"]
