"""`dramafactory eval smoke` on the real embedded default, against the committed baseline (what CI gates on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramafactory.cli import app
from dramafactory.evals.invariants import INVARIANTS

pytestmark = pytest.mark.slow
BASELINE = Path(__file__).resolve().parents[1] / "evals" / "baselines" / "smoke.json"


def test_eval_smoke_passes_against_the_committed_baseline(tmp_path):
    result = CliRunner().invoke(app, ["eval", "smoke", "--out", str(tmp_path), "--compare", str(BASELINE)])
    assert result.exit_code == 0, result.output[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["compare"]["passed"] and not results["compare"]["regressions"]
    suites = {name.split(".")[0] for name in results["metrics"]}
    assert suites == {"bible", "script", "shotlist", "continuity", "e2e", "qc", "cost"}
    # the guarantees are checked on the real production, beside the metrics and not among them
    assert set(results["invariants"]) == set(INVARIANTS) and not set(results["metrics"]) & set(INVARIANTS)
    assert all(row["held"] for row in results["invariants"].values()), results["invariants"]
    assert {"continuity.identity_first_take", "continuity.identity_all_takes"} <= set(results["metrics"])
    assert (tmp_path / "report.html").is_file()
    (case,) = [c for c in results["cases"] if c["id"] == "revenge-s0"]
    assert case["heatmap"]["characters"] and case["contact_sheets"]
