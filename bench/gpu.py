"""Seconds, VRAM and finished episode-minutes per GPU-hour for the throughput preset's keyframe and clip models.

    .venv/bin/python bench/gpu.py [--out bench/results/gpu.json] [--minutes 8] [--tiny --allow-cpu]

Without CUDA (and without --allow-cpu) it prints one "skipped: ..." line, writes {"skipped": true, ...}, exits 0.
Without local weights (the normal case: nothing is ever downloaded) each model is the REAL architecture at full size,
built from its published config (bench/gpu_models.py names each source) with random weights, bf16 on CUDA: seconds
and memory are honest, image quality is not measured. --image-model/--video-model PATH time a local pipeline folder
instead (from_pretrained, HF_HUB_OFFLINE=1, prompts through its own text encoder).

What one timed call is: the real diffusers pipeline's __call__ (scheduler, denoiser steps, VAE encode of the
clip's first frame, VAE decode, conversion to PIL/numpy), with precomputed random prompt embeddings of the encoder's
shape when the weights are random (the text encoder is not built or timed). Each shape is warmed up once (a 1-step
call); repeats stop at the --minutes budget; a stage that would not fit is recorded as not measured, with why.
Keyframes: one image per call against --batch images per call, alternated in the same run (batch_ratio = seconds
per image batched / seconds per image one by one). Clips: a 5 s clip at 24 fps (121 frames, 4k+1), 704x1280.
--tiny --allow-cpu runs the same code on CPU with the configs scaled down: a smoke test, its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_models as gm  # noqa: E402

RANDOM = "random weights at full size: speed and memory only"
TINY = "tiny CPU smoke run: figures mean nothing"
QC_DEFAULT = 1.0  # s per take: face embedding + prompt-adherence scoring on the GPU (an assumption, not measured)
FORMULA = ("gpu_seconds_per_finished_minute = shots_per_minute * (attempts_per_shot * (keyframe_s + qc_s_per_take) "
           "+ clip_s); finished_minutes_per_gpu_hour = 3600 / gpu_seconds_per_finished_minute")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("bench/results/gpu.json"))
    p.add_argument("--minutes", type=float, default=8.0, help="time budget for the whole run")
    p.add_argument("--tiny", action="store_true", help="configs scaled down (with --allow-cpu: the CPU smoke run)")
    p.add_argument("--allow-cpu", action="store_true", help="run on CPU when there is no CUDA (only with --tiny)")
    p.add_argument("--keyframe-models", default="klein,zimage", help="of: klein, zimage (first one is the preset's)")
    p.add_argument("--image-model", type=Path, help="a local diffusers text-to-image folder (replaces the random one)")
    p.add_argument("--video-model", type=Path, help="a local diffusers image-to-video folder")
    p.add_argument("--batch", type=int, default=4, help="images per batched keyframe call (preset max_batch)")
    p.add_argument("--keyframe-steps", type=int, help="default: klein 4, Z-Image-Turbo 8 (their distilled counts)")
    from dramafactory.tools.presets import preset

    clip = preset("throughput").video  # the product's own settings, so the figure is what the preset would make
    p.add_argument("--clip-steps", type=int, default=clip.steps,
                   help=f"default: the throughput preset's {clip.steps} (a step-distilled TI2V-5B: 3-4)")
    p.add_argument("--clip-guidance", type=float, default=clip.guidance,
                   help=f"default: the preset's {clip.guidance:g}; >1 doubles the passes (CFG), 1.0 for distilled")
    p.add_argument("--clip-seconds", type=float, default=5.0)
    p.add_argument("--fps", type=int, default=24)
    p.add_argument("--shots-per-minute", type=float, default=20.0, help="shots per finished episode-minute")
    p.add_argument("--attempts-per-shot", type=float, help="default: the QC drill's feedback arm (the product path) in bench/results/*.json, else the "
                        "largest recorded, else 1.5")
    p.add_argument("--qc-seconds", type=float, default=QC_DEFAULT, help="GPU seconds of QC per keyframe take")
    return p.parse_args(argv)


def device_info(torch: Any, device: str) -> dict:
    info = {"device": device, "torch": torch.__version__, "cuda": torch.version.cuda,
            "cuda_available": torch.cuda.is_available(), "python": platform.python_version()}
    try:
        import diffusers

        info["diffusers"] = diffusers.__version__
    except ImportError:
        info["diffusers"] = None
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(name=props.name, total_memory_gb=round(props.total_memory / 2**30, 1),
                    capability=f"{props.major}.{props.minor}")
    else:
        info["name"] = platform.processor() or "cpu"
    return info


def measured_attempts(out: Path) -> list[dict]:
    """attempts_per_shot wherever our CPU runs recorded it (bench/results/*.json, any depth)."""
    found: list[dict] = []

    def walk(node: Any, where: str, file: Path) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "attempts_per_shot" and isinstance(value, int | float) and value >= 1:
                    found.append({"file": str(file.relative_to(file.parents[2])), "at": f"{where}.{key}".lstrip("."), "value": float(value)})
                walk(value, f"{where}.{key}", file)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]", file)

    for file in sorted(Path(__file__).resolve().parent.joinpath("results").glob("*.json")):
        if file.resolve() == out.resolve() or file.name.startswith("gpu"):
            continue
        try:
            walk(json.loads(file.read_text(encoding="utf-8")), "", file)
        except (OSError, ValueError):
            continue
    return found


class Bench:
    def __init__(self, args: argparse.Namespace, torch: Any, device: str):
        self.args, self.torch, self.device = args, torch, device
        self.cuda = device == "cuda"
        self.dtype = torch.bfloat16 if self.cuda else torch.float32
        self.start = time.perf_counter()
        self.deadline = self.start + args.minutes * 60 - 10  # 10 s to write the results
        self.vae_seconds = 0.0

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def left(self, stage_deadline: float) -> float:
        return min(stage_deadline, self.deadline) - time.perf_counter()

    def timed_vae(self, pipe: Any) -> None:
        """Add VAE encode/decode time to self.vae_seconds (the rest of a call is the denoiser and the scheduler)."""
        for attr in ("decode", "encode"):
            inner = getattr(pipe.vae, attr)

            def wrapper(*a: Any, _inner: Any = inner, **kw: Any) -> Any:
                self.sync()
                t = time.perf_counter()
                result = _inner(*a, **kw)
                self.sync()
                self.vae_seconds += time.perf_counter() - t
                return result

            setattr(pipe.vae, attr, wrapper)

    def call(self, pipe: Any, kwargs: dict) -> tuple[float, float]:
        """(seconds, of which VAE) of one pipeline call."""
        self.vae_seconds = 0.0
        self.sync()
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # random weights give odd pixels; casting them warns
            pipe(**kwargs)
        self.sync()
        return time.perf_counter() - t, self.vae_seconds

    def estimate(self, warm: tuple[float, float], steps: int) -> float:
        """A full call, from a 1-step warmup: its denoiser part times the steps, plus its VAE part."""
        return (warm[0] - warm[1]) * steps + warm[1]

    def reset_peak(self) -> None:
        if self.cuda:
            self.torch.cuda.empty_cache()
            self.torch.cuda.reset_peak_memory_stats()

    def peak(self) -> dict:
        if not self.cuda:
            return {"peak_vram_gb": None, "peak_reserved_gb": None}
        c = self.torch.cuda
        return {"peak_vram_gb": round(c.max_memory_allocated() / 2**30, 2),
                "peak_reserved_gb": round(c.max_memory_reserved() / 2**30, 2)}

    def free(self) -> None:
        import gc

        gc.collect()
        if self.cuda:
            self.torch.cuda.empty_cache()

    def load(self, name: str, folder: Path | None) -> tuple[Any, dict]:
        t = time.perf_counter()
        if folder is not None:
            from diffusers import DiffusionPipeline

            pipe = DiffusionPipeline.from_pretrained(str(folder), torch_dtype=self.dtype, local_files_only=True)
            pipe = pipe.to(self.device)
            pipe.set_progress_bar_config(disable=True)
            info = {"model": str(folder), "pipeline": type(pipe).__name__, "weights": f"local folder {folder}",
                    "text_encoder": "included in each timed call (prompt strings)"}
        else:
            pipe, info = gm.build_pipeline(name, tiny=self.args.tiny, device=self.device, dtype=self.dtype)
            info["weights"] = TINY if self.args.tiny else RANDOM
            info["text_encoder"] = "not built or timed: precomputed random prompt embeddings of the encoder's shape"
        info["build_seconds"] = round(time.perf_counter() - t, 2)
        self.timed_vae(pipe)
        return pipe, info

    def prompt(self, name: str, folder: Path | None, pipe: Any) -> dict:
        if folder is not None:
            return {"prompt": "A night-shift nurse turns in a hospital corridor, close-up, rain on the windows."}
        seq, width = gm.tiny_embeds(name) if self.args.tiny else gm.MODELS[name]["embeds"]
        embeds = self.torch.randn(1, seq, width, device=self.device, dtype=self.dtype)
        return {"prompt_embeds": [embeds[0]] if name == "zimage" else embeds}

    def keyframes(self, name: str, stage_deadline: float) -> dict:
        args, folder = self.args, self.args.image_model
        spec = gm.MODELS.get(name, {})
        pipe, res = self.load(name, folder)
        multiple = int(getattr(pipe, "vae_scale_factor", 8)) * 2
        width, height = (32, 64) if args.tiny else (gm.round_to(720, multiple), gm.round_to(1280, multiple))
        steps = 2 if args.tiny else args.keyframe_steps or spec.get("steps", 4)
        guidance = 0.0 if type(pipe).__name__.startswith("ZImage") else spec.get("guidance", 1.0)
        base = {**self.prompt(name, folder, pipe), "width": width, "height": height, "guidance_scale": guidance,
                "output_type": "pil"}
        res.update(width=width, height=height, multiple=multiple, steps=steps, guidance=guidance,
                   prompt_embeds=None if folder else list(gm.tiny_embeds(name) if args.tiny else spec["embeds"]))
        self.reset_peak()
        one = {**base, "num_images_per_prompt": 1}
        warm = self.call(pipe, {**one, "num_inference_steps": 1})
        res["warmup_seconds"] = round(warm[0], 3)
        est = self.estimate(warm, steps)
        if est > self.left(stage_deadline):
            return {**res, "measured": False, "reason": f"one call estimated at {est:.1f} s, "
                                                        f"{self.left(stage_deadline):.1f} s left in the budget"}
        batch, ooms = args.batch, []
        while batch > 1:  # warm the batched shape, halving it on CUDA OOM
            try:
                self.call(pipe, {**base, "num_images_per_prompt": batch, "num_inference_steps": 1})
                break
            except self.torch.OutOfMemoryError:
                ooms.append(batch)
                self.free()
                batch //= 2
        singles, batched, vae = [], [], []
        for _ in range(2 if args.tiny else 5):  # alternate one-by-one and batched calls so drift hits both alike
            t, v = self.call(pipe, {**one, "num_inference_steps": steps})
            singles.append(t)
            vae.append(v)
            if batch > 1:
                batched.append(self.call(pipe, {**base, "num_images_per_prompt": batch, "num_inference_steps": steps})[0])
            per_round = statistics.mean(singles) + (statistics.mean(batched) if batched else 0.0)
            if per_round > self.left(stage_deadline):
                break
        single = statistics.median(singles)
        res.update(measured=True, seconds_per_image=round(single, 4), vae_seconds_per_image=round(
            statistics.median(vae), 4), runs_single=[round(t, 4) for t in singles], **self.peak())
        if batched:
            per_image = statistics.median(batched) / batch
            res["batch"] = {"size": batch, "seconds_per_call": round(statistics.median(batched), 4),
                            "seconds_per_image": round(per_image, 4), "runs": [round(t, 4) for t in batched],
                            "ratio": round(per_image / single, 4), "speedup": round(single / per_image, 4),
                            "oom_at": ooms, "definition": "ratio = s/image batched / s/image one by one"}
            res["batch_ratio"] = res["batch"]["ratio"]
        else:
            res["batch"] = {"size": 1, "oom_at": ooms, "reason": "CUDA out of memory at every batch > 1"}
            res["batch_ratio"] = None
        return res

    def clips(self, stage_deadline: float) -> dict:
        from PIL import Image

        args, folder = self.args, self.args.video_model
        pipe, res = self.load("wan", folder)
        step = int(getattr(pipe, "vae_scale_factor_temporal", 4))
        patch = getattr(getattr(pipe, "transformer", None), "config", {}).get("patch_size", [1, 2, 2])
        patch = patch[-1] if isinstance(patch, list | tuple) else patch or 1
        multiple = int(getattr(pipe, "vae_scale_factor_spatial", 16)) * int(patch)
        width, height = (32, 64) if args.tiny else (gm.round_to(720, multiple), gm.round_to(1280, multiple))
        frames = 2 * step + 1 if args.tiny else gm.frames_for(args.clip_seconds, args.fps, step)
        steps = 2 if args.tiny else args.clip_steps
        noise = (self.torch.rand(height, width, 3) * 255).to(self.torch.uint8).numpy()
        base = {**self.prompt("wan", folder, pipe), "image": Image.fromarray(noise), "width": width, "height": height,
                "num_frames": frames, "guidance_scale": args.clip_guidance, "output_type": "np"}
        if args.clip_guidance > 1 and folder is None:
            base["negative_prompt_embeds"] = self.torch.randn_like(base["prompt_embeds"])
        res.update(width=width, height=height, multiple=multiple, frames=frames, frame_rule=f"{step}k+1",
                   fps=args.fps, clip_seconds=round((frames - 1) / args.fps, 3), steps=steps,
                   guidance=args.clip_guidance, vae_tiling=False,
                   prompt_embeds=None if folder else list(gm.tiny_embeds("wan") if args.tiny else gm.MODELS["wan"]
                                                          ["embeds"]))
        self.reset_peak()
        try:
            warm = self.call(pipe, {**base, "num_inference_steps": 1})
        except self.torch.OutOfMemoryError:  # the VAE decode of 121 frames is the usual culprit: tile it, once
            self.free()
            pipe.vae.enable_tiling()
            res.update(vae_tiling=True, oom="CUDA out of memory untiled: retried with VAE tiling")
            warm = self.call(pipe, {**base, "num_inference_steps": 1})
        res["warmup_seconds"] = round(warm[0], 3)
        est = self.estimate(warm, steps)
        if est > self.left(stage_deadline):
            return {**res, "measured": False, "reason": f"one clip estimated at {est:.1f} s, "
                                                        f"{self.left(stage_deadline):.1f} s left in the budget"}
        runs, vae = [], []
        for _ in range(1 if args.tiny else 3):
            t, v = self.call(pipe, {**base, "num_inference_steps": steps})
            runs.append(t)
            vae.append(v)
            if statistics.mean(runs) > self.left(stage_deadline):
                break
        res.update(measured=True, seconds_per_clip=round(statistics.median(runs), 3), vae_seconds_per_clip=round(
            statistics.median(vae), 3), runs=[round(t, 3) for t in runs], **self.peak())
        return res


def throughput(args: argparse.Namespace, keyframe: dict, clip: dict, attempts: float, source: str) -> dict:
    inputs = {"shots_per_minute": args.shots_per_minute, "attempts_per_shot": attempts, "attempts_source": source,
              "qc_seconds_per_take": args.qc_seconds, "qc_source": "--qc-seconds" if args.qc_seconds != QC_DEFAULT
              else f"default {QC_DEFAULT} s (assumed, not measured)"}
    shot_s = 60 / args.shots_per_minute
    notes = ["a retry re-renders the keyframe and its QC; the clip is made once per shot from the accepted "
             "keyframe (graphs/clips.py)",
             f"every shot costs one {clip.get('clip_seconds')} s clip; shots average {shot_s:.1f} s, so this "
             f"{'overstates' if (clip.get('clip_seconds') or 0) > shot_s else 'understates'} clip time",
             "counts keyframes, clips and QC only: text, speech, music and assembly are not on this figure"]
    if not (keyframe.get("measured") and clip.get("measured")):
        return {"formula": FORMULA, "inputs": inputs, "finished_minutes_per_gpu_hour": None,
                "reason": "keyframe or clip not measured"}
    batched = keyframe.get("batch", {}).get("seconds_per_image")  # the preset batches: take it where it pays
    use_batch = bool(batched) and batched < keyframe["seconds_per_image"]
    kf = batched if use_batch else keyframe["seconds_per_image"]
    per_minute = args.shots_per_minute * (attempts * (kf + args.qc_seconds) + clip["seconds_per_clip"])
    return {"formula": FORMULA, "inputs": {**inputs, "keyframe_s": kf, "keyframe_model": keyframe["model"],
                                           "keyframe_s_is": "batched, per image" if use_batch else "one by one",
                                           "clip_s": clip["seconds_per_clip"]},
            "gpu_seconds_per_finished_minute": round(per_minute, 2),
            "finished_minutes_per_gpu_hour": round(3600 / per_minute, 2), "notes": notes}


def write(out: Path, results: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    results["finished_at"] = now()
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = now()
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not (args.allow_cpu and args.tiny):
        why = f"no CUDA device (torch {torch.__version__}, cuda available: False)"
        if args.allow_cpu:
            why += "; full-size models on CPU would not finish: add --tiny"
        print(f"skipped: {why}")
        write(args.out, {"skipped": True, "reason": why, "started_at": started, "device": device_info(torch, "cpu")})
        return 0
    device = "cuda" if cuda else "cpu"
    found = measured_attempts(args.out)
    if args.attempts_per_shot is not None:
        attempts, source = args.attempts_per_shot, "--attempts-per-shot"
    elif found:
        # The QC drill's feedback arm is the product's own path under injected faults (retakes act on QC's reason);
        # its seed-only arm is an ablation. Prefer the product path; else the largest figure any run recorded.
        product = [f for f in found if f["at"].endswith("arms.feedback.attempts_per_shot")]
        best = product[0] if product else max(found, key=lambda f: f["value"])
        attempts, source = best["value"], f"measured: {best['file']} {best['at']}"
    else:
        attempts, source = 1.5, "default 1.5 (no bench/results/*.json records attempts_per_shot)"
    bench = Bench(args, torch, device)
    weights = TINY if args.tiny else "; ".join(
        [f"image: local folder {args.image_model}" if args.image_model else f"image: {RANDOM}",
         f"video: local folder {args.video_model}" if args.video_model else f"video: {RANDOM}"])
    names = ["local"] if args.image_model else [n.strip() for n in args.keyframe_models.split(",") if n.strip()]
    results: dict[str, Any] = {
        "skipped": False, "mode": "tiny" if args.tiny else "full", "weights": weights, "started_at": started,
        "device": {**device_info(torch, device), "dtype": str(bench.dtype).removeprefix("torch.")},
        "quality_measured": False, "budget_minutes": args.minutes,
        "config_sources": {"diffusers_snapshot": gm.DIFFUSERS_SNAPSHOT,
                           **{n: gm.MODELS[n]["source"] for n in [*names, "wan"] if n in gm.MODELS}},
        "attempts_measured": found, "keyframes": {}, "clip": {}, "throughput": {}, "errors": []}
    print(f"{'tiny ' if args.tiny else ''}GPU bench on {results['device']['name']}: {weights}")
    kf_share = (args.minutes * 60 * 0.35) / max(1, len(names))  # keyframes share 35% of the budget; clips the rest
    for name in names:
        try:
            if bench.left(bench.deadline) < 0.1 * args.minutes * 60:
                raise TimeoutError("not started: the --minutes budget is spent")
            if name != "local" and name not in gm.MODELS:
                raise ValueError(f"unknown keyframe model {name!r}: choose from klein, zimage")
            results["keyframes"][name] = bench.keyframes(name, time.perf_counter() + kf_share)
        except torch.OutOfMemoryError as exc:
            results["keyframes"][name] = {"measured": False, "reason": f"CUDA out of memory: {exc}"[:300]}
        except TimeoutError as exc:
            results["keyframes"][name] = {"measured": False, "reason": str(exc)}
        except Exception as exc:  # noqa: BLE001 - recorded in the results, never lost
            results["keyframes"][name] = {"measured": False, "reason": f"{type(exc).__name__}: {exc}"[:300]}
            results["errors"].append(traceback.format_exc()[-2000:])
        bench.free()
        write(args.out, results)  # partial results survive a later crash or kill
        kf = results["keyframes"][name]
        if kf.get("measured"):
            print(f"keyframe {kf['model']}: {kf['seconds_per_image']:.3f} s/image at {kf['width']}x{kf['height']}, "
                  f"{kf['steps']} steps; batch of {kf['batch']['size']}: ratio {kf['batch_ratio']}; "
                  f"peak VRAM {kf['peak_vram_gb']} GB")
        else:
            print(f"keyframe {name}: not measured: {kf['reason']}")
    try:
        if bench.left(bench.deadline) < 0.2 * args.minutes * 60:
            raise TimeoutError("not started: under 20% of the --minutes budget is left")
        results["clip"] = bench.clips(bench.deadline)
    except torch.OutOfMemoryError as exc:
        results["clip"] = {"measured": False, "reason": f"CUDA out of memory even with VAE tiling: {exc}"[:300]}
    except TimeoutError as exc:
        results["clip"] = {"measured": False, "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001
        results["clip"] = {"measured": False, "reason": f"{type(exc).__name__}: {exc}"[:300]}
        results["errors"].append(traceback.format_exc()[-2000:])
    clip = results["clip"]
    if clip.get("measured"):
        print(f"clip {clip['model']}: {clip['seconds_per_clip']:.2f} s per {clip['frames']} frames at "
              f"{clip['width']}x{clip['height']}, {clip['steps']} steps; peak VRAM {clip['peak_vram_gb']} GB")
    else:
        print(f"clip: not measured: {clip['reason']}")
    for name, kf in results["keyframes"].items():
        results["throughput"][name] = throughput(args, kf, clip, attempts, source)
    head = results["throughput"].get(names[0], {}) if names else {}
    results["finished_minutes_per_gpu_hour"] = head.get("finished_minutes_per_gpu_hour")
    results["wall_seconds"] = round(time.perf_counter() - bench.start, 1)
    write(args.out, results)
    print(f"finished episode-minutes per GPU-hour: {results['finished_minutes_per_gpu_hour']} ({FORMULA}; "
          f"attempts {attempts} from {source}, QC {args.qc_seconds} s/take)")
    print(TINY if args.tiny else f"weights: {weights}")
    print(f"results: {args.out}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
