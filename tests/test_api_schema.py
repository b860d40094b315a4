"""Property-based run of the HTTP API against its own OpenAPI document (schemathesis): every operation, with
generated valid and invalid requests, sent with tenant acme's bearer key to the real app inside its lifespan (fake
backends, so a POST /series that validates starts a cheap run). No response may be a 5xx, and every response must
match what the document declares: status code, content type, body schema, headers.

Two passes: random path ids (mostly 404s, which must be declared), then the same operations with the ids of real
runs and reviews (a finished run; runs waiting at a bible, a script and a shots review), so the generated query
strings, headers, artifact paths and review decisions reach the code behind the 404. Generation is derandomized (a
fixed seed per operation, no example database): CI sends the same requests every run.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from pydantic import ValidationError
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dramafactory.api.app import create_app
from dramafactory.api.models import Artifact, ReviewPublic, RunListItem, RunPublic
from dramafactory.graphs.review import Decision

from .api_support import CONCEPT, api_settings, auth, fake_factory, wait_for

# schemathesis's own strategies draw from `random` (seeded by hypothesis, so still deterministic)
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

BASE_URL = "http://testserver"
AUTH = auth("acme")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
MIN_REQUESTS = 500
# examples per operation and generation mode, in each pass
EXAMPLES = {"positive": 30, "negative": 15}
HYPOTHESIS = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                      phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
# Every take of shot e01s03 comes out black in this app, so a run with a shots checkpoint pauses on it (the others
# queue it in review_queue.json and finish).
FACTORY = fake_factory(fail_first={"e01s03": 99})
PAUSED_OR_DONE = {"waiting_review", "finished", "failed", "cancelled"}
SCHEMA = schemathesis.openapi.from_dict(create_app(api_settings(Path("unused"))).openapi())


@dataclass
class Api:
    client: TestClient
    data: Path
    finished: str = ""
    reviews: dict[str, str] = field(default_factory=dict)  # kind -> the id of a pending review of that kind
    runs: dict[str, str] = field(default_factory=dict)  # kind -> the run that waits for it
    sent: Counter = field(default_factory=Counter)  # "METHOD /path [mode pass] status" -> requests
    gaps: Counter = field(default_factory=Counter)  # auth and body-parse errors seen (see `error_kind`)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    data = tmp_path_factory.mktemp("api") / "data"
    with TestClient(create_app(api_settings(data), context_factory=FACTORY)) as client:
        state = Api(client, data)
        started = {kind: start(client, **checkpoints) for kind, checkpoints in
                   {"finished": {}, "bible": {"bible": True}, "script": {"scripts": True},
                    "shots": {"shots": True}}.items()}
        for kind, run_id in started.items():
            run = wait_for(client, run_id, PAUSED_OR_DONE, AUTH)
            if kind == "finished":
                assert run["status"] == "finished", run["error"]
                state.finished = run_id
            else:
                assert run["status"] == "waiting_review" and run["review"], run
                state.reviews[kind], state.runs[kind] = run["review"], run_id
        yield state
        cancel_generated_runs(state)  # so the lifespan's drain is short


def cancel_generated_runs(api: Api) -> None:
    """Runs that generated POST /series started (any size up to 100 episodes): cancel those still going."""
    for item in api.client.get("/series", params={"limit": 500}, headers=AUTH).json():
        if item["status"] in ("queued", "running") and item["id"] not in api.runs.values():
            assert api.client.post(f"/series/{item['id']}/cancel", headers=AUTH).status_code == 202


def start(client: TestClient, **checkpoints) -> str:
    response = client.post("/series", json={**CONCEPT, "checkpoints": checkpoints}, headers=AUTH)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def error_kind(response) -> str | None:
    """The two errors FastAPI answers before the route runs (declared on every operation): each checked here for
    what it must be, and counted."""
    request = response.request
    if "authorization" not in request.headers:  # a negative case leaves the key out on purpose
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer", response.text
        return "401 without a key"
    if response.status_code == 400:  # FastAPI: a body that is not UTF-8 JSON is a 400, not a 422
        assert response.json() == {"detail": "There was an error parsing the body"}, response.text
        try:
            json.loads(request.content)
        except ValueError:
            return "400 body not UTF-8 JSON"
        raise AssertionError(f"400 for a body that parses: {request.content[:200]!r}")
    return None


def send(api: Api, case: schemathesis.Case):
    """The generated request through the app's TestClient with acme's key (replacing any generated one, except
    where a negative case leaves it out), then schemathesis's response checks."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=AUTH)
    assert not kwargs.pop("cookies", None)  # the document declares no cookie parameters
    if "data" in kwargs:  # requests' raw body is httpx's `content`
        kwargs["content"] = kwargs.pop("data")
    # header values as the wire carries them (latin-1 octets): httpx refuses a non-ASCII str
    kwargs["headers"] = {k: v.encode("latin-1") if isinstance(v, str) else v for k, v in kwargs["headers"].items()}
    response = api.client.request(**kwargs)
    gap = error_kind(response)
    if gap:
        api.gaps[gap] += 1
    case.validate_response(response, checks=CHECKS)
    return response


