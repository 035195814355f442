"""The answer pipeline: identify -> search -> prompt -> generate (streamed) -> check citations
-> answer-script policy.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from siyada.assistant.citations import Citations
from siyada.assistant.errors import AssistantError
from siyada.assistant.privacy import PrivacyGuard
from siyada.assistant.prompt import build_messages, fit_passages
from siyada.assistant.rewrite import search_query
from siyada.assistant.script import ArabiziAnswer, script_policy
from siyada.assistant.stream import AnswerRewriter
from siyada.governance.access import PiiPolicy
from siyada.knowledge import KnowledgeBase
from siyada.lang import Label, identify, transliterate
from siyada.models.base import ChatModel, ChatRequest, Message, Passage, Usage

MAX_QUESTION_CHARS = 4000
"""A question longer than this is refused: it is a document, not a question."""
DEFAULT_SOURCES = 5
_QUOTE_SOURCE = re.compile(r"\[(\d+)\]$", re.MULTILINE)
"""The source an extractive quote ends with."""
MAX_SOURCES = 20


@dataclass(frozen=True)
class AskOptions:
    k: int = DEFAULT_SOURCES
    max_tokens: int = 512
    temperature: float = 0.2
    timeout: float = 120.0
    arabizi: ArabiziAnswer = ArabiziAnswer.LATIN
    seed: int | None = None


@dataclass(frozen=True)
class Source:
    n: int
    document: str
    page: int | None
    chunk_id: int
    text: str
    language: str
    cited: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "document": self.document,
            "page": self.page,
            "chunk_id": self.chunk_id,
            "text": self.text,
            "language": self.language,
            "cited": self.cited,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    language: str
    """The label the answer is written in: the one asked of the model (``zgh_Tfng`` for a
    Tifinagh question), or for quotes, the label identified on them."""
    script: str
    question_language: str
    model: str
    sources: list[Source]
    search_query: str
    notice: str | None = None
    dropped_citations: list[int] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: Usage | None = None
    timings: dict[str, float] = field(default_factory=dict)
    """Milliseconds: ``retrieval`` (identify, search, prompt), ``first_token``, ``total``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "language": self.language,
            "script": self.script,
            "question_language": self.question_language,
            "model": self.model,
            "notice": self.notice,
            "sources": [source.to_dict() for source in self.sources],
            "dropped_citations": self.dropped_citations,
            "search_query": self.search_query,
            "finish_reason": self.finish_reason,
            "usage": (
                {
                    "prompt_tokens": self.usage.prompt_tokens,
                    "completion_tokens": self.usage.completion_tokens,
                }
                if self.usage
                else None
            ),
            "timings_ms": self.timings,
        }


@dataclass(frozen=True)
class Preamble:
    """What comes before the answer: a notice to show first (e.g. that no generative model is
    configured), in the asker's language."""

    notice: str | None
    question_language: str
    language: str
    """The label the answer is asked in (quotes may turn out to be in their documents')."""
    script: str


@dataclass(frozen=True)
class AnswerPiece:
    """Text of the answer as it streams; the pieces joined are the final answer."""

    text: str


@lru_cache(maxsize=1)
def _messages() -> dict[str, dict[str, str]]:
    path = resources.files("siyada.assistant").joinpath("data/messages.json")
    data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def say(message: str, label: Label) -> str:
    """One of the assistant's own sentences in ``label``'s language and script."""
    texts = _messages()[message]
    if label is Label.ZGH_TFNG:
        return transliterate(texts[Label.BER_LATN.value], Label.BER_LATN, Label.ZGH_TFNG)
    return texts.get(label.value) or texts[Label.ENG_LATN.value]


def check_question(question: str) -> str:
    cleaned = question.strip()
    if not cleaned:
        raise AssistantError("the question is empty")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise AssistantError(
            f"the question is {len(cleaned)} characters long; the limit is {MAX_QUESTION_CHARS}. "
            "Ask a shorter question, or ingest the text as a document and ask about it"
        )
    return cleaned


