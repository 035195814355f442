"""What every chat model backend speaks: one streaming Protocol, its requests and its errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from siyada.knowledge.embed import Embedder

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Passage:
    """A retrieved source, numbered as the prompt numbers it (from 1)."""

    n: int
    text: str
    language: str
    document: str
    page: int | None = None


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[Message, ...]
    max_tokens: int = 512
    temperature: float = 0.2
    stop: tuple[str, ...] = ()
    timeout: float = 120.0
    """Seconds the whole generation may take; the first token must come within it too."""
    passages: tuple[Passage, ...] = ()
    """The sources the prompt cites; a model that cannot read (extractive) answers from them."""
    question: str = ""
    """The question as searched, for models that answer from ``passages`` without a prompt."""
    question_label: str = "und"
    seed: int | None = None
    embedder: Embedder | None = None
    """The embedder of the collection the passages come from, for models that rank their
    sentences (extractive)."""


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Delta:
    """A piece of the answer as it streams; the last one carries why it ended and the usage."""

    text: str
    finish_reason: Literal["stop", "length"] | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class ModelCard:
    """What the registry and the API tell about a model."""

    license: str = "unknown"
    languages: tuple[str, ...] = ()
    source: str = ""
    description: str = ""


CHARS_PER_TOKEN = 2.5
"""For models whose tokenizer Siyada cannot run: a cautious average (Arabic and Darija take
more tokens per character than French in most tokenizers)."""


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


class ModelError(Exception):
    """A model could not answer; the message says why and what to do."""


class ModelUnavailable(ModelError):
    """The backend cannot be reached, or the model cannot be loaded."""


class ModelDamaged(ModelError):
    """A model file that is not a complete model (not GGUF, truncated, corrupt)."""


class ModelTimeout(ModelError):
    """The backend did not answer within the request's timeout."""


class ModelProtocolError(ModelError):
    """The backend answered something that is not the protocol (malformed SSE, bad JSON)."""


class ChatModel(Protocol):
    name: str
    generative: bool
    """False for a model that does not write text but quotes the passages (extractive)."""
    context_tokens: int | None
    """How many tokens the prompt and the answer may take together, when known."""

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's prompt (an estimate when it cannot tell)."""
        ...

    def stream(self, request: ChatRequest) -> Iterator[Delta]:
        """The answer, piece by piece. Errors before the first piece may be retried by the
        caller; an error after it ends the answer."""
        ...

    def close(self) -> None: ...


def complete(model: ChatModel, request: ChatRequest) -> tuple[str, Delta]:
    """The whole answer and its last delta (finish reason, usage)."""
    pieces: list[str] = []
    last = Delta("")
    for delta in model.stream(request):
        pieces.append(delta.text)
        last = delta
    return "".join(pieces), last
