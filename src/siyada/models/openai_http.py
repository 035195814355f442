"""Models served over the OpenAI chat-completions protocol: vLLM, llama.cpp's llama-server, Ollama.

Several endpoints serving one model form a pool. A request goes to one endpoint (round-robin or
least-busy); an endpoint that refuses connections, times out or answers 5xx/429 before the first
token is set aside for a cool-down and the request moves to the next one, a bounded number of
times. Once a token has been streamed nothing is retried: the answer would be spliced.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx

from siyada.models.base import (
    ChatRequest,
    Delta,
    ModelError,
    ModelProtocolError,
    ModelTimeout,
    ModelUnavailable,
    Usage,
    estimate_tokens,
)
from siyada.models.sse import sse_data

CONNECT_TIMEOUT = 5.0
COOL_DOWN_SECONDS = 5.0
"""An endpoint that failed is skipped this long, doubling with each failure in a row..."""
MAX_COOL_DOWN_SECONDS = 60.0
"""...up to this."""
HEALTH_TIMEOUT = 3.0
ERROR_BODY_CHARS = 300


class Strategy(StrEnum):
    ROUND_ROBIN = "round-robin"
    LEAST_BUSY = "least-busy"


def base_url(url: str) -> str:
    """``http://host:8000`` or ``http://host:8000/v1/`` -> ``http://host:8000/v1``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r} (expected e.g. http://127.0.0.1:8000/v1)")
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


@dataclass
class EndpointState:
    url: str
    in_flight: int = 0
    failures: int = 0
    down_until: float = 0.0
    last_error: str = ""

    def available(self, now: float) -> bool:
        return now >= self.down_until


class _Retryable(Exception):
    """A failure before the first token that another endpoint may not have."""


