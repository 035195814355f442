"""Search a collection: lexical keys and dense vectors, each ranked, fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from siyada.knowledge.embed import Embedder
from siyada.knowledge.index import CollectionIndex, Ranking
from siyada.knowledge.keys import query_keys
from siyada.lang import Label, identify_batch
from siyada.lang.translit import transliterate

RRF_K = 60
"""Reciprocal rank fusion constant (Cormack et al. 2009)."""
CANDIDATES = 100
"""Each ranking contributes this many candidates to the fusion."""
MAX_K = 1000


class SearchMode(StrEnum):
    FUSED = "fused"
    LEXICAL = "lexical"
    DENSE = "dense"


@dataclass(frozen=True)
class Filters:
    documents: tuple[str, ...] = ()
    """Document names or paths (a trailing part such as ``guide.pdf`` is enough)."""
    language: Label | None = None
    since: date | None = None
    until: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.documents or self.language or self.since or self.until)


@dataclass(frozen=True)
class PreparedQuery:
    text: str
    label: Label
    keys: dict[str, float]
    dense_text: str


def prepare_queries(texts: Sequence[str]) -> list[PreparedQuery]:
    """Identify each query, derive its lexical keys and the text the embedder should see.

    Tifinagh is given to the embedder in Latin letters (its vocabulary has no Tifinagh), and
    Arabizi together with its Arabic-script transliteration.
    """
    prepared = []
    for text, found in zip(texts, identify_batch(texts), strict=True):
        label = found.label
        dense_text = text
        if label is Label.ZGH_TFNG:
            dense_text = transliterate(text, Label.ZGH_TFNG, Label.BER_LATN)
        elif label is Label.ARY_LATN:
            dense_text = f"{text} {transliterate(text, Label.ARY_LATN, Label.ARY_ARAB)}"
        prepared.append(PreparedQuery(text, label, query_keys(text, label), dense_text))
    return prepared


def allowed_rows(
    index: CollectionIndex, filters: Filters, document_ids: Sequence[int]
) -> npt.NDArray[np.bool_] | None:
    if not filters.active:
        return None
    allowed = np.ones(index.size, dtype=bool)
    if filters.documents:
        allowed &= np.isin(index.document_ids, np.array(document_ids, dtype=np.int64))
    if filters.language:
        allowed &= index.languages == filters.language.value
    if filters.since:
        allowed &= index.dates >= filters.since.toordinal()
    if filters.until:
        allowed &= (index.dates > 0) & (index.dates <= filters.until.toordinal())
    return allowed


def fuse(rankings: Sequence[Ranking], k: int) -> Ranking:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (row, _) in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]


def rank(
    index: CollectionIndex,
    query: PreparedQuery,
    vector: npt.NDArray[np.float32] | None,
    mode: SearchMode,
    allowed: npt.NDArray[np.bool_] | None,
    k: int,
) -> Ranking:
    lexical = index.lexical(query.keys, allowed, max(k, CANDIDATES)) if mode != "dense" else []
    dense = (
        index.dense(vector, allowed, max(k, CANDIDATES))
        if vector is not None and mode != "lexical"
        else []
    )
    if mode is SearchMode.LEXICAL:
        return lexical[:k]
    if mode is SearchMode.DENSE:
        return dense[:k]
    return fuse([lexical, dense], k)


def embed_queries(
    embedder: Embedder | None, queries: Sequence[PreparedQuery]
) -> list[npt.NDArray[np.float32] | None]:
    if embedder is None or not queries:
        return [None] * len(queries)
    vectors = embedder.embed_queries([query.dense_text for query in queries])
    return [vectors[i] for i in range(len(queries))]
