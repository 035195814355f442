"""In-memory search indexes of one collection: BM25 over lexical keys, and dense vectors.

Both are derived from the store and cached on disk per collection generation (plain .npy files
read with mmap), so the store stays the only source of truth: after a crash or a change, the next
search rebuilds what is stale.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from siyada.knowledge.store.base import IndexRow

BM25_K1 = 1.2
BM25_B = 0.75
_ARRAYS = (
    "chunk_ids", "document_ids", "languages", "dates", "vocabulary", "starts", "rows", "weights",
)  # fmt: skip
Ranking = list[tuple[int, float]]
"""(row in the index, score), best first."""


@dataclass(frozen=True)
class CollectionIndex:
    chunk_ids: npt.NDArray[np.int64]
    document_ids: npt.NDArray[np.int64]
    languages: npt.NDArray[np.str_]
    dates: npt.NDArray[np.int64]
    vocabulary: npt.NDArray[np.str_]
    """Sorted keys; key i's postings are rows[starts[i]:starts[i + 1]]."""
    starts: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]
    vectors: npt.NDArray[np.float32] | None

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    def lexical(
        self, keys: dict[str, float], allowed: npt.NDArray[np.bool_] | None, k: int
    ) -> Ranking:
        scores = np.zeros(self.size, dtype=np.float32)
        if self.size == 0 or len(self.vocabulary) == 0:
            return []
        names = list(keys)
        positions = np.searchsorted(self.vocabulary, names)
        for name, position in zip(names, positions, strict=True):
            if position < len(self.vocabulary) and self.vocabulary[position] == name:
                start, end = self.starts[position], self.starts[position + 1]
                scores[self.rows[start:end]] += keys[name] * self.weights[start:end]
        if allowed is not None:
            scores[~allowed] = 0.0
        return _top(scores, k, minimum=0.0)

    def known_share(self, keys: Sequence[str]) -> float:
        """The share of ``keys`` that occur somewhere in the collection."""
        if not keys or len(self.vocabulary) == 0:
            return 0.0
        positions = np.minimum(np.searchsorted(self.vocabulary, keys), len(self.vocabulary) - 1)
        return float(np.mean(self.vocabulary[positions] == np.array(keys, dtype=np.str_)))

    def contains_all(self, row: int, keys: Iterable[str]) -> bool:
        """Whether chunk ``row`` holds every one of ``keys``."""
        names = list(keys)
        if not names:
            return False
        positions = np.searchsorted(self.vocabulary, names)
        for name, position in zip(names, positions, strict=True):
            if position >= len(self.vocabulary) or self.vocabulary[position] != name:
                return False
            postings = self.rows[self.starts[position] : self.starts[position + 1]]
            found = np.searchsorted(postings, row)
            if found >= len(postings) or postings[found] != row:
                return False
        return True

    def dense(
        self,
        queries: npt.NDArray[np.float32],
        allowed: npt.NDArray[np.bool_] | None,
        k: int,
    ) -> Ranking:
        """Chunks ranked by their best cosine with any of the query's vectors (rows)."""
        if self.vectors is None or self.size == 0:
            return []
        scores = (self.vectors @ queries.T).max(axis=1)
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf).astype(np.float32)
        return _top(scores, k, minimum=-np.inf)


def _top(scores: npt.NDArray[np.float32], k: int, minimum: float) -> Ranking:
    candidates = np.flatnonzero(scores > minimum)
    if len(candidates) > k:
        candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
    ordered = candidates[np.argsort(-scores[candidates], kind="stable")]
    return [(int(row), float(scores[row])) for row in ordered]


