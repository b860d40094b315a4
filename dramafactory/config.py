"""Settings, read once at the edges (CLI, API, bench) from DRAMAFACTORY_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .catalogue import ledger_rate


class QCThresholds(BaseModel):
    """Per-scorer pass thresholds, calibrated on the labelled set (`dramafactory eval qc` prints the good and bad
    score ranges and a suggested threshold; docs/decisions/0006-qc-scorers.md): each sits between the worst good
    frame and the least-bad bad one. Override one with e.g. DRAMAFACTORY_QC__MIN_SHARPNESS=80."""

    min_contrast: float = Field(default=25.0, description="Grey-level standard deviation below which a frame is flat.")
    min_exposure: float = 18.0
    max_exposure: float = 240.0
    max_clipped: float = Field(default=0.45, description="Largest fraction of pixels clipped to black or white.")
    min_sharpness: float = Field(default=100.0, description="Laplacian variance (half resolution) below which a "
                                                           "frame is blurred.")
    max_grain: float = Field(default=24.0, description="Median grey step between neighbouring pixels above which "
                                                       "a frame is noise (a drawing or photo is mostly smooth).")
    max_duplicate: float = Field(default=0.94, description="Similarity to the previous shot above which a frame "
                                                            "is a duplicate.")
    min_identity: float = Field(default=0.6, description="Share of a character's look features (wardrobe colour, "
                                                         "hair, skin) that must be found on them (2 of 3: a back "
                                                         "view shows no face).")
    max_palette_drift: float = Field(default=18.0, description="RGB distance between a character's wardrobe colour "
                                                               "in the frame and its canonical colour.")
    clip_similarity: float = 0.22
    max_face_distance: float = Field(default=0.6, description="Largest face-embedding distance (dlib's Euclidean) "
                                     "at which a face is its character's reference sheet: dlib's published "
                                     "threshold, kept until labelled footage can calibrate it (on the labelled "
                                     "photographs, `dramafactory eval qc`, 0.45 separates best; docs/decisions/0010).")


class GenerationOverrides(BaseModel):
    """Overrides of the preset's generation settings for one role, e.g. DRAMAFACTORY_IMAGE_OPTIONS__STEPS=8."""

    model_config = {"extra": "forbid"}
    steps: int | None = Field(default=None, ge=1, le=200)
    guidance: float | None = Field(default=None, ge=0.0, le=30.0)
    width: int | None = Field(default=None, ge=16, le=4096)
    height: int | None = Field(default=None, ge=16, le=4096)
    multiple: int | None = Field(default=None, ge=1, le=256)
    dtype: Literal["bfloat16", "float16", "float32"] | None = None
    max_batch: int | None = Field(default=None, ge=1, le=64)
    fps: float | None = Field(default=None, gt=0, le=120)
    frame_step: int | None = Field(default=None, ge=1, le=64)
    max_frames: int | None = Field(default=None, ge=1, le=2000)


