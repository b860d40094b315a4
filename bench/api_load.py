"""The HTTP API under load: a few series runs on the embedded defaults while many clients poll their status.

    .venv/bin/python bench/api_load.py [--runs 5] [--clients 50] [--seconds 20] [--out bench/results/api_load.json]
    .venv/bin/python bench/api_load.py --fake   # a quick smoke of the bench itself (the tests' fake backends)

The service runs in a child process, as `dramafactory serve` runs it (uvicorn, the real app, `--runs` workers, no
fakes unless --fake). The bench creates `--runs` runs (one episode of `--seconds` seconds each, different loglines
and genres, no checkpoints) and, while they execute, `--clients` clients poll `GET /series/{id}` for a random run
every `--interval` seconds (and `GET /series` one call in twenty) until every run has ended.

Baseline measured in the same run: the same clients polling the same runs for `--idle-seconds` once they have all
ended (the service idle), so the ratios loaded/idle (p50, p99) survive a slower or busier machine. The idle phase
reads the runs' complete event and ledger files, so it is, if anything, the more expensive call.

Checks that nothing is lost or corrupted: every run finishes; its artifacts list the episode's MP4 (an ISO media
file, the listed size) and SRT; its event stream (/events?follow=false) numbers its events 1..N with no gap or
duplicate and ends with `finished`; every status and list response (loaded and idle) parses and validates against
the API's response models, with a log tail of consecutive sequence numbers. The exit status is 1 if a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from pydantic import TypeAdapter, ValidationError

from dramafactory.api.models import Artifact, RunListItem, RunPublic

ROOT = Path(__file__).resolve().parents[1]
KEY = "key-bench-00000001"
FAKE_KEY = "key-acme-0001"  # tests/api_support.py's tenant acme
TERMINAL = {"finished", "failed", "cancelled"}
LIST_SHARE = 0.05  # one client call in twenty lists the runs
CONCEPTS = [
    ("A night-shift nurse discovers the billionaire patient she saved is her runaway father.", "family"),
    ("A disgraced chef must win a street-food contest run by the rival who stole her restaurant.", "revenge"),
    ("A wedding planner falls for the groom's brother while hiding that she is the bride's ex.", "romance"),
    ("A junior lawyer finds her firm's star client is the man who framed her mother.", "thriller"),
    ("Twin sisters swapped at birth meet when one is hired as the other's personal assistant.", "melodrama"),
    ("A delivery rider witnesses a CEO's accident and is paid to say nothing, until his sister is blamed.",
     "thriller"),
    ("A widowed baker learns her late husband had a second family across town.", "family"),
    ("A small-town mechanic inherits a fashion empire and the board that wants her gone.", "comedy"),
]
RUN_LIST = TypeAdapter(list[RunListItem])
ARTIFACTS = TypeAdapter(list[Artifact])


# --- the service ----------------------------------------------------------------------------------------------------

def serve(data_dir: Path, port: int, workers: int, fake: bool) -> None:
    """The child process: the real app on uvicorn."""
    import uvicorn

    from dramafactory.api.app import create_app

    if fake:
        sys.path.insert(0, str(ROOT))
        from tests.api_support import api_settings, fake_factory

        app = create_app(api_settings(data_dir, api_workers=workers), context_factory=fake_factory(delay=0.3))
    else:
        from dramafactory.config import Settings

        app = create_app(Settings(data_dir=data_dir, api_keys=f"bench:{KEY}", api_workers=workers))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(data_dir: Path, workers: int, fake: bool) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    log_path = data_dir.parent / "server.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(data_dir), str(port), str(workers)]
    log = log_path.open("w")
    child = subprocess.Popen(command + (["--fake"] if fake else []), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the service exited with {child.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).json().get("status") == "ok":
                return child, base, log_path
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    child.kill()
    raise SystemExit(f"the service did not answer /health in 120 s:\n{log_path.read_text()[-3000:]}")


def stop_service(child: subprocess.Popen) -> int | None:
    child.terminate()  # uvicorn shuts down the lifespan: the service drains (nothing runs by now)
    try:
        return child.wait(timeout=120)
    except subprocess.TimeoutExpired:
        child.kill()
        return None


# --- the clients ----------------------------------------------------------------------------------------------------

class Phase:
    """Latencies and outcomes of one phase (loaded or idle)."""

    def __init__(self, name: str):
        self.name = name
        self.status_ms: list[float] = []
        self.list_ms: list[float] = []
        self.errors: Counter = Counter()  # "GET /series/{id} 503" / "... ReadTimeout" -> count
        self.invalid: list[str] = []  # responses that did not validate (first few kept)
        self.invalid_count = 0
        self.seen_status: Counter = Counter()  # the run statuses the status calls returned
        self.started = self.ended = 0.0

    def bad(self, message: str) -> None:
        self.invalid_count += 1
        if len(self.invalid) < 10:
            self.invalid.append(message[:500])

    def summary(self) -> dict:
        seconds = max(1e-9, self.ended - self.started)
        requests = len(self.status_ms) + len(self.list_ms) + sum(self.errors.values())
        return {"seconds": round(seconds, 2), "requests": requests, "requests_per_s": round(requests / seconds, 1),
                "errors": sum(self.errors.values()), "error_kinds": dict(self.errors),
                "invalid": self.invalid_count, "invalid_examples": self.invalid,
                "status_calls": stats(self.status_ms), "list_calls": stats(self.list_ms),
                "run_status_seen": dict(self.seen_status)}


def stats(values: list[float]) -> dict:
    ordered = sorted(values)

    def pct(q: float) -> float:  # nearest rank
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 2) if ordered else float("nan")

    return {"n": len(ordered), "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "max_ms": round(ordered[-1], 2) if ordered else float("nan"),
            "mean_ms": round(sum(ordered) / len(ordered), 2) if ordered else float("nan")}


def check_status(body: object, run_id: str, phase: Phase) -> None:
    try:
        run = RunPublic.model_validate(body)
    except ValidationError as exc:
        phase.bad(f"GET /series/{run_id}: {exc}")
        return
    phase.seen_status[run.status] += 1
    if run.id != run_id:
        phase.bad(f"GET /series/{run_id} answered run {run.id}")
    seqs = [line.seq for line in run.log]
    if seqs and seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        phase.bad(f"GET /series/{run_id}: log tail seqs {seqs}")


async def client(http: httpx.AsyncClient, ids: list[str], phase: Phase, stop: asyncio.Event, rng: random.Random,
                 interval: float) -> None:
    await asyncio.sleep(rng.uniform(0, interval))  # the clients start spread over one interval
    while not stop.is_set():
        listing = rng.random() < LIST_SHARE
        run_id = rng.choice(ids)
        path = "/series" if listing else f"/series/{run_id}"
        started = time.perf_counter()
        try:
            response = await http.get(path)
        except httpx.HTTPError as exc:
            phase.errors[f"GET {'/series' if listing else '/series/{id}'} {type(exc).__name__}"] += 1
        else:
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                phase.errors[f"GET {'/series' if listing else '/series/{id}'} {response.status_code}"] += 1
            elif listing:
                phase.list_ms.append(elapsed)
                try:
                    listed = RUN_LIST.validate_json(response.content)
                    if not set(ids) <= {r.id for r in listed}:
                        phase.bad(f"GET /series lacks runs: {sorted(set(ids) - {r.id for r in listed})}")
                except ValidationError as exc:
                    phase.bad(f"GET /series: {exc}")
            else:
                phase.status_ms.append(elapsed)
                try:
                    check_status(response.json(), run_id, phase)
                except ValueError as exc:
                    phase.bad(f"GET /series/{run_id}: not JSON: {exc}")
        try:  # the next poll one interval later (or at once when stopped)
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass


async def until_all_ended(http: httpx.AsyncClient, ids: list[str], stop: asyncio.Event, timeout: float,
                          progress: dict) -> None:
    """The monitor (its calls are not measured): stops the clients when every run has ended, or at the timeout."""
    deadline = time.monotonic() + timeout
    last_print = 0.0
    while time.monotonic() < deadline:
        try:
            listed = {r["id"]: r["status"] for r in (await http.get("/series", params={"limit": 500})).json()}
        except (httpx.HTTPError, ValueError):
            listed = {}
        progress.update({i: listed.get(i, "?") for i in ids})
        if listed and all(progress[i] in TERMINAL for i in ids):
            break
        if time.monotonic() - last_print > 30:
            last_print = time.monotonic()
            print(f"  {time.strftime('%H:%M:%S')} runs: {dict(Counter(progress.values()))}", file=sys.stderr)
        await asyncio.sleep(1.0)
    stop.set()


async def poll(base: str, key: str, ids: list[str], phase: Phase, clients: int, interval: float, seed: int,
               seconds: float | None = None, timeout: float = 3600.0) -> dict:
    """`clients` clients poll until every run has ended (seconds=None) or for `seconds`."""
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    headers = {"Authorization": f"Bearer {key}"}
    progress: dict = {}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
        phase.started = time.perf_counter()
        tasks = [asyncio.create_task(client(http, ids, phase, stop, random.Random(seed * 1000 + n), interval))
                 for n in range(clients)]
        if seconds is None:
            await until_all_ended(http, ids, stop, timeout, progress)
        else:
            await asyncio.sleep(seconds)
            stop.set()
        await asyncio.gather(*tasks)
        phase.ended = time.perf_counter()
    return progress


# --- the checks after the runs --------------------------------------------------------------------------------------

def sse_events(text: str) -> list[tuple[str, str | None, dict]]:
    """(event, id, data) of each event of an SSE body."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, sep, value = line.partition(":")
            if sep and name:
                fields[name] = fields.get(name, "") + value.removeprefix(" ")
        if "data" in fields:
            out.append((fields.get("event", "message"), fields.get("id"), json.loads(fields["data"])))
    return out


