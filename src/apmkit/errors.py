"""User-facing errors.

Every error a user can cause (bad file, bad option, bad contract) is an :class:`ApmkitError` whose message
names the file, row and field involved. The CLI prints the message and exits with status 2 instead of a
traceback. Messages never contain member data (PHI): they name positions and fields, not values.
"""

from __future__ import annotations


class ApmkitError(Exception):
    """An error caused by the user's input or configuration, with a message meant for them."""

    exit_code = 2


class InputFileError(ApmkitError):
    """A whole input file cannot be read (missing, wrong layout, missing required columns)."""

    def __init__(self, path: object, message: str, *, line: int | None = None, field: str | None = None):
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line
        self.field = field


class ConfigurationError(ApmkitError):
    """An option, contract or settings value is invalid."""
