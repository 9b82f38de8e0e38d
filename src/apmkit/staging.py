"""Outputs written to a staging folder and moved into place whole.

A run or an ingest writes everything into ``<out>.staging-<pid>`` next to the output folder; only when every
file is written is the previous output moved aside and the staging folder renamed to ``<out>`` (two renames on
one file system). A failed or interrupted command therefore leaves the previous output whole, and an output
never mixes files of two runs. Folders are created owner-only (0700) and files made owner-only (0600):
outputs hold member-level data.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from apmkit.errors import InputFileError


def owner_only(folder: Path) -> None:
    """Make ``folder`` and everything below it readable by its owner only."""
    folder.chmod(0o700)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            (Path(root) / name).chmod(0o700)
        for name in files:
            (Path(root) / name).chmod(0o600)


def check_output_folder(out: Path) -> None:
    """Refuse an output path that exists as a file or whose parent cannot be created (before any work)."""
    if out.exists() and not out.is_dir():
        raise InputFileError(out, "the output path exists and is not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(
            out.parent, f"cannot create the output folder ({exc.__class__.__name__})"
        ) from None


@contextmanager
def staged_output(out: Path) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``out``, on any error it is removed.

    Examples
    --------
    >>> with staged_output(Path("statement")) as staging:  # doctest: +SKIP
    ...     (staging / "summary.json").write_text("{}")
    """
    out = Path(out)
    check_output_folder(out)
    staging = out.with_name(f"{out.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    try:
        yield staging
        owner_only(staging)
        previous = out.with_name(f"{out.name}.previous-{os.getpid()}")
        if out.exists():
            out.rename(previous)
        staging.rename(out)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


__all__ = ["check_output_folder", "owner_only", "staged_output"]
