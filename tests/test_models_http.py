"""OpenAI-compatible models over real loopback HTTP: streaming, the endpoint pool, time-outs,
broken and malformed streams, health checks; the SSE parser and URL normalization."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyada.models import (
    ChatRequest,
    Delta,
    Message,
    ModelError,
    ModelProtocolError,
    ModelTimeout,
    ModelUnavailable,
    Usage,
)
from siyada.models.openai_http import OpenAIChatModel, Strategy, base_url
from siyada.models.sse import sse_data
from tests.openai_server import Script, openai_server, unused_url

MESSAGES = (Message("system", "Answer from the sources."), Message("user", "Salam?"))
REPLY = Script().reply

Server = tuple[str, Script]
"""A scripted server's base URL and its script."""


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def reset(script: Script) -> None:
    """Back to a fresh script's settings and counters, once its last handler has finished."""

    def idle() -> bool:
        return script.in_flight == 0

    assert wait_for(idle), "a handler of the previous test is still running"
    fresh = Script()
    for name in (field.name for field in fields(Script) if field.name != "lock"):
        setattr(script, name, getattr(fresh, name))


@pytest.fixture(scope="module")
def shared_servers() -> Iterator[list[Server]]:
    """Three servers for the whole module: stopping one costs half a second (the poll interval
    of ``serve_forever``), so the tests share them and reset their scripts instead."""
    with ExitStack() as stack:
        yield [stack.enter_context(openai_server()) for _ in range(3)]


@pytest.fixture
def servers(shared_servers: list[Server]) -> list[Server]:
    """The shared servers, with fresh scripts that a test may change."""
    for _, script in shared_servers:
        reset(script)
    return shared_servers


def chat(timeout: float = 5.0, **options: Any) -> ChatRequest:
    return ChatRequest(MESSAGES, timeout=timeout, **options)


@contextmanager
def pool(*urls: str, **options: Any) -> Iterator[OpenAIChatModel]:
    options.setdefault("first_endpoint", 0)  # deterministic order: tests name the endpoints
    model = OpenAIChatModel("pool", list(urls), model_id="tiny", **options)
    try:
        yield model
    finally:
        model.close()


def text_of(model: OpenAIChatModel, request: ChatRequest | None = None) -> str:
    return "".join(delta.text for delta in model.stream(request or chat()))


def header(script: Script, index: int, name: str) -> str | None:
    """A request header as the server received it (names compared case-insensitively)."""
    for key, value in script.headers[index].items():
        if key.lower() == name.lower():
            return value
    return None


# --- streaming ---------------------------------------------------------------------------


def test_stream_yields_the_reply_in_order_then_finish_and_usage(servers: list[Server]) -> None:
    (url, script), *_ = servers
    script.reply = "Salam [1] labas."
    with pool(url) as model:
        deltas = list(model.stream(chat(max_tokens=64, temperature=0.7, stop=("\n\n", "###"))))

    assert [delta.text for delta in deltas[:-1]] == ["Salam", " [1]", " labas."]
    assert all(delta.finish_reason is None and delta.usage is None for delta in deltas[:-1])
    assert "".join(delta.text for delta in deltas) == "Salam [1] labas."
    assert deltas[-1] == Delta("", "stop", Usage(prompt_tokens=11, completion_tokens=3))

    assert len(script.requests) == 1
    body = script.requests[0]
    assert body["model"] == "tiny"
    assert body["messages"] == [
        {"role": "system", "content": "Answer from the sources."},
        {"role": "user", "content": "Salam?"},
    ]
    assert body["max_tokens"] == 64
    assert body["temperature"] == 0.7
    assert body["stream"] is True
    assert body["stop"] == ["\n\n", "###"]
    assert header(script, 0, "Authorization") is None


def test_no_stop_field_when_no_stop_is_given(servers: list[Server]) -> None:
    (url, script), *_ = servers
    with pool(url) as model:
        assert text_of(model) == REPLY
    assert "stop" not in script.requests[0]
    assert script.requests[0]["max_tokens"] == ChatRequest(MESSAGES).max_tokens


