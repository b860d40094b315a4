"""A real OpenAI-compatible HTTP server process for tests, answering with the FAKE text model (tests/fakes.py).

It speaks the wire protocol the factory's OpenAI-compatible backend uses (POST /v1/chat/completions with
`response_format`), so a test exercises the real client, real sockets and a real process that can die. Modes for
the failure tests:
  --mode ok         answer every request
  --mode error500   answer every request with HTTP 500
  --mode error400   answer 400 (the server refuses this request: e.g. its context is too long)
  --mode error404   answer 404 (no such model on this server: a configuration error)
  --mode hang       accept and never answer (the client's timeout must fire)
  --mode nonjson    answer 200 with a reply that is not JSON (a content failure, not a transport one)
  --die-on-field F  exit the process (os._exit, like a crash) when a request's schema has field F
  --marker FILE     write FILE once the server listens (the test waits for it)

    python -m tests.openai_stub_server --port 8123 --mode ok
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from dramafactory.tools.text.base import JsonRequest

from .fakes import FakeText


def _schema(body: dict) -> dict:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["schema"]
    return fmt.get("schema", {})


def make_handler(model: FakeText, mode: str, die_on_field: str | None):
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

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            schema = _schema(body)
            if die_on_field and die_on_field in schema.get("properties", {}):
                os._exit(17)  # a crash mid-run: no response, the socket closes
            if mode.startswith("error"):
                status = int(mode.removeprefix("error"))
                return self._send(status, {"error": {"message": f"stub: error {status}", "type": "stub_error"}})
            if mode == "hang":
                time.sleep(3600)
                return None
            messages = body.get("messages", [])
            system = next((m["content"] for m in messages if m["role"] == "system"), "")
            turns = [(m["role"], m["content"]) for m in messages if m["role"] in ("user", "assistant")]
            with lock:
                result = model.complete_json(JsonRequest(system=system, messages=turns, schema=schema,
                                                         max_tokens=body.get("max_tokens", 160)))
            content = "this is not JSON at all" if mode == "nonjson" else result.text
            return self._send(200, {
                "id": "stub-1", "object": "chat.completion", "created": int(time.time()), "model": body.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                          "total_tokens": result.prompt_tokens + result.completion_tokens},
            })

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["ok", "error500", "error400", "error404", "hang", "nonjson"], default="ok")
    parser.add_argument("--die-on-field", default=None)
    parser.add_argument("--marker", type=Path, default=None)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(FakeText(), args.mode, args.die_on_field))
    server.daemon_threads = True
    if args.marker:
        args.marker.write_text(str(os.getpid()))
    server.serve_forever()


if __name__ == "__main__":
    main()
