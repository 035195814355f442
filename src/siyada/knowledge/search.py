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
from siyada.knowledge.keys import WORD_WEIGHT, key_words, query_keys, translations
from siyada.lang import Label, identify_batch
from siyada.lang.translit import transliterate

RRF_K = 60
"""Reciprocal rank fusion constant (Cormack et al. 2009)."""
CANDIDATES = 100
"""Each ranking contributes this many candidates to the fusion."""
MAX_K = 1000
MAX_QUERY_CHARS = 2000
"""Queries are cut to this many characters (a question, not a document)."""
DENSE_GLOSSED = frozenset(
    {Label.ARY_ARAB, Label.ARY_LATN, Label.ZGH_TFNG, Label.BER_LATN, Label.ARB_ARAB}
)
"""Queries the embedder also sees with the French glossary translations of their words: the
embedding model knows French well, Darija less, Tamazight hardly (on benchmarks/knowledge.py,
dense recall@5 of Tamazight queries against French/Arabic text goes from 0.24-0.56 to 0.72-0.80;
English and Spanish, which the model knows, lose a little and are left alone)."""
LEXICAL_WEIGHT = 0.5
"""Weight of the lexical ranking in the fusion (the dense one weighs 1): measured on
benchmarks/knowledge.py, an equal weight lets keyword matches on common procedure words push
cross-lingual answers out of the top 5."""
CROSS_LINGUAL_LEXICAL_WEIGHT = 0.25
"""Its weight when fewer than KNOWN_SHARE of the query's own words occur in the collection."""
KNOWN_SHARE = 0.5
EXACT_CANDIDATES = 20
"""How many of the best lexical chunks are checked for holding every word of the query."""


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
    dense_texts: tuple[str, ...]
    """What the embedder sees; a chunk's dense score is its best match with any of them."""


def prepare_queries(texts: Sequence[str]) -> list[PreparedQuery]:
    """Identify each query, derive its lexical keys and the texts the embedder should see.

    Tifinagh is given to the embedder in Latin letters (its vocabulary has no Tifinagh) and
    Arabizi together with its Arabic-script transliteration. Queries in DENSE_GLOSSED are also
    embedded a second time followed by the French glossary translations of their words, which
    reaches French and Arabic text while the plain text still reaches text in the query's language.
    """
    prepared = []
    texts = [text[:MAX_QUERY_CHARS] for text in texts]
    for text, found in zip(texts, identify_batch(texts), strict=True):
        label = found.label
        dense_text = text
        if label is Label.ZGH_TFNG:
            dense_text = transliterate(text, Label.ZGH_TFNG, Label.BER_LATN)
        elif label is Label.ARY_LATN:
            dense_text = f"{text} {transliterate(text, Label.ARY_LATN, Label.ARY_ARAB)}"
        dense_texts: tuple[str, ...] = (dense_text,)
        if label in DENSE_GLOSSED:
            french, _ = translations(key_words(text, label), label)
            if french:
                dense_texts += (" ".join([dense_text, *dict.fromkeys(french)]),)
        prepared.append(PreparedQuery(text, label, query_keys(text, label), dense_texts))
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


def fuse(rankings: Sequence[Ranking], k: int, weights: Sequence[float] | None = None) -> Ranking:
    scores: dict[int, float] = {}
    for number, ranking in enumerate(rankings):
        weight = weights[number] if weights else 1.0
        for rank, (row, _) in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + weight / (RRF_K + rank + 1)
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
    own_words = [key for key, weight in query.keys.items() if weight == WORD_WEIGHT]
    # When the query's own words are mostly absent from the collection, the query is in another
    # language than the text and its lexical ranking rests on glossary translations alone.
    same_language = index.known_share(own_words) >= KNOWN_SHARE
    lexical_weight = LEXICAL_WEIGHT if same_language else CROSS_LINGUAL_LEXICAL_WEIGHT
    fused = fuse([lexical, dense], len(lexical) + len(dense), [lexical_weight, 1.0])
    # A chunk holding every word of the query, in the query's own language and script (a
    # Tifinagh query and the same Tamazight words in Latin letters), comes first: the dense
    # side may prefer translations of the query to the very text asked for.
    if len(own_words) >= 2:
        exact = {row for row, _ in lexical[:EXACT_CANDIDATES] if index.contains_all(row, own_words)}
        fused.sort(key=lambda item: item[0] not in exact)
    return fused[:k]


def embed_queries(
    embedder: Embedder | None, queries: Sequence[PreparedQuery]
) -> list[npt.NDArray[np.float32] | None]:
    if embedder is None or not queries:
        return [None] * len(queries)
    flat = [text for query in queries for text in query.dense_texts]
    vectors = embedder.embed_queries(flat)
    found: list[npt.NDArray[np.float32] | None] = []
    start = 0
    for query in queries:
        found.append(vectors[start : start + len(query.dense_texts)])
        start += len(query.dense_texts)
    return found
