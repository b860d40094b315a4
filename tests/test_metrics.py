"""The operators' view: GET /metrics (Prometheus text, parsed with prometheus-client's own parser) and GET /factory
(the dashboard's JSON) against the real app with fake backends, checked against the store, the shot ledger and
the runs' ledgers and summaries; the dashboard's factory card in a real browser."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, func, select, text

from dramafactory.api.app import create_app
from dramafactory.api.metrics import FactoryCollector
from dramafactory.api.store import open_store, runs
from dramafactory.prices import Pricing
from dramafactory.tools.accounting import price_rows
from dramafactory.tools.durable import CoordinationDB
from dramafactory.tools.ledger import Ledger

from .api_support import CONCEPT, KEYS, api_settings, auth, fake_factory, wait_for
from .test_api import POSTGRES, postgres_schema

PAUSED_OR_DONE = {"waiting_review", "finished", "failed", "cancelled"}
RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")


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


class ShotQueries:
    """Records the statements an engine runs that read df_shots, with their parameters (a cursor-level listener,
    so it sees exactly what reaches the database)."""

    def __init__(self, engine):  # noqa: ANN001 - a SQLAlchemy Engine
        self.engine, self.seen = engine, []

    def _record(self, conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG002
        if "df_shots" in statement:
            self.seen.append((statement, str(parameters)))

    def __enter__(self) -> ShotQueries:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def mentions(self, run_id: str) -> bool:
        return any(run_id in params or run_id in statement for statement, params in self.seen)

    def reads_only(self, run_ids: list[str]) -> bool:
        """True when every read of df_shots (introspection aside) is restricted to some of these runs: no
        statement scans the table whole, and none names another run (run ids are 32 hex digits)."""
        reads = [(st, params) for st, params in self.seen
                 if not st.lstrip().upper().startswith("PRAGMA") and "information_schema" not in st]
        return all("run_id IN (" in st and set(RUN_ID.findall(params)) <= set(run_ids) for st, params in reads)


def test_a_second_scrape_reads_no_shot_rows_of_the_finished_run(service):
    """The finished run's df_shots rows were counted by an earlier scrape: later scrapes read only the live
    (paused) run's, and report the same figures as a collector that starts from nothing."""
    scrape(service.client)
    with ShotQueries(service.store.engine) as queries:
        metrics = scrape(service.client)
    assert queries.reads_only([service.ids["paused"]]), queries.seen
    assert queries.mentions(service.ids["paused"])  # the live run is read on every scrape
    fresh = FactoryCollector(lambda: service.client.app.state.service).figures()
    assert one(metrics, "dramafactory_takes_committed") == fresh.takes_committed
    assert one(metrics, "dramafactory_shots_committed") == fresh.shots_committed
    assert one(metrics, "dramafactory_retries", kind="qc") == fresh.retries_qc
    assert one(metrics, "dramafactory_cost_usd_total") == pytest.approx(fresh.cost_usd, abs=1e-8)


# The figures as the collector computed them before finished runs were cached: one scan of the whole ledger.
WHOLE_LEDGER = """
SELECT COALESCE(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0) AS takes_committed,
       COALESCE(SUM(CASE WHEN state = 'rendering' THEN 1 ELSE 0 END), 0) AS takes_rendering,
       COALESCE(SUM(reused), 0) AS takes_reused, COALESCE(SUM(corrupt), 0) AS takes_corrupt,
       COALESCE(SUM(CASE WHEN take > 1 THEN 1 ELSE 0 END), 0) AS retries_qc,
       COALESCE(SUM(CASE WHEN attempt > 1 THEN attempt - 1 ELSE 0 END), 0) AS retries_claim,
       (SELECT COUNT(*) FROM (SELECT DISTINCT run_id, shot_id FROM df_shots WHERE state = 'done') AS d)
           AS shots_committed
FROM df_shots"""
LEDGER_ROW = {"run_id": "x", "kind": "call", "stage": "render", "backend": "fake", "model": "fake", "seconds": 1.0,
              "cpu_scope": "thread", "gpu_seconds": 0.0, "remote": False, "tokens": 0}


