"""The OpenAI-compatible API: ``/v1/models``, ``/v1/chat/completions``, ``/v1/embeddings``.

Grounding is opt-in per request with the ``siyada`` extension field; without it the chat
endpoint is a plain proxy to the model. The official ``openai`` Python client works unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from siyada.assistant import Answer, AnswerPiece, AskOptions, Preamble, PrivacyGuard, ask
from siyada.models import ChatModel, ChatRequest, Message, Usage
from siyada.models.base import estimate_tokens
from siyada.server.auth import Principal, Reader
from siyada.server.errors import APIError, sse_error
from siyada.server.schemas import ChatCompletionRequest, EmbeddingsRequest
from siyada.server.state import ServerState

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
EMBEDDING_MODELS = {"e5": "multilingual-e5-small (4-bit, in process)"}
_END = object()


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.siyada
    return state


@router.get("/models")
def list_models(request: Request, principal: Reader) -> dict[str, Any]:
    """The chat models this tenant may use (the registry), and the embedding model."""
    records = _state(request).registry().list(principal.tenant.name)
    data = [
        {
            "id": record.name,
            "object": "model",
            "created": 0,
            "owned_by": "siyada",
            # Where a model runs (paths, URLs, key variables) stays on the server.
            "siyada": {
                "type": "chat",
                **{k: v for k, v in record.to_dict().items() if k != "location"},
            },
        }
        for record in records
    ]
    data += [
        {
            "id": name,
            "object": "model",
            "created": 0,
            "owned_by": "siyada",
            "siyada": {"type": "embedding", "description": description},
        }
        for name, description in EMBEDDING_MODELS.items()
    ]
    return {"object": "list", "data": data}


@dataclass
class Completion:
    """What a chat completion streams: text pieces, then how it ended."""

    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))
    model: str = ""
    start: dict[str, Any] | None = None
    finish_reason: str = "stop"
    usage: Usage | None = None
    extra: dict[str, Any] | None = None
    count_tokens: Callable[[str], int] = estimate_tokens


def _events(
    state: ServerState,
    principal: Principal,
    body: ChatCompletionRequest,
    completion: Completion,
    generations: threading.BoundedSemaphore,
) -> Iterator[str]:
    """The answer's text pieces; ``completion`` is filled in as they come."""
    _, model = state.model(principal.tenant.name, body.model)
    completion.model = model.name
    completion.count_tokens = model.count_tokens
    # Only generation is limited: an extractive answer costs a few milliseconds.
    if model.generative and not generations.acquire(blocking=False):
        raise APIError(
            429, "too many answers are being generated at once; retry shortly", code="busy"
        )
    produced: list[str] = []
    try:
        for piece in _answer(state, principal, body, completion, model):
            produced.append(piece)
            yield piece
    finally:
        if model.generative:
            generations.release()
        # Here, in the worker thread, whatever ended the answer (its end, an error, the client
        # going away): what was generated counts against the quota.
        if produced or completion.usage is not None:
            usage = _usage(completion, body, "".join(produced))
            state.quotas().charge_tokens(principal.key, principal.tenant, usage["total_tokens"])


def _answer(
    state: ServerState,
    principal: Principal,
    body: ChatCompletionRequest,
    completion: Completion,
    model: ChatModel,
) -> Iterator[str]:
    messages = [m for m in body.messages]
    privacy = PrivacyGuard(principal.tenant.pii_policy)
    if body.siyada is None:
        if not model.generative:
            raise APIError(
                400,
                f"model {model.name!r} answers only grounded requests: add "
                '"siyada": {"collections": ["NAME"]} to the request, or use a generative model',
                code="grounding_required",
                param="siyada",
            )
        privacy.learn(m.text() for m in messages)
        request = ChatRequest(
            tuple(
                Message(
                    "system" if m.role == "developer" else m.role,
                    privacy.outgoing(m.text(), from_asker=m.role == "user"),
                )
                for m in messages
            ),
            max_tokens=body.answer_tokens(),
            temperature=body.temperature,
            stop=tuple(privacy.outgoing(stop) for stop in body.stops()),
            timeout=state.settings.answer_timeout,
            seed=body.seed,
        )
        completion.start = {}
        restorer = privacy.restorer()
        for delta in model.stream(request):
            if delta.finish_reason:
                completion.finish_reason = delta.finish_reason
                completion.usage = delta.usage
            text = restorer.feed(delta.text) if restorer else delta.text
            if text:
                yield text
        if restorer and (rest := restorer.finish()):
            yield rest
        return
    question = messages[-1]
    if question.role != "user":
        raise APIError(
            400,
            "the last message of a grounded request must be the user's question",
            param="messages",
        )
    history = [Message(m.role, m.text()) for m in messages[:-1] if m.role in ("user", "assistant")]
    options = AskOptions(
        k=body.siyada.k,
        max_tokens=body.answer_tokens(),
        temperature=body.temperature,
        timeout=state.settings.answer_timeout,
        arabizi=body.siyada.arabizi_answer,
        seed=body.seed,
    )
    for event in ask(
        state.knowledge(),
        model,
        principal.tenant.name,
        question.text(),
        collections=body.siyada.collections,
        history=history,
        options=options,
        privacy=privacy,
    ):
        if isinstance(event, Preamble):
            completion.start = {
                "notice": event.notice,
                "question_language": event.question_language,
                "language": event.language,
                "script": event.script,
            }
        elif isinstance(event, AnswerPiece):
            yield event.text
        elif isinstance(event, Answer):
            completion.finish_reason = event.finish_reason
            completion.usage = event.usage
            details = event.to_dict()
            completion.extra = {
                key: details[key]
                for key in (
                    "sources",
                    "dropped_citations",
                    "language",
                    "script",
                    "question_language",
                    "notice",
                    "search_query",
                )
            }


