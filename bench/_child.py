"""A command measured as its own child process (shared by the ``bench_*.py`` scripts).

Linux keeps a process's peak RSS across exec, so a command run as a child of a small parent has a peak of its
own; ``os.wait4`` gives it with the child's CPU time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float


def measure(command: list[str]) -> Measured:
    """Run ``command`` as a child process: wall time, its CPU time and its own peak RSS."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            sys.stderr.write(errors.read().decode(errors="replace")[-2000:])
            raise SystemExit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(command[:6])} ...")
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