class Registry:
    """A service's database with hand-made runs: registry rows, shot-ledger rows and ledger.jsonl files."""

    def __init__(self, root: Path, settings):  # noqa: ANN001 - Settings
        self.root, self.store = root, open_store(None, root)
        CoordinationDB(self.store.engine.url.render_as_string(hide_password=False)).setup()  # creates df_shots
        self.service = SimpleNamespace(store=self.store, settings=settings)
        self.takes = 0

    def run(self, status: str, shots: int, cpu: float) -> str:
        run_dir = self.root / f"run{self.takes}"
        run_dir.mkdir()
        row = self.store.create_run(tenant="acme", request={}, run_dir=run_dir)
        self.add(row["id"], shots, cpu)
        summary = {"cpu_seconds": cpu, "gpu_seconds": 0.0, "cost_usd": cpu / 1000} if status == "finished" else None
        self.store.update_run(row["id"], status=status, summary=summary)
        return row["id"]

    def add(self, run_id: str, shots: int, cpu: float) -> None:
        """Committed takes (every second shot's first take failed QC), a claim retried, and `cpu` seconds."""
        with self.store.engine.begin() as conn:
            for i in range(shots):
                self.takes += 1
                conn.execute(text("INSERT INTO df_shots (run_id, shot_id, take, take_id, state, attempt, reused, "
                                  "corrupt) VALUES (:r, :s, :t, :id, 'done', :a, 0, 0)"),
                             {"r": run_id, "s": f"s{self.takes}", "t": 1 + i % 2, "id": f"t{self.takes}",
                              "a": 2 if i == 0 else 1})
        ledger = Path(self.store.run(run_id)["run_dir"]) / "ledger.jsonl"
        with ledger.open("a") as handle:
            handle.write(json.dumps({**LEDGER_ROW, "ts": time.time(), "cpu_seconds": cpu}) + "\n")

    def whole_ledger(self) -> dict:
        with self.store.engine.connect() as conn:
            return {k: int(v) for k, v in conn.execute(text(WHOLE_LEDGER)).mappings().one().items()}


def same_figures(figures, registry: Registry) -> None:  # noqa: ANN001 - FactoryFigures
    fresh = FactoryCollector(lambda: registry.service).figures()  # computed from nothing
    assert figures == fresh
    assert {k: getattr(figures, k) for k in registry.whole_ledger()} == registry.whole_ledger()


def test_terminal_runs_are_counted_once_and_fresh_again_when_resumed(tmp_path, fast_settings, monkeypatch):
    registry = Registry(tmp_path, fast_settings)
    try:
        done = [registry.run(status, shots=3, cpu=2.0) for status in ("finished",) * 4 + ("failed", "cancelled")]
        live = registry.run("running", shots=2, cpu=1.0)
        collector = FactoryCollector(lambda: registry.service)
        tallied: list[str] = []
        tally = FactoryCollector._tally
        monkeypatch.setattr(FactoryCollector, "_tally", lambda self, run_dir, settings: (
            tallied.append(run_dir.name), tally(self, run_dir, settings))[1])

        first = collector.figures()
        assert first.takes_committed == 20 and first.runs["finished"] == 4
        # the finished runs' machine time is their summaries'; the failed and the cancelled run's, their ledgers'
        assert first.cpu_seconds == pytest.approx(6 * 2.0 + 1.0) and len(tallied) == 3
        same_figures(first, registry)

        # a second scrape: the live run's rows only, and its ledger only
        registry.add(live, shots=1, cpu=0.5)
        tallied.clear()
        with ShotQueries(registry.store.engine) as queries:
            second = collector.figures()
        assert queries.reads_only([live]) and queries.mentions(live), queries.seen
        assert tallied == [Path(registry.store.run(live)["run_dir"]).name]
        assert second.takes_committed == 21 and second.cpu_seconds == pytest.approx(first.cpu_seconds + 0.5)
        same_figures(second, registry)

        # a failed run resumed: counted fresh while it is live, and once more when it ends again
        resumed = done[4]
        registry.store.update_run(resumed, status="queued")
        registry.add(resumed, shots=2, cpu=1.5)
        with ShotQueries(registry.store.engine) as queries:
            third = collector.figures()
        assert queries.mentions(resumed) and third.takes_committed == 23
        same_figures(third, registry)
        # resumed and ended again between two scrapes: its new rows count (updated_at moved)
        registry.add(resumed, shots=1, cpu=0.25)
        registry.store.update_run(resumed, status="failed")
        with ShotQueries(registry.store.engine) as queries:
            fourth = collector.figures()
        assert queries.mentions(resumed) and fourth.takes_committed == 24
        same_figures(fourth, registry)
        with ShotQueries(registry.store.engine) as queries:
            assert collector.figures() == fourth
        assert queries.reads_only([live]), queries.seen
    finally:
        registry.store.close()


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
