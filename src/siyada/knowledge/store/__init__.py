"""Where documents and chunks live: a Protocol and its implementations."""

from siyada.knowledge.store.base import (
    DEFAULT_TENANT,
    ChunkRecord,
    ChunkRewrite,
    Collection,
    CollectionSummary,
    DocumentRecord,
    IndexRow,
    NewChunk,
    NewDocument,
    Store,
    StoreError,
)
from siyada.knowledge.store.sqlite import SQLiteStore

__all__ = [
    "DEFAULT_TENANT",
    "ChunkRecord",
    "ChunkRewrite",
    "Collection",
    "CollectionSummary",
    "DocumentRecord",
    "IndexRow",
    "NewChunk",
    "NewDocument",
    "SQLiteStore",
    "Store",
    "StoreError",
]
