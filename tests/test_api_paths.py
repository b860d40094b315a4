"""Paths and ids the filesystem (or the database) refuses are 'not found', never a 500: every route that takes a
path or an id, walked with names too long for the filesystem (one 5000-character segment, and a path of many
segments longer than PATH_MAX), very deep paths, NUL bytes, encoded and double-encoded dots, absolute paths,
backslashes, bytes that are not UTF-8, and a symlink loop inside the run's own folder.

Every answer is exactly 404 with a Problem body: the path parameters carry no constraint FastAPI checks first, so
there is no 422, and the review decision sent is a valid one, so only its review id is wrong."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dramafactory.api.app import create_app
from dramafactory.api.models import Problem

from .api_support import CONCEPT, api_settings, auth, fake_factory, wait_for

AUTH = auth("acme")
LONG = "a" * 5000  # one name past NAME_MAX (255): ENAMETOOLONG
MANY = "/".join(["b" * 200] * 30)  # each name fits, the whole is past PATH_MAX (4096): ENAMETOOLONG
DEEP = "/".join(["d"] * 3000)
# Paths as they go on the wire, for the artifact route. Dots are encoded: a client (httpx, a browser) removes literal
# ".." segments before sending.
BAD_PATHS = [
    LONG, f"{LONG}/bible.json", f"episodes/{LONG}", MANY, DEEP, "/".join(["%2e%2e"] * 2000),
    "%00", "bible.json%00", "bible.json%00.png", "episodes/%00/01",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%252e%252e/%252e%252e/etc",
    "..%2f..%2f..%2f..%2fetc%2fpasswd", "//etc/passwd", "%2Fetc%2Fpasswd", "%2F%2Fetc%2Fpasswd",
    "..\\..\\..\\..\\etc\\passwd", "%5c..%5c..%5cetc%5cpasswd", "C:%5cWindows%5cwin.ini",
    "%ff%fe", "%ed%a0%80", "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "loop", "loop/bible.json", "episodes/loop",
]
# Ids as they go on the wire, for the routes that take a run or a review id.
BAD_IDS = [LONG, "e" * 300, "%00", "abc%00def", "%2e%2e", "%252e%252e", "%2e%2e%2f%2e%2e", "%2Fetc%2Fpasswd",
           "..%5c..%5cetc", "%5c", "%ff%fe", "%ed%a0%80", "0123456789abcdef0123456789abcdef"]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A finished run of acme's, with a symlink loop in its folder (a folder the filesystem cannot resolve)."""
    data = tmp_path_factory.mktemp("paths") / "data"
    # a 500 is an answer to look at here, not an exception in the test
    with TestClient(create_app(api_settings(data), context_factory=fake_factory()),
                    raise_server_exceptions=False) as client:
        response = client.post("/series", json=CONCEPT, headers=AUTH)
        assert response.status_code == 202, response.text
        run_id = response.json()["id"]
        run = wait_for(client, run_id, {"finished", "failed", "cancelled"}, AUTH)
        assert run["status"] == "finished", run["error"]
        (data / "tenants" / "acme" / "runs" / run_id / "loop").symlink_to("loop")
        yield client, run_id


def not_found(response) -> None:
    assert response.status_code == 404, (response.request.url, response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/json", response.request.url
    Problem.model_validate(response.json())


@pytest.mark.parametrize("path", BAD_PATHS, ids=lambda p: p[:40])
def test_an_artifact_path_the_filesystem_refuses_is_404(api, path):
    client, run_id = api
    not_found(client.get(f"/series/{run_id}/artifacts/{path}", headers=AUTH))


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=lambda p: p[:40])
def test_every_route_with_an_id_answers_404(api, bad_id):
    client, run_id = api
    requests = [("GET", f"/series/{bad_id}", None), ("GET", f"/series/{bad_id}/events?follow=false", None),
                ("POST", f"/series/{bad_id}/cancel", None), ("POST", f"/series/{bad_id}/resume", None),
                ("GET", f"/series/{bad_id}/artifacts", None), ("GET", f"/series/{bad_id}/artifacts/bible.json", None),
                ("GET", f"/series/{bad_id}/artifacts/{LONG}", None), ("GET", f"/reviews/{bad_id}", None),
                ("POST", f"/reviews/{bad_id}", {"action": "approve"})]
    for method, url, body in requests:
        not_found(client.request(method, url, json=body, headers=AUTH))


def test_the_run_itself_still_serves_its_files(api):
    """The guard refuses only what it must: the run's own files are served, the folder listing skips the loop."""
    client, run_id = api
    assert client.get(f"/series/{run_id}/artifacts/bible.json", headers=AUTH).status_code == 200
    assert client.get(f"/series/{run_id}/artifacts/episodes/01/../../bible.json", headers=AUTH).status_code == 200
    listed = client.get(f"/series/{run_id}/artifacts", headers=AUTH)
    assert listed.status_code == 200 and "loop" not in {a["path"] for a in listed.json()}
