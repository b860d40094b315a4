"""The web UI (/ui/) in a real browser against the real service (fake backends, so a run takes seconds): the key,
starting a run, the live dashboard, the bible and shot reviews with the API's refusals shown, and the finished
episode playing from a blob URL. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from dramafactory.api.app import create_app

from .api_support import CONCEPT, KEYS, api_settings, fake_factory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
HOSTILE = ' <img src=x onerror="window.__xss = 1">'  # the logline comes back in the page: it must stay text
STAGES = {"director", "writer", "cinematographer", "shots", "voices", "assemble"}


@pytest.fixture
def ui_server(tmp_path: Path):
    """The real app under uvicorn in a thread, on a free port; shot e01s03 always fails QC (so it goes to review)."""
    uvicorn = pytest.importorskip("uvicorn")
    app = create_app(api_settings(tmp_path / "data"),
                     context_factory=fake_factory(fail_first={"e01s03": 99}, delay=0.3))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert not thread.is_alive(), "the server did not stop"


def _browser(p):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install chromium (apt-get install chromium; CI installs it)")
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_ui_runs_a_series_through_its_reviews(ui_server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    expect.set_options(timeout=30_000)  # a run takes seconds; a busy machine may take longer
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.set_default_timeout(30_000)
            crashes: list[str] = []
            page.on("pageerror", lambda exc: crashes.append(str(exc)))
            page.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in msg.text
                    and crashes.append(msg.text))
            page.goto(f"{ui_server}/ui/")

            # a wrong key: the API's 403 is shown in the page; the right one clears it and is remembered
            page.fill("#api-key", "not-a-key-of-this-service")
            page.click("#save-key")
            expect(page.get_by_test_id("global-error")).to_contain_text("this API key is not valid")
            expect(page.locator("#key-state")).to_have_text("refused")
            page.fill("#api-key", KEYS["acme"])
            page.click("#save-key")
            expect(page.get_by_test_id("global-error")).to_be_hidden()
            expect(page.locator("#key-state")).to_have_text("key accepted")
            assert page.evaluate("localStorage.getItem('dramafactory.apiKey')") == KEYS["acme"]

            # a concept the API refuses: its 422 names the field next to the form
            page.fill("#logline", "too short")
            page.fill("#seconds", "5")
            page.click("#start-run")
            problem = page.get_by_test_id("new-run-error")
            expect(problem).to_contain_text("logline")
            expect(problem).to_contain_text("seconds_per_episode")
            expect(problem).to_contain_text("HTTP 422")

            # start a run: pauses after the bible, after the script and for shots QC cannot fix
            page.fill("#logline", CONCEPT["logline"] + HOSTILE)
            page.fill("#genre", CONCEPT["genre"])
            page.fill("#episodes", str(CONCEPT["episodes"]))
            page.fill("#seconds", str(CONCEPT["seconds_per_episode"]))
            page.check("#cp-bible")
            page.check("#cp-scripts")
            page.check("#cp-shots")
            page.click("#start-run")
            expect(page).to_have_url(re.compile(r"#/runs/[0-9a-f]+$"))
            run_id = page.url.rsplit("/", 1)[1]
            expect(problem).to_be_hidden()
            expect(page.locator(f'[data-testid=run-item][data-run-id="{run_id}"]')).to_be_visible()
            expect(page.locator("#run-logline")).to_have_text(CONCEPT["logline"] + HOSTILE)
            expect(page.locator("#stream-state")).to_contain_text("live")
            expect(page.locator("[data-testid=timeline-row][data-stage=director]")).to_be_visible()
            _shot(page, "ui_dashboard_running.png")

            # the bible review
            expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "waiting_review")
            expect(page.get_by_test_id("review-count")).to_have_text("1")
            page.get_by_test_id("open-review").click()
            expect(page).to_have_url(re.compile(r"#/reviews/[0-9a-f]+$"))
            expect(page.get_by_test_id("bible-title")).to_have_text("The Fake Series")
            assert page.get_by_test_id("character").count() >= 2
            expect(page.get_by_test_id("character").first).to_contain_text("Wardrobe")
            expect(page.get_by_test_id("outline")).to_have_count(1)
            expect(page.get_by_test_id("bible")).to_contain_text(HOSTILE.strip())  # the logline, as text
            _shot(page, "ui_bible_review.png")

            # an edit that does not validate: the 422 names the field, the review stays open
            page.click("#edit-toggle")
            bible = json.loads(page.input_value("#edit-json"))
            bible["characters"] = bible["characters"][:1]
            page.fill("#edit-json", json.dumps(bible, indent=2))
            page.click("#send-edit")
            error = page.get_by_test_id("review-error")
            expect(error).to_contain_text("bible.characters")
            expect(error).to_contain_text("HTTP 422")
            page.screenshot(path=str(ARTIFACTS / "ui_bible_edit_refused.png"))
            page.fill("#edit-json", "{not json")
            page.click("#send-edit")
            expect(error).to_contain_text("not valid JSON")
            page.click("#cancel-edit")
            page.click("#approve")
            expect(page.get_by_test_id("review-message")).to_contain_text("Decision sent (approve)")
            expect(error).to_be_hidden()

            # the script review: scenes, beats and lines readable; approve it
            script_item = page.locator("[data-testid=review-item][data-kind=script]")
            script_item.click()
            expect(page.get_by_test_id("script")).to_contain_text("Episode 1")
            assert page.get_by_test_id("scene").count() >= 1
            assert page.get_by_test_id("line").count() >= 1
            _shot(page, "ui_script_review.png")
            page.click("#approve")
            expect(page.get_by_test_id("review-message")).to_contain_text("Decision sent (approve)")

            # the dashboard again: the run went on and paused for the shot QC could not fix
            page.get_by_test_id("review-message").get_by_role("link").click()
            expect(page.locator("[data-testid=timeline-row][data-stage=shots]")).to_be_visible()
            expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "waiting_review")
            expect(page.locator("[data-testid=episodes-table] tbody tr").first.locator("td").nth(4)).to_have_text("1")
            _shot(page, "ui_dashboard_waiting_review.png")

            # the shot review: e01s03 failed QC on every take; its takes side by side with their scores
            page.get_by_test_id("open-review").click()
            shots_item = page.locator("[data-testid=review-item][data-kind=shots]")
            expect(shots_item).to_have_class(re.compile("selected"))
            shot = page.locator("[data-testid=shot][data-shot=e01s03]")
            takes = shot.get_by_test_id("take")
            expect(takes).to_have_count(3)
            images = shot.get_by_test_id("take-image")
            for i in range(3):
                expect(images.nth(i)).to_have_attribute("src", re.compile(r"^blob:"))
            page.wait_for_function("() => [...document.querySelectorAll('[data-testid=take-image]')]"
                                   ".every(i => i.complete && i.naturalWidth > 0)")
            boxes = [takes.nth(i).bounding_box() for i in range(3)]
            assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"], boxes  # side by side, one row
            assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"], boxes
            expect(takes.first.get_by_test_id("qc-scores")).to_contain_text("sharpness")
            expect(takes.first).to_contain_text("QC failed")
            _shot(page, "ui_shot_review.png")

            # reject without a note: the API's 422 names the shot; with a note it renders again
            shot.get_by_test_id("shot-reject").check()
            page.click("#send-shots")
            expect(error).to_contain_text("shots.e01s03")
            expect(error).to_contain_text("a rejection needs a note")
            expect(shot.get_by_test_id("shot-error")).to_contain_text("a rejection needs a note")
            error.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "ui_shot_review_refused.png"))
            first_review = shots_item.get_attribute("data-review-id")
            shot.get_by_test_id("shot-note").fill("Too dark: light the patient's face with the monitor glow.")
            page.click("#send-shots")
            expect(page.get_by_test_id("review-message")).to_contain_text("Decision sent (reject)")

            # it fails again and comes back with its fourth take: flag it (the episode uses the best take)
            again = page.locator(f'[data-testid=review-item][data-kind=shots]:not([data-review-id="{first_review}"])')
            again.click()
            expect(shot.get_by_test_id("take")).to_have_count(4)
            shot.get_by_test_id("shot-flag").check()
            shot.get_by_test_id("shot-note").fill("Still black; keep it for the editor.")
            page.click("#send-shots")
            expect(page.get_by_test_id("review-message")).to_contain_text("Decision sent (flag)")

            # back on the dashboard: the run finishes; the timeline has every stage; the episode plays from a blob
            page.get_by_test_id("review-message").get_by_role("link").click()
            expect(page).to_have_url(re.compile(rf"#/runs/{run_id}$"))
            expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "finished")
            stages = set(page.locator("[data-testid=timeline-row]").evaluate_all("rows => rows.map(r => r.dataset.stage)"))
            assert STAGES <= stages, stages
            video = page.get_by_test_id("episode-video")
            expect(video).to_have_count(1)
            expect(video).to_have_attribute("src", re.compile(r"^blob:"))
            expect(page.get_by_test_id("contact-sheet")).to_have_attribute("src", re.compile(r"^blob:"))
            page.wait_for_function("() => { const i = document.querySelector('[data-testid=contact-sheet]');"
                                   " return i.complete && i.naturalWidth > 0; }")
            episode = page.locator("[data-testid=episodes-table] tbody tr").first
            expect(episode).to_contain_text("yes")
            expect(page.locator("#stream-state")).to_contain_text("stream ended")
            expect(page.locator("#run-working")).to_contain_text("first pass")  # the summary
            assert page.locator("#run-figures").inner_text().count("\n") > 0
            assert page.get_by_test_id("figure-tokens").inner_text().split("\n")[0] != "0"
            expect(page.locator("#cancel-run")).to_be_disabled()
            expect(page.locator("#resume-run")).to_be_disabled()
            expect(page.locator("#open-review")).to_be_hidden()
            expect(page.get_by_test_id("review-count")).to_be_hidden()
            page.wait_for_timeout(300)  # the video's first frame
            _shot(page, "ui_dashboard_finished.png")

            assert page.evaluate("window.__xss") is None, "text from the API was parsed as HTML"
            assert not crashes, crashes
        finally:
            browser.close()
