"""Request bodies: what the API accepts, with its limits (published in /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from siyada.assistant import ArabiziAnswer
from siyada.assistant.pipeline import MAX_QUESTION_CHARS, MAX_SOURCES
from siyada.governance.access import PiiPolicy, Role, parse_expiry
from siyada.knowledge import SearchMode
from siyada.models.openai_http import Strategy

MAX_BATCH = 1000
"""Texts in one language-tools or embeddings request."""
MAX_TEXT_CHARS = 100_000
MAX_MESSAGES = 200
MAX_MESSAGE_CHARS = 200_000
MAX_QUERIES = 64

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer"]
    content: Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)] | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False


class Grounding(BaseModel):
    """Siyada's extension: answer from these collections, with citations and sources."""

    model_config = ConfigDict(extra="forbid")
    collections: Annotated[list[str], Field(min_length=1, max_length=16)]
    k: Annotated[int, Field(ge=1, le=MAX_SOURCES)] = 5
    arabizi_answer: ArabiziAnswer = ArabiziAnswer.LATIN


class ChatCompletionRequest(BaseModel):
    # Parameters of the OpenAI API that Siyada does not use (n, top_p, user...) are accepted
    # and ignored, so the official clients work unchanged.
    model_config = ConfigDict(extra="allow")
    model: Annotated[str, Field(min_length=1, max_length=200)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=MAX_MESSAGES)]
    stream: bool = False
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.2
    max_tokens: Annotated[int, Field(ge=1, le=32768)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1, le=32768)] | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    stream_options: StreamOptions | None = None
    seed: int | None = None
    siyada: Grounding | None = None

    @model_validator(mode="after")
    def _supported(self) -> ChatCompletionRequest:
        """Parameters that would change the answer and that Siyada cannot honour are refused
        rather than ignored; the others (top_p, user, presence_penalty...) are ignored."""
        extra = self.model_extra or {}
        if extra.get("n") not in (None, 1):
            raise ValueError("n: only one choice per request is supported")
        for name in ("tools", "functions", "tool_choice", "function_call"):
            if extra.get(name):
                raise ValueError(f"{name}: tool calls are not supported")
        response_format = extra.get("response_format")
        if response_format and response_format != {"type": "text"}:
            raise ValueError("response_format: only text answers are supported")
        if extra.get("logprobs"):
            raise ValueError("logprobs: not supported")
        return self

    def answer_tokens(self) -> int:
        return self.max_completion_tokens or self.max_tokens or 512

    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    input: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_BATCH)]
    encoding_format: Literal["float", "base64"] = "float"
    input_type: Literal["query", "passage"] = "passage"
    """Siyada's extension: e5 models embed questions and passages differently."""


class TextsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: Annotated[list[Text], Field(min_length=1, max_length=MAX_BATCH)]


class IdentifyRequest(TextsRequest):
    spans: bool = False
    """Also return the word-level language spans of each text."""


class TransliterateRequest(TextsRequest):
    source: str
    target: str


class NormalizeRequest(TextsRequest):
    label: str | None = None
    fold_hamza: bool = False
    fold_ta_marbuta: bool = False


class PiiRequest(TextsRequest):
    types: list[str] | None = None
    """Only these identifier types (RIB, IBAN, ICE, PHONE, CIN, EMAIL, PASSPORT, CNSS, MASSAR)."""


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    embedder: str | None = None
    pii_redaction: Literal["keep", "mask"] = "keep"
    """``mask``: personal identifiers are masked in documents before they are indexed."""


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collection: str
    queries: Annotated[
        list[Annotated[str, Field(max_length=MAX_QUESTION_CHARS)]],
        Field(min_length=1, max_length=MAX_QUERIES),
    ]
    k: Annotated[int, Field(ge=1, le=100)] = 10
    mode: SearchMode = SearchMode.FUSED

    @field_validator("queries")
    @classmethod
    def _not_blank(cls, queries: list[str]) -> list[str]:
        if any(not query.strip() for query in queries):
            raise ValueError("queries must not be empty")
        return queries


Limit = Annotated[int, Field(ge=1, le=10**12)] | None


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=63)]
    pii_policy: PiiPolicy = PiiPolicy.PSEUDONYMIZE
    requests_per_minute: Limit = None
    tokens_per_day: Limit = None


class TenantUpdate(BaseModel):
    """Fields to change; a limit set to null is lifted."""

    model_config = ConfigDict(extra="forbid")
    pii_policy: PiiPolicy | None = None
    requests_per_minute: Limit = None
    tokens_per_day: Limit = None


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str | None = None
    """The caller's tenant when omitted; only the operator's admins name another."""
    role: Role = Role.READER
    name: Annotated[str, Field(max_length=200)] = ""
    requests_per_minute: Limit = None
    tokens_per_day: Limit = None
    expires_at: str | None = None
    """ISO date or date-time (UTC when no zone is given)."""

    @field_validator("expires_at")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        return None if value is None else parse_expiry(value)


class ModelCreate(BaseModel):
    """An OpenAI-compatible endpoint pool (vLLM, llama-server, Ollama); local GGUF files are
    registered on the server with ``siyada models add``."""

    model_config = ConfigDict(extra="forbid")
    tenant: str | None = None
    """The tenant the model is for (the operator's own when omitted)."""
    name: Annotated[str, Field(min_length=1, max_length=64)]
    urls: Annotated[list[str], Field(min_length=1, max_length=64)]
    model_id: Annotated[str, Field(min_length=1, max_length=200)]
    strategy: Strategy = Strategy.ROUND_ROBIN
    context: Annotated[int, Field(ge=256, le=10_000_000)] | None = None
    license: str = "unknown"
    languages: list[str] = []
    description: str = ""
    default: bool = False


JSONObject = dict[str, Any]
