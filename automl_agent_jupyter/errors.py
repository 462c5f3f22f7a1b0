"""Errors by layer. User mistakes are one line; bugs stay tracebacks."""
from __future__ import annotations


class AutoMLError(Exception):
    """Base of every error this package raises on purpose."""


class UserInputError(AutoMLError):
    """The instruction, the options or the data cannot be used as given (shown as one line)."""


class DataError(UserInputError):
    """The data file is missing, unreadable, empty, or cannot support the task."""


class BrainError(AutoMLError):
    """A brain could not answer (LLM unreachable, bad key, unknown model, invalid output)."""


class ExecutionError(AutoMLError):
    """Generated code failed and could not be repaired within the bound."""
