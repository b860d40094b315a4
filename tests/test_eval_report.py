"""The eval report: the HTML carries every number and escapes what the metrics wrote, and it renders in a browser."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from PIL import Image

from dramafactory.evals.report import write_ab_report, write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
EVIL = "<script>alert('x')</script> in e01s05"


def _metric(name: str, value: float, passed: bool, threshold, better: str, detail=None) -> dict:
    return {"name": name, "value": value, "passed": passed, "threshold": threshold, "better": better,
            "detail": detail or []}


def make_results(out: Path) -> dict:
    """Two cases, one failed metric with a hostile detail, a regression, a heatmap with a hole, a real PNG sheet."""
    sheet = out / "runs" / "revenge-s0" / "episodes" / "01" / "contact_sheet.png"
    sheet.parent.mkdir(parents=True)
    Image.new("RGB", (1800, 640), (200, 120, 60)).save(sheet)
    cases = []
    for cid, run, fail in (("revenge-s0", 3, True), ("romance-s0", 1, False)):
        cases.append({
            "id": cid, "concept": f"A maid & a heir ({cid})", "genre": cid.split("-")[0], "seed": 0,
            "run_dir": f"runs/{cid}",
            "metrics": [_metric("script.speech", 1.0, True, 1.0, "higher"),
                        _metric("script.dialogue_fit", 0.62, True, [0.35, 0.9], "band"),
                        _metric("shotlist.max_framing_run", run, not fail, 2, "lower",
                                [EVIL, "e01s09: 3 close-ups in a row"] if fail else [])],
            "contact_sheets": ["runs/revenge-s0/episodes/01/contact_sheet.png"] if fail else [],
            "heatmap": {"characters": ["Mira Chen", "Jonas"], "shots": ["e01s01", "e01s02", "e01s03"],
                        "identity": [[1.0, None, 0.81], [0.67, 1.0, None]]} if fail else None,
        })
    return {
        "suite": "smoke", "label": "embedded default", "created": "2026-11-26T01:40:00Z", "seconds": 123.4,
        "passed": False, "settings": {"text_backend": "embedded", "image_backend": "storyboard", "seeds": [0]},
        "cases": cases,
        "metrics": {"script.speech": {"mean": 1.0, "min": 1.0, "max": 1.0, "threshold": 1.0, "better": "higher",
                                          "passed": True, "cases": 2},
                    "script.dialogue_fit": {"mean": 0.62, "min": 0.62, "max": 0.62, "threshold": [0.35, 0.9],
                                            "better": "band", "passed": True, "cases": 2},
                    "shotlist.max_framing_run": {"mean": 2.0, "min": 1, "max": 3, "threshold": 2, "better": "lower",
                                                 "passed": False, "cases": 2}},
        "compare": {"baseline": "evals/baselines/smoke.json", "passed": False, "deltas": {
            "script.speech": {"baseline": 1.0, "now": 0.5, "delta": -0.5, "tolerance": 0.0, "status": "regressed"},
            "script.dialogue_fit": {"baseline": 0.6, "now": 0.62, "delta": 0.02, "tolerance": 0.05, "status": "ok"},
            "shotlist.max_framing_run": {"baseline": 3, "now": 2.0, "delta": -1.0, "tolerance": 0.0,
                                         "status": "improved"}}},
    }


AB = {"a": "baseline", "b": "stricter-qc", "concepts": ["revenge", "romance"], "seeds": [0, 1, 2],
      "created": "2026-11-26T02:00:00Z",
      "metrics": {"script.speech": {"better": "higher", "a": {"mean": 1.0, "std": 0.0, "values": [1, 1, 1]},
                                        "b": {"mean": 0.9, "std": 0.1, "values": [1, 0.8, 0.9]}, "delta": -0.1,
                                        "winner": "a"},
                  "shotlist.max_framing_run": {"better": "lower", "a": {"mean": 3.0, "std": 0.5, "values": [3, 3, 3]},
                                               "b": {"mean": 2.0, "std": 0.4, "values": [2, 2, 2]}, "delta": -1.0,
                                               "winner": "b"}},
      "judge": {"hook_strength": {"a_wins": 2, "b_wins": 3, "ties": 1}}}


@pytest.fixture
def report(tmp_path: Path) -> Path:
    return write_report(make_results(tmp_path), tmp_path)


def test_report_writes_page_and_plots(report: Path, tmp_path: Path) -> None:
    assert report == tmp_path / "report.html"
    assets = sorted(p.name for p in (tmp_path / "report_assets").glob("*.png"))
    assert assets == ["compare.png", "heatmap_revenge-s0.png", "metrics.png"]
    page = report.read_text(encoding="utf-8")
    assert "<title>dramafactory eval — smoke</title>" in page
    for name in ("script.speech", "script.dialogue_fit", "shotlist.max_framing_run"):
        assert name in page
    assert 'id="summary"' in page and 'id="compare"' in page and 'id="cases"' in page
    assert "regressed" in page and "improved" in page
    assert 'src="runs/revenge-s0/episodes/01/contact_sheet.png"' in page
    assert "<script>" not in page  # the detail string is text, never markup
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "A maid &amp; a heir" in page


def test_report_without_compare_or_heatmaps(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    del results["compare"]
    for case in results["cases"]:
        case["heatmap"] = None
    page = write_report(results, tmp_path / "plain").read_text(encoding="utf-8")
    assert 'id="compare"' not in page
    assert not list((tmp_path / "plain" / "report_assets").glob("heatmap_*"))


def test_a_violated_invariant_is_shown_above_the_metrics_and_in_its_case(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    results["cases"][0]["invariants"] = [_metric("script.hook_first", 0.0, False, 1.0, "higher",
                                                 ["the first beat is a pressure, not a hook"])]
    results["invariants"] = {
        "script.hook_first": {"held": False, "cases": 2, "guaranteed_by": "agents/writer/agent.py",
                              "violations": ["revenge-s0: the first beat is a pressure, not a hook"]},
        "shotlist.lines_covered": {"held": True, "cases": 2, "guaranteed_by": "plan_shots", "violations": []}}
    results["compare"]["invariants_violated"] = ["script.hook_first"]
    page = write_report(results, tmp_path / "inv").read_text(encoding="utf-8")
    assert page.index('id="invariants"') < page.index('id="summary"')
    assert "1 invariant(s) violated: script.hook_first" in page and "VIOLATED" in page and "held" in page
    assert "revenge-s0: the first beat is a pressure, not a hook" in page
    assert "INVARIANT VIOLATED: script.hook_first" in page  # in the case too
    assert "invariant violated: script.hook_first" in page  # and in the comparison
    summary = page.split('id="summary"')[1].split("</table>")[0]
    assert "script.hook_first" not in summary and "shotlist.lines_covered" not in summary
    ab = write_ab_report({**copy.deepcopy(AB), "invariants_violated": {"a": [], "b": ["script.valid"]}},
                         tmp_path / "ab").read_text(encoding="utf-8")
    assert "INVARIANT VIOLATED in stricter-qc: script.valid" in ab


def test_ab_report(tmp_path: Path) -> None:
    path = write_ab_report(copy.deepcopy(AB), tmp_path)
    assert path == tmp_path / "ab_report.html"
    assert (tmp_path / "report_assets" / "ab.png").stat().st_size > 0
    page = path.read_text(encoding="utf-8")
    assert "<title>dramafactory A/B — baseline vs stricter-qc</title>" in page
    assert "1 ± 0" in page and "0.9 ± 0.1" in page
    assert "hook_strength" in page and 'id="judge"' in page
    assert "<strong>stricter-qc</strong>" in page  # winner named by configuration, not "b"


def _browser(p):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install chromium (apt-get install chromium; CI installs it)")
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def test_report_renders_in_browser(report: Path, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(report.as_uri())
            assert page.title() == "dramafactory eval — smoke"
            widths = page.evaluate("() => [...document.querySelectorAll('img.plot')].map(i => i.naturalWidth)")
            assert len(widths) == 3 and all(w > 0 for w in widths), widths
            sheet = page.evaluate("() => { const i = document.querySelector('img.sheet');"
                                  " return [i.naturalWidth, i.getBoundingClientRect().width]; }")
            assert sheet[0] == 1800 and sheet[1] <= 480  # loaded, and capped by CSS
            assert page.locator("#compare").is_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "eval_report.png"), full_page=True)
            page.screenshot(path=str(tmp_path / "eval_report.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "eval_report.png").stat().st_size > 0


def test_ab_report_renders_in_browser(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    path = write_ab_report(copy.deepcopy(AB), tmp_path)
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(path.as_uri())
            assert page.title() == "dramafactory A/B — baseline vs stricter-qc"
            widths = page.evaluate("() => [...document.querySelectorAll('img.plot')].map(i => i.naturalWidth)")
            assert widths and all(w > 0 for w in widths), widths
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "eval_ab_report.png"), full_page=True)
        finally:
            browser.close()