def _usage(completion: Completion, body: ChatCompletionRequest, text: str) -> dict[str, int]:
    if completion.usage is not None:
        prompt, answer = completion.usage.prompt_tokens, completion.usage.completion_tokens
    else:
        sources = (completion.extra or {}).get("sources", [])
        prompt = sum(completion.count_tokens(m.text()) for m in body.messages) + sum(
            completion.count_tokens(source["text"]) for source in sources
        )
        answer = completion.count_tokens(text)
    return {"prompt_tokens": prompt, "completion_tokens": answer, "total_tokens": prompt + answer}


def _chunk(
    completion: Completion,
    delta: dict[str, Any],
    finish: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    chunk: dict[str, Any] = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if extra is not None:
        chunk["siyada"] = extra
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


# Answers are read from their (blocking) iterators in reused threads, so that the per-thread
# stores they open are reused too.
_ANSWER_THREADS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="answer")


class Pump:
    """A blocking iterator read by one worker thread and handed to the event loop piece by
    piece (one cheap wake-up a piece, not a thread hop). ``stop()`` (the client went away)
    makes the worker close the iterator, which closes the backend stream."""

    def __init__(self, iterator: Iterator[str]) -> None:
        self._iterator = iterator
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._stopped = threading.Event()
        _ANSWER_THREADS.submit(self._run)

    def _put(self, item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is gone: the server stopped
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _run(self) -> None:
        try:
            for item in self._iterator:
                if self._stopped.is_set():
                    break
                self._put(item)
        except BaseException as error:  # handed to the event loop, raised there
            self._put(_Failure(error))
        finally:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
            self._put(_END)

    async def next(self) -> str | None:
        """The next piece, None at the end; raises what the iterator raised."""
        item = await self._queue.get()
        if isinstance(item, _Failure):
            raise item.error
        return None if item is _END else str(item)

    def stop(self) -> None:
        self._stopped.set()


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    request: Request, principal: Reader, body: ChatCompletionRequest
) -> JSONResponse | StreamingResponse:
    """Chat completions, streamed (SSE) or whole. With ``"siyada": {"collections": [...]}``
    the answer is grounded in those collections and carries its sources."""
    state = _state(request)
    completion = Completion()
    pump = Pump(_events(state, principal, body, completion, request.app.state.generations))
    try:
        # The first piece is awaited before answering, so that errors before it (unknown
        # model or collection, backend down, too busy) get their own HTTP status.
        first = await pump.next()
    except BaseException:
        pump.stop()
        raise
    if not body.stream:
        try:
            pieces = [first] if first is not None else []
            while (piece := await pump.next()) is not None:
                pieces.append(piece)
        finally:
            pump.stop()
        text = "".join(pieces)
        usage = _usage(completion, body, text)
        result: dict[str, Any] = {
            "id": completion.id,
            "object": "chat.completion",
            "created": completion.created,
            "model": completion.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": completion.finish_reason,
                }
            ],
            "usage": usage,
        }
        if completion.extra is not None:
            result["siyada"] = completion.extra
        return JSONResponse(result)

    async def body_stream() -> AsyncIterator[str]:
        """OpenAI's chunks, Siyada's details on the first and the last."""
        text: list[str] = []
        try:
            yield _chunk(
                completion, {"role": "assistant", "content": ""}, extra=completion.start or None
            )
            piece = first
            while piece is not None:
                text.append(piece)
                yield _chunk(completion, {"content": piece})
                piece = await pump.next()
        except Exception as error:  # the status is sent already: the error goes in-stream
            yield sse_error(error)
            return
        finally:
            pump.stop()
        yield _chunk(completion, {}, completion.finish_reason, completion.extra)
        usage = _usage(completion, body, "".join(text))
        if body.stream_options is not None and body.stream_options.include_usage:
            chunk = {
                "id": completion.id,
                "object": "chat.completion.chunk",
                "created": completion.created,
                "model": completion.model,
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(
        body_stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _encode(vector: Any, encoding: str) -> list[float] | str:
    """Floats, or (what the official client asks for) base64 of little-endian float32."""
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    return [float(x) for x in vector]


@router.post("/embeddings")
def embeddings(request: Request, principal: Reader, body: EmbeddingsRequest) -> dict[str, Any]:
    """Embeddings from the in-process multilingual-e5-small (model ``e5``)."""
    if body.model not in EMBEDDING_MODELS:
        raise APIError(
            404,
            f"no embedding model named {body.model!r} (known: {', '.join(EMBEDDING_MODELS)})",
            code="model_not_found",
            param="model",
        )
    texts = [body.input] if isinstance(body.input, str) else body.input
    embedder = _state(request).knowledge().embedder(body.model)
    assert embedder is not None
    vectors = (embedder.embed_queries if body.input_type == "query" else embedder.embed_passages)(
        texts
    )
    tokens = sum(estimate_tokens(text) for text in texts)
    _state(request).quotas().charge_tokens(principal.key, principal.tenant, tokens)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode(vector, body.encoding_format)}
            for i, vector in enumerate(vectors)
        ],
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
