"""Errors and exit codes.

The core raises :class:`LgttError` (or a subclass) for anything the user can fix; the
CLI turns it into ``error: …`` on stderr and exit 2, in one place. Every message says
what is wrong and what to do next.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit codes, as diff(1): 0 same/success, 1 different/failed, 2 error."""

    OK = 0
    DIFFERENT = 1
    ERROR = 2


class LgttError(Exception):
    """A problem the user can fix: bad input, missing database, unknown thread…"""

    exit_status = ExitStatus.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(LgttError):
    """Bad arguments or options."""


class DatabaseError(LgttError):
    """The database is missing, unreadable or not a LangGraph checkpoint database."""


class RefError(LgttError):
    """A thread or checkpoint reference that does not resolve."""


class GraphError(LgttError):
    """The user's graph could not be loaded or does not fit the database."""