def verify_run(http: httpx.Client, run_id: str) -> dict:
    problems: list[str] = []
    run = RunPublic.model_validate(http.get(f"/series/{run_id}").json())
    if run.status != "finished":
        problems.append(f"status {run.status}: {run.error}")
    artifacts = {a.path: a for a in ARTIFACTS.validate_json(http.get(f"/series/{run_id}/artifacts").content)}
    videos = [p for p in artifacts if p.startswith("episodes/") and p.endswith(".mp4")]
    subtitles = [p for p in artifacts if p.startswith("episodes/") and p.endswith(".srt")]
    if not videos or not subtitles:
        problems.append(f"no episode MP4/SRT among {len(artifacts)} artifacts")
    for path in videos:
        head = http.get(f"/series/{run_id}/artifacts/{path}", headers={"Range": "bytes=0-11"})
        total = head.headers.get("content-range", "").rpartition("/")[2]
        if head.status_code != 206 or head.content[4:8] != b"ftyp" or total != str(artifacts[path].bytes):
            problems.append(f"{path}: {head.status_code} {head.content[:12]!r} content-range {total} "
                            f"listed {artifacts[path].bytes} bytes")
    for path in subtitles:
        srt = http.get(f"/series/{run_id}/artifacts/{path}")
        if srt.status_code != 200 or not srt.text.startswith("1\n") or " --> " not in srt.text:
            problems.append(f"{path}: {srt.status_code} {srt.text[:40]!r}")
    events = sse_events(http.get(f"/series/{run_id}/events", params={"follow": "false"}).text)
    progress = [(i, d) for kind, i, d in events if kind == "progress"]
    seqs = [d.get("seq") for _, d in progress]
    if seqs != list(range(1, len(seqs) + 1)) or [int(i) for i, _ in progress] != seqs:
        duplicates = sorted(s for s, n in Counter(seqs).items() if n > 1)
        problems.append(f"event seqs not 1..{len(seqs)} (duplicates {duplicates[:10]}, first {seqs[:5]})")
    final = [d for kind, _, d in events if kind == "status"]
    if final != [{"status": "finished"}] or not progress or progress[-1][1].get("status") != "finished":
        problems.append(f"the stream does not end with finished: {final} {progress[-1:] if progress else ''}")
    return {"id": run_id, "status": run.status, "title": run.title, "seconds": round(run.updated_at - run.created_at, 1),
            "renders": run.figures.renders, "text_calls": run.figures.text_calls, "events": len(seqs),
            "artifacts": len(artifacts), "episode_files": videos + subtitles, "problems": problems}


