"""The operators' view: GET /metrics (Prometheus text, parsed with prometheus-client's own parser) and GET /factory
(the dashboard's JSON) against the real app with fake backends, checked against the store, the shot ledger and
the runs' ledgers and summaries; the dashboard's factory card in a real browser."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text

from dramafactory.api.app import create_app
from dramafactory.api.metrics import FactoryCollector
from dramafactory.api.store import open_store, runs
from dramafactory.prices import Pricing
from dramafactory.tools.accounting import price_rows
from dramafactory.tools.ledger import Ledger

from .api_support import CONCEPT, KEYS, api_settings, auth, fake_factory, wait_for
from .test_api import POSTGRES, postgres_schema

PAUSED_OR_DONE = {"waiting_review", "finished", "failed", "cancelled"}


def scrape(client, headers=None) -> dict[str, dict[tuple, float]]:
    """{family: {labels (sorted items): value}} from GET /metrics."""
    response = client.get("/metrics", headers=auth() if headers is None else headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        assert family.documentation, f"{family.name} has no HELP text"
        assert family.name.startswith("dramafactory_")
        for sample in family.samples:  # keyed by the sample's name: a counter's samples end in _total
            if sample.name.endswith("_created"):
                continue
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def one(metrics: dict, name: str, **labels) -> float:
    return metrics[name][tuple(sorted(labels.items()))]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def service(request, tmp_path_factory):
    """The real app with fake backends, on SQLite and on PostgreSQL: one run finished (shot e01s02's first take
    fails QC, so one take is a retry) and one paused at its bible review (an active run: its figures come from its
    ledger)."""
    data = tmp_path_factory.mktemp("metrics") / "data"
    url = None
    if request.param == "postgres":
        import psycopg

        schema = postgres_schema()
        url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
        request.addfinalizer(lambda: psycopg.connect(POSTGRES, autocommit=True).execute(
            f"DROP SCHEMA {schema} CASCADE").connection.close())
    settings = api_settings(data, database_url=url)
    with TestClient(create_app(settings, context_factory=fake_factory(fail_first={"e01s02": 1}))) as client:
        ids = {}
        for kind, checkpoints in (("finished", {}), ("paused", {"bible": True})):
            response = client.post("/series", json={**CONCEPT, "checkpoints": checkpoints}, headers=auth())
            assert response.status_code == 202, response.text
            ids[kind] = response.json()["id"]
        runs_now = {kind: wait_for(client, run_id, PAUSED_OR_DONE, auth()) for kind, run_id in ids.items()}
        assert runs_now["finished"]["status"] == "finished", runs_now["finished"]["error"]
        assert runs_now["paused"]["status"] == "waiting_review"
        yield SimpleNamespace(client=client, data=data, ids=ids, runs=runs_now, kind=request.param, url=url,
                              store=client.app.state.service.store, settings=client.app.state.service.settings)


def run_dir(service, kind: str) -> Path:
    return Path(service.store.run(service.ids[kind])["run_dir"])


def test_metrics_match_the_store_and_the_shot_ledger(service):
    metrics = scrape(service.client)
    with service.store.engine.connect() as conn:
        states = dict(conn.execute(select(runs.c.status, func.count()).group_by(runs.c.status)).all())
        committed = conn.execute(text("SELECT COUNT(*) FROM df_shots WHERE state = 'done'")).scalar()
        retakes = conn.execute(text("SELECT COUNT(*) FROM df_shots WHERE take > 1")).scalar()
        reused = conn.execute(text("SELECT COALESCE(SUM(reused), 0) FROM df_shots")).scalar()
    assert states == {"finished": 1, "waiting_review": 1}
    for state in ("queued", "running", "cancelling", "waiting_review", "finished", "failed", "cancelled"):
        assert one(metrics, "dramafactory_runs", state=state) == states.get(state, 0)
    summary = service.runs["finished"]["summary"]
    assert one(metrics, "dramafactory_takes_committed") == committed == summary["takes_rendered"]
    assert one(metrics, "dramafactory_shots_committed") == summary["shots"]  # every shot has its committed take
    assert one(metrics, "dramafactory_retries", kind="qc") == retakes == summary["retry_renders"] == 1
    assert one(metrics, "dramafactory_retries", kind="claim") == 0
    assert one(metrics, "dramafactory_takes_reused") == reused == summary["takes_reused"] == 0
    for role in ("image", "qc", "speech", "video"):  # nothing in flight: every role listed, at 0
        assert one(metrics, "dramafactory_queue_depth", role=role, state="waiting") == 0
        assert one(metrics, "dramafactory_queue_depth", role=role, state="running") == 0


def test_machine_time_and_cost_are_the_summaries_plus_the_active_runs_ledgers(service):
    summary = service.runs["finished"]["summary"]
    paused = Ledger(run_dir(service, "paused") / "ledger.jsonl").rows()
    active = price_rows(paused, Pricing.from_settings(service.settings))
    metrics = scrape(service.client)
    assert one(metrics, "dramafactory_cpu_seconds_total") == pytest.approx(summary["cpu_seconds"] +
                                                                           active.cpu_seconds, abs=1e-3)
    assert one(metrics, "dramafactory_gpu_seconds_total") == pytest.approx(summary["gpu_seconds"] +
                                                                           active.gpu_seconds, abs=1e-3)
    assert one(metrics, "dramafactory_cost_usd_total") == pytest.approx(summary["cost_usd"] + active.usd,
                                                                        abs=1e-8)
    assert active.cpu_seconds > 0  # the paused run's director did measurable work


def test_an_active_runs_ledger_is_read_as_it_grows(service):
    """Rows appended to a running run's ledger count on the next scrape; a row still being written (no newline
    yet) counts once it is complete."""
    path = run_dir(service, "paused") / "ledger.jsonl"
    before = one(scrape(service.client), "dramafactory_cpu_seconds_total")
    row = {"ts": time.time(), "run_id": "x", "kind": "call", "stage": "render", "backend": "fake", "model": "fake",
           "seconds": 2.0, "cpu_seconds": 1.5, "cpu_scope": "thread", "gpu_seconds": 0.0, "remote": False,
           "tokens": 0}
    line = json.dumps(row)
    with path.open("a") as handle:
        handle.write(line + "\n" + line[:20])  # one complete row, one torn mid-write
    assert one(scrape(service.client), "dramafactory_cpu_seconds_total") == pytest.approx(before + 1.5, abs=1e-3)
    with path.open("a") as handle:
        handle.write(line[20:] + "\n")
    assert one(scrape(service.client), "dramafactory_cpu_seconds_total") == pytest.approx(before + 3.0, abs=1e-3)


def test_the_dashboard_json_carries_the_same_figures(service):
    figures = service.client.get("/factory", headers=auth()).json()
    metrics = scrape(service.client)
    assert figures["runs"]["finished"] == one(metrics, "dramafactory_runs", state="finished") == 1
    assert figures["shots_committed"] == one(metrics, "dramafactory_shots_committed")
    assert figures["retries_qc"] == 1 and figures["queue"]["image"] == {"waiting": 0, "running": 0}
    assert figures["cost_usd"] == pytest.approx(one(metrics, "dramafactory_cost_usd_total"), abs=1e-8)


def test_metrics_take_a_key_when_keys_are_configured(service):
    assert service.client.get("/metrics").status_code == 401
    assert service.client.get("/metrics", headers={"Authorization": "Bearer not-a-key-here"}).status_code == 403
    assert service.client.get("/factory").status_code == 401
    assert scrape(service.client, headers=auth("globex"))  # any tenant's key: the figures are factory-wide
    assert "/metrics" not in service.client.get("/openapi.json").json()["paths"]


def test_open_on_a_loopback_service_and_one_registry_per_app(tmp_path):
    settings = api_settings(tmp_path / "data", api_keys="")
    with TestClient(create_app(settings, context_factory=fake_factory())) as first, \
            TestClient(create_app(settings, context_factory=fake_factory())) as second:
        for client in (first, second):  # two apps in one process: their collectors do not collide
            assert one(scrape(client, headers={}), "dramafactory_runs", state="finished") == 0


def test_no_shot_ledger_yet_reads_as_zero(tmp_path, fast_settings):
    store = open_store(None, tmp_path)  # the registry only: no df_shots table
    try:
        fake_service = SimpleNamespace(store=store, settings=fast_settings)  # a stand-in without an engine
        figures = FactoryCollector(lambda: fake_service).figures()
    finally:
        store.close()
    assert figures.takes_committed == 0 and figures.retries_claim == 0 and figures.cpu_seconds == 0
    assert figures.queue["image"].waiting == 0 and set(figures.runs) >= {"queued", "finished"}


def test_the_dashboard_shows_the_factory_figures(service):
    """The runs page's factory card in Debian's chromium, with the service's figures."""
    if service.kind != "sqlite":
        pytest.skip("the page reads the same JSON whichever database the service uses: checked once, on SQLite")
    sync_api = pytest.importorskip("playwright.sync_api")
    uvicorn = pytest.importorskip("uvicorn")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.fail(f"{chromium} is missing: install chromium (apt-get install chromium; CI installs it)")
    app = create_app(api_settings(service.data), context_factory=fake_factory(), recover=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=["--headless=new", "--no-sandbox",
                                                                              "--disable-gpu"])
            try:
                page = browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/ui/")
                page.fill("#api-key", KEYS["acme"])
                page.click("#save-key")
                expect = sync_api.expect
                expect(page.get_by_test_id("factory-finished")).to_contain_text("1", timeout=20_000)
                expect(page.get_by_test_id("factory-waiting")).to_contain_text("1")
                shots = service.runs["finished"]["summary"]["shots"]
                expect(page.get_by_test_id("factory-shots")).to_contain_text(str(shots))
                expect(page.get_by_test_id("factory-retries")).to_contain_text("1")
                expect(page.get_by_test_id("factory-cost")).to_contain_text("$")
                assert not errors, errors
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
