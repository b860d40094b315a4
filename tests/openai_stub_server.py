"""A real OpenAI-compatible (and Ollama-native) HTTP server process for tests, answering with the FAKE text model
(tests/fakes.py). A test fake: it is no model, and says so in every reply's `model` only by the name the client sent.

It speaks the wire protocols the factory's server backends use: POST /v1/chat/completions with `response_format`
(tools/text/openai_compat.py) and Ollama's POST /api/chat with `format` (tools/text/ollama.py), so a test exercises
the real client, real sockets and a real process that can die. Modes for the failure tests:
  --mode ok           answer every request
  --mode error500     answer every request with HTTP 500
  --mode error400     answer 400 (the server refuses this request: e.g. its context is too long)
  --mode error404     answer 404 (no such model on this server: a configuration error)
  --mode hang         accept and never answer (the client's timeout must fire)
  --mode nonjson      answer 200 with a reply that is not JSON (a content failure, not a transport one)
  --mode badschema    answer 200 with valid JSON of the wrong fields (a content failure: pydantic rejects it)
  --mode length       answer 200 with half the JSON and finish_reason "length" (done_reason for Ollama)
  --mode half         send a Content-Length larger than the body, write half the JSON, close the socket
  --mode chunked_cut  send a chunked reply, write half the JSON as one chunk, close without the last chunk
  --mode notachat     answer 200 with something that is not a chat reply ({"error": ...}: a gateway or proxy)
  --delay S           wait S seconds before answering (to see requests in flight at once)
  --timings           add llama.cpp llama-server's `timings` object (prompt_ms, predicted_ms) to completions
  --die-on-field F    exit the process (os._exit, like a crash) when a request's schema has field F
  --log FILE          append one line per request received (the tests count the client's retries)
  --marker FILE       write FILE once the server listens (the test waits for it)

    python -m tests.openai_stub_server --port 8123 --mode ok
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from dramafactory.tools.text.base import JsonRequest

from .fakes import FakeText

MODES = ["ok", "error500", "error400", "error404", "hang", "nonjson", "badschema", "length", "half", "chunked_cut", "notachat"]
TIMINGS = {"prompt_n": 50, "prompt_ms": 120.5, "predicted_n": 12, "predicted_ms": 379.5}  # 0.5 s of server time


def _schema(body: dict) -> dict:
    if "format" in body:  # Ollama: the schema itself
        return body["format"] if isinstance(body["format"], dict) else {}
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["schema"]
    return fmt.get("schema", {})


def make_handler(model: FakeText, mode: str, die_on_field: str | None, timings: bool = False,
                 log: Path | None = None, delay: float = 0.0):
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet: the test's output is about the factory
            pass

        def _send(self, status: int, payload: dict | str) -> None:
            data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _cut(self, payload: dict) -> None:
            """Half a reply: the client has headers and some body, then the connection is gone (a server that died
            mid-write, a proxy that dropped it). Never a complete HTTP message."""
            data = json.dumps(payload).encode()
            self.close_connection = True
            if mode == "chunked_cut":
                self.protocol_version = "HTTP/1.1"  # chunked transfer needs 1.1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                half = data[: len(data) // 2]
                self.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")  # one chunk, never the 0-chunk
            else:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if log is not None:
                with lock, log.open("a") as handle:
                    handle.write(f"{self.path} {mode}\n")
            ollama = self.path.rstrip("/") == "/api/chat"
            schema = _schema(body)
            if die_on_field and die_on_field in schema.get("properties", {}):
                os._exit(17)  # a crash mid-run: no response, the socket closes
            if mode.startswith("error"):
                status = int(mode.removeprefix("error"))
                return self._send(status, {"error": {"message": f"stub: error {status}", "type": "stub_error"}})
            if mode == "hang":
                time.sleep(3600)
                return None
            if mode == "notachat":  # a gateway answering for a server that is not there, with status 200
                return self._send(200, {"error": "upstream unavailable", "choices": []})
            time.sleep(delay)
            messages = body.get("messages", [])
            system = next((m["content"] for m in messages if m["role"] == "system"), "")
            turns = [(m["role"], m["content"]) for m in messages if m["role"] in ("user", "assistant")]
            max_tokens = (body.get("options") or {}).get("num_predict") if ollama else body.get("max_tokens")
            with lock:
                result = model.complete_json(JsonRequest(system=system, messages=turns, schema=schema,
                                                         max_tokens=max_tokens or 160))
            content = {"nonjson": "this is not JSON at all", "badschema": json.dumps({"wrong": 1, "fields": "x"}),
                       "length": result.text[: len(result.text) // 2]}.get(mode, result.text)
            stop = "length" if mode == "length" else "stop"
            if ollama:
                payload = {"model": body.get("model"), "created_at": "2026-12-01T00:00:00Z",
                           "message": {"role": "assistant", "content": content}, "done": True, "done_reason": stop,
                           "total_duration": 900_000_000, "load_duration": 250_000_000,
                           "prompt_eval_count": result.prompt_tokens, "prompt_eval_duration": 150_000_000,
                           "eval_count": result.completion_tokens, "eval_duration": 450_000_000}
            else:
                payload = {
                    "id": "stub-1", "object": "chat.completion", "created": int(time.time()), "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": stop, "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                              "total_tokens": result.prompt_tokens + result.completion_tokens},
                }
                if timings:
                    payload["timings"] = dict(TIMINGS)
            if mode in ("half", "chunked_cut"):
                return self._cut(payload)
            return self._send(200, payload)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--timings", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--die-on-field", default=None)
    parser.add_argument("--log", type=Path, default=None)
    parser.add_argument("--marker", type=Path, default=None)
    args = parser.parse_args()
    handler = make_handler(FakeText(), args.mode, args.die_on_field, timings=args.timings, log=args.log,
                           delay=args.delay)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    if args.marker:
        args.marker.write_text(str(os.getpid()))
    server.serve_forever()


if __name__ == "__main__":
    main()
