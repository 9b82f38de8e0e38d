"""apmkit: an open engine for healthcare Alternative Payment Models.

The package is layered (see ARCHITECTURE.md): ``engines`` owns every connection and file read/write;
``schemas`` defines the canonical tables; domain packages (``ingest``, ``attribution``, ``risk``, ...)
transform ibis tables; ``cli`` (and later ``api``/``web``) are thin shells over the library.
"""

from apmkit.errors import ApmkitError

__version__ = "0.1.0"

__all__ = ["ApmkitError", "__version__"]
