"""The application layer: one object the CLI, the web layer, design and simulation call to run a contract.

>>> from apmkit import Workspace  # doctest: +SKIP
>>> result = Workspace("data/canonical").run("contract.yaml", "2025", out="run-2025")  # doctest: +SKIP
>>> result.settlement.total_net  # doctest: +SKIP
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apmkit.workspace.run import MART_TABLES, Overrides, RunResult, Workspace, read_contract

__all__ = ["MART_TABLES", "Overrides", "RunResult", "Workspace", "read_contract"]


def __getattr__(name: str) -> Any:
    # Imported on first use: a job module of this package (e.g. apmkit.workspace.risk for `apmkit risk
    # score`) must not pay for importing the whole contract run.
    if name in __all__:
        from apmkit.workspace import run

        return getattr(run, name)
    raise AttributeError(name)