def ask(
    knowledge: KnowledgeBase,
    model: ChatModel,
    tenant: str,
    question: str,
    *,
    collections: Sequence[str],
    history: Sequence[Message] = (),
    options: AskOptions = AskOptions(),
    privacy: PrivacyGuard | None = None,
) -> Iterator[Preamble | AnswerPiece | Answer]:
    """Answer ``question`` from ``collections``: a Preamble, pieces of text as they come, then
    the Answer.

    Raises AssistantError, StoreError (collection), ModelError (backend) before the first
    piece; a ModelError after it means the answer was cut short. With ``privacy``, the model
    sees personal identifiers only as the tenant's policy allows.
    """
    started = time.perf_counter()
    question = check_question(question)
    if not 1 <= options.k <= MAX_SOURCES:
        raise AssistantError(f"the number of sources must be between 1 and {MAX_SOURCES}")
    label = identify(question).label
    query = search_query(question, label, history)
    if not collections:
        raise AssistantError("name at least one collection to answer from")
    hits = sorted(
        (
            hit
            for name in dict.fromkeys(collections)
            for hit in knowledge.search(tenant, name, [query], k=options.k)[0].hits
        ),
        key=lambda hit: -hit.score,
    )[: options.k]
    # Only a model that ranks sentences itself needs the (first) collection's embedder.
    embedder = (
        None
        if model.generative
        else knowledge.embedder(knowledge.collection(tenant, collections[0]).embedder)
    )
    policy = script_policy(label, options.arabizi, generative=model.generative)
    privacy = privacy or PrivacyGuard(PiiPolicy.PSEUDONYMIZE)
    privacy.learn(
        [
            question,
            *(turn.content for turn in history),
            *(text for hit in hits for text in (hit.chunk.text, hit.chunk.document)),
        ]
    )
    sent_question = privacy.outgoing(question, from_asker=True)
    sent_history = [
        Message(turn.role, privacy.outgoing(turn.content, from_asker=turn.role == "user"))
        for turn in history
    ]
    passages = fit_passages(
        [
            Passage(
                n,
                privacy.outgoing(hit.chunk.text),
                hit.chunk.language,
                privacy.outgoing(hit.chunk.document),
                hit.chunk.page,
            )
            for n, hit in enumerate(hits, start=1)
        ],
        model.context_tokens,
        options.max_tokens,
        model.count_tokens,
        build_messages(sent_question, policy, (), sent_history) if model.generative else (),
    )
    if model.generative and not passages and hits:
        raise AssistantError(
            f"the question, the conversation and the instructions leave no room for sources in "
            f"model {model.name!r}'s context of {model.context_tokens} tokens: ask a shorter "
            "question, lower --max-tokens, or register the model with a larger --context"
        )
    request = ChatRequest(
        messages=build_messages(sent_question, policy, passages, sent_history),
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        timeout=options.timeout,
        passages=passages,
        question=privacy.outgoing(query),
        question_label=label.value,
        seed=options.seed,
        embedder=embedder,
    )
    citations = Citations(len(passages))
    rewriter = AnswerRewriter(citations, policy, check_citations=model.generative)
    notice = None if model.generative else say("extractive_notice", policy.answer)
    yield Preamble(notice, label.value, policy.answer.value, policy.answer.script.value)
    retrieved = time.perf_counter()
    first_token: float | None = None
    pieces: list[str] = []
    finish = "stop"
    usage: Usage | None = None
    restorer = privacy.restorer()
    for delta in model.stream(request):
        if delta.text and first_token is None:
            first_token = time.perf_counter()
        if delta.finish_reason:
            finish, usage = delta.finish_reason, delta.usage
        ready = rewriter.feed(restorer.feed(delta.text) if restorer else delta.text)
        if ready:
            pieces.append(ready)
            yield AnswerPiece(ready)
    rest = rewriter.feed(restorer.finish()) if restorer else ""
    rest += rewriter.finish()
    if rest:
        pieces.append(rest)
        yield AnswerPiece(rest)
    text = "".join(pieces)
    answer_label = policy.answer
    if not model.generative:
        # Quotes carry their own markers; brackets inside the quoted text are the document's.
        citations.cited = sorted({int(n) for n in _QUOTE_SOURCE.findall(text)})
        if text:
            answer_label = identify(text).label  # the documents' language, not the asker's
        else:
            text = say("no_answer", policy.answer)
            yield AnswerPiece(text)
    finished = time.perf_counter()
    hits = hits[: len(passages)]
    yield Answer(
        question=question,
        answer=text,
        language=answer_label.value,
        script=answer_label.script.value,
        question_language=label.value,
        model=model.name,
        sources=[
            Source(
                n,
                hit.chunk.document,
                hit.chunk.page,
                hit.chunk.id,
                hit.chunk.text,
                hit.chunk.language,
                n in citations.cited,
            )
            for n, hit in enumerate(hits, start=1)
        ],
        search_query=query,
        notice=notice,
        dropped_citations=citations.dropped,
        finish_reason=finish,
        usage=usage,
        timings={
            "retrieval": round((retrieved - started) * 1000, 2),
            "first_token": round(((first_token or finished) - started) * 1000, 2),
            "total": round((finished - started) * 1000, 2),
        },
    )