# --- main -----------------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="Runs executed at once (the service's workers too).")
    parser.add_argument("--clients", type=int, default=50, help="Concurrent polling clients.")
    parser.add_argument("--seconds", type=int, default=20, help="Seconds per episode of each run (one episode).")
    parser.add_argument("--interval", type=float, default=1.0, help="Seconds between one client's polls.")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="Length of the idle baseline.")
    parser.add_argument("--timeout", type=float, default=3600.0, help="Give up on the runs after this long.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fake", action="store_true", help="The tests' fake backends: a smoke of the bench.")
    parser.add_argument("--data-dir", type=Path, help="Keep the service's data here (default: a temporary folder).")
    parser.add_argument("--out", type=Path, help="Default: bench/results/api_load.json (api_load_fake.json).")
    parser.add_argument("--serve", nargs=3, metavar=("DATA_DIR", "PORT", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), int(args.serve[2]), args.fake)
        return 0
    out = args.out or ROOT / "bench" / "results" / ("api_load_fake.json" if args.fake else "api_load.json")
    key = FAKE_KEY if args.fake else KEY
    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        child, base, log_path = start_service(data_dir, args.runs, args.fake)
        try:
            result = bench(args, base, key)
        finally:
            code = stop_service(child)
            server_log = log_path.read_text(errors="replace")
    result["service_exit"] = code
    if "Traceback" in server_log:
        result["checks"]["server log has no traceback"] = False
        result["server_log_tail"] = server_log[-4000:]
    result["ok"] = all(result["checks"].values())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    loaded, idle = result["loaded"]["status_calls"], result["idle_baseline"]["status_calls"]
    sys.stdout.write(f"\nGET /series/{{id}}: p50 {loaded['p50_ms']} ms loaded / {idle['p50_ms']} ms idle = "
                     f"{result['ratios']['status_p50_loaded_vs_idle']}x; p99 {loaded['p99_ms']} / {idle['p99_ms']} ms "
                     f"= {result['ratios']['status_p99_loaded_vs_idle']}x; {result['loaded']['requests']} requests "
                     f"under load, {result['loaded']['errors']} errors\n")
    sys.stdout.write(f"{'OK' if result['ok'] else 'FAILED'}: results in {out}\n")
    return 0 if result["ok"] else 1