def test_api_key_from_the_named_environment_variable(
    servers: list[Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    (url, script), *_ = servers
    monkeypatch.setenv("SIYADA_TEST_KEY", "sk-test-123")
    with pool(url, api_key_env="SIYADA_TEST_KEY") as model:
        assert text_of(model) == REPLY
    assert header(script, 0, "Authorization") == "Bearer sk-test-123"


def test_unset_api_key_variable_is_a_clear_error(
    servers: list[Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    (url, script), *_ = servers
    monkeypatch.delenv("SIYADA_TEST_KEY", raising=False)
    with (
        pool(url, api_key_env="SIYADA_TEST_KEY") as model,
        pytest.raises(ModelUnavailable, match=r"\$SIYADA_TEST_KEY.*not set"),
    ):
        text_of(model)
    assert script.requests == []


# --- the pool ----------------------------------------------------------------------------


def test_round_robin_spreads_sequential_requests_evenly(servers: list[Server]) -> None:
    (url_a, a), (url_b, b), _ = servers
    with pool(url_a, url_b) as model:
        for _ in range(6):
            assert text_of(model) == REPLY
    assert (len(a.requests), len(b.requests)) == (3, 3)


def test_refused_endpoint_is_skipped_then_cools_down(servers: list[Server]) -> None:
    (live, script), *_ = servers
    dead = unused_url()
    with pool(dead, live) as model:
        assert text_of(model) == REPLY
        assert len(script.requests) == 1
        down, up = model.endpoints
        assert down.url == dead
        assert down.failures == 1
        assert down.down_until > time.monotonic()
        assert down.last_error
        assert (up.failures, up.in_flight, down.in_flight) == (0, 0, 0)

        # Round-robin's turn is the dead endpoint's now, but it is cooling down: not tried.
        assert text_of(model) == REPLY
        assert len(script.requests) == 2
        assert down.failures == 1


def test_all_endpoints_down_names_them() -> None:
    dead_a, dead_b = unused_url(), unused_url()
    with pool(dead_a, dead_b) as model:
        started = time.monotonic()
        with pytest.raises(ModelUnavailable) as caught:
            text_of(model)
        assert time.monotonic() - started < 5
        assert all(endpoint.failures >= 1 for endpoint in model.endpoints)
    message = str(caught.value)
    assert dead_a in message
    assert dead_b in message
    assert "no endpoint answered" in message


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_error_fails_over_to_the_other_endpoint(servers: list[Server], status: int) -> None:
    (url_bad, bad), (url_good, good), _ = servers
    bad.status = status
    with pool(url_bad, url_good) as model:
        assert text_of(model) == REPLY
        assert (len(bad.requests), len(good.requests)) == (1, 1)
        assert model.endpoints[0].failures == 1
        assert f"HTTP {status}" in model.endpoints[0].last_error
        assert model.endpoints[1].failures == 0


def test_client_error_is_not_retried(servers: list[Server]) -> None:
    (url_bad, bad), (url_good, good), _ = servers
    bad.status = 400
    with pool(url_bad, url_good) as model:
        with pytest.raises(ModelError) as caught:
            text_of(model)
        assert type(caught.value) is ModelError
        assert "HTTP 400" in str(caught.value)
        assert "scripted 400" in str(caught.value)
        assert len(bad.requests) == 1
        assert good.requests == []
        # A request the server refuses says nothing about the endpoint's health.
        assert model.endpoints[0].failures == 0


def test_least_busy_sends_requests_to_the_idle_endpoint(servers: list[Server]) -> None:
    (url_slow, slow), (url_fast, fast), _ = servers
    slow.reply = "slow answer"
    slow.first_token_delay = 1.0
    with pool(url_slow, url_fast, strategy=Strategy.LEAST_BUSY) as model:
        results: list[str] = []
        long_request = threading.Thread(target=lambda: results.append(text_of(model)))
        long_request.start()
        try:
            assert wait_for(lambda: slow.in_flight == 1)
            assert model.endpoints[0].in_flight == 1
            # Round-robin would send the second of these to the busy endpoint; least-busy not.
            for _ in range(3):
                assert text_of(model) == REPLY
            assert slow.in_flight == 1
        finally:
            long_request.join(10)
        assert results == ["slow answer"]
        assert len(slow.requests) == 1
        assert len(fast.requests) == 3
        assert [endpoint.in_flight for endpoint in model.endpoints] == [0, 0]


def test_concurrent_requests_are_spread_over_the_pool(servers: list[Server]) -> None:
    (url_a, a), (url_b, b), _ = servers
    # Each answer takes half a second: the four requests are in flight together.
    for script in (a, b):
        script.reply = "one two three"
        script.first_token_delay = 0.5
    with pool(url_a, url_b, strategy=Strategy.LEAST_BUSY) as model:
        results: list[str] = []
        lock = threading.Lock()

        def one() -> None:
            answer = text_of(model)
            with lock:
                results.append(answer)

        threads = [threading.Thread(target=one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert results == ["one two three"] * 4
    assert (len(a.requests), len(b.requests)) == (2, 2)
    assert (a.max_in_flight, b.max_in_flight) == (2, 2)


# --- time-outs, broken and malformed streams --------------------------------------------
# The time-out tests have servers of their own: their handlers sleep on after the client left.


def test_no_first_token_within_the_timeout_is_a_timeout() -> None:
    timeout = 1.0
    with openai_server(Script(first_token_delay=timeout + 3)) as (url, script), pool(url) as model:
        started = time.monotonic()
        with pytest.raises((ModelTimeout, ModelUnavailable)) as caught:
            text_of(model, chat(timeout=timeout))
        elapsed = time.monotonic() - started
    assert elapsed < timeout + 2
    assert isinstance(caught.value, ModelTimeout) or "timed out" in str(caught.value)
    assert len(script.requests) >= 1


def test_timeout_holds_over_two_slow_endpoints() -> None:
    timeout = 1.0
    with (
        openai_server(Script(first_token_delay=timeout + 3)) as (url_a, a),
        openai_server(Script(first_token_delay=timeout + 3)) as (url_b, b),
        pool(url_a, url_b) as model,
    ):
        started = time.monotonic()
        with pytest.raises(ModelTimeout, match="did not answer within 1 s"):
            text_of(model, chat(timeout=timeout))
        assert time.monotonic() - started < timeout + 2
        # Each endpoint had half the time to its first token: both were tried, and the
        # request still ended within its timeout.
        assert len(a.requests) == len(b.requests) == 1


class _KeepAliveHandler(BaseHTTPRequestHandler):
    """Starts an event stream, then only sends SSE comments (keep-alives), never a token."""

    protocol_version = "HTTP/1.1"
    seconds = 3.5

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        end = time.monotonic() + self.seconds
        try:
            while time.monotonic() < end:
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass


def test_keep_alive_comments_do_not_extend_the_timeout() -> None:
    """The deadline is the whole generation's: a server that keeps the stream open with SSE
    comments (as proxies and some servers do) but sends no token must still time out."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    timeout = 1.0
    try:
        with pool(f"http://127.0.0.1:{server.server_address[1]}") as model:
            started = time.monotonic()
            with pytest.raises(ModelError) as caught:
                text_of(model, chat(timeout=timeout))
            elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert isinstance(caught.value, ModelTimeout), repr(caught.value)
    assert elapsed < timeout + 2


def test_stream_broken_after_the_first_token_is_not_retried(servers: list[Server]) -> None:
    (url_bad, bad), (url_good, good), _ = servers
    bad.reply = "Salam [1] labas."
    bad.drop_after = 1
    with pool(url_bad, url_good) as model:
        stream = model.stream(chat())
        assert next(stream).text == "Salam"
        with pytest.raises(ModelError) as caught:
            list(stream)
        assert "ended before the answer did" in str(caught.value)
        assert len(bad.requests) == 1
        assert good.requests == []
        # An endpoint that broke mid-stream is set aside.
        assert model.endpoints[0].failures == 1


def test_malformed_event_after_the_first_token(servers: list[Server]) -> None:
    (url_bad, bad), (url_good, good), _ = servers
    bad.malformed = True
    with pool(url_bad, url_good) as model:
        stream = model.stream(chat())
        assert next(stream).text == "Salam"
        with pytest.raises(ModelProtocolError, match="malformed"):
            list(stream)
    assert len(bad.requests) == 1
    assert good.requests == []


def test_malformed_first_event(servers: list[Server]) -> None:
    (url_bad, bad), (url_good, good), _ = servers
    bad.malformed_first = True
    pieces: list[str] = []
    with pool(url_bad, url_good) as model, pytest.raises(ModelProtocolError, match="malformed"):
        pieces.extend(delta.text for delta in model.stream(chat()))
    assert pieces == []
    assert len(bad.requests) == 1
    assert good.requests == []


def test_closing_the_stream_early_hangs_up_on_the_server(servers: list[Server]) -> None:
    (url, script), *_ = servers
    script.reply = " ".join(f"w{i}" for i in range(200))
    script.token_delay = 0.02
    with pool(url) as model:
        stream = model.stream(chat())
        assert isinstance(stream, Generator)
        assert next(stream).text == "w0"
        stream.close()
        assert wait_for(lambda: script.cancelled == 1, seconds=4)
        assert wait_for(lambda: script.in_flight == 0, seconds=2)
        assert len(script.requests) == 1
        assert model.endpoints[0].in_flight == 0
        assert model.endpoints[0].failures == 0
        # The pool is still usable.
        script.reply = "Salam"
        assert text_of(model) == "Salam"


# --- health ------------------------------------------------------------------------------


def test_check_health(servers: list[Server]) -> None:
    (live, _), (wrong, wrong_script), _ = servers
    wrong_script.model_ids = ("other-model",)
    dead = unused_url()
    with pool(live, dead, wrong) as model:
        report = model.check_health()
        assert list(report) == [live, dead, wrong]
        assert report[live] == "ok"
        assert report[dead].startswith("down")
        assert report[wrong].startswith("up")
        assert "other-model" in report[wrong]
        assert "not tiny" in report[wrong]
        live_state, dead_state, _ = model.endpoints
        assert live_state.failures == 0
        assert dead_state.failures == 1
        assert dead_state.down_until > time.monotonic()


# --- SSE ---------------------------------------------------------------------------------


def test_sse_multi_line_data_is_joined_with_newlines() -> None:
    lines = ["data: first", "data:second", "data:  third", ""]
    assert list(sse_data(lines)) == ["first\nsecond\n third"]


def test_sse_comments_and_other_fields_are_ignored() -> None:
    lines = [
        ": a comment",
        "event: message",
        "id: 7",
        "retry: 1000",
        "data: {}",
        "",
        ":keep-alive",
        "",
        "",
        "id: 8",
        "data: [DONE]",
        "",
    ]
    assert list(sse_data(lines)) == ["{}", "[DONE]"]


def test_sse_last_event_without_a_blank_line_is_delivered() -> None:
    assert list(sse_data(["data: one", "", "data: two"])) == ["one", "two"]
    assert list(sse_data(["data: a", "data: b"])) == ["a\nb"]
    assert list(sse_data([])) == []
    assert list(sse_data(["", "", ": only a comment"])) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
payloads = st.one_of(
    json_values.map(json.dumps),
    json_values.map(lambda value: json.dumps(value, ensure_ascii=False)),
    st.text(alphabet=st.characters(blacklist_characters="\r\n")),
)


@given(st.lists(payloads, max_size=8))
def test_sse_round_trip(items: list[str]) -> None:
    stream = "".join(f"data: {item}\n\n" for item in items)
    assert list(sse_data(stream.split("\n"))) == items


# --- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://h:8000", "http://h:8000/", "http://h:8000/v1/", " http://h:8000/v1 "]
)
def test_base_url_normalizes(url: str) -> None:
    assert base_url(url) == "http://h:8000/v1"


def test_base_url_keeps_a_path_prefix_and_https() -> None:
    assert base_url("https://gw.example/llm/") == "https://gw.example/llm/v1"


@pytest.mark.parametrize("url", ["ftp://x", "localhost:8000", "http://", ""])
def test_base_url_rejects(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        base_url(url)


def test_a_hung_endpoint_fails_over_within_the_timeout() -> None:
    with openai_server(Script(first_token_delay=30)) as (hung, _), openai_server() as (good, s):
        with pool(hung, good) as model:
            started = time.monotonic()
            assert text_of(model, chat(timeout=4)) == "Salam [1]."
            assert time.monotonic() - started < 3  # half of the timeout for the hung one
        assert len(s.requests) == 1


@pytest.mark.parametrize(
    "event",
    [
        '{"choices": 5}',
        '{"usage": {"prompt_tokens": "x"}}',
        "[1, 2]",
        '{"choices": [{"delta": 3}]}',
    ],
)
def test_events_of_the_wrong_shape_are_protocol_errors(event: str) -> None:
    from siyada.models.openai_http import _deltas

    with pytest.raises(ModelProtocolError, match="malformed"):
        list(_deltas(iter([event]), "m"))


def test_pool_forgets_no_request_after_a_protocol_error() -> None:
    with openai_server(Script(malformed_first=True)) as (url, _), pool(url) as model:
        with pytest.raises(ModelProtocolError):
            text_of(model)
        assert model.endpoints[0].in_flight == 0


def test_environment_proxies_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    with openai_server() as (url, _), pool(url) as model:
        assert text_of(model) == "Salam [1]."
