"""Models served over the OpenAI chat-completions protocol: vLLM, llama.cpp's llama-server, Ollama.

Several endpoints serving one model form a pool. A request goes to one endpoint (round-robin or
least-busy); an endpoint that refuses connections, times out or answers 5xx/429 before the first
token is set aside for a cool-down and the request moves to the next one, a bounded number of
times. Once a token has been streamed nothing is retried: the answer would be spliced.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from siyada.governance.egress import EgressPolicy, GuardedTransport
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
from siyada.models.urls import check_http_url

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
    parts = check_http_url(url)
    if parts.username or parts.password:
        raise ValueError(
            f"{parts.scheme}://...@{parts.hostname}: no credentials in URLs (they would be shown "
            "and stored); name an environment variable holding the key with --api-key-env"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: an endpoint URL has no query string or fragment")
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
        first_endpoint: int | None = None,
        transport: httpx.BaseTransport | None = None,
        egress: EgressPolicy | None = None,
    ) -> None:
        if not urls:
            raise ValueError("an OpenAI-compatible model needs at least one endpoint URL")
        self.name = name
        self.model_id = model_id
        self.context_tokens = context_tokens
        self.strategy = strategy
        self.retries = retries
        self.endpoints = [EndpointState(base_url(url)) for url in urls]
        egress = egress or EgressPolicy()
        for endpoint in self.endpoints:
            egress.check(httpx.URL(endpoint.url).host)
        self._api_key_env = api_key_env
        self._lock = threading.Lock()
        # Unless told, each process starts its rotation at a random endpoint, so that one-shot
        # CLI calls spread over the pool too.
        start = random.randrange(len(urls)) if first_endpoint is None else first_endpoint
        self._turn = itertools.count(start)
        # trust_env=False: prompts hold the institution's documents; they go to the endpoints
        # the operator registered, never through a proxy picked up from the environment.
        self._client = httpx.Client(
            transport=GuardedTransport(egress, transport), follow_redirects=False, trust_env=False
        )

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
            untried = [e for e in self.endpoints if e.url not in tried]
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
        attempts = min(self.retries + 1, len(self.endpoints))
        tried: set[str] = set()
        errors: list[str] = []
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Each attempt left gets an equal share of the time to the first token, so an
            # endpoint that accepts the connection and then hangs cannot use up the timeout.
            first_token_by = time.monotonic() + remaining / (attempts - attempt)
            endpoint = self._pick(tried)
            tried.add(endpoint.url)
            failure: str | None = None
            started = False
            try:
                for delta in self._stream_from(endpoint, body, headers, first_token_by, deadline):
                    started = True
                    yield delta
            except _Retryable as error:
                failure = str(error)
                errors.append(f"{endpoint.url}: {error}")
                continue
            except ModelError as error:
                # After the first token nothing is retried (the answer would be spliced), nor
                # a refusal (4xx) that another endpoint would repeat.
                failure = str(error) if started else None
                raise
            finally:
                self._release(endpoint, failure)
            return
        if time.monotonic() >= deadline:
            raise ModelTimeout(
                f"model {self.name!r} did not answer within {request.timeout:g} s"
                + (f" ({'; '.join(errors)})" if errors else "")
            )
        raise ModelUnavailable(
            f"model {self.name!r}: no endpoint answered ({'; '.join(errors)}); check that the "
            f"server is running, or run: siyada models show {self.name} --check"
        )

    def _stream_from(
        self,
        endpoint: EndpointState,
        body: dict[str, Any],
        headers: dict[str, str],
        first_token_by: float,
        deadline: float,
    ) -> Iterator[Delta]:
        wait = max(first_token_by - time.monotonic(), 0.001)
        timeout = httpx.Timeout(wait, connect=min(CONNECT_TIMEOUT, wait))
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
                watchdog = _Watchdog(response, first_token_by, deadline)
                try:
                    for delta in _deltas(sse_data(response.iter_lines()), self.name):
                        received += len(delta.text)
                        watchdog.started = True
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
            now = time.monotonic()
            if received == 0 and (
                now >= first_token_by or isinstance(error, httpx.TimeoutException)
            ):
                raise _Retryable(f"no answer within {wait:.3g} s") from None
            if received and (now >= deadline or isinstance(error, httpx.TimeoutException)):
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
            except (httpx.HTTPError, ModelError, ValueError, AttributeError, TypeError) as error:
                status = f"down: {error}"
                self._record(endpoint, status)
            report[endpoint.url] = status
        return report


class _Alarms:
    """One thread that calls functions at given times: a watchdog per request without a
    thread per request (starting one costs more than the rest of the proxying)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def set(self, when: float, action: Callable[[], None]) -> int:
        with self._wake:
            alarm = next(self._ids)
            heapq.heappush(self._due, (when, alarm, action))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alarms", daemon=True)
                self._thread.start()
            self._wake.notify()
            return alarm

    def cancel(self, alarm: int) -> None:
        with self._wake:
            self._cancelled.add(alarm)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._wake.wait(timeout)
                _, alarm, action = heapq.heappop(self._due)
                if alarm in self._cancelled:
                    self._cancelled.discard(alarm)
                    continue
            action()


_ALARMS = _Alarms()


class _Watchdog:
    """Shuts a response's socket when the first token is late or the answer runs past its
    deadline: a read blocked on a server that stalls (or keeps the stream open with comments)
    then returns at once."""

    def __init__(self, response: httpx.Response, first_token_by: float, deadline: float) -> None:
        stream = response.extensions.get("network_stream")
        self._socket: socket.socket | None = (
            stream.get_extra_info("socket") if stream is not None else None
        )
        self.deadline = deadline
        self.started = False
        self._lock = threading.Lock()
        self._alarm: int | None = None
        self._schedule(first_token_by)

    def _schedule(self, when: float) -> None:
        if self._socket is not None:
            self._alarm = _ALARMS.set(when, self._fire)

    def _fire(self) -> None:
        with self._lock:
            if self._alarm is None:
                return  # cancelled
            if self.started and time.monotonic() < self.deadline:
                self._schedule(self.deadline)
                return
            assert self._socket is not None
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            if self._alarm is not None:
                _ALARMS.cancel(self._alarm)
                self._alarm = None


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
            texts, event_finish, event_usage = _read_event(event, name)
        except (ValueError, TypeError, AttributeError, KeyError):
            raise ModelProtocolError(
                f"model {name!r} sent a malformed stream event: {data[:80]!r}"
            ) from None
        yield from (Delta(text) for text in texts)
        finish = event_finish or finish
        usage = event_usage or usage
    else:
        if finish is None:
            raise ModelUnavailable(f"model {name!r}: the stream ended before the answer did")
    yield Delta("", "length" if finish == "length" else "stop", usage)


def _read_event(event: Any, name: str) -> tuple[list[str], str | None, Usage | None]:
    """The texts, finish reason and usage of one chunk; TypeError etc. when it is malformed."""
    if not isinstance(event, dict):
        raise TypeError("not an object")
    if "error" in event:
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise ModelUnavailable(f"model {name!r} failed while answering: {message}")
    usage = None
    if event.get("usage") is not None:
        counts = event["usage"]
        usage = Usage(
            int(counts.get("prompt_tokens") or 0), int(counts.get("completion_tokens") or 0)
        )
    texts: list[str] = []
    finish: str | None = None
    for choice in event.get("choices") or []:
        text = (choice.get("delta") or {}).get("content")
        if text:
            if not isinstance(text, str):
                raise TypeError("content is not text")
            texts.append(text)
        if choice.get("finish_reason"):
            finish = str(choice["finish_reason"])
    return texts, finish, usage
