"""The application layer: one object the CLI, the web layer, design and simulation call to run a contract.

>>> from apmkit import Workspace  # doctest: +SKIP
>>> result = Workspace("data/canonical").run("contract.yaml", "2025", out="run-2025")  # doctest: +SKIP
>>> result.settlement.total_net  # doctest: +SKIP
"""

from apmkit.workspace.run import MART_TABLES, Overrides, RunResult, Workspace, read_contract

__all__ = ["MART_TABLES", "Overrides", "RunResult", "Workspace", "read_contract"]