class RayRoleOptions(BaseModel):
    """How one role's work is placed on a Ray cluster: CPU and GPU slots (fractions allowed) and custom
    resources a node declares (`ray start --resources='{"video": 1}'`). `actor`: keep the backend resident in
    long-lived actors (GPU pipelines: load once), else a task per item in pooled worker processes."""

    model_config = {"extra": "forbid"}
    num_cpus: float = Field(default=1.0, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    resources: dict[str, float] = Field(default_factory=dict)
    actor: bool | None = Field(default=None, description="Default: an actor when the role uses a GPU.")
    actors: int = Field(default=1, ge=1, le=1024, description="Actors per role (one per card, typically).")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRAMAFACTORY_", env_file=".env", extra="ignore",
                                      env_nested_delimiter="__")

    # Text: "embedded" (the packaged GGUF), "llama-cpp" (any local GGUF at text_model_path),
    # "openai" (any OpenAI-compatible endpoint: vLLM, llama.cpp server, Ollama).
    text_backend: Literal["embedded", "llama-cpp", "openai"] = "embedded"
    text_model_path: Path | None = None
    # Which packaged model "embedded" loads (tools/text/embedded_model.py; chosen by `eval ab`, docs/decisions/0015).
    embedded_model: Literal["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"] = "qwen2.5-coder-0.5b"
    text_threads: int | None = Field(default=None, description="CPU threads for llama.cpp; default: all cores.")
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: str = "EMPTY"
    openai_model: str = "Qwen/Qwen2.5-7B-Instruct"
    # How the server is asked for JSON: "json_schema" (vLLM, OpenAI: response_format json_schema), "json_object_schema"
    # (llama.cpp's servers: response_format json_object with a schema), "ollama" (Ollama's own `format` field).
    openai_structured_mode: Literal["json_schema", "json_object_schema", "ollama"] = "json_schema"
    openai_max_in_flight: int = Field(default=8, ge=1, le=512, description="Requests this process keeps in flight "
                                      "to one server at most (all runs together): vLLM batches what is in flight.")
    openai_timeout_s: float = Field(default=120.0, gt=0, description="Seconds one request to the server may take "
                                    "before it counts as failed (then retried).")
    openai_max_retries: int = Field(default=2, ge=0, le=10, description="HTTP-level retries with backoff for "
                                    "connection errors, timeouts, 429 and 5xx; then the graph node's retry policy.")
    model_cache_dir: Path | None = None
    # How the agents use the text model: "tiny" (code decides the structure, the model writes one short field per
    # call: right for the packaged 0.5B) or "capable" (the director writes the cast and the outlines, the writer a
    # whole scene, one structured call each, checked by the same validators).
    text_strategy: Literal["tiny", "capable"] = "tiny"

    # Backends per role are looked up by these names in tools/registry.py (`dramafactory backends` lists them).
    image_backend: str = Field(default="storyboard", description="'storyboard' (the embedded CPU animatic) or "
                               "'diffusers' (a text-to-image pipeline on the GPU).")
    video_backend: str = Field(default="none", description="'none' (camera motion over the keyframes) or "
                               "'diffusers' (an image-to-video pipeline animates each accepted keyframe).")
    speech_backend: str = "voicebank"
    # GPU generation (docs/gpu.md): a preset names the model per role and its settings; each can be overridden.
    preset: Literal["throughput", "quality"] = "throughput"
    image_model: str | None = Field(default=None, description="A folder saved with save_pretrained, or a model id "
                                    "in the local Hugging Face cache; default: the preset's.")
    video_model: str | None = None
    image_options: GenerationOverrides = GenerationOverrides()
    video_options: GenerationOverrides = GenerationOverrides()
    device: Literal["cuda", "cpu"] = Field(default="cuda", description="Where the diffusers backends run; 'cpu' "
                                           "only for tiny models (tests).")
    reference_sheets: Literal["auto", "on", "off"] = Field(
        default="auto", description="A portrait per character made before the shots, accepted by QC, stored with "
                                    "its face embedding and given to pipelines that take reference images. 'auto': "
                                    "where the image backend asks for them (diffusers; the storyboard draws from "
                                    "the canonical look).")
    vram_gb: float | None = Field(default=None, gt=0, description="VRAM the pipelines may hold; a pipeline that "
                                  "does not fit is offloaded. Default: 90% of the card.")
    piper_model_path: Path | None = Field(default=None, description="A better piper voice (.onnx) for male leads.")
    espeak_binary: str = "espeak-ng"

    width: int = 720
    height: int = 1280
    fps: int = 24
    max_attempts: int = Field(default=3, ge=1, le=10, description="Renders of one shot before it goes to a human.")
    render_budget: float = Field(default=2.0, ge=1.0, le=10.0, description="Renders an episode may spend, as a "
                                 "multiple of its shot count (2.0: one retry per shot on average).")
    shot_wave: int = Field(default=256, ge=1, le=100_000, description="First takes sent to render in one graph "
                           "step: an episode's shots go out in waves of this many (more where that would make "
                           "over 16 waves), with the retries of the waves before. Bounds LangGraph's own per-step "
                           "cost (it scans every task of a step each time one finishes), which grew with the "
                           "square of the shot count when all went at once.")
    parallel_nodes: int | None = Field(default=None, ge=2, le=4096, description="Graph nodes of one run that "
                                       "work at once (LangGraph's max_concurrency: the shots of a wave, the clips "
                                       "of an episode). Default: LangGraph's own, min(32, CPUs + 4) threads. On a "
                                       "Ray cluster each node only waits on its work, so set it to the GPU slots "
                                       "one series should keep busy (e.g. 16 for 8 cards with 2 renders each). At "
                                       "least 2: at 1 LangGraph's streaming run waits on itself (seen here).")
    review_shots: Literal["queue", "interrupt"] = Field(
        default="queue", description="Shots QC could not fix: 'queue' lists them in review_queue.json and goes on "
                                     "(factory mode); 'interrupt' pauses the run until a person decides.")
    qc: QCThresholds = QCThresholds()
    qc_people: Literal["auto", "off"] = Field(
        default="auto", description="'auto': check who is on screen with the people-scorer the image backend "
                                    "declares (storyboard: its colour model); a backend without one leaves people "
                                    "'not judged' (the take goes to a person). 'off': technical checks only.")
    qc_clip_model_path: Path | None = Field(default=None, description="A local CLIP/SigLIP folder: adds a "
                                                                      "prompt-adherence scorer on image features.")
    fault_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Fault injection for QC drills: the share "
                              "of takes the renderer breaks on purpose (black, noise, blur, crop, wrong person...).")
    render_feedback: Literal["on", "off"] = Field(
        default="on", description="'on': a retake's renderer acts on QC's reason where its drawing can (takes record "
                                  "what changed); 'off': the reason is withheld from it, so a retry is a new seed "
                                  "only (the QC drill's control arm).")
    max_reasks: int = Field(default=3, ge=1, le=10, description="Re-asks of the text model per rejected answer.")
    music: bool = True

    # The HTTP service (dramafactory serve).
    data_dir: Path = Field(default=Path("dramafactory-data"), description="Where the service keeps run folders "
                                                                          "and, by default, its SQLite database.")
    database_url: str | None = Field(default=None, description="postgresql://... for PostgreSQL (registry and "
                                     "checkpoints); default: sqlite in data_dir.")
    api_keys: str = Field(default="", description="'tenant1:key1,tenant2:key2': bearer keys and the tenant each "
                          "acts for. Empty: one local tenant, no key (serve refuses a non-loopback host then).")
    api_workers: int = Field(default=2, ge=1, le=64, description="Runs executed at once by the service.")

    # Factory scale (docs/scale.md). The engine that runs render, QC, speech and clip work: in this process (the
    # default) or on a Ray cluster ("auto": the cluster this machine belongs to; "ray://HOST:10001": Ray Client;
    # "HOST:6379": the head's address).
    ray_address: str | None = Field(default=None, description="Ray cluster to run render/QC/speech/clip work on; "
                                    "unset: in this process.")
    ray_roles: dict[str, RayRoleOptions] = Field(default_factory=dict, description="Per role (image, qc, speech, "
                                                 "video): how its Ray work is placed, e.g. DRAMAFACTORY_RAY_ROLES="
                                                 "'{\"video\": {\"num_gpus\": 1, \"resources\": {\"video\": 1}}}'.")
    ray_task_retries: int = Field(default=3, ge=0, le=20, description="Times Ray reruns a task whose worker died.")
    engine_max_in_flight: dict[str, int] = Field(default_factory=dict, description="Work items in flight per role "
                                                 "(all series of this process together), shared fairly between "
                                                 "series; a role left out is bounded only by the graph.")
    lease_ttl_s: float = Field(default=15.0, gt=0, le=3600, description="Seconds a run's lease lasts without a "
                               "heartbeat: after a holder dies, another process may take the run over after this.")
    lease_heartbeat_s: float = Field(default=3.0, gt=0, le=600, description="Seconds between lease renewals.")
    shot_lease_ttl_s: float = Field(default=60.0, gt=0, le=86400, description="Seconds a render's claim lasts "
                                    "without a heartbeat from its worker: a stalled worker's shot is rendered "
                                    "again elsewhere after this, and its late commit is refused.")
    work_timeout_s: float | None = Field(default=None, gt=0, le=86400, description="Seconds one Ray work item's "
                                         "attempt may take from its submission (its wait for a slot included): "
                                         "past it, its worker is killed and the item submitted again, within "
                                         "ray_task_retries; unset: no limit. In-process work has no limit (a "
                                         "thread cannot be killed).")
    budget_usd: float | None = Field(default=None, gt=0, description="Spending cap per series: no new work starts "
                                     "once the series' ledger reaches it (the run stays resumable).")
    price_profile: str = Field(default="local", description="Which prices the ledger charges (dramafactory/"
                               "prices.py): 'local' (cpu_hour_usd/gpu_hour_usd), 'on-prem:<gpu>[@utilisation]', "
                               "'cloud-on-demand:<gpu>', 'cloud-reserved:<gpu>' (a catalogue GPU id).")

    # Accounting: what one CPU-hour and one GPU-hour cost on the user's hardware (for cost per finished minute).
    # A remote text server's time is not this machine's: its calls are priced per token when a price is set,
    # else they are counted as unpriced in summary.json (never at the local CPU rate). docs/accounting.md.
    # The defaults are the price table's (catalogue.yaml `ledger`: a vCPU-hour, an H100's reserved hour), so the
    # ledger and the capacity planner price machine time from the same sourced entries.
    cpu_hour_usd: float = Field(default_factory=lambda: ledger_rate("cpu_hour_usd"))
    gpu_hour_usd: float = Field(default_factory=lambda: ledger_rate("gpu_hour_usd"))
    remote_text_usd_per_mtok: float | None = Field(default=None, ge=0, description="Price of a million tokens "
                                                   "on the OpenAI-compatible server, for cost figures.")
