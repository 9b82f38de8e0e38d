"""apmkit: an open engine for healthcare Alternative Payment Models.

The package is layered (see ARCHITECTURE.md): ``engines`` owns every connection and file read/write;
``schemas`` defines the canonical tables; domain packages (``ingest``, ``attribution``, ``risk``, ...)
transform ibis tables; ``workspace`` runs a contract end to end; ``cli`` and ``web`` are thin shells over it.
"""

from typing import Any

from apmkit.errors import ApmkitError

__version__ = "0.1.0"

__all__ = ["ApmkitError", "Workspace", "__version__"]


def __getattr__(name: str) -> Any:
    # The application layer is imported on first use so `import apmkit` stays light.
    if name == "Workspace":
        from apmkit.workspace import Workspace

        return Workspace
    raise AttributeError(name)