def label(operation) -> str:
    return f"{operation.method.upper()} {operation.path}"


def fuzz(api: Api, operation, mode: str, name: str, ids: dict[str, str] | None = None, keep=None) -> None:
    """EXAMPLES[mode] generated requests to one operation; `ids` replace the generated path ids; `keep` filters."""
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))
    if keep is not None:
        strategy = strategy.filter(keep)

    @settings(HYPOTHESIS, max_examples=EXAMPLES[mode])
    @given(case=strategy)
    def run(case):
        if ids:
            case.path_parameters = {**(case.path_parameters or {}), **ids}
        response = send(api, case)
        api.sent[f"{label(operation)} [{mode} {name}] {response.status_code}"] += 1

    run()


def keeps_review_pending(case) -> bool:
    """A decision that is refused, or an edit (a generated bible or script never validates, and a generated shots
    edit never lists exactly the waiting shot): the review stays pending, so every example reaches the checks."""
    try:
        decision = Decision.model_validate(case.body)
    except ValidationError:
        return True
    return decision.action == "edit"


# --- known ids: explicit checks -----------------------------------------------------------------------------------

def test_known_ids_answer_with_their_documented_bodies(api):
    client = api.client
    run = RunPublic.model_validate(client.get(f"/series/{api.finished}", headers=AUTH).json())
    assert run.status == "finished" and run.episodes[0].assembled and run.summary
    listed = [RunListItem.model_validate(r) for r in client.get("/series", headers=AUTH).json()]
    assert {api.finished, *api.runs.values()} <= {r.id for r in listed}
    artifacts = [Artifact.model_validate(a)
                 for a in client.get(f"/series/{api.finished}/artifacts", headers=AUTH).json()]
    assert any(a.path.endswith(".mp4") for a in artifacts) and any(a.path.endswith(".srt") for a in artifacts)
    video = next(a for a in artifacts if a.path.endswith(".mp4"))
    part = client.get(f"/series/{api.finished}/artifacts/{video.path}", headers={**AUTH, "Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    bible = client.get(f"/series/{api.finished}/artifacts/bible.json", headers=AUTH)
    assert bible.status_code == 200 and bible.json()["title"] == run.title
    run_dir = api.data / "tenants" / "acme" / "runs" / api.finished
    hidden = [p.relative_to(run_dir).as_posix() for p in (run_dir / "memory").rglob("*") if p.is_file()][:1]
    for outside in ["../../../../dramafactory.sqlite", "%2e%2e/%2e%2e/%2e%2e/%2e%2e/dramafactory.sqlite", ".lock",
                    *hidden]:
        assert client.get(f"/series/{api.finished}/artifacts/{outside}", headers=AUTH).status_code == 404, outside
    events = client.get(f"/series/{api.finished}/events", params={"follow": "false"}, headers=AUTH)
    ids = [int(line[3:]) for line in events.text.splitlines() if line.startswith("id:")]
    assert ids and ids == list(range(1, len(ids) + 1))
    resumed = client.get(f"/series/{api.finished}/events", params={"follow": "false"},
                         headers={**AUTH, "Last-Event-ID": str(ids[-3])})
    assert [int(line[3:]) for line in resumed.text.splitlines() if line.startswith("id:")] == ids[-2:]
    assert client.post(f"/series/{api.finished}/cancel", headers=AUTH).status_code == 409
    assert client.post(f"/series/{api.finished}/resume", headers=AUTH).status_code == 409
    pending = {r["id"] for r in client.get("/reviews", headers=AUTH).json()}
    for kind, review_id in api.reviews.items():
        review = ReviewPublic.model_validate(client.get(f"/reviews/{review_id}", headers=AUTH).json())
        assert review.kind == kind and review.status == "pending" and review.id in pending
        assert client.get(f"/series/{api.runs[kind]}", headers=AUTH).json()["review"] == review_id
    other = auth("globex")  # the other tenant sees none of it
    assert client.get(f"/series/{api.finished}", headers=other).status_code == 404
    assert client.get(f"/series/{api.finished}/events", headers=other).status_code == 404
    assert client.get(f"/reviews/{api.reviews['bible']}", headers=other).status_code == 404
    assert client.get("/series", headers=other).json() == []


# --- the property-based run ---------------------------------------------------------------------------------------

def test_every_operation_with_generated_requests(api):
    operations = [result.ok() for result in SCHEMA.get_all_operations()]
    for operation in operations:  # pass 1: random path ids
        for mode in EXAMPLES:
            if mode == "negative" and operation.path == "/health":
                continue  # no parameter, body or key: there is no invalid request to make
            fuzz(api, operation, mode, "random ids")
    for operation in operations:  # pass 2: the ids of real runs and reviews
        names = {p.name for p in operation.path_parameters}
        for mode in EXAMPLES:
            if "review_id" in names:
                for kind, review_id in api.reviews.items():
                    keep = keeps_review_pending if operation.method == "post" else None
                    fuzz(api, operation, mode, f"{kind} review", {"review_id": review_id}, keep)
            elif "run_id" in names:
                fuzz(api, operation, mode, "finished run", {"run_id": api.finished})

    total = sum(api.sent.values())
    print(f"\n{total} generated requests; auth and body errors: {dict(api.gaps)}")  # noqa: T201
    print(json.dumps(dict(sorted(api.sent.items())), indent=1))  # noqa: T201
    assert total >= MIN_REQUESTS
    assert {label(op) for op in operations} == {key.split(" [")[0] for key in api.sent}
    # every known-id pass answered with the real thing at least once (not only 404s and 422s)
    for name in ("finished run", *(f"{kind} review" for kind in api.reviews)):
        assert any(f"{name}] 200" in key for key in api.sent), name

    # no generated decision was accepted, so the reviews still wait: a person's approval resumes each run (on
    # workers the generated runs no longer hold)
    cancel_generated_runs(api)
    for kind, review_id in api.reviews.items():
        assert api.client.get(f"/reviews/{review_id}", headers=AUTH).json()["status"] == "pending", kind
        decided = api.client.post(f"/reviews/{review_id}", json={"action": "approve"}, headers=AUTH)
        assert decided.status_code == 202 and decided.json()["status"] == "decided", decided.text
        again = api.client.post(f"/reviews/{review_id}", json={"action": "approve"}, headers=AUTH)
        assert again.status_code == 409
    for kind, run_id in api.runs.items():
        run = wait_for(api.client, run_id, PAUSED_OR_DONE, AUTH)
        assert run["status"] == "finished", (kind, run["error"])
