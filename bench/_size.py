"""Benchmark size switch shared by the ``bench_*.py`` scripts.

``APMKIT_BENCH_SIZE=tiny`` (or a script's ``--tiny`` flag) replaces the size options with a few hundred
rows, so CI (``make bench-smoke``) imports and runs every script end to end in seconds. Tiny runs print
figures like any other run; they measure nothing worth reading.
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_tiny_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tiny", action="store_true", help="smoke-run size (same as APMKIT_BENCH_SIZE=tiny)")


def is_tiny(args: argparse.Namespace | None = None) -> bool:
    return bool(getattr(args, "tiny", False)) or os.environ.get("APMKIT_BENCH_SIZE") == "tiny"


def shrink(args: argparse.Namespace, **tiny: Any) -> argparse.Namespace:
    """Set the given options to their tiny values when a tiny run was asked for."""
    if is_tiny(args):
        for name, value in tiny.items():
            setattr(args, name, value)
    return args
