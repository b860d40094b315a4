"""The CLI's bad-input paths: one clear line naming cause and fix, a non-zero exit, nothing lost."""

from __future__ import annotations

import io

import pytest
from typer.testing import CliRunner

from dramafactory.cli import app

runner = CliRunner()


def run(*args: str, env: dict | None = None):
    return runner.invoke(app, ["produce", *args], env=env or {})


@pytest.mark.parametrize("concept, expected", [
    ("", "too short"),
    ("x" * 50_000, "limit is 2000"),
])
def test_empty_or_huge_concept_is_rejected(tmp_path, concept, expected):
    result = run(concept, "--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert expected in result.output and "fix:" in result.output
    assert not (tmp_path / "run").exists()


def test_concept_file_too_big_or_not_yaml(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("logline: " + "a" * 70_000)
    result = run("--concept", str(big), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "limit is" in result.output
    odd = tmp_path / "odd.yaml"
    odd.write_text("- just\n- a list\n")
    result = run("--concept", str(odd), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "not a YAML mapping" in result.output


def test_unknown_field_in_concept_file_names_the_field(tmp_path):
    concept = tmp_path / "c.yaml"
    concept.write_text("logline: A maid finds out her fiance framed her brother.\nepisodes: 0\n")
    result = run("--concept", str(concept), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "'episodes'" in result.output


def test_language_the_embedded_model_cannot_do(tmp_path):
    concept = tmp_path / "c.yaml"
    concept.write_text("logline: Une femme de chambre découvre que son fiancé a piégé son frère.\nlanguage: fr\n")
    result = run("--concept", str(concept), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "language 'fr'" in result.output and "fix:" in result.output


def test_missing_espeak_names_the_fix(tmp_path):
    result = run("A maid finds out her fiance framed her brother.", "--out", str(tmp_path / "run"),
                 env={"DRAMAFACTORY_ESPEAK_BINARY": "/nonexistent/espeak-ng"})
    assert result.exit_code == 2 and "apt-get install espeak-ng" in result.output


def test_resume_without_a_run(tmp_path):
    result = run("--resume", "--out", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "no run to resume" in result.output


def test_progress_view_follows_a_run_with_fakes(fake_context, concept):
    """The CLI's progress view consumes every event a real run emits (retries and the review step included)."""
    from rich.console import Console
    from rich.progress import Progress

    from dramafactory.cli import ProgressView
    from dramafactory.graphs.runner import produce

    from .fakes import FakeImage

    console = Console(file=io.StringIO(), width=120)
    with Progress(console=console) as progress:
        view = ProgressView(progress, max_attempts=3)
        produce(fake_context(image=FakeImage(fail_first={"e01s02": 1, "e01s03": 99})), concept=concept, seed=7,
                on_event=view)
    printed = console.file.getvalue()
    assert "shot e01s02 take 1 failed QC" in printed and "1 shot(s) QC could not fix" in printed


def test_a_paused_shot_review_is_answered_with_approve(fake_context, concept, fast_settings, tmp_path, monkeypatch):
    """`produce --resume --approve SHOT` answers the review interrupt and rewrites the queue."""
    import json

    from dramafactory.graphs import backends
    from dramafactory.graphs.runner import produce

    from .fakes import FakeImage

    fast_settings.review_shots = "interrupt"
    run_dir = tmp_path / "paused"
    assert produce(fake_context(run_dir, image=FakeImage(fail_first={"e01s03": 99})), concept=concept,
                   seed=7).status == "paused"
    monkeypatch.setattr(backends, "build_context", lambda out, settings: fake_context(out))
    result = run("--resume", "--out", str(run_dir), "--approve", "e01s03")
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "review_queue.json").read_text()) == []


@pytest.fixture
def no_cuda(monkeypatch):
    """A machine without a usable CUDA device (whatever this one has)."""
    from dramafactory.tools.gpu import device

    monkeypatch.setattr(device, "cuda_state", lambda: (False, "torch 2.13.0+cpu, CUDA none (a CPU build), devices: 0"))


def test_a_gpu_backend_without_cuda_stops_before_any_work(tmp_path, no_cuda):
    # the configured GPU backend must be refused in one line, before the text model loads or anything is written
    result = run("A maid finds out her fiance framed her brother.", "--out", str(tmp_path / "run"),
                 env={"DRAMAFACTORY_IMAGE_BACKEND": "diffusers"})
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert lines[0].startswith("error: image backend 'diffusers': a GPU backend is configured but no CUDA device")
    assert "DRAMAFACTORY_DEVICE=cpu" in result.output
    assert not (tmp_path / "run").exists()


def test_a_missing_model_folder_names_the_role_and_the_setting(tmp_path):
    result = run("A maid finds out her fiance framed her brother.", "--out", str(tmp_path / "run"),
                 env={"DRAMAFACTORY_VIDEO_BACKEND": "diffusers", "DRAMAFACTORY_DEVICE": "cpu",
                      "DRAMAFACTORY_VIDEO_MODEL": str(tmp_path / "no-wan")})
    assert result.exit_code == 2
    assert "video backend 'diffusers': the model path" in result.output and "DRAMAFACTORY_VIDEO_MODEL" in result.output


def test_backends_lists_every_role_and_fails_when_the_configured_one_cannot_run(tmp_path, no_cuda):
    result = runner.invoke(app, ["backends", "--json"], env={})
    assert result.exit_code == 0, result.output
    import json

    rows = json.loads(result.stdout)
    assert {r["role"] for r in rows} == {"text", "image", "video", "speech"}
    assert {(r["role"], r["name"]) for r in rows if r["configured"]} == {
        ("text", "embedded"), ("image", "storyboard"), ("video", "none"), ("speech", "voicebank")}
    broken = runner.invoke(app, ["backends"], env={"DRAMAFACTORY_IMAGE_BACKEND": "diffusers"})
    assert broken.exit_code == 2 and "no CUDA device" in broken.output
