"""The model Siyada answers with when no generative model is configured: it writes nothing of
its own and quotes the sentences of the retrieved passages that best answer the question.

Sentences are ranked by BM25 over the lexical keys the search uses, so a Darija, Tifinagh or
English question matches French and Arabic sentences through the same glossary translations
and consonant skeletons; the passage's retrieval rank and, for "how much / how long"
questions, looking like an amount or a duration count too. When the collection has an
embedder, the best candidates are re-ranked with the cosine between the question (plain and
glossed, as search embeds it) and each sentence: on benchmarks/assistant.py this lifts the
share of answers that quote the answer from 0.43 to 0.46 for ~0.2 s per question.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from siyada.knowledge.chunk import sentence_spans
from siyada.knowledge.embed import Embedder
from siyada.knowledge.keys import query_keys, text_keys
from siyada.knowledge.search import embed_queries, prepare_queries
from siyada.lang import Label
from siyada.lang.translit.tifinagh import in_latin_letters
from siyada.models.base import ChatRequest, Delta, Passage, estimate_tokens

BM25_K1 = 1.2
BM25_B = 0.75
RANK_DECAY = 0.3
"""A sentence from the passage ranked r (from 0) has its score divided by 1 + RANK_DECAY * r."""
CONTEXT_CARRY = 0.5
"""A sentence inherits this share of the previous sentence's score: answers often follow the
sentence that names the subject ("Renouvellement de la CNIE. Les frais sont de 75 DH.")."""
ANSWER_BONUS = 3.0
"""Score factor for a sentence that looks like the answer to a "how much / how long" question
(an amount in dirhams, a number of days)..."""
NUMBER_BONUS = 1.3
"""...or that at least holds a number."""
SECOND_SENTENCE_SHARE = 0.5
"""Another sentence is quoted too when it scores at least this share of the best one."""
MAX_QUOTES = 3
DENSE_CANDIDATES = 8
"""Sentences, best lexical first, that the embedder re-ranks."""
DENSE_WEIGHT = 2.0
"""Weight of the cosine against the lexical score scaled to the best one (1.0)."""
MAX_FOLLOWING_LINES = 4
"""A best sentence that announces a list (ends with ':') is quoted with this many lines after it."""
MAX_QUOTE_CHARS = 600
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Sentence:
    passage: Passage
    rank: int
    index: int
    """Its position among the passage's sentences."""
    text: str
    keys: Counter[str]


@dataclass(frozen=True)
class AnswerKind:
    words: frozenset[str]
    phrases: tuple[str, ...]
    answer: re.Pattern[str]


@lru_cache(maxsize=1)
def _answer_kinds() -> tuple[AnswerKind, ...]:
    path = resources.files("siyada.models").joinpath("data/question_words.json")
    kinds = json.loads(path.read_text(encoding="utf-8"))["kinds"].values()
    return tuple(
        AnswerKind(
            frozenset(word for word in kind["asks"] if " " not in word),
            tuple(word for word in kind["asks"] if " " in word),
            re.compile(kind["answers"], re.IGNORECASE),
        )
        for kind in kinds
    )


def expected_answers(question: str) -> list[re.Pattern[str]]:
    """What an answer looks like, for questions asking for an amount or a duration."""
    lowered = question.lower()
    words = set(re.findall(r"[^\W_]+", lowered))
    return [
        kind.answer
        for kind in _answer_kinds()
        if words & kind.words or any(phrase in lowered for phrase in kind.phrases)
    ]


def _label(value: str) -> Label:
    try:
        return Label(value)
    except ValueError:
        return Label.UND


def _sentences(passages: tuple[Passage, ...]) -> list[Sentence]:
    found = []
    for rank, passage in enumerate(passages):
        label = _label(passage.language)
        for index, (start, end) in enumerate(sentence_spans(passage.text)):
            text = passage.text[start:end].strip()
            if text:
                found.append(Sentence(passage, rank, index, text, Counter(text_keys(text, label))))
    return found


