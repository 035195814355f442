"""The Store Protocol: documents, chunks and collections, every call scoped to one tenant.

The search indexes are built from ``index_rows`` and cached next to the store by collection
generation, so a new store (PostgreSQL...) is one module that implements this Protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from siyada.config import DEFAULT_TENANT as DEFAULT_TENANT


class StoreError(Exception):
    """A store operation was refused; the message says why (unknown collection...)."""


@dataclass(frozen=True)
class Collection:
    id: int
    tenant: str
    name: str
    embedder: str
    """The embedder the collection's vectors came from, or "none"."""
    generation: int
    """Grows with every change to the collection's chunks; indexes are cached per generation."""
    pii_redaction: str = "keep"
    """``mask``: personal identifiers are masked in documents before they are indexed."""


@dataclass(frozen=True)
class CollectionSummary:
    name: str
    documents: int
    chunks: int
    embedder: str
    created_at: str


@dataclass(frozen=True)
class NewChunk:
    ordinal: int
    text: str
    heading_path: str
    page: int | None
    start: int
    end: int
    language: str
    script: str
    keys: str
    """Space-separated lexical keys (see siyada.knowledge.keys)."""
    embedding: bytes | None
    """float32 vector bytes, or None when embeddings are off."""


@dataclass(frozen=True)
class NewDocument:
    path: str
    """Absolute path: the document's identity in its collection."""
    name: str
    """The path as the user gave it, shown in results."""
    content_hash: str
    size: int
    pages: int
    title: str | None
    date: datetime | None
    format: str


@dataclass(frozen=True)
class DocumentRecord:
    id: int
    path: str
    name: str
    content_hash: str
    chunks: int
    pages: int
    format: str
    date: str | None
    ingested_at: str


@dataclass(frozen=True)
class ChunkRecord:
    id: int
    document: str
    document_path: str
    page: int | None
    heading_path: str
    text: str
    language: str
    start: int
    end: int


@dataclass(frozen=True)
class ChunkRewrite:
    """New contents for a stored chunk (an erasure), with its recomputed index fields."""

    id: int
    text: str
    heading_path: str
    keys: str
    embedding: bytes | None


@dataclass(frozen=True)
class IndexRow:
    chunk_id: int
    document_id: int
    language: str
    date_ordinal: int
    """The document's date as a proleptic Gregorian ordinal (0 when unknown)."""
    keys: str
    embedding: bytes | None


class Store(Protocol):
    def close(self) -> None: ...

    def collection(self, tenant: str, name: str) -> Collection | None: ...

    def create_collection(
        self, tenant: str, name: str, embedder: str, pii_redaction: str = "keep"
    ) -> Collection: ...

    def collections(self, tenant: str) -> list[CollectionSummary]: ...

    def delete_collection(self, tenant: str, name: str) -> bool: ...

    def documents(self, collection: Collection) -> list[DocumentRecord]: ...

    def replace_document(
        self, collection: Collection, document: NewDocument, chunks: Sequence[NewChunk]
    ) -> None:
        """Swap the document's chunks for ``chunks`` in one transaction (insert if new)."""
        ...

    def delete_documents(self, collection: Collection, paths: Sequence[str]) -> int: ...

    def generation(self, collection: Collection) -> int: ...

    def index_rows(self, collection: Collection) -> Iterator[IndexRow]: ...

    def chunks(self, collection: Collection, chunk_ids: Sequence[int]) -> list[ChunkRecord]: ...

    def document_ids(self, collection: Collection, names: Sequence[str]) -> list[int]: ...

    def find_document(self, tenant: str, document_id: int) -> tuple[Collection, DocumentRecord]:
        """The tenant's document with this id, and its collection; StoreError if none."""
        ...

    def chunk_texts(self, collection: Collection) -> Iterator[ChunkRecord]:
        """Every chunk of the collection (for erasure scans)."""
        ...

    def rewrite_chunks(self, collection: Collection, rewrites: Sequence[ChunkRewrite]) -> None:
        """Replace chunks' text and index fields in one transaction."""
        ...

    def relabel_documents(self, collection: Collection, relabel: Callable[[str], str]) -> list[int]:
        """Apply ``relabel`` to every document's path, name and title; the ids of those
        changed."""
        ...
