"""bench/gpu.py: skips cleanly without CUDA, and its whole code path runs on CPU with tiny configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu.py"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([PYTHON, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.skipif(_cuda(), reason="this machine has CUDA: the script would run rather than skip")
def test_skips_cleanly_without_cuda(tmp_path):
    out = tmp_path / "gpu.json"
    proc = _run("--out", str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("skipped: no CUDA device (torch "), proc.stdout
    assert "cuda available: False" in lines[0]
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["skipped"] is True and "no CUDA" in results["reason"]


def test_tiny_cpu_run_exercises_the_whole_path(tmp_path):
    pytest.importorskip("diffusers")
    out = tmp_path / "gpu.json"
    start = time.perf_counter()
    proc = _run("--tiny", "--allow-cpu", "--out", str(out))
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tiny CPU smoke run: figures mean nothing" in proc.stdout
    assert elapsed < 60, f"the tiny run took {elapsed:.0f} s"  # ~20 s on 2 shared cores
    results = json.loads(out.read_text(encoding="utf-8"))
    for key in ("skipped", "mode", "weights", "device", "config_sources", "keyframes", "clip", "throughput",
                "finished_minutes_per_gpu_hour", "started_at", "finished_at", "errors", "attempts_measured"):
        assert key in results, key
    assert results["skipped"] is False and results["mode"] == "tiny" and results["errors"] == []
    assert "figures mean nothing" in results["weights"]
    for key in ("name", "torch", "diffusers", "cuda_available", "dtype"):
        assert key in results["device"], key
    sources = results["config_sources"]
    assert sources["wan"]["transformer"]["file"] == "scripts/convert_wan_to_diffusers.py"
    assert sources["klein"]["transformer"]["file"] == "scripts/convert_flux2_to_diffusers.py"
    assert all(len(sources[m]["transformer"]["commit"]) == 40 for m in ("klein", "zimage", "wan"))

    for name in ("klein", "zimage"):
        kf = results["keyframes"][name]
        assert kf["measured"] is True, kf
        assert kf["seconds_per_image"] > 0 and kf["warmup_seconds"] > 0 and kf["steps"] == 2
        assert kf["width"] % kf["multiple"] == 0 and kf["height"] % kf["multiple"] == 0
        assert isinstance(kf["batch_ratio"], float) and kf["batch_ratio"] > 0
        assert kf["batch"]["size"] == 4 and kf["batch"]["seconds_per_image"] > 0
        assert "peak_vram_gb" in kf and kf["weights"] == "tiny CPU smoke run: figures mean nothing"
        assert "not built or timed" in kf["text_encoder"]

    clip = results["clip"]
    assert clip["measured"] is True, clip
    assert clip["frames"] == 9 and (clip["frames"] - 1) % 4 == 0 and clip["frame_rule"] == "4k+1"
    assert clip["seconds_per_clip"] > 0 and clip["steps"] == 2 and "peak_vram_gb" in clip
    assert clip["width"] % clip["multiple"] == 0 and clip["height"] % clip["multiple"] == 0

    tp = results["throughput"]["klein"]
    inputs = tp["inputs"]
    assert "3600 / gpu_seconds_per_finished_minute" in tp["formula"]
    expected = inputs["shots_per_minute"] * (inputs["attempts_per_shot"] * (inputs["keyframe_s"] +
                                             inputs["qc_seconds_per_take"]) + inputs["clip_s"])
    assert tp["gpu_seconds_per_finished_minute"] == pytest.approx(expected, rel=1e-3, abs=0.02)
    assert results["finished_minutes_per_gpu_hour"] == pytest.approx(3600 / tp["gpu_seconds_per_finished_minute"],
                                                                     rel=1e-2)
    assert inputs["attempts_per_shot"] >= 1


def test_frame_rule_and_rounding():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import gpu_models
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert gpu_models.frames_for(5, 24, 4) == 121
    assert gpu_models.frames_for(3, 24, 4) == 73
    assert gpu_models.round_to(720, 32) == 704 and gpu_models.round_to(1280, 16) == 1280