class OpenAIChatModel:
    generative = True

    def __init__(
        self,
        name: str,
        urls: Sequence[str],
        *,
        model_id: str,
        strategy: Strategy = Strategy.ROUND_ROBIN,
        retries: int = 2,
        api_key_env: str | None = None,
        context_tokens: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not urls:
            raise ValueError("an OpenAI-compatible model needs at least one endpoint URL")
        self.name = name
        self.model_id = model_id
        self.context_tokens = context_tokens
        self.strategy = strategy
        self.retries = retries
        self.endpoints = [EndpointState(base_url(url)) for url in urls]
        self._api_key_env = api_key_env
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._client = httpx.Client(transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._api_key_env:
            key = os.environ.get(self._api_key_env)
            if not key:
                raise ModelUnavailable(
                    f"model {self.name!r} reads its API key from ${self._api_key_env}, "
                    "which is not set"
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _pick(self, tried: set[str]) -> EndpointState:
        """The next endpoint to try: untried and not cooling down if any, by strategy."""
        with self._lock:
            now = time.monotonic()
            untried = [e for e in self.endpoints if e.url not in tried] or self.endpoints
            ready = [e for e in untried if e.available(now)]
            candidates = ready or sorted(untried, key=lambda e: e.down_until)[:1]
            turn = next(self._turn)
            rotated = [candidates[(turn + i) % len(candidates)] for i in range(len(candidates))]
            chosen = (
                min(rotated, key=lambda e: e.in_flight)
                if self.strategy is Strategy.LEAST_BUSY
                else rotated[0]
            )
            chosen.in_flight += 1
            return chosen

    def _release(self, endpoint: EndpointState, error: str | None) -> None:
        with self._lock:
            endpoint.in_flight -= 1
        self._record(endpoint, error)

    def _record(self, endpoint: EndpointState, error: str | None) -> None:
        """A success clears an endpoint's failures; a failure sets it aside for a while."""
        with self._lock:
            if error is None:
                endpoint.failures = 0
                endpoint.down_until = 0.0
                return
            endpoint.failures += 1
            endpoint.last_error = error
            cool_down = min(COOL_DOWN_SECONDS * 2 ** (endpoint.failures - 1), MAX_COOL_DOWN_SECONDS)
            endpoint.down_until = time.monotonic() + cool_down

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.seed is not None:
            body["seed"] = request.seed
        return body

    def stream(self, request: ChatRequest) -> Iterator[Delta]:
        deadline = time.monotonic() + request.timeout
        headers = self._headers()
        body = self._body(request)
        tried: set[str] = set()
        errors: list[str] = []
        for _ in range(self.retries + 1):
            if time.monotonic() >= deadline:
                break
            endpoint = self._pick(tried)
            tried.add(endpoint.url)
            started = False
            try:
                for delta in self._stream_from(endpoint, body, headers, deadline):
                    started = True
                    yield delta
            except _Retryable as error:
                self._release(endpoint, str(error))
                errors.append(f"{endpoint.url}: {error}")
                continue
            except ModelError as error:
                # A failure after the first token, or one another endpoint would repeat
                # (a 4xx): not retried; an endpoint that broke mid-stream is set aside.
                self._release(endpoint, str(error) if started else None)
                raise
            except GeneratorExit:
                self._release(endpoint, None)
                raise
            self._release(endpoint, None)
            return
        if time.monotonic() >= deadline:
            raise ModelTimeout(
                f"model {self.name!r} did not answer within {request.timeout:g} s"
                + (f" ({'; '.join(errors)})" if errors else "")
            )
        raise ModelUnavailable(
            f"model {self.name!r}: no endpoint answered ({'; '.join(errors)}); check that the "
            "server is running, or `siyada models show " + self.name + " --check`"
        )

    def _stream_from(
        self,
        endpoint: EndpointState,
        body: dict[str, Any],
        headers: dict[str, str],
        deadline: float,
    ) -> Iterator[Delta]:
        remaining = max(deadline - time.monotonic(), 0.001)
        timeout = httpx.Timeout(remaining, connect=min(CONNECT_TIMEOUT, remaining))
        url = f"{endpoint.url}/chat/completions"
        received = 0
        try:
            with self._client.stream(
                "POST", url, json=body, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    message = _error_message(response)
                    if response.status_code >= 500 or response.status_code == 429:
                        raise _Retryable(f"HTTP {response.status_code}: {message}")
                    raise ModelError(
                        f"model {self.name!r} refused the request "
                        f"(HTTP {response.status_code}): {message}"
                    )
                watchdog = _cut_at_deadline(response, deadline)
                try:
                    for delta in _deltas(sse_data(response.iter_lines()), self.name):
                        received += len(delta.text)
                        yield delta
                        if time.monotonic() > deadline:
                            break
                finally:
                    watchdog.cancel()
                if time.monotonic() > deadline:
                    raise ModelTimeout(self._cut_message(received))
        except (httpx.HTTPError, ModelError) as error:
            if isinstance(error, ModelTimeout):
                raise
            if time.monotonic() >= deadline or isinstance(error, httpx.TimeoutException):
                if received == 0:
                    raise _Retryable("timed out") from None
                raise ModelTimeout(self._cut_message(received)) from None
            if isinstance(error, ModelError):
                raise
            if received == 0:
                raise _Retryable(f"{type(error).__name__}: {error}") from None
            raise ModelUnavailable(
                f"model {self.name!r}: the connection broke after {received} characters ({error})"
            ) from None

    def _cut_message(self, received: int) -> str:
        return (
            f"model {self.name!r} did not finish within the timeout; "
            f"answer cut after {received} characters"
        )

    def check_health(self) -> dict[str, str]:
        """Probe every endpoint's ``/models``; mark the ones that fail as cooling down."""
        report: dict[str, str] = {}
        headers = self._headers()
        for endpoint in self.endpoints:
            try:
                response = self._client.get(
                    f"{endpoint.url}/models", headers=headers, timeout=HEALTH_TIMEOUT
                )
                if response.status_code != 200:
                    raise ModelError(f"HTTP {response.status_code}")
                served = [item.get("id") for item in response.json().get("data", [])]
                status = (
                    "ok"
                    if self.model_id in served or not served
                    else (f"up, but serves {', '.join(map(str, served))} (not {self.model_id})")
                )
                self._record(endpoint, None)
            except (httpx.HTTPError, ModelError, ValueError, AttributeError) as error:
                status = f"down: {error}"
                self._record(endpoint, status)
            report[endpoint.url] = status
        return report


def _cut_at_deadline(response: httpx.Response, deadline: float) -> threading.Timer:
    """A timer that shuts the response's socket at the deadline: a read blocked on a server
    that stalls (or keeps the stream alive with comments) then returns at once."""
    stream = response.extensions.get("network_stream")
    sock: socket.socket | None = stream.get_extra_info("socket") if stream is not None else None

    def shut() -> None:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), shut)
    timer.daemon = True
    if sock is not None:
        timer.start()
    return timer


def _error_message(response: httpx.Response) -> str:
    """The reason in an OpenAI-style error body, or the start of whatever the body is."""
    raw = response.read().decode("utf-8", errors="replace")
    try:
        error = json.loads(raw).get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:ERROR_BODY_CHARS]
        if isinstance(error, str):
            return error[:ERROR_BODY_CHARS]
    except (ValueError, AttributeError):
        pass
    return raw.strip()[:ERROR_BODY_CHARS] or response.reason_phrase


def _deltas(events: Iterator[str], name: str) -> Iterator[Delta]:
    finish: str | None = None
    usage: Usage | None = None
    for data in events:
        if data.strip() == "[DONE]":
            break
        try:
            event = json.loads(data)
        except ValueError:
            raise ModelProtocolError(
                f"model {name!r} sent a malformed stream event: {data[:80]!r}"
            ) from None
        if not isinstance(event, dict):
            raise ModelProtocolError(f"model {name!r} sent a stream event that is not an object")
        if "error" in event:
            error = event["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ModelUnavailable(f"model {name!r} failed while answering: {message}")
        if isinstance(event.get("usage"), dict):
            usage = Usage(
                int(event["usage"].get("prompt_tokens") or 0),
                int(event["usage"].get("completion_tokens") or 0),
            )
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict):
                raise ModelProtocolError(f"model {name!r} sent a malformed choice")
            delta = choice.get("delta") or {}
            text = delta.get("content") if isinstance(delta, dict) else None
            if text:
                if not isinstance(text, str):
                    raise ModelProtocolError(f"model {name!r} sent non-text content")
                yield Delta(text)
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
    else:
        if finish is None:
            raise ModelUnavailable(f"model {name!r}: the stream ended before the answer did")
    yield Delta("", "length" if finish == "length" else "stop", usage)
