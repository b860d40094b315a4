"""Errors a user can act on: each names the cause and the fix, and the CLI prints it on one line."""

from __future__ import annotations


class DramaError(Exception):
    def __init__(self, cause: str, fix: str):
        self.cause = cause
        self.fix = fix
        super().__init__(f"{cause} (fix: {fix})")
