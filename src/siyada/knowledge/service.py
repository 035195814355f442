"""The knowledge-base service: one object, built from Settings, used by the CLI and the server."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siyada.config import Settings
from siyada.knowledge.embed import Embedder, shared_embedder
from siyada.knowledge.index import CollectionIndex, IndexCache, build_index
from siyada.knowledge.ingest import FileResult, IngestReport, ingest
from siyada.knowledge.search import (
    MAX_K,
    Filters,
    SearchMode,
    allowed_rows,
    embed_queries,
    prepare_queries,
    rank,
)
from siyada.knowledge.store import (
    ChunkRecord,
    Collection,
    CollectionSummary,
    SQLiteStore,
    Store,
    StoreError,
)

_COLLECTION_NAME_LIMIT = 100


@dataclass(frozen=True)
class Hit:
    chunk: ChunkRecord
    score: float


@dataclass(frozen=True)
class QueryResults:
    query: str
    label: str
    hits: list[Hit]

    def to_dict(self) -> dict[str, Any]:
        """The shape ``siyada search --json`` prints and ``/v1/search`` answers."""
        return {
            "query": self.query,
            "language": self.label,
            "results": [
                {
                    "document": hit.chunk.document,
                    "page": hit.chunk.page,
                    "chunk_id": hit.chunk.id,
                    "score": round(hit.score, 6),
                    "heading": hit.chunk.heading_path,
                    "language": hit.chunk.language,
                    "text": hit.chunk.text,
                }
                for hit in self.hits
            ],
        }


def check_collection_name(name: str) -> str:
    """A name that is also safe as a folder name: no path separators, no control characters,
    not '.' or '..'."""
    cleaned = name.strip()
    if (
        not cleaned
        or len(cleaned) > _COLLECTION_NAME_LIMIT
        or cleaned in (".", "..")
        or any(c in "/\\" or not c.isprintable() for c in cleaned)
    ):
        raise StoreError(
            f"invalid collection name {name!r}: 1-{_COLLECTION_NAME_LIMIT} printable characters, "
            "no slash or backslash, not '.' or '..'"
        )
    return cleaned


class KnowledgeBase:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store: Store = store or SQLiteStore(settings.database_path)
        self._indexes = IndexCache(settings.index_dir)
        self._embedders: dict[str, Embedder | None] = {}
        self._loaded: dict[tuple[int, int], CollectionIndex] = {}

    def close(self) -> None:
        self.store.close()

    def embedder(self, spec: str) -> Embedder | None:
        if spec not in self._embedders:
            self._embedders[spec] = shared_embedder(spec, self.settings.egress)
        return self._embedders[spec]

    def collection(self, tenant: str, name: str) -> Collection:
        name = check_collection_name(name)
        found = self.store.collection(tenant, name)
        if found is None:
            known = ", ".join(summary.name for summary in self.store.collections(tenant))
            hint = f" (known: {known})" if known else " (none yet: create one with siyada ingest)"
            raise StoreError(f"no collection named {name!r}{hint}")
        return found

    def create_collection(
        self,
        tenant: str,
        name: str,
        embedder: str | None = None,
        pii_redaction: str = "keep",
    ) -> Collection:
        """A new collection; ``pii_redaction="mask"`` masks personal identifiers in its
        documents before they are indexed."""
        name = check_collection_name(name)
        if pii_redaction not in ("keep", "mask"):
            raise StoreError(f"pii_redaction must be keep or mask, not {pii_redaction!r}")
        if self.store.collection(tenant, name) is not None:
            raise StoreError(f"a collection named {name!r} exists already")
        spec = embedder or self.settings.embedder
        self.embedder(spec)  # a collection must never record an embedder that cannot load
        return self.store.create_collection(tenant, name, spec, pii_redaction)

    def collections(self, tenant: str) -> list[CollectionSummary]:
        return self.store.collections(tenant)

    def delete_collection(self, tenant: str, name: str) -> None:
        """Delete the collection, its documents, chunks, index and uploaded files."""
        collection = self.collection(tenant, name)
        self.store.delete_collection(tenant, collection.name)
        self._indexes.drop(collection.id)
        shutil.rmtree(self.uploads_dir(collection), ignore_errors=True)

    @property
    def uploads_root(self) -> Path:
        return (self.settings.data_dir / "uploads").resolve()

    def uploads_dir(self, collection: Collection) -> Path:
        """Where the server keeps a collection's uploaded files: a folder named by its id
        (ids are never reused)."""
        return self.uploads_root / str(collection.id)

    def ingest(
        self,
        tenant: str,
        name: str,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        on_start: Callable[[int], None] | None = None,
        on_file: Callable[[FileResult], None] | None = None,
        relative_to: Path | None = None,
    ) -> IngestReport:
        name = check_collection_name(name)
        collection = self.store.collection(tenant, name)
        if collection is None:
            # Build the embedder first: a collection must never record one that cannot load.
            self.embedder(self.settings.embedder)
            collection = self.store.create_collection(tenant, name, self.settings.embedder)
        embedder = self.embedder(collection.embedder)
        report = ingest(
            self.store,
            collection,
            paths,
            embedder=embedder,
            max_bytes=self.settings.max_file_mb * 2**20,
            prune=prune,
            on_start=on_start,
            on_file=on_file,
            relative_to=relative_to,
        )
        self.index(collection)
        return report

    def index(self, collection: Collection) -> CollectionIndex:
        """The collection's current index: from memory, from the disk cache, or rebuilt."""
        generation = self.store.generation(collection)
        key = (collection.id, generation)
        if key in self._loaded:
            return self._loaded[key]
        index = self._indexes.load(collection.id, generation)
        if index is None:
            index = build_index(self.store.index_rows(collection))
            self._indexes.save(collection.id, generation, index)
        self._loaded = {key: index}
        return index

    def search(
        self,
        tenant: str,
        name: str,
        queries: Sequence[str],
        *,
        k: int = 10,
        filters: Filters | None = None,
        mode: SearchMode = SearchMode.FUSED,
    ) -> list[QueryResults]:
        if not 1 <= k <= MAX_K:
            raise StoreError(f"k must be between 1 and {MAX_K}")
        collection = self.collection(tenant, name)
        name = collection.name
        filters = filters or Filters()
        index = self.index(collection)
        document_ids = self.store.document_ids(collection, filters.documents)
        allowed = allowed_rows(index, filters, document_ids)
        prepared = prepare_queries(queries)
        embedder = self.embedder(collection.embedder) if mode is not SearchMode.LEXICAL else None
        if mode is SearchMode.DENSE and embedder is None:
            raise StoreError(f"collection {name!r} has no embeddings: use lexical or fused search")
        vectors = embed_queries(embedder, prepared)
        results = []
        for query, vector in zip(prepared, vectors, strict=True):
            ranking = rank(index, query, vector, mode, allowed, k)
            ids = [int(index.chunk_ids[row]) for row, _ in ranking]
            records = {record.id: record for record in self.store.chunks(collection, ids)}
            hits = [
                Hit(records[chunk_id], score)
                for chunk_id, (_, score) in zip(ids, ranking, strict=True)
                if chunk_id in records
            ]
            results.append(QueryResults(query.text, query.label.value, hits))
        return results
