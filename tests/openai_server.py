"""A real HTTP server on loopback that speaks the OpenAI chat-completions protocol (SSE
streaming), scripted per test: what to answer, how slowly, and how to misbehave."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    reply: str = "Salam [1]."
    """Streamed word by word."""
    status: int = 200
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    malformed: bool = False
    """Send a data line that is not JSON after the first token."""
    malformed_first: bool = False
    drop_after: int | None = None
    """Close the connection after this many tokens, without [DONE]."""
    model_ids: tuple[str, ...] = ("tiny",)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    cancelled: int = 0
    """Streams the client closed before the end."""
    lock: threading.Lock = field(default_factory=threading.Lock)


def _pieces(reply: str) -> list[str]:
    words = reply.split(" ")
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


class _Handler(BaseHTTPRequestHandler):
    script: Script
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"data": [{"id": i, "object": "model"} for i in self.script.model_ids]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def _event(self, body: dict[str, Any] | str) -> None:
        data = body if isinstance(body, str) else json.dumps(body)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def do_POST(self) -> None:
        script = self.script
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length))
        with script.lock:
            script.requests.append(request)
            script.headers.append(dict(self.headers))
            script.in_flight += 1
            script.max_in_flight = max(script.max_in_flight, script.in_flight)
        try:
            self._answer(script, request)
        except (BrokenPipeError, ConnectionResetError):
            with script.lock:
                script.cancelled += 1
        finally:
            with script.lock:
                script.in_flight -= 1

    def _answer(self, script: Script, request: dict[str, Any]) -> None:
        if script.status != 200:
            self._json(script.status, {"error": {"message": f"scripted {script.status}"}})
            return
        time.sleep(script.first_token_delay)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if script.malformed_first:
            self._event("{not json")
            return
        pieces = _pieces(script.reply)
        for number, piece in enumerate(pieces):
            if script.drop_after is not None and number >= script.drop_after:
                return
            if number:
                time.sleep(script.token_delay)
            self._event({"choices": [{"index": 0, "delta": {"content": piece}}]})
            if script.malformed:
                self._event("{not json")
                return
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (request.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 11, "completion_tokens": len(pieces), "total_tokens": 0}
            self._event({"choices": [], "usage": usage})
        self._event("[DONE]")


@contextmanager
def openai_server(script: Script | None = None) -> Iterator[tuple[str, Script]]:
    """A server on 127.0.0.1: yields its base URL (``http://127.0.0.1:PORT/v1``) and script."""
    script = script or Script()
    handler = type("Handler", (_Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        server.shutdown()
        server.server_close()


def unused_url() -> str:
    """A loopback URL nothing listens on."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}/v1"
