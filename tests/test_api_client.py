"""The OpenAPI document as a client generator reads it: openapi-python-client makes a Python client from it without
one warning, its functions are named for what they do (create_series, not create_series_series_post), and that
client drives the real service over HTTP: create a run, read its status, and get the errors (401, 403, another
tenant's run) parsed as the one Problem model. Also: every error the document declares is that one component, and
the bodies the app answers match it (413 included, which Starlette would answer in plain text)."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from dramafactory.api.app import MAX_BODY, create_app
from dramafactory.api.models import Problem

from .api_support import CONCEPT, KEYS, api_settings, auth, free_port, start_api_server

ROOT = Path(__file__).resolve().parents[1]
# Pinned: the layout of the generated package (module and model names) is the generator's, and changes between
# its releases.
GENERATOR = "openapi-python-client==0.29.1"
PACKAGE = "dramafactory_client"
OPERATIONS = {"create_series", "list_series", "get_series", "stream_events", "cancel_series", "resume_series",
              "list_artifacts", "get_artifact", "list_reviews", "get_review", "decide_review", "health", "create_plan", "factory_figures"}


def openapi() -> dict:
    return create_app(api_settings(Path("unused"))).openapi()


def test_operation_ids_are_the_route_names_and_errors_one_component():
    document = openapi()
    operations = [op for path in document["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert sorted(ids) == sorted(OPERATIONS)  # each once
    assert "Problem" in document["components"]["schemas"]
    for op in operations:
        for code, response in op["responses"].items():
            if code.startswith("4") and code != "422":
                assert response["content"] == {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Problem"}}}, (op["operationId"], code)
    assert '"title": "Problem"' not in json.dumps(document["paths"])  # no inline copy left


def test_error_bodies_match_the_problem_model(tmp_path):
    with TestClient(create_app(api_settings(tmp_path / "data"))) as client:
        answers = {
            "401": client.get("/series"),
            "403": client.get("/series", headers={"Authorization": "Bearer not-a-key-at-all"}),
            "404": client.get("/series/0123456789abcdef", headers=auth()),
            # a body that is not UTF-8 (malformed JSON is a 422 naming where)
            "400": client.post("/series", content=b"\x80\x81", headers={**auth(), "content-type": "application/json"}),
            # declared too large (Content-Length), and found too large while read (chunked, no length)
            "413": client.post("/series", content=b" " * (MAX_BODY + 1), headers={**auth(),
                                                                                  "content-type": "application/json"}),
            "413 chunked": client.post("/series", content=iter([b" " * 100_000] * 11),
                                       headers={**auth(), "content-type": "application/json"}),
        }
    for label, response in answers.items():
        assert str(response.status_code) == label.split()[0], (label, response.text)
        assert response.headers["content-type"] == "application/json", (label, response.headers)
        Problem.model_validate(response.json())


# --- the generated client against a live service --------------------------------------------------------------------

# pip's words for a registry it cannot reach (only these skip; any other install failure fails the test)
NETWORK_TROUBLE = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
                   "ConnectTimeoutError", "ReadTimeoutError", "Max retries exceeded")


@pytest.fixture(scope="module")
def generator(tmp_path_factory) -> Path:
    """openapi-python-client in a virtual environment of its own (from PyPI; pip's cache makes later runs quick). Not
    in the project's test extra: it pins typer<0.28 and httpx<0.29, which would hold the project's own CLI and HTTP
    libraries back in the environment the tests run in, and a newer release of either would stop it installing."""
    venv = tmp_path_factory.mktemp("generator") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", GENERATOR], capture_output=True, text=True, timeout=600)
    if pip.returncode != 0 and any(sign in pip.stderr for sign in NETWORK_TROUBLE):
        pytest.skip(f"PyPI could not be reached to install {GENERATOR}: {pip.stderr.strip().splitlines()[-1]}")
    assert pip.returncode == 0, f"could not install {GENERATOR}:\n{pip.stdout}\n{pip.stderr}"
    return venv / "bin"


@pytest.fixture(scope="module")
def client_package(generator, tmp_path_factory):
    """The client generated from the app's document, importable as `dramafactory_client`."""
    work = tmp_path_factory.mktemp("client")
    spec = work / "openapi.json"
    spec.write_text(json.dumps(openapi()), "utf-8")
    # the generator formats its output with ruff, found on PATH (the one in its own environment)
    env = {**os.environ, "PATH": f"{generator}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(generator / "openapi-python-client"), "generate", "--path", str(spec),
                             "--output-path", str(work / PACKAGE), "--meta", "none"],
                            capture_output=True, text=True, env=env, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output  # a warning means a part of the document was dropped
    assert "not in PATH" not in output, output
    assert {p.stem for p in (work / PACKAGE / "api").rglob("*.py")} - {"__init__"} == OPERATIONS
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def live_server(tmp_path):
    """The real service (fake backends, half a second per take) in its own process on a free loopback port."""
    port = free_port()
    server = start_api_server(tmp_path / "data", port)
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        server.send_signal(signal.SIGTERM)  # a graceful stop: the lifespan waits for its (cancelled) runs
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_a_generated_client_drives_the_service(client_package, live_server):
    from dramafactory_client import AuthenticatedClient, Client
    from dramafactory_client.api.series import cancel_series, create_series, get_series, list_series
    from dramafactory_client.api.service import health
    from dramafactory_client.models import Problem as ClientProblem
    from dramafactory_client.models import RunCreated, RunPublic, SeriesRequest

    def tenant(name: str) -> AuthenticatedClient:
        # an answer the document does not declare is an error here, not a silent None
        return AuthenticatedClient(base_url=live_server, token=KEYS[name], raise_on_unexpected_status=True,
                                   timeout=httpx.Timeout(30))

    with tenant("acme") as acme, tenant("globex") as globex, \
            Client(base_url=live_server, raise_on_unexpected_status=True) as anonymous:
        assert health.sync(client=anonymous).to_dict()["status"] == "ok"

        created = create_series.sync_detailed(client=acme, body=SeriesRequest.from_dict(CONCEPT))
        assert created.status_code == 202 and isinstance(created.parsed, RunCreated), created.content
        run_id = created.parsed.id

        run = get_series.sync(run_id, client=acme)
        assert isinstance(run, RunPublic) and run.id == run_id and run.status in ("queued", "running")
        assert run.request.to_dict()["logline"] == CONCEPT["logline"]
        assert [r.id for r in list_series.sync(client=acme)] == [run_id]

        # errors: each parsed as the one Problem model
        hidden = get_series.sync_detailed(run_id, client=globex)  # another tenant's run is not revealed
        assert hidden.status_code == 404 and isinstance(hidden.parsed, ClientProblem), hidden.content
        assert run_id in hidden.parsed.detail
        bad_key = AuthenticatedClient(base_url=live_server, token="not-a-valid-key", raise_on_unexpected_status=True)
        with bad_key:
            refused = get_series.sync_detailed(run_id, client=bad_key)
        assert refused.status_code == 403 and isinstance(refused.parsed, ClientProblem), refused.content
        assert refused.parsed.detail == "this API key is not valid"
        anonymous_read = list_series.sync_detailed(client=anonymous)
        assert anonymous_read.status_code == 401 and isinstance(anonymous_read.parsed, ClientProblem)

        cancelled = cancel_series.sync_detailed(run_id, client=acme)  # so the server stops quickly
        assert cancelled.status_code == 202 and cancelled.parsed.status in ("cancelling", "cancelled")
        again = cancel_series.sync_detailed(run_id, client=acme)
        assert again.status_code in (202, 409)
        if again.status_code == 409:
            assert isinstance(again.parsed, ClientProblem)