def bench(args: argparse.Namespace, base: str, key: str) -> dict:
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        concepts = [CONCEPTS[n % len(CONCEPTS)] for n in range(args.runs)]
        ids = []
        create_ms = []
        for n, (logline, genre) in enumerate(concepts):
            body = {"logline": logline, "genre": genre, "episodes": 1, "seconds_per_episode": args.seconds,
                    "seed": args.seed + n, "checkpoints": {"bible": False, "scripts": False, "shots": False}}
            started = time.perf_counter()
            response = http.post("/series", json=body)
            create_ms.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            ids.append(response.json()["id"])
        print(f"{len(ids)} runs started; {args.clients} clients poll every {args.interval} s", file=sys.stderr)

        loaded = Phase("loaded")
        progress = asyncio.run(poll(base, key, ids, loaded, args.clients, args.interval, args.seed,
                                    timeout=args.timeout))
        print(f"runs ended ({dict(Counter(progress.values()))}) after {loaded.ended - loaded.started:.0f} s; "
              f"idle baseline {args.idle_seconds:.0f} s", file=sys.stderr)
        idle = Phase("idle")
        asyncio.run(poll(base, key, ids, idle, args.clients, args.interval, args.seed + 1, seconds=args.idle_seconds))
        runs = [verify_run(http, run_id) for run_id in ids]

    load, rest = loaded.summary(), idle.summary()

    def ratio(q: str) -> float:
        return round(load["status_calls"][q] / rest["status_calls"][q], 2) if rest["status_calls"]["n"] else math.nan

    checks = {
        "every run finished": all(r["status"] == "finished" for r in runs),
        "every run lists its episode MP4 and SRT, intact": all(not r["problems"] for r in runs),
        "no error responses": load["errors"] == 0 and rest["errors"] == 0,
        "every response validated": load["invalid"] == 0 and rest["invalid"] == 0,
        "status calls made while runs executed": loaded.seen_status["running"] > 0,
    }
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_avg_at_start": load_at_start, "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "params": {"runs": args.runs, "clients": args.clients, "seconds_per_episode": args.seconds,
                   "interval_s": args.interval, "idle_seconds": args.idle_seconds, "seed": args.seed,
                   "backends": "fake (tests)" if args.fake else "embedded defaults"},
        "create_ms": [round(x, 1) for x in create_ms],
        "loaded": load,
        "idle_baseline": rest,
        "ratios": {"status_p50_loaded_vs_idle": ratio("p50_ms"), "status_p99_loaded_vs_idle": ratio("p99_ms")},
        "runs": runs,
        "checks": checks,
    }


if __name__ == "__main__":
    sys.exit(main())
