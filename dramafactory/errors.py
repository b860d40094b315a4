"""Errors a user can act on: each names the cause and the fix, and the CLI prints it on one line."""

from __future__ import annotations


class DramaError(Exception):
    def __init__(self, cause: str, fix: str):
        self.cause = cause
        self.fix = fix
        super().__init__(f"{cause} (fix: {fix})")


    def __reduce__(self):  # noqa: ANN204 - pickling protocol
        # Pickled across processes (Ray workers): rebuilt from its attributes, not by calling __init__ with the one
        # joined message that Exception.args holds (subclasses take other arguments, e.g. BudgetReached).
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[DramaError], args: tuple, state: dict) -> DramaError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error
