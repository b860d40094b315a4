"""The plan's HTML report in a real browser (Debian's chromium through Playwright, as tests/test_api_browser.py):
the page `dramafactory plan --html` writes opens from a file with no network, its three plots load and are drawn
(not blank), its options table has a row per option, and nothing errors. The screenshot goes to test-artifacts/."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from dramafactory.cli import app

from .test_api_browser import ARTIFACTS, _browser
from .test_planner import bench_dir

PLOTS = ("plot-volume", "plot-stages", "plot-sensitivity")


def test_plan_report_in_a_browser(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    page_file, json_file = tmp_path / "plan.html", tmp_path / "plan.json"
    result = CliRunner().invoke(app, [
        "plan", "--titles-per-month", "28800", "--episodes-per-title", "60", "--minutes-per-episode", "1.5",
        "--gpu", "h100-sxm", "--gpu", "h200", "--gpu", "l40s", "--bench", str(bench_dir(tmp_path)),
        "--html", str(page_file), "--json", str(json_file)])
    assert result.exit_code == 0, result.output
    plan = json.loads(json_file.read_text())
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "planner_report.png"
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            page.goto(page_file.as_uri())
            page.wait_for_function("() => [...document.images].every(i => i.complete)")
            for test_id in PLOTS:
                size = page.get_by_test_id(test_id).evaluate("i => [i.naturalWidth, i.naturalHeight]")
                assert size[0] > 600 and size[1] > 200, (test_id, size)
            rows = page.locator("[data-testid=options-table] tbody tr")
            assert rows.count() == len(plan["options"])
            assert "on-prem NVIDIA H100 80GB SXM" in rows.first.inner_text()
            assert "no GPU measurement" in page.get_by_test_id("warnings").inner_text()  # declared figures say so
            boxes = {test_id: page.get_by_test_id(test_id).bounding_box() for test_id in PLOTS}
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    image = np.asarray(Image.open(shot).convert("L"))
    for test_id, box in boxes.items():  # each plot drew lines and bars, not an empty frame
        region = image[int(box["y"]):int(box["y"] + box["height"]), int(box["x"]):int(box["x"] + box["width"])]
        assert region.size and (region < 200).mean() > 0.02, test_id
