"""Crash-safe coordination in a database: run leases (one orchestrator per run, across hosts), the shot ledger
(each take committed exactly once under at-least-once execution) and a checkpointer fenced by the lease."""

from .db import CoordinationDB, serialised
from .lease import LeaseLost, RunBusy, RunLease
from .saver import FencedSaver
from .shots import ShotLedger, file_sha256, take_id

__all__ = ["CoordinationDB", "FencedSaver", "LeaseLost", "RunBusy", "RunLease", "ShotLedger", "file_sha256",
           "serialised", "take_id"]
