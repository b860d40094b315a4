"""A series' spending cap: no new work starts once the run's ledger has spent it.

The spent figure is the ledger's running total (tools/ledger.py: started from the file, so a resumed run counts
what earlier processes spent, then kept up to date as each row is recorded). The nodes check it before they start
work (graphs/policy.check_budget); the check raises BudgetReached, which stops the graph like any failed node: the
checkpoints keep every finished step, so nothing committed is lost, and a resumed run with a higher cap continues
from the node that was stopped. Work already in flight when the cap is reached finishes (docs/accounting.md says by
how much the cap can be overrun).
"""

from __future__ import annotations

import json
from pathlib import Path

from dramafactory.errors import DramaError
from dramafactory.prices import format_usd
from dramafactory.tools.ledger import Ledger

RAISE_FIX = "raise the cap (--budget-usd N or DRAMAFACTORY_BUDGET_USD) and resume with --resume"


class BudgetReached(DramaError):
    """The series has spent its cap: the run stopped before `stage`, resumable once the cap is raised."""

    def __init__(self, name: str, spent_usd: float, cap_usd: float, stage: str):
        self.name, self.spent_usd, self.cap_usd, self.stage = name, spent_usd, cap_usd, stage
        super().__init__(f"series {name!r} has spent {format_usd(spent_usd)} of its {format_usd(cap_usd)} budget; "
                         f"stopped before {stage}", RAISE_FIX)


def series_name(run_dir: Path) -> str:
    """The series' title once the director has written it (bible.json), else the run folder's name."""
    try:
        title = json.loads((run_dir / "bible.json").read_text(encoding="utf-8")).get("title")
    except (OSError, ValueError, AttributeError):
        title = None
    return str(title) if title else run_dir.name


class Budget:
    def __init__(self, cap_usd: float, ledger: Ledger):
        if not cap_usd > 0:  # also refuses NaN
            raise DramaError(f"budget {cap_usd!r} USD is not a positive amount",
                             "pass --budget-usd with a positive number of dollars, or leave it unset for no cap")
        self.cap_usd = float(cap_usd)
        self.ledger = ledger
        ledger.budget_usd = self.cap_usd  # recorded on the run's mark rows, for `dramafactory cost`

    @property
    def spent_usd(self) -> float:
        return self.ledger.spent_usd

    @property
    def left_usd(self) -> float:
        return max(0.0, self.cap_usd - self.spent_usd)

    def check(self, stage: str) -> None:
        """Raise BudgetReached when the series has spent its cap: called before new work starts."""
        spent = self.spent_usd
        if spent >= self.cap_usd:
            raise BudgetReached(series_name(self.ledger.path.parent), spent, self.cap_usd, stage)