def build_index(rows: Iterable[IndexRow]) -> CollectionIndex:
    """The index of ``rows``; vectors when the rows carry embeddings (all of one size)."""
    chunk_ids: list[int] = []
    document_ids: list[int] = []
    languages: list[str] = []
    dates: list[int] = []
    vectors: list[bytes] = []
    term_ids: dict[str, int] = {}
    posting_terms: list[int] = []
    posting_rows: list[int] = []
    posting_counts: list[int] = []
    lengths: list[int] = []
    dim = 0
    for row_number, row in enumerate(rows):
        chunk_ids.append(row.chunk_id)
        document_ids.append(row.document_id)
        languages.append(row.language)
        dates.append(row.date_ordinal)
        if row.embedding:
            dim = dim or len(row.embedding) // 4
        vectors.append(row.embedding or b"")
        counts = Counter(row.keys.split())
        lengths.append(sum(counts.values()))
        for term, count in counts.items():
            posting_terms.append(term_ids.setdefault(term, len(term_ids)))
            posting_rows.append(row_number)
            posting_counts.append(count)
    size = len(chunk_ids)
    vocabulary = np.array(sorted(term_ids), dtype=np.str_) if term_ids else np.array([], np.str_)
    rank_of_term = np.empty(len(term_ids), dtype=np.int64)
    if term_ids:
        rank_of_term[np.array([term_ids[t] for t in vocabulary.tolist()])] = np.arange(
            len(term_ids)
        )
    terms = (
        rank_of_term[np.array(posting_terms, dtype=np.int64)]
        if posting_terms
        else np.array([], np.int64)
    )
    order = np.argsort(terms, kind="stable")
    terms = terms[order]
    rows_array = np.array(posting_rows, dtype=np.int32)[order]
    tf = np.array(posting_counts, dtype=np.float32)[order]
    document_frequency = np.bincount(terms, minlength=len(term_ids)).astype(np.float32)
    idf = np.log1p((size - document_frequency + 0.5) / (document_frequency + 0.5))
    length = np.array(lengths, dtype=np.float32)
    average = float(length.mean()) if size else 1.0
    norm = BM25_K1 * (1 - BM25_B + BM25_B * length[rows_array] / max(average, 1e-9))
    weights = (idf[terms] * tf * (BM25_K1 + 1) / (tf + norm)).astype(np.float32)
    starts = np.zeros(len(term_ids) + 1, dtype=np.int64)
    np.cumsum(document_frequency.astype(np.int64), out=starts[1:])
    matrix = None
    if dim:
        empty = bytes(4 * dim)
        joined = b"".join(vector or empty for vector in vectors)
        matrix = np.frombuffer(joined, dtype=np.float32).reshape(size, dim).copy()
    return CollectionIndex(
        chunk_ids=np.array(chunk_ids, dtype=np.int64),
        document_ids=np.array(document_ids, dtype=np.int64),
        languages=np.array(languages, dtype=np.str_),
        dates=np.array(dates, dtype=np.int64),
        vocabulary=vocabulary,
        starts=starts,
        rows=rows_array,
        weights=weights,
        vectors=matrix,
    )


class IndexCache:
    """Indexes on disk under ``root/<collection id>/g<generation>/``; older generations removed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, collection_id: int, generation: int) -> Path:
        return self.root / str(collection_id) / f"g{generation}"

    def load(self, collection_id: int, generation: int) -> CollectionIndex | None:
        folder = self._folder(collection_id, generation)
        if not (folder / "complete").exists():
            return None
        try:
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
            vectors_path = folder / "vectors.npy"
            vectors = np.load(vectors_path, mmap_mode="r") if vectors_path.exists() else None
        except (OSError, ValueError):
            return None
        return CollectionIndex(**arrays, vectors=vectors)

    def save(self, collection_id: int, generation: int, index: CollectionIndex) -> None:
        target = self._folder(collection_id, generation)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
        try:
            for name in _ARRAYS:
                np.save(staging / f"{name}.npy", getattr(index, name))
            if index.vectors is not None:
                np.save(staging / "vectors.npy", index.vectors)
            (staging / "complete").touch()
            os.replace(staging, target)
        except OSError:
            # Another process saved the same generation first, or the disk is full: the
            # index still works from memory and the next search tries again.
            shutil.rmtree(staging, ignore_errors=True)
            return
        for folder in target.parent.iterdir():
            if folder != target:
                shutil.rmtree(folder, ignore_errors=True)

    def drop(self, collection_id: int) -> None:
        shutil.rmtree(self.root / str(collection_id), ignore_errors=True)