def rank_sentences(
    question: str, label: Label, passages: tuple[Passage, ...]
) -> list[tuple[float, Sentence]]:
    """Every sentence of the passages that shares a key with the question, best first."""
    sentences = _sentences(passages)
    if not sentences:
        return []
    weights = query_keys(question, label)
    frequency = Counter(key for sentence in sentences for key in sentence.keys)
    count = len(sentences)
    average = sum(sum(s.keys.values()) for s in sentences) / count
    answers = expected_answers(question)
    raw = []
    for sentence in sentences:
        length = sum(sentence.keys.values())
        score = 0.0
        for key, weight in weights.items():
            tf = sentence.keys.get(key, 0)
            if not tf:
                continue
            idf = math.log(1 + (count - frequency[key] + 0.5) / (frequency[key] + 0.5))
            norm = tf + BM25_K1 * (1 - BM25_B + BM25_B * length / max(average, 1.0))
            score += weight * idf * tf * (BM25_K1 + 1) / norm
        raw.append(score)
    scored = []
    for position, sentence in enumerate(sentences):
        previous = sentences[position - 1] if position else None
        carried = (
            CONTEXT_CARRY * raw[position - 1]
            if previous is not None and previous.passage is sentence.passage
            else 0.0
        )
        score = (raw[position] + carried) / (1 + RANK_DECAY * sentence.rank)
        if score <= 0:
            continue
        if any(answer.search(sentence.text) for answer in answers):
            score *= ANSWER_BONUS
        elif answers and _DIGIT.search(sentence.text):
            score *= NUMBER_BONUS
        scored.append((score, sentence))
    scored.sort(key=lambda pair: -pair[0])
    return scored


def _following(best: Sentence, sentences: list[Sentence]) -> list[Sentence]:
    """The lines a sentence ending with ':' announces (a list of documents, of steps)."""
    if not best.text.endswith(":"):
        return []
    after = [s for s in sentences if s.passage is best.passage and s.index > best.index]
    return sorted(after, key=lambda s: s.index)[:MAX_FOLLOWING_LINES]


def rerank(
    question: str, ranked: list[tuple[float, Sentence]], embedder: Embedder
) -> list[tuple[float, Sentence]]:
    """The best lexical candidates, scored again with the embedder's cosine to the question."""
    candidates = ranked[:DENSE_CANDIDATES]
    (query,) = prepare_queries([question])
    (query_vectors,) = embed_queries(embedder, [query])
    assert query_vectors is not None
    vectors = embedder.embed_passages([in_latin_letters(s.text) for _, s in candidates])
    cosines = (vectors @ query_vectors.T).max(axis=1)
    best = candidates[0][0]
    scored = [
        (DENSE_WEIGHT * float(cosine) + score / best, sentence)
        for cosine, (score, sentence) in zip(cosines, candidates, strict=True)
    ]
    return sorted(scored, key=lambda pair: -pair[0])


def extract(
    question: str,
    label: Label,
    passages: tuple[Passage, ...],
    embedder: Embedder | None = None,
) -> list[Sentence]:
    """The sentences to quote, in reading order (by source, then by position)."""
    ranked = rank_sentences(question, label, passages)
    if not ranked:
        return []
    if embedder is not None:
        ranked = rerank(question, ranked, embedder)
    best_score, best = ranked[0]
    chosen = [best, *_following(best, _sentences((best.passage,)))]
    for score, sentence in ranked[1:]:
        if len(chosen) >= MAX_QUOTES or score < SECOND_SENTENCE_SHARE * best_score:
            break
        if all(sentence.text != other.text for other in chosen):
            chosen.append(sentence)
    chosen.sort(key=lambda s: (s.passage.n, s.index))
    quotes: list[Sentence] = []
    size = 0
    for sentence in chosen:
        if size + len(sentence.text) > MAX_QUOTE_CHARS and quotes:
            break
        quotes.append(sentence)
        size += len(sentence.text)
    return quotes


class ExtractiveModel:
    """Quotes the passages; never invents a word. Answers are empty when nothing matches."""

    name = "extractive"
    generative = False
    context_tokens: int | None = None

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def stream(self, request: ChatRequest) -> Iterator[Delta]:
        quotes = extract(
            request.question,
            _label(request.question_label),
            request.passages,
            request.embedder,
        )
        for number, sentence in enumerate(quotes):
            separator = "\n" if number else ""
            yield Delta(f"{separator}{sentence.text} [{sentence.passage.n}]")
        yield Delta("", "stop")

    def close(self) -> None:
        pass
